"""Prior predictive checks: is a prior template sensible for *this* response?

``hm.prior_predictive(formula, data, priors="maize_talk")`` (or ``model.prior_predictive()``,
``fit.prior_predictive()``) simulates responses from the priors alone and sets them against
the observed response, in a table and a plot, before any sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from hiermodel.models import Model

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class PriorPredictive:
    """Prior predictive draws of the response (``draws x observations``) next to the data."""

    model: Model
    idata: Any  # ArviZ InferenceData with prior and prior_predictive groups
    y_draws: np.ndarray
    y_observed: np.ndarray

    def summary(self) -> pd.DataFrame:
        """Quantiles of the observed response vs the prior predictive (pooled over draws),
        with the share of simulated values outside the observed range."""
        obs = np.quantile(self.y_observed, _QUANTILES)
        sim = np.quantile(self.y_draws, _QUANTILES)
        table = pd.DataFrame(
            {"observed": obs, "prior_predictive": sim},
            index=[f"q{int(q * 100):02d}" for q in _QUANTILES],
        )
        lo, hi = float(self.y_observed.min()), float(self.y_observed.max())
        outside = float(np.mean((self.y_draws < lo) | (self.y_draws > hi)))
        table.loc["share outside observed range"] = [0.0, outside]
        return table

    def plot(self, ax: Any = None, n_draws: int = 40, seed: int = 0) -> Any:
        """Observed response density (thick) over ``n_draws`` prior predictive densities."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4))
        else:
            fig = ax.figure
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(self.y_draws), size=min(n_draws, len(self.y_draws)),
                            replace=False)
        lo = float(np.quantile(self.y_draws, 0.005))
        hi = float(np.quantile(self.y_draws, 0.995))
        lo, hi = min(lo, self.y_observed.min()), max(hi, self.y_observed.max())
        bins = np.linspace(lo, hi, 60)
        for i in chosen:
            ax.hist(self.y_draws[i], bins=bins, density=True, histtype="step", color="C0",
                    alpha=0.25, linewidth=0.8)
        ax.hist(self.y_observed, bins=bins, density=True, histtype="step", color="k",
                linewidth=2.0, label="observed")
        ax.plot([], [], color="C0", alpha=0.6, label=f"prior predictive ({len(chosen)} draws)")
        ax.set_xlabel(self.model.terms.response.variable.name)
        ax.set_ylabel("density")
        template = getattr(self.model.prior_spec, "template", None)
        ax.set_title(f"Prior predictive check: {self.model.formula}\npriors: {template}",
                     fontsize=9)
        ax.legend(fontsize=8)
        return fig

    def __str__(self) -> str:
        return "Prior predictive vs observed response\n" + self.summary().round(3).to_string()


def prior_predictive_check(model: Model, draws: int = 200, seed: int | None = None
                           ) -> PriorPredictive:
    """Simulate ``draws`` response vectors from the priors of ``model``."""
    from hiermodel.backend.sampling import prior_predictive

    idata = prior_predictive(model, draws=draws, seed=seed)
    y = np.asarray(idata.prior_predictive["y"]).reshape(-1, model.design.y.shape[0])
    return PriorPredictive(model=model, idata=idata, y_draws=y, y_observed=model.design.y)


__all__ = ["PriorPredictive", "prior_predictive_check"]
