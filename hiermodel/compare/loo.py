"""PSIS-LOO per observation, in bounded memory.

The pointwise log-likelihood of every *original* observation (never a compressed cell) is
walked in chunks of rows with :func:`hiermodel.pointwise.iter_loglik`; each chunk is Pareto
smoothed with :func:`arviz.psislw` per observation and reduced to its pointwise elpd, p_loo
and Pareto k. Only those N-length vectors are kept, never the (draws x N) matrix, so the
110,789-row maize data with 4,000 draws needs ~130 MB at a time instead of 3.5 GB.

The result is an :class:`arviz.ELPDData` identical in layout to ``az.loo(..., pointwise=True)``
(tested against it), so :func:`arviz.compare` gives differences, their SEs and stacking weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from hiermodel.errors import CompareError
from hiermodel.pointwise import DEFAULT_CHUNK, iter_loglik

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.results import Fit

K_THRESHOLD = 0.7


def relative_efficiency(fit: Fit) -> float:
    """ESS / draws averaged over every posterior variable, exactly as ``az.loo`` computes it."""
    import arviz as az

    post = fit.idata.posterior  # type: ignore[attr-defined]
    n_chains = post.sizes["chain"]
    n_samples = n_chains * post.sizes["draw"]
    if n_chains == 1:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess_p = az.ess(post, method="mean")
    values = np.hstack([np.asarray(ess_p[v].values, dtype=float).ravel()
                        for v in ess_p.data_vars])
    return float(np.nanmean(values) / n_samples)


def loo(fit: Fit, chunk: int = DEFAULT_CHUNK, reff: float | None = None,
        rows: np.ndarray | None = None) -> az.ELPDData:
    """Chunked PSIS-LOO of ``fit`` (pointwise), on the log scale, like ``az.loo``.

    ``rows`` restricts the computation to some training rows (positions); by default all.
    """
    import arviz as az
    import xarray as xr

    if chunk < 1:
        raise CompareError(f"chunk must be >= 1 (got {chunk})")
    n = len(fit.model.design.y) if rows is None else len(rows)
    if reff is None:
        reff = relative_efficiency(fit)
    loo_i = np.empty(n)
    lppd_i = np.empty(n)
    k = np.empty(n)
    n_samples = 0
    done = 0
    for _, ll in iter_loglik(fit, chunk=chunk, rows=rows):
        n_samples = ll.shape[0]
        m = ll.shape[1]
        lp = ll.T  # (rows, draws): psislw smooths along the last axis, per observation
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lw, kss = az.psislw(-lp, reff)
        sl = slice(done, done + m)
        loo_i[sl] = logsumexp(lw + lp, axis=1)
        lppd_i[sl] = logsumexp(lp, axis=1) - np.log(n_samples)
        k[sl] = kss
        done += m
    if done != n:  # pragma: no cover - iter_loglik contract
        raise CompareError(f"internal: LOO saw {done} of {n} rows")
    good_k = min(1 - 1 / np.log10(n_samples), K_THRESHOLD) if n_samples > 10 else K_THRESHOLD
    elpd = float(loo_i.sum())
    se = float((n * np.var(loo_i)) ** 0.5)
    p_loo = float(lppd_i.sum() - elpd)
    warn = bool(np.any(k > good_k))
    return az.ELPDData(
        data=[elpd, se, p_loo, n_samples, n, warn,
              xr.DataArray(loo_i, dims=["obs"], name="loo_i"),
              xr.DataArray(k, dims=["obs"], name="pareto_shape"), "log", good_k],
        index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning", "loo_i",
               "pareto_k", "scale", "good_k"],
    )


def pareto_warning(name: str, elpd: az.ELPDData, threshold: float = K_THRESHOLD) -> str | None:
    """A sentence about observations with Pareto k above ``threshold``, or None."""
    k = np.asarray(elpd["pareto_k"].values)
    bad = int(np.sum(k > threshold))
    if not bad:
        return None
    return (f"{name}: {bad} of {k.size} observations have Pareto k > {threshold} (max "
            f"{np.nanmax(k):.2f}); their PSIS-LOO terms are unreliable — typically rows that are "
            "alone in their cell (a group or group x effect cell with very few rows); prefer the "
            "leave-one-group-out numbers or refit those rows exactly")


def compare_loo(elpds: Mapping[str, az.ELPDData], seed: int | None = None) -> pd.DataFrame:
    """``az.compare`` of precomputed chunked LOOs plus the count of Pareto k > 0.7.

    Columns: rank, elpd_loo, se, p_loo, elpd_diff, dse (SE of the difference to the best),
    weight (stacking), n_k_high, warning.
    """
    import arviz as az

    sizes = {name: int(e["n_data_points"]) for name, e in elpds.items()}
    if len(set(sizes.values())) > 1:
        raise CompareError(f"variants were fitted to different numbers of rows {sizes}; LOO "
                           "values are only comparable on the same observations")
    if len(elpds) < 2:
        name, e = next(iter(elpds.items()))
        table = pd.DataFrame({"rank": [0], "elpd_loo": [e["elpd_loo"]], "p_loo": [e["p_loo"]],
                              "elpd_diff": [0.0], "weight": [1.0], "se": [e["se"]],
                              "dse": [0.0], "warning": [e["warning"]], "scale": ["log"]},
                             index=[name])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = az.compare(dict(elpds), ic="loo", method="stacking", scale="log", seed=seed)
    table = table.rename(columns={"elpd_loo": "elpd_loo"})
    table["n_k_high"] = [int(np.sum(np.asarray(elpds[n]["pareto_k"].values) > K_THRESHOLD))
                         for n in table.index]
    table["max_k"] = [float(np.nanmax(np.asarray(elpds[n]["pareto_k"].values)))
                      for n in table.index]
    cols = ["rank", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "n_k_high",
            "max_k", "warning"]
    table = table[cols]
    table.index.name = "variant"
    return table


def loo_all(fits: Mapping[str, Fit], chunk: int = DEFAULT_CHUNK,
            progress: Callable[[str], None] | None = None) -> dict[str, az.ELPDData]:
    """Chunked LOO of every fit."""
    out = {}
    for i, (name, fit) in enumerate(fits.items(), start=1):
        if progress:
            progress(f"PSIS-LOO {name} ({i}/{len(fits)})")
        out[name] = loo(fit, chunk=chunk)
    return out


__all__ = ["K_THRESHOLD", "compare_loo", "loo", "loo_all", "pareto_warning",
           "relative_efficiency"]
