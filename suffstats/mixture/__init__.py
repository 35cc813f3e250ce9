"""Mixture models and k-means, all fitted by the one EM driver in :mod:`suffstats.fit.driver`."""

from ._moments import EmptyComponentWarning
from ._seeding import INIT_METHODS
from .gaussian import GaussianMixture
from .general import GeneralMixtureModel
from .kmeans import KMeans
from .search import GaussianMixtureSearch

__all__ = ["INIT_METHODS", "EmptyComponentWarning", "GaussianMixture", "GaussianMixtureSearch", "GeneralMixtureModel", "KMeans"]
