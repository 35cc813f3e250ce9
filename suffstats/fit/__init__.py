"""The fit machinery every model stands on: the model protocol, the running total, one pass, the driver.

=====================  ===============================================================
module                 what it holds
=====================  ===============================================================
``protocol``           :class:`FitModel`: the hooks the driver and strategies call, checked
``running_total``      :class:`RunningTotal`: block values over the fixed block tree
``summaries``          ``summarize`` / ``absorb`` / ``from_summaries``, written once
``local``              one pass over a source on this machine; row numbers of errors
``driver``             the EM loop: epochs, convergence, callbacks, checkpoint writes
``state``              what a checkpoint holds, and how a fit resumes from it
``checkpoint``         the checkpoint file: atomic writes, checksums, matching settings
``estimator``          ``n_init`` runs of the driver and the best run: the fit template
``sequences``          sequence boundaries and the in-order pass with a carried state
=====================  ===============================================================
"""

from .protocol import FitModel
from .running_total import RunningTotal
from .summaries import Summaries

__all__ = ["FitModel", "RunningTotal", "Summaries"]
