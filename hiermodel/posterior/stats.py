"""Posterior summaries shared by every accessor: mean, median, sd, HDI, R-hat, bulk ESS."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

STAT_COLUMNS = ["mean", "median", "sd", "hdi_low", "hdi_high", "r_hat", "ess_bulk"]


def summarize(draws: np.ndarray, prob: float = 0.95) -> pd.DataFrame:
    """Summaries of ``draws`` shaped (chain, draw, m): one row per column m.

    The HDI is ArviZ's (``az.hdi``: the narrowest interval holding ``floor(prob * n)`` + 1
    sorted draws), R-hat and bulk ESS ArviZ's too (:func:`hiermodel.posterior.convergence.
    rhat_ess`), all computed for every column at once; a constant or non-finite column gets
    NaN for R-hat and ESS and its first draw as HDI."""
    from hiermodel.posterior.convergence import rhat_ess

    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 2:
        draws = draws[:, :, None]
    chains, n_draws, m = draws.shape
    flat = draws.reshape(chains * n_draws, m)
    n = flat.shape[0]
    nan = np.full(m, np.nan)
    low = flat[0].copy() if n else nan.copy()
    high = low.copy()
    r_hat, ess = nan.copy(), nan.copy()
    with np.errstate(invalid="ignore"):
        varying = np.all(np.isfinite(flat), axis=0) & (np.ptp(flat, axis=0) > 0) if n else \
            np.zeros(m, dtype=bool)
    if varying.any():
        ordered = np.sort(flat[:, varying], axis=0)
        inc = int(np.floor(prob * n))
        start = np.argmin(ordered[inc:] - ordered[:n - inc], axis=0)
        cols = np.arange(ordered.shape[1])
        low[varying] = ordered[start, cols]
        high[varying] = ordered[start + inc, cols]
        if n_draws >= 4:
            r, e, _ = rhat_ess(draws[:, :, varying])
            ess[varying] = e
            if chains > 1:
                r_hat[varying] = r
    return pd.DataFrame({
        "mean": flat.mean(axis=0) if n else nan, "median": np.median(flat, axis=0) if n else nan,
        "sd": flat.std(axis=0, ddof=1) if n > 1 else np.zeros(m),
        "hdi_low": low, "hdi_high": high, "r_hat": r_hat, "ess_bulk": ess,
    }, columns=STAT_COLUMNS)


def with_labels(labels: dict[str, Sequence[str]], stats: pd.DataFrame) -> pd.DataFrame:
    """Prepend label columns to a stats frame."""
    front = pd.DataFrame({k: list(v) for k, v in labels.items()})
    return pd.concat([front, stats.reset_index(drop=True)], axis=1)


__all__ = ["STAT_COLUMNS", "summarize", "with_labels"]
