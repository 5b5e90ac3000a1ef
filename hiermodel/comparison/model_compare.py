"""Model comparison for any fits: ``hm.loo``, ``hm.loo_compare``, ``hm.kfold`` (brms / loo).

- :func:`loo_fit` (``hm.loo(fit)``): PSIS-LOO as an :class:`arviz.ELPDData` (pointwise), from
  the chunked, bounded-memory computation of :mod:`hiermodel.comparison.loo`; a fit (or an
  ``InferenceData``) that carries a ``log_likelihood`` group is scored from it, as
  ``az.loo``. ``reloo=True`` handles observations whose Pareto k exceeds ``k_threshold``
  (0.7) as brms's ``reloo``: the model is refitted without each of them and its PSIS term is
  replaced by the exact ``log mean_s p(y_i | theta_s^(-i))``; their k is set to 0 (the
  original is kept in ``attrs["pareto_k_psis"]``), ``p_loo`` and the SE are recomputed.
  Moment matching is not implemented: it needs the unconstrained posterior draws and the
  log density's gradient per draw; exact refits are the reliable (if slower) fix.
- :func:`compare_fits` (``hm.loo_compare``): ``az.compare`` of the fits' ELPDs (rank,
  elpd_loo, p_loo, elpd_diff, weight, se, dse, warning, scale) plus the count and maximum of
  Pareto k per fit; weights by stacking (default), ``"pseudo-BMA"`` or ``"BB-pseudo-BMA"``.
  KFold results (:func:`kfold_fit`) compare the same way (columns ``elpd_kfold``,
  ``p_kfold``).
- :func:`kfold_fit` (``hm.kfold``): K refits, each without one fold, scoring the held-out
  rows by ``log mean_s p(y_i | theta_s^(-k))``. Folds: balanced random (``folds=None``),
  ``"stratified"`` by ``group`` (each level spread evenly over the folds, as
  ``loo::kfold_split_stratified``) or ``"grouped"`` (whole levels of ``group`` held out, as
  ``loo::kfold_split_grouped`` — the default when ``group`` is given; folds balanced by rows
  with the leave-one-group-out fold assignment, :func:`~hiermodel.comparison.logo.assign_folds`),
  or an explicit array of fold ids. Held-out rows of a group level the training fit has never
  seen get that level's effects drawn from the fitted group-level distribution per draw
  (brms ``allow_new_levels=TRUE, sample_new_levels="gaussian"``).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from hiermodel.comparison.logo import assign_folds
from hiermodel.comparison.loo import K_THRESHOLD, loo, with_pareto_counts
from hiermodel.errors import CompareError
from hiermodel.families import weighted_loglik
from hiermodel.posterior.fitted import Fit
from hiermodel.posterior.prediction import auxiliary_draws, linear_predictor
from hiermodel.posterior.refit import refit_on, training_data

log = logging.getLogger("hiermodel")

METHODS = {"stacking": "stacking", "pseudo-bma": "pseudo-BMA", "bb-pseudo-bma": "BB-pseudo-BMA"}


class KFoldELPD(az.ELPDData):
    """The ELPDData of :func:`kfold_fit` (``elpd_kfold``, ``se``, ``p_kfold``, ``kfold_i``);
    prints like brms's ``kfold``."""

    def __str__(self) -> str:
        return (f"Based on {len(np.unique(self.attrs.get('folds', [])))}-fold cross-validation"
                f" ({int(self['n_data_points'])} observations, {int(self['n_samples'])} draws "
                f"per refit)\n\n          Estimate      SE\n"
                f"elpd_kfold {self['elpd_kfold']:8.2f} {self['se']:7.2f}\n"
                f"p_kfold    {self['p_kfold']:8.2f}       -")

    def __repr__(self) -> str:
        return str(self)

    def copy(self, deep: bool = True) -> KFoldELPD:
        out = KFoldELPD(pd.Series.copy(self, deep=deep))
        out.attrs = dict(self.attrs)
        return out


