"""Distribution families, one per module, all following :class:`Distribution`."""

from ._base import FAMILIES, Distribution
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .independent import IndependentComponents
from .lognormal import LogNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform

__all__ = [
    "FAMILIES", "Distribution", "Bernoulli", "Beta", "Categorical", "Exponential", "Gamma", "Geometric",
    "IndependentComponents", "LogNormal", "MultivariateNormal", "Normal", "Poisson", "Uniform",
]
