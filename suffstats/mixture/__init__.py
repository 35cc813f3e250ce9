"""Mixture models and k-means, all fitted by the one EM driver in :mod:`suffstats.em`."""

from ._moments import EmptyComponentWarning
from .gaussian import GaussianMixture
from .general import GeneralMixtureModel
from .kmeans import KMeans

__all__ = ["EmptyComponentWarning", "GaussianMixture", "GeneralMixtureModel", "KMeans"]
