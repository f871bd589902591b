"""``python -m search``: the ``calnas`` command."""

from search.cli import main

raise SystemExit(main())
