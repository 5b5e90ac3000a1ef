"""Exact data compression: unique design rows ("cells") and their sufficient statistics.

Rows that share every model input (population-level columns, group levels and group-level
columns, offset) share a linear predictor. A family that has sufficient statistics for such a
cell (see ``Family.cell_statistics``) lets the backend fit on cells instead of rows; the
compressed likelihood differs from the full one by a constant, which is kept so that log-p is
identical at every point (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Cells:
    """Unique design rows and the per-cell sufficient statistics."""

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


__all__ = ["Cells", "cell_keys"]