def _elpd(values: np.ndarray, k: np.ndarray | None, n_samples: int, p: float, ic: str,
          good_k: float = K_THRESHOLD) -> az.ELPDData:
    import xarray as xr

    n = values.size
    k_arr = np.zeros(n) if k is None else k
    cls = KFoldELPD if ic == "kfold" else az.ELPDData
    return cls(
        data=[float(values.sum()), float((n * np.var(values)) ** 0.5), p, n_samples, n,
              bool(np.any(k_arr > good_k)), xr.DataArray(values, dims=["obs"], name=f"{ic}_i"),
              xr.DataArray(k_arr, dims=["obs"], name="pareto_shape"), "log", good_k],
        index=[f"elpd_{ic}", "se", f"p_{ic}", "n_samples", "n_data_points", "warning",
               f"{ic}_i", "pareto_k", "scale", "good_k"],
    )


def held_out_loglik(fit: Fit, rows: pd.DataFrame, y: np.ndarray,
                    trials: np.ndarray | None, weights: np.ndarray | None,
                    seed: int | None = None) -> np.ndarray:
    """log p(y_i | theta_s) (draws, rows) of rows ``fit`` was not fitted to; unseen group
    levels get effects drawn from the fitted group-level distribution."""
    eta = linear_predictor(fit, rows, allow_new_levels=True, new_levels="sample", seed=seed)
    aux = auxiliary_draws(fit, rows, allow_new_levels=True, new_levels="sample", seed=seed)
    ll = fit.model.family.logpdf(np.asarray(y, dtype=float), eta, aux, trials)
    return np.asarray(weighted_loglik(ll, weights))


def _response(fit: Fit, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray | None,
                                                     np.ndarray | None]:
    design = fit.model.design
    w = fit.model.prepared.weights
    return (design.y[pos], None if design.trials is None else design.trials[pos],
            None if w is None else np.asarray(w)[pos])


def _from_idata(idata: Any) -> az.ELPDData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(idata, pointwise=True)


def reloo_elpd(fit: Fit, elpd: az.ELPDData, k_threshold: float = K_THRESHOLD,
          **sampler: Any) -> az.ELPDData:
    """``elpd`` with each observation of Pareto k > ``k_threshold`` scored by an exact refit
    without it (brms ``reloo``); see the module docstring."""
    k = np.asarray(elpd["pareto_k"].values, dtype=float)
    bad = np.flatnonzero(k > k_threshold)
    if not bad.size:
        return elpd
    log.info("reloo: refitting %d observation(s) with Pareto k > %s exactly", bad.size,
             k_threshold)
    data = training_data(fit)
    loo_i = np.asarray(elpd["loo_i"].values, dtype=float).copy()
    for i in bad:
        keep = np.ones(len(data), dtype=bool)
        keep[i] = False
        refit = refit_on(fit, data.loc[keep], **sampler)
        y, t, w = _response(fit, np.array([i]))
        ll = held_out_loglik(refit, data.iloc[[i]], y, t, w, seed=int(i))
        loo_i[i] = float(logsumexp(ll[:, 0]) - np.log(ll.shape[0]))
    new_k = k.copy()
    new_k[bad] = 0.0
    p = float(elpd["p_loo"]) + float(np.sum(np.asarray(elpd["loo_i"].values)) - loo_i.sum())
    out = _elpd(loo_i, new_k, int(elpd["n_samples"]), p, "loo", float(elpd["good_k"]))
    out.attrs["reloo"] = [int(i) for i in bad]
    out.attrs["pareto_k_psis"] = k
    return out


