"""Collection rules for the whole repository (tests and the package's doctests)."""

import importlib.util

# The CuPy backend refuses to import without CuPy and a GPU; its doctests are collected only where it can.
collect_ignore = [] if importlib.util.find_spec("cupy") else ["suffstats/backends/cupy_kernels.py"]
