"""Exact data compression: fit on sufficient statistics of repeated design rows.

Rows that share every model input (population-level columns, group levels and group-level
columns, offset) share a linear predictor, so for gaussian/identity the likelihood depends on
the data only through per-cell count, mean and within-cell sum of squares; bernoulli/binomial
rows aggregate to successes/trials and poisson rows to summed counts with summed exposure.
The compressed model differs from the full one by a constant, which is added back so that
log-p is identical at every point (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from hiermodel.errors import BuildError
from hiermodel.families import Family

COMPRESSIBLE = ("gaussian", "bernoulli", "binomial", "poisson")


@dataclass
class Cells:
    """Unique design rows ("cells") and the per-cell sufficient statistics."""

    rows: np.ndarray  # (C,) index of one representative observation per cell
    inverse: np.ndarray  # (N,) cell of each observation
    count: np.ndarray  # (C,) observations per cell
    y: np.ndarray  # per-cell response: mean (gaussian), successes or counts (sums)
    trials: np.ndarray | None  # binomial trials per cell
    exposure_log: np.ndarray | None  # poisson: log of summed exp(offset)
    ss_within: float  # gaussian: total within-cell sum of squares
    constant: float  # log-p of the full data minus log-p of the compressed likelihood

    @property
    def n_cells(self) -> int:
        return int(self.count.size)


def cell_keys(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Representative rows and inverse index of the unique rows of the stacked columns."""
    stacked = np.column_stack([np.asarray(c, dtype=float).reshape(len(c), -1) for c in columns])
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def compress(
    family: Family,
    key_columns: list[np.ndarray],
    y: np.ndarray,
    trials: np.ndarray | None,
    offset: np.ndarray | None,
) -> Cells:
    """Group observations by identical model inputs and compute sufficient statistics.

    For poisson, ``offset`` is left out of the key and summed as exposure; for the other
    families it is part of the key.
    """
    name = family.name
    keys = list(key_columns)
    if offset is not None and name != "poisson":
        keys.append(offset)
    if not keys:
        keys = [np.zeros(len(y))]
    rows, inverse = cell_keys(keys)
    n_cells = rows.size
    count = np.bincount(inverse, minlength=n_cells).astype(float)
    sums = np.bincount(inverse, weights=y, minlength=n_cells)
    if name == "gaussian":
        mean = sums / count
        resid = y - mean[inverse]
        ss = float(resid @ resid)
        n = y.size
        constant = -0.5 * (n - n_cells) * np.log(2 * np.pi) - 0.5 * float(np.log(count).sum())
        # the -(N - C) log(sigma) - SS / (2 sigma^2) part depends on sigma: added in the graph
        return Cells(rows, inverse, count, mean, None, None, ss, constant)
    if name in ("bernoulli", "binomial"):
        t = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        cell_trials = np.bincount(inverse, weights=t, minlength=n_cells)
        full = float(_log_choose(t, y).sum())
        comp = float(_log_choose(cell_trials, sums).sum())
        return Cells(rows, inverse, count, sums, cell_trials, None, 0.0, full - comp)
    if name == "poisson":
        o = np.zeros_like(y) if offset is None else np.asarray(offset, dtype=float)
        expo = np.bincount(inverse, weights=np.exp(o), minlength=n_cells)
        log_t = np.log(expo)
        constant = float(
            (y * o).sum() - special.gammaln(y + 1).sum() - (sums * log_t).sum()
            + special.gammaln(sums + 1).sum()
        )
        return Cells(rows, inverse, count, sums, None, log_t, 0.0, constant)
    raise BuildError(f"internal: family {name} is not compressible")


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


__all__ = ["COMPRESSIBLE", "Cells", "cell_keys", "compress"]
