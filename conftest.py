"""Collection rules for the whole repository (tests and the package's doctests)."""

from suffstats.backends.device import device_available

# The CuPy backend refuses to import without a working device (CuPy importing is not enough: on a machine
# without a GPU it imports and then fails on the first device call); its doctests are collected only where
# a device answers.
collect_ignore = [] if device_available() else ["suffstats/backends/cupy_kernels.py"]
