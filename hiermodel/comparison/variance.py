"""Variance partition / ICC of a hierarchical fit (:func:`variance_partition`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hiermodel.naming import safe

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit


def _residual_variance(fit: Fit) -> tuple[np.ndarray | float, str]:
    from hiermodel.posterior.prediction import auxiliary_draws

    aux = auxiliary_draws(fit)
    # a parameter with its own formula varies by row: its average over the data stands in
    aux = {k: (v.mean(axis=1, keepdims=True) if k in fit.model.design.components else v)
           for k, v in aux.items()}
    return fit.model.family.latent_variance(aux, float(np.mean(fit.model.design.y)))


def variance_partition(fit: Fit, prob: float = 0.95) -> pd.DataFrame:
    """Variance components of a hierarchical fit and their share (ICC) with intervals.

    Each grouping factor's intercept variance sd^2 is divided by the sum of all intercept
    variances plus the residual variance (gaussian: sigma^2; logit: pi^2/3; probit: 1;
    cloglog: pi^2/6; poisson: log(1 + 1/mean(y))). Varying slopes are listed with their
    variance (per unit of the predictor) but not in the denominator: their contribution depends
    on the predictor's value.
    """
    info = fit.model.info
    comps: list[tuple[str, str, np.ndarray]] = []
    slopes: list[tuple[str, str, np.ndarray]] = []
    for group, terms in info.group_terms.items():
        sd = fit.draws(f"sd_{safe(group)}")
        sd = sd.reshape(sd.shape[0] * sd.shape[1], -1)
        for j, term in enumerate(terms):
            (comps if term == "(Intercept)" else slopes).append((group, term, sd[:, j] ** 2))
    resid, note = _residual_variance(fit)
    s = comps[0][2].shape[0] if comps else (slopes[0][2].shape[0] if slopes else 1)
    resid_draws = np.broadcast_to(np.asarray(resid, dtype=float), (s,))
    total = resid_draws + sum((c[2] for c in comps), np.zeros(s))
    rows = []
    a = (1 - prob) / 2

    def stats(x: np.ndarray) -> tuple[float, float, float]:
        if not np.all(np.isfinite(x)):
            return float("nan"), float("nan"), float("nan")
        lo, hi = np.quantile(x, [a, 1 - a])
        return float(np.mean(x)), float(lo), float(hi)

    for group, term, var in comps:
        v, vl, vh = stats(var)
        share = var / total
        sm, sl, sh = stats(share)
        rows.append({"component": group, "term": term, "variance": v, "variance_low": vl,
                     "variance_high": vh, "share": sm, "share_low": sl, "share_high": sh,
                     "note": "ICC"})
    v, vl, vh = stats(resid_draws)
    sm, sl, sh = stats(resid_draws / total)
    rows.append({"component": "Residual", "term": "", "variance": v, "variance_low": vl,
                 "variance_high": vh, "share": sm, "share_low": sl, "share_high": sh,
                 "note": note})
    for group, term, var in slopes:
        v, vl, vh = stats(var)
        rows.append({"component": group, "term": term, "variance": v, "variance_low": vl,
                     "variance_high": vh, "share": np.nan, "share_low": np.nan,
                     "share_high": np.nan, "note": "slope variance (per unit^2; not in the "
                     "ICC denominator)"})
    if len(comps) > 1:
        allg = sum((c[2] for c in comps), np.zeros(s))
        sm, sl, sh = stats(allg / total)
        v, vl, vh = stats(allg)
        rows.append({"component": "all groups", "term": "(Intercept)", "variance": v,
                     "variance_low": vl, "variance_high": vh, "share": sm, "share_low": sl,
                     "share_high": sh, "note": "ICC of all grouping factors together"})
    return pd.DataFrame(rows)


__all__ = ["variance_partition"]
