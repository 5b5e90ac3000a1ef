"""Posterior summaries shared by every accessor: mean, median, sd, HDI, R-hat, bulk ESS."""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd

STAT_COLUMNS = ["mean", "median", "sd", "hdi_low", "hdi_high", "r_hat", "ess_bulk"]


def summarize(draws: np.ndarray, prob: float = 0.95) -> pd.DataFrame:
    """Summaries of ``draws`` shaped (chain, draw, m): one row per column m."""
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 2:
        draws = draws[:, :, None]
    rows = []
    for j in range(draws.shape[2]):
        x = draws[:, :, j]
        flat = x.reshape(-1)
        if np.all(np.isfinite(flat)) and np.ptp(flat) > 0:
            low, high = (float(v) for v in az.hdi(flat, hdi_prob=prob))
            r_hat = float(az.rhat(x)) if x.shape[0] > 1 and x.shape[1] >= 4 else float("nan")
            ess = float(az.ess(x, method="bulk")) if x.shape[1] >= 4 else float("nan")
        else:
            low = high = float(flat[0]) if flat.size else float("nan")
            r_hat, ess = float("nan"), float("nan")
        rows.append([flat.mean(), np.median(flat), flat.std(ddof=1) if flat.size > 1 else 0.0,
                     low, high, r_hat, ess])
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


def with_labels(labels: dict[str, Sequence[str]], stats: pd.DataFrame) -> pd.DataFrame:
    """Prepend label columns to a stats frame."""
    front = pd.DataFrame({k: list(v) for k, v in labels.items()})
    return pd.concat([front, stats.reset_index(drop=True)], axis=1)


__all__ = ["STAT_COLUMNS", "summarize", "with_labels"]
