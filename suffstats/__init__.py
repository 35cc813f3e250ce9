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
from .hmm import CategoricalHMM, GaussianHMM, PoissonHMM
from .io import from_json, load, save, to_json
from .mixture import EmptyComponentWarning, GaussianMixture, GaussianMixtureSearch, GeneralMixtureModel, KMeans
from .statistics import Additive, Composite, Moments, Statistics

__version__ = "0.1.0"

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Distribution", "Exponential", "Gamma", "Geometric",
    "IndependentComponents", "LogNormal", "MultivariateNormal", "Normal", "Poisson", "Uniform",
    "Additive", "Composite", "Moments", "Statistics", "from_json", "load", "save", "to_json",
    "EmptyComponentWarning", "GaussianMixture", "GaussianMixtureSearch", "GeneralMixtureModel", "KMeans",
    "CategoricalHMM", "GaussianHMM", "PoissonHMM",
]
