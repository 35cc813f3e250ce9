"""Scale-aware comparisons: a matrix entry near zero is judged against the matrix, not itself.

``rtol`` alone fails on an entry of 5e-4 in a covariance whose diagonal is 4
when two BLAS kernels round differently; the error of every entry is of the
order of ``eps`` times the largest entry, so that is the scale used.
"""

import numpy as np


def assert_close(actual, desired, rtol, err_msg=""):
    """``assert_allclose`` with ``atol = rtol * max|desired|`` (elementwise ``rtol`` still applies)."""
    desired = np.asarray(desired, dtype=np.float64)
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=err_msg)
