"""Mixture models and k-means, all fitted by the one EM driver in :mod:`suffstats.fit.driver`.

The estimators are imported when first used (see :mod:`suffstats._lazy`).
"""

from .._lazy import lazy_exports
from ._seeding import INIT_METHODS

__all__ = ["INIT_METHODS", "BayesianGaussianMixture", "EmptyComponentWarning", "GaussianMixture", "GaussianMixtureSearch", "GeneralMixtureModel",
           "KMeans"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "BayesianGaussianMixture": ".bayesian", "EmptyComponentWarning": "._moments", "GaussianMixture": ".gaussian", "GeneralMixtureModel": ".general",
    "KMeans": ".kmeans", "GaussianMixtureSearch": ".search"})
