"""Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019) and LOO-adjusted R² (rstanarm, brms).

``bayes_R2``: per posterior draw ``s``, with ``mu_s`` the expected response of every training
row (``predict(kind="mean")``: all group-level effects with ``re_form=None`` — the
*conditional* R² — or none with ``re_form="~0"`` — the *marginal* R², fixed effects only),

    R2_s = var(mu_s) / (var(mu_s) + var_res_s).

``residual="residuals"`` (default; what ``brms::bayes_R2`` and ``rstanarm::bayes_R2`` compute
for every family): ``var_res_s = var(y - mu_s)``, the variance of the modelled residuals.
``residual="sigma"`` (gaussian family only; the paper's model-based form): ``var_res_s =
sigma_s²`` (the mean of ``sigma²`` over rows when sigma has its own formula). Variances use
the ``n - 1`` denominator (R's ``var``). For binomial models ``y`` and ``mu`` are proportions
(successes / trials), as rstanarm; observation weights are ignored.

``loo_R2`` (rstanarm's algorithm, also brms's): leave-one-out predictions ``mu_loo_i`` =
PSIS-weighted means of ``mu_si`` (the Pareto-smoothed importance weights of the pointwise
log-likelihood, as ``az.psislw``), residuals ``e_i = mu_loo_i - y_i``, and per Bayesian
bootstrap draw of Dirichlet(1, ..., 1) weights ``w`` over the rows
``R2 = 1 - var_w(e) / var_w(y)`` (weighted variances times n / (n - 1)), clipped to [-1, 1].

Summaries as brms: ``Estimate`` (mean), ``Est.Error`` (sd) and equal-tailed quantiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

RESIDUALS = ("residuals", "sigma")
BOOTSTRAP_DRAWS = 4000


def response(fit: Fit) -> np.ndarray:
    """The observed response as the scale ``predict(kind="mean")`` is on (proportions for
    binomial trials)."""
    design = fit.model.design
    y = np.asarray(design.y, dtype=float)
    return y / design.trials if design.trials is not None else y


def r2_draws(fit: Fit, re_form: Any = None, residual: str = "residuals") -> np.ndarray:
    """Bayesian R² per posterior draw (see the module docstring)."""
    from hiermodel.posterior.prediction import auxiliary_draws, predict

    if residual not in RESIDUALS:
        raise DataError(f"residual must be one of {', '.join(RESIDUALS)} (got {residual!r})")
    mu = np.asarray(predict(fit, re_form=re_form, kind="mean", summary=False), dtype=float)
    var_mu = mu.var(axis=1, ddof=1)
    if residual == "residuals":
        var_res = (response(fit)[None, :] - mu).var(axis=1, ddof=1)
    else:
        if fit.family.name != "gaussian":
            raise DataError(f"residual='sigma' is the gaussian family's residual variance; "
                            f"this model is {fit.family.name} (use residual='residuals')")
        sigma = auxiliary_draws(fit, re_form=re_form)["sigma"]
        var_res = (np.asarray(sigma, dtype=float) ** 2).mean(axis=1)
    return np.asarray(var_mu / (var_mu + var_res))


def loo_r2_draws(fit: Fit, draws: int = BOOTSTRAP_DRAWS, seed: int | None = None) -> np.ndarray:
    """LOO-adjusted R² per Bayesian bootstrap draw (see the module docstring)."""
    from hiermodel.comparison.loo import psis, relative_efficiency
    from hiermodel.posterior.loglik import log_likelihood
    from hiermodel.posterior.prediction import predict

    y = response(fit)
    mu = np.asarray(predict(fit, kind="mean", summary=False), dtype=float)  # (draws, n)
    ll = log_likelihood(fit)
    ll = ll.reshape(-1, ll.shape[-1])
    lw, _ = psis(-ll.T, relative_efficiency(fit))  # (n, draws), normalized
    mu_loo = np.sum(np.exp(lw) * mu.T, axis=1)
    e = mu_loo - y
    n = y.size
    w = np.random.default_rng(seed).dirichlet(np.ones(n), size=draws)
    var_y = (w @ y**2 - (w @ y) ** 2) * n / (n - 1)
    var_e = (w @ e**2 - (w @ e) ** 2) * n / (n - 1)
    return np.clip(1 - var_e / var_y, -1.0, 1.0)


def r2_summary(draws: np.ndarray, label: str, prob: float = 0.95) -> pd.DataFrame:
    """brms's summary of R² draws: Estimate, Est.Error, Q<lower>, Q<upper>."""
    if not 0 < prob < 1:
        raise DataError(f"prob must be in (0, 1) (got {prob})")
    a = (1 - prob) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return pd.DataFrame({"Estimate": [float(draws.mean())],
                         "Est.Error": [float(draws.std(ddof=1))],
                         f"Q{100 * a:g}": [float(lo)], f"Q{100 * (1 - a):g}": [float(hi)]},
                        index=pd.Index([label], name="R2"))


def bayes_r2(fit: Fit, re_form: Any = None, summary: bool = True, prob: float = 0.95,
             residual: str = "residuals") -> Any:
    """Bayesian R²: a one-row summary (``conditional`` for ``re_form=None``, ``marginal`` for
    ``re_form="~0"``) or the draws (``summary=False``)."""
    from hiermodel.posterior.prediction import parse_re_form

    draws = r2_draws(fit, re_form, residual)
    if not summary:
        return draws
    return r2_summary(draws, "conditional" if parse_re_form(re_form) else "marginal", prob)


def loo_r2(fit: Fit, summary: bool = True, prob: float = 0.95, draws: int = BOOTSTRAP_DRAWS,
           seed: int | None = None) -> Any:
    """LOO-adjusted R²: a one-row summary or the bootstrap draws (``summary=False``)."""
    out = loo_r2_draws(fit, draws, seed)
    return r2_summary(out, "loo", prob) if summary else out


__all__ = ["BOOTSTRAP_DRAWS", "RESIDUALS", "bayes_r2", "loo_r2", "loo_r2_draws", "r2_draws",
           "r2_summary", "response"]