def loo_fit(fit: Any, reloo: bool = False, k_threshold: float = K_THRESHOLD,
            chunk: int | None = None, **sampler: Any) -> az.ELPDData:
    """PSIS-LOO of a fit (``hm.loo``); see the module docstring. ``sampler`` settings
    (``draws``, ``chains``, ...) apply to the reloo refits."""
    if isinstance(fit, az.ELPDData):
        return fit
    if isinstance(fit, az.InferenceData):
        if reloo:
            raise CompareError("reloo=True needs a hiermodel fit (to refit), not bare "
                               "InferenceData")
        return _from_idata(fit)
    fit = getattr(fit, "fit", fit)  # a stored run's RunFit holds its Fit
    if not isinstance(fit, Fit):
        raise CompareError(f"loo() takes a hiermodel fit, InferenceData or ELPDData, not "
                           f"{type(fit).__name__}")
    idata = fit.idata
    groups = idata.groups() if hasattr(idata, "groups") else []
    elpd = _from_idata(idata) if "log_likelihood" in groups else loo(fit, chunk=chunk)
    return reloo_elpd(fit, elpd, k_threshold, **sampler) if reloo else elpd


def _named(fits: tuple[Any, ...]) -> dict[str, Any]:
    if len(fits) == 1 and isinstance(fits[0], Mapping):
        return {str(k): v for k, v in fits[0].items()}
    formulas = [getattr(f, "formula", None) for f in fits]
    if all(isinstance(f, str) for f in formulas) and len(set(formulas)) == len(formulas):
        return {str(f): fit for f, fit in zip(formulas, fits, strict=True)}
    return {f"model{i + 1}": fit for i, fit in enumerate(fits)}


