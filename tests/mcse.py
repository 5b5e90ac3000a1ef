"""The one rule for comparing two posterior means within Monte Carlo error.

Two exact samplers of the same posterior (compressed vs full likelihood, marginalised vs joint,
weighted vs repeated rows) have means whose difference, divided by the combined Monte Carlo
standard error sqrt(mcse_1^2 + mcse_2^2), is approximately N(0, 1). A test comparing ``k``
such quantities uses the two-sided Bonferroni bound ``z_limit(k)``: the probability that any
of them exceeds it is below ``rate`` (1 in 1,000). The MCSEs are themselves estimates
(relative error a few % at the ESS of these fits); the bound is widened by ``mcse_error``
(10 %) so an MCSE underestimated by up to that much still keeps the rate below ``rate``.
Every such test is seeded, so a given checkout always gives the same verdict; the rate is the
chance that a correct implementation fails for the seed chosen.
"""

from __future__ import annotations

import arviz as az
import numpy as np
from scipy import stats

RATE = 1e-3


def z_limit(k: int, rate: float = RATE, mcse_error: float = 0.10) -> float:
    """|difference| / combined MCSE above which one of ``k`` comparisons fails."""
    return float(stats.norm.isf(rate / (2 * k)) * (1 + mcse_error))


def mcse_mean(draws: np.ndarray) -> np.ndarray:
    """ArviZ's MCSE of the mean (autocorrelation-aware) of (chain, draw, ...) draws."""
    draws = np.asarray(draws, dtype=float)
    flat = draws.reshape(draws.shape[0], draws.shape[1], -1)
    return np.array([float(np.ravel(az.mcse(flat[..., j], method="mean"))[0])
                     for j in range(flat.shape[-1])])


def z_scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|mean(a) - mean(b)| / sqrt(mcse(a)^2 + mcse(b)^2) per element, for (chain, draw, ...)
    draws of the same quantity from two samplers."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = np.abs(a.mean((0, 1)) - b.mean((0, 1))).ravel()
    return diff / np.hypot(mcse_mean(a), mcse_mean(b))


def z_exact(draws: np.ndarray, exact: np.ndarray | float) -> np.ndarray:
    """|mean(draws) - exact| / mcse(draws) per element: one sampler against a posterior mean
    known exactly (quadrature, conjugacy)."""
    draws = np.asarray(draws, dtype=float)
    diff = np.abs(draws.mean((0, 1)).ravel() - np.ravel(exact))
    return diff / mcse_mean(draws)


__all__ = ["RATE", "mcse_mean", "z_exact", "z_limit", "z_scores"]
