"""Griffe extension for the API pages: read calnas's docstrings as the site's Markdown needs.

The docstrings are written for doctest and for reading in an editor, and two of their habits
render badly through mkdocstrings' Google parser. This rewrites them while the site is built;
the source files are not touched.

* ``Example:`` (singular) above doctest lines: the parser knows only ``Examples:`` as an examples
  section and renders ``Example:`` as an admonition of plain Markdown, where ``>>>`` lines run
  together and ``x[0][:3]`` reads as a link (which fails ``mkdocs build --strict``).
* Sphinx roles (``:class:`Space```, ``:func:`~bench.arch.spaces.get_space```): Markdown shows
  them raw, and a colon inside a ``Returns:`` line splits it into a bogus name. They become
  inline code with the name as written (without the ``~``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADER = re.compile(r"^(\s*)Example:[ \t]*$", re.M)
_SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`~?([^`]+)`")


class CalnasDocstrings(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` and turn Sphinx roles into inline code."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _EXAMPLE_HEADER.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _SPHINX_ROLE.sub(r"`\1`", text)
