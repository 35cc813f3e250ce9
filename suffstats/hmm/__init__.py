"""Hidden Markov models fitted exactly out of core, with hmmlearn's API.

Baum–Welch is EM on additive statistics -- expected first states, expected
transitions, posterior-weighted emission statistics -- so an HMM is fitted
here from sequences of any length read ``batch_size`` rows at a time, and the
fitted model does not depend on how the rows were read.
"""

from ._inference import DECODER_ALGORITHMS  # noqa: F401  (the one list of decoders, for users)
from .base import BaseHMM, ConvergenceMonitor
from .discrete import CategoricalHMM, PoissonHMM
from .gaussian import GaussianHMM
from .general import HiddenMarkovModel
from .gmm import GMMHMM

__all__ = ["BaseHMM", "CategoricalHMM", "ConvergenceMonitor", "GMMHMM", "GaussianHMM", "HiddenMarkovModel",
           "PoissonHMM"]
