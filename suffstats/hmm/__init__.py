"""Hidden Markov models fitted exactly out of core, with hmmlearn's API.

Baum–Welch is EM on additive statistics -- expected first states, expected
transitions, posterior-weighted emission statistics -- so an HMM is fitted
here from sequences of any length read ``batch_size`` rows at a time, and the
fitted model does not depend on how the rows were read.
"""

from .base import DECODER_ALGORITHMS, BaseHMM, ConvergenceMonitor
from .discrete import CategoricalHMM, PoissonHMM
from .gaussian import GaussianHMM
from .general import HiddenMarkovModel
from .gmm import GMMHMM

__all__ = ["BaseHMM", "CategoricalHMM", "ConvergenceMonitor", "GMMHMM", "GaussianHMM", "HiddenMarkovModel",
           "PoissonHMM"]