def compare_fits(*fits: Any, method: str = "stacking", seed: int | None = None,
                 reloo: bool = False, k_threshold: float = K_THRESHOLD,
                 **sampler: Any) -> pd.DataFrame:
    """``az.compare`` of any fits' LOO (or KFold) ELPDs (``hm.loo_compare``).

    ``fits``: fits, InferenceData or ELPDData, positionally (named by formula, or ``model1``,
    ``model2``, ... when formulas repeat) or as one dict of named ones.
    """
    key = str(method).lower()
    if key not in METHODS:
        raise CompareError(f"method={method!r}: use 'stacking', 'pseudo-BMA' or "
                           "'BB-pseudo-BMA'")
    named = _named(fits)
    if len(named) < 2:
        raise CompareError(f"loo_compare needs at least two fits (got {len(named)})")
    elpds = {n: loo_fit(f, reloo=reloo, k_threshold=k_threshold, **sampler)
             for n, f in named.items()}
    sizes = {n: int(e["n_data_points"]) for n, e in elpds.items()}
    if len(set(sizes.values())) > 1:
        raise CompareError(f"the fits have different numbers of observations {sizes}; LOO "
                           "compares models of the same data")
    ics = {str(e.index[0]).split("_", 1)[1] for e in elpds.values()}
    if len(ics) > 1:
        raise CompareError(f"cannot compare a mix of {sorted(ics)} estimates; use loo for all "
                           "fits or kfold for all")
    ic = ics.pop()
    as_loo = elpds if ic == "loo" else {n: _as_loo(e, ic) for n, e in elpds.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(dict(as_loo), ic="loo", method=METHODS[key], scale="log", seed=seed)
    table = with_pareto_counts(table, elpds, k_threshold)
    if ic != "loo":
        table = table.rename(columns={"elpd_loo": f"elpd_{ic}", "p_loo": f"p_{ic}"})
    table.index.name = "model"
    return table


def _as_loo(elpd: az.ELPDData, ic: str) -> az.ELPDData:
    return _elpd(np.asarray(elpd[f"{ic}_i"].values, dtype=float),
                 np.asarray(elpd["pareto_k"].values, dtype=float), int(elpd["n_samples"]),
                 float(elpd[f"p_{ic}"]), "loo", float(elpd["good_k"]))


def fold_ids(n: int, K: int, labels: np.ndarray | None = None, folds: Any = None,
             seed: int | None = None) -> np.ndarray:
    """Fold id (0..K-1) per row: random balanced, stratified or grouped (module docstring)."""
    if folds is not None and not isinstance(folds, str):
        ids = np.asarray(folds)
        if ids.shape != (n,):
            raise CompareError(f"folds has {ids.size} entries for {n} observations")
        return np.unique(ids, return_inverse=True)[1]
    if K < 2:
        raise CompareError(f"K must be >= 2 (got {K})")
    mode = folds if folds is not None else ("grouped" if labels is not None else "random")
    if mode not in ("random", "stratified", "grouped"):
        raise CompareError(f"folds={folds!r}: use None, 'stratified', 'grouped' or an array of "
                           "fold ids per observation")
    if mode != "random" and labels is None:
        raise CompareError(f"folds='{mode}' needs group= (the column whose levels it uses)")
    rng = np.random.default_rng(seed)
    if mode == "random":
        if n < K:
            raise CompareError(f"K={K} is more than the {n} observations")
        return rng.permutation(np.arange(n) % K)
    assert labels is not None
    if mode == "stratified":
        ids = np.empty(n, dtype=int)
        offset = 0
        for lv in pd.unique(labels):
            pos = np.flatnonzero(labels == lv)
            ids[rng.permutation(pos)] = (np.arange(pos.size) + offset) % K
            offset += pos.size
        return ids
    sizes = pd.Series(labels).value_counts(sort=False).reindex(pd.unique(labels))
    if len(sizes) < K:
        raise CompareError(f"K={K} grouped folds need at least {K} levels of the group "
                           f"(have {len(sizes)})")
    assigned, _ = assign_folds(sizes, max_groups=2, mode="kfold", seed=seed, folds=K)
    by_level = {g: j for j, fold in enumerate(assigned) for g in fold}
    return np.array([by_level[str(lv)] for lv in labels])


def kfold_fit(fit: Fit, K: int = 10, group: str | None = None, folds: Any = None,
              seed: int | None = None, **sampler: Any) -> az.ELPDData:
    """K-fold cross-validation of ``fit`` (``hm.kfold``): an ELPDData with ``elpd_kfold``,
    ``se``, ``p_kfold`` (lppd of the full fit minus elpd_kfold) and ``kfold_i``; ``attrs``
    hold the fold id per row and the seconds spent refitting."""
    from hiermodel.posterior.loglik import iter_loglik
    from hiermodel.posterior.ppc import group_labels

    fit = getattr(fit, "fit", fit)
    data = training_data(fit)
    n = len(data)
    labels = group_labels(fit, group) if group is not None else None
    ids = fold_ids(n, K, labels, folds, seed)
    elpd_i = np.empty(n)
    start = time.perf_counter()
    n_samples = 0
    for k in np.unique(ids):
        test = np.flatnonzero(ids == k)
        log.info("kfold: refitting without fold %d of %d (%d rows)", k + 1,
                 len(np.unique(ids)), test.size)
        try:
            refit = refit_on(fit, data.iloc[np.flatnonzero(ids != k)], **sampler)
        except Exception as exc:
            raise CompareError(f"kfold: the refit without fold {k + 1} failed: {exc}") from exc
        y, t, w = _response(fit, test)
        ll = held_out_loglik(refit, data.iloc[test], y, t, w,
                             seed=None if seed is None else seed + int(k))
        n_samples = ll.shape[0]
        elpd_i[test] = logsumexp(ll, axis=0) - np.log(n_samples)
    lppd = sum(float(np.sum(logsumexp(ll, axis=0) - np.log(ll.shape[0])))
               for _, ll in iter_loglik(fit))
    out = _elpd(elpd_i, None, n_samples, lppd - float(elpd_i.sum()), "kfold")
    out.attrs["folds"] = ids
    out.attrs["seconds"] = time.perf_counter() - start
    return out


__all__ = ["METHODS", "KFoldELPD", "compare_fits", "fold_ids", "held_out_loglik", "kfold_fit",
           "loo_fit", "reloo_elpd"]
