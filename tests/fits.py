"""Short fits shared by test files."""

import warnings

import suffstats as ss


def _fit(X, **kwargs):
    """A short GaussianMixture fit (three EM iterations from k-means++, warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.GaussianMixture(2, max_iter=3, tol=0, random_state=0, init_params="k-means++",
                                  batch_size=1000, **kwargs).fit(X)
