"""Posterior stage: the :class:`Fit` and everything read from its draws (summaries, lme4
accessors, predictions, pointwise log-likelihood, prior predictive checks).

Imported lazily by the facade: this package sits above :mod:`hiermodel.models` and
:mod:`hiermodel.backend`, so importing it loads PyMC.
"""

from hiermodel.posterior.fitted import Fit
from hiermodel.posterior.prior_check import PriorPredictive

__all__ = ["Fit", "PriorPredictive"]
