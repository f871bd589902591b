"""calnas bench layer: search spaces, networks, calibration metrics and the benchmark table.

Importing this package is cheap: torch is imported only by the modules that build or run networks.
"""

__version__ = "0.1.0"
