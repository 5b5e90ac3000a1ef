"""Pointwise log-likelihood per observation, in bounded memory.

LOO and leave-one-group-out need log p(y_i | theta_s) for every observation i and draw s.
For 110,789 rows x 4,000 draws that matrix is 3.5 GB, so it is never materialised: rows are
processed in chunks sized by a byte budget: by default as many rows as keep one
(draws x rows) float64 array at or below ``CHUNK_BYTES`` (32 MB: 1,000 rows at 4,000 draws,
8,000 rows at 500 draws; the evaluation holds a few such arrays at once). This holds whether
or not the fit used exact compression: the likelihood is always evaluated per original
observation, never per compressed cell.

A weighted fit (``y | weights(w)``) has brms's weighted pointwise log-likelihood,
``w_i * log p(y_i | theta_s)``: the term each row contributes to the log-density that was
sampled, so PSIS-LOO and leave-one-group-out score the model that was fitted (a row of weight
0 scores 0; LOO of a weighted fit estimates the weighted elpd).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from hiermodel.errors import DataError
from hiermodel.families import weighted_loglik

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

CHUNK_BYTES = 32e6
DEFAULT_CHUNK: int | None = None  # None: rows per chunk from CHUNK_BYTES and the draw count


def n_draws(fit: Fit) -> int:
    post = fit.idata.posterior
    return int(post.sizes["chain"] * post.sizes["draw"])


def chunk_rows(draws: int, chunk: int | None = DEFAULT_CHUNK) -> int:
    """Rows per chunk: ``chunk`` when given, else the most that keep one (draws x rows)
    float64 array within :data:`CHUNK_BYTES` (at least 100)."""
    if chunk is not None:
        if chunk < 1:
            raise DataError(f"chunk must be >= 1 row (got {chunk})")
        return int(chunk)
    return max(100, int(CHUNK_BYTES // (8 * max(draws, 1))))


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(a), axis))``, stable (scipy's logsumexp is several times
    slower on the (draws x rows) arrays of LOO and leave-one-group-out)."""
    mx = a.max(axis=axis, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - mx).sum(axis=axis)) + np.squeeze(mx, axis=axis)


def loglik_rows(fit: Fit, rows: np.ndarray) -> np.ndarray:
    """log p(y_i | theta_s) for training rows ``rows``: array (draws, len(rows)); times the
    row's weight for a weighted fit."""
    from hiermodel.posterior.prediction import auxiliary_draws, linear_predictor

    design = fit.model.design
    eta = linear_predictor(fit, rows=rows)
    trials = None if design.trials is None else design.trials[rows]
    ll = fit.model.family.logpdf(design.y[rows], eta, auxiliary_draws(fit, rows=rows), trials)
    weights = fit.model.prepared.weights
    return weighted_loglik(ll, None if weights is None else weights[rows])


def iter_loglik(fit: Fit, chunk: int | None = DEFAULT_CHUNK,
                rows: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (row positions, log-lik (draws, rows)) chunk by chunk (see :func:`chunk_rows`)."""
    all_rows = np.arange(len(fit.model.design.y)) if rows is None else np.asarray(rows)
    chunk = chunk_rows(n_draws(fit), chunk)
    for start in range(0, all_rows.size, chunk):
        part = all_rows[start:start + chunk]
        yield part, loglik_rows(fit, part)


def log_likelihood(fit: Fit, max_bytes: float = 2e9) -> np.ndarray:
    """The full (chain, draw, obs) log-likelihood array, refusing sizes above ``max_bytes``."""
    post = fit.idata.posterior
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    n = len(fit.model.design.y)
    size = 8.0 * n_chain * n_draw * n
    if size > max_bytes:
        raise DataError(
            f"the pointwise log-likelihood would take {size / 1e9:.1f} GB ({n} rows x "
            f"{n_chain * n_draw} draws); use hiermodel.comparison's chunked LOO instead or thin "
            "the draws"
        )
    out = np.empty((n_chain * n_draw, n))
    for part, ll in iter_loglik(fit):
        out[:, part] = ll
    return out.reshape(n_chain, n_draw, n)


__all__ = ["CHUNK_BYTES", "DEFAULT_CHUNK", "chunk_rows", "iter_loglik",
           "log_likelihood", "loglik_rows", "logsumexp", "n_draws"]
