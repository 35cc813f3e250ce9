"""Classifiers fitted from per-class statistics: :class:`GaussianNB`, :class:`BayesClassifier`, :class:`NaiveBayes`."""

from .bayes import BayesClassifier, NaiveBayes
from .gaussian_nb import GaussianNB

__all__ = ["BayesClassifier", "GaussianNB", "NaiveBayes"]
