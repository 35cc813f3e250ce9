"""suffstats: fit statistical models to data larger than memory, exactly.

Every model is fitted from additive sufficient statistics: a batch of rows goes
in, a statistics value comes out, values from any number of batches add up, and
parameters come from the total.
"""

from .distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Distribution,
    Exponential,
    Gamma,
    Geometric,
    IndependentComponents,
    LogNormal,
    MultivariateNormal,
    Normal,
    Poisson,
    Uniform,
)
from ._lazy import lazy_exports
from .distributions._registry import FAMILY_MODULES
from .io import from_json, load, save, to_json
from .statistics import Additive, Composite, Moments, Statistics

__version__ = "0.1.0"

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Geometric",
    "IndependentComponents", "LogNormal", "MultivariateNormal", "Normal", "Poisson", "Uniform",
    "Additive", "Composite", "Moments", "Statistics", "from_json", "load", "save", "to_json",
    "BayesianGaussianMixture", "EmptyComponentWarning", "GaussianMixture", "GaussianMixtureSearch",
    "GeneralMixtureModel", "KMeans", "GaussianMixtureImputer", "BayesianNetwork", "MarkovChain", "BayesClassifier", "GaussianNB", "NaiveBayes",
    "CategoricalHMM", "GMMHMM", "GaussianHMM", "HiddenMarkovModel", "PoissonHMM",
]

# The estimators build on scikit-learn, whose import takes most of a second: they are imported when first used.
__getattr__, __dir__ = lazy_exports(__name__, {
    **{name: ".mixture" for name in ("BayesianGaussianMixture", "EmptyComponentWarning", "GaussianMixture",
                                     "GaussianMixtureSearch", "GeneralMixtureModel", "KMeans")},
    **{name: ".networks" for name in ("BayesianNetwork", "MarkovChain")},
    **{name: ".classifiers" for name in ("BayesClassifier", "GaussianNB", "NaiveBayes")},
    **{name: ".hmm" for name in ("CategoricalHMM", "GMMHMM", "GaussianHMM", "HiddenMarkovModel",
                                 "PoissonHMM")},
    "GaussianMixtureImputer": ".impute",
})
# A model JSON naming one of them loads it.
FAMILY_MODULES.append("suffstats.mixture.gaussian")
FAMILY_MODULES.append("suffstats.mixture.bayesian")
FAMILY_MODULES.append("suffstats.classifiers.gaussian_nb")
FAMILY_MODULES.append("suffstats.classifiers.bayes")
FAMILY_MODULES.append("suffstats.classifiers.naive_bayes")
FAMILY_MODULES.append("suffstats.mixture.general")
FAMILY_MODULES.append("suffstats.mixture.kmeans")
FAMILY_MODULES.append("suffstats.networks.bayesian_network")
FAMILY_MODULES.append("suffstats.networks.markov_chain")
FAMILY_MODULES.append("suffstats.hmm")
