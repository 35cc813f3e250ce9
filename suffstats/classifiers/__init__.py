"""Classifiers fitted from per-class statistics: :class:`GaussianNB`, :class:`BayesClassifier`, :class:`NaiveBayes`."""

from .bayes import BayesClassifier
from .gaussian_nb import GaussianNB
from .naive_bayes import NaiveBayes

__all__ = ["BayesClassifier", "GaussianNB", "NaiveBayes"]
