"""``hm.compare``: fit pooled, unpooled and hierarchical variants and report how they differ.

:func:`compare` runs one step after another: check the arguments, resolve the variants, the
group and the effect, fit every variant, PSIS-LOO, the per-group estimates (pooling factors,
flags, variance partition), leave-one-group-out, and assemble the
:class:`~hiermodel.comparison.result.Comparison` (rendered as text by
:mod:`hiermodel.comparison.text`). See ``docs/compare.md``.
"""

from __future__ import annotations

import sys
import time
import warnings as pywarnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.cluster import task_pool
from hiermodel.comparison.convergence import refit_warnings
from hiermodel.comparison.effects import is_log_response, original_scale, resolve_effect
from hiermodel.comparison.fitting import (
    MODEL_OPTIONS,
    SAMPLER_OPTIONS,
    Sampling,
    VariantFits,
    fit_variants,
    group_labels,
    sampling_plan,
)
from hiermodel.comparison.flags import MIN_CELL, SMALL_N
from hiermodel.comparison.logo import DEFAULT_FOLDS, leave_one_group_out
from hiermodel.comparison.loo import compare_loo, loo, pareto_warning
from hiermodel.comparison.pooling import group_table, pooling_table
from hiermodel.comparison.refits import FoldRefitter, VariantSamplers
from hiermodel.comparison.result import Comparison
from hiermodel.comparison.text import priors_label
from hiermodel.comparison.variance import variance_partition
from hiermodel.comparison.variants import group_source_columns, resolve_variants, variant_kind
from hiermodel.console import Reporter
from hiermodel.errors import CompareError, ConvergenceWarning, HiermodelError
from hiermodel.families import get_family
from hiermodel.numbers import format_seconds
from hiermodel.posterior.loglik import DEFAULT_CHUNK

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.cluster import TaskPool
    from hiermodel.comparison.effects import EffectSpec
    from hiermodel.comparison.logo import LogoResult
    from hiermodel.comparison.pooling import GroupTable
    from hiermodel.formula.terms import ModelTerms
    from hiermodel.models import Model
    from hiermodel.posterior.fitted import Fit

Progress = Callable[[str], None]


def _check_fit_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    unknown = [k for k in options if k not in MODEL_OPTIONS + SAMPLER_OPTIONS]
    if unknown:
        raise CompareError(f"unknown fit_options {unknown}; allowed: "
                           f"{', '.join(MODEL_OPTIONS + SAMPLER_OPTIONS)}")
    return options


def _translate(formula: str, data: pd.DataFrame, name: str) -> ModelTerms:
    import hiermodel as hm

    try:
        return hm.translate(formula, data)
    except HiermodelError as exc:
        if name == "hierarchical":
            raise
        raise CompareError(f"variant '{name}': {exc}") from exc


def _used_columns(all_terms: list[ModelTerms]) -> list[str]:
    cols: list[str] = []
    for t in all_terms:
        for var in t.variables.values():
            for c in var.source_columns:
                if c not in cols:
                    cols.append(c)
    return cols


def _reporter(progress: bool | Progress | None) -> Reporter:
    if progress is None or progress is False:
        return Reporter()
    if progress is True:
        def say(message: str) -> None:
            print(f"hiermodel compare: {message}", file=sys.stdout, flush=True)

        return Reporter(say)
    if not callable(progress):
        raise CompareError(f"progress must be True, False or a function taking a message "
                           f"(got {progress!r})")
    return Reporter(progress)


# -- the steps of compare() ----------------------------------------------------------------

def _check_arguments(data: Any, *, prob: float, logo: bool | str, logo_folds: int | None,
                     progress: bool | Progress | None, center_predictors: bool,
                     fit_options: Mapping[str, Any] | None) -> tuple[Reporter, dict[str, Any]]:
    """Validate the arguments that need no model; return the progress reporter and the options
    passed to every fit."""
    if not isinstance(data, pd.DataFrame):
        raise CompareError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not 0 < prob < 1:
        raise CompareError(f"prob must be between 0 and 1 (got {prob})")
    if logo not in (True, False, "auto", "exact", "kfold"):
        raise CompareError(f"logo must be True, False, 'auto', 'exact' or 'kfold' (got {logo!r})")
    if logo_folds is not None and logo_folds < 2:
        raise CompareError(f"logo_folds must be >= 2 (got {logo_folds})")
    reporter = _reporter(progress)
    options = _check_fit_options(fit_options)
    options.setdefault("center_predictors", center_predictors)
    return reporter, options


@dataclass
class _Inputs:
    """The data and formulas compare() works on, the group and the effect."""

    data: pd.DataFrame
    terms: ModelTerms  # of the hierarchical formula
    formulas: dict[str, str]  # variant -> formula
    group: str
    group_cols: tuple[str, ...]
    spec: EffectSpec


def _resolve_inputs(formula: str, data: pd.DataFrame, *, variants: Mapping[str, str] | None,
                    group: str | None, effect: str | None, dropna: bool,
                    ordinal: bool = False) -> _Inputs:
    """Translate the formula and its variants, drop incomplete rows (``dropna``), pick the
    group (default: the first grouping factor) and resolve the effect."""
    data = data.reset_index(drop=True)
    terms = _translate(formula, data, "hierarchical")
    formulas = resolve_variants(formula, data, variants, terms, keep_intercept=ordinal)
    all_terms = {name: (terms if name == "hierarchical" else _translate(f, data, name))
                 for name, f in formulas.items()}
    if dropna:
        cols = [c for c in _used_columns(list(all_terms.values())) if c in data.columns]
        keep = ~data[cols].isna().any(axis=1)
        if not keep.all():
            data = data.loc[keep].reset_index(drop=True)
    groups_in_formula = list(dict.fromkeys(b.group for b in terms.groups))
    group = group or groups_in_formula[0]
    group_cols = group_source_columns(terms, group)
    spec = resolve_effect(terms, data, group, effect, list(all_terms.values()))
    return _Inputs(data=data, terms=terms, formulas=formulas, group=group,
                   group_cols=group_cols, spec=spec)


def _check_same_response(formula: str, formulas: dict[str, str],
                         fits: dict[str, Fit]) -> np.ndarray:
    """The response of the hierarchical fit; every variant must model the same rows."""
    y = fits["hierarchical"].model.design.y
    for name, fit in fits.items():
        other = fit.model.design.y
        if other.shape != y.shape or not np.allclose(other, y, equal_nan=True):
            raise CompareError(
                f"variant '{name}' ({formulas[name]}) does not model the same response rows as "
                f"'{formula}' ({len(other)} vs {len(y)} rows); LOO and LOGO compare predictions "
                "of the same observations — use the same response (and dropna=True when "
                "variants use different columns with missing values)")
    return y


@dataclass
class _Loo:
    """PSIS-LOO of every variant and the comparison table."""

    elpds: dict[str, az.ELPDData]
    distinct: dict[str, int]  # distinct (cell, response) rows computed
    table: pd.DataFrame
    warnings: list[str]


def _psis_loo(fits: dict[str, Fit], n_obs: int, *, chunk: int | None, seed: int,
              reporter: Reporter) -> _Loo:
    """PSIS-LOO per observation of every variant, Pareto-k warnings and the LOO table."""
    elpds: dict[str, Any] = {}
    distinct: dict[str, int] = {}
    warnings: list[str] = []
    stage = reporter.stage("PSIS-LOO", len(fits))
    for i, (name, fit) in enumerate(fits.items(), start=1):
        with stage.step(name, f"PSIS-LOO {name} ({i}/{len(fits)}): {n_obs} observations"):
            elpds[name] = loo(fit, chunk=chunk)
        distinct[name] = int(elpds[name].attrs.get("distinct_rows", n_obs))
        k_warning = pareto_warning(name, elpds[name])
        if k_warning:
            warnings.append(k_warning)
    return _Loo(elpds=elpds, distinct=distinct, table=compare_loo(elpds, seed=seed),
                warnings=warnings)


@dataclass
class _PerGroup:
    """The per-group estimates and the tables made from them."""

    labels: np.ndarray  # group label of every row
    levels: list[str]
    table: GroupTable
    log_response: bool
    tables: dict[str, pd.DataFrame]  # groups, pooling, estimates, population[, variance, ...]
    warnings: list[str]  # about groups flagged small_n


def _per_group(inputs: _Inputs, fits: dict[str, Fit], kinds: dict[str, str], *, prob: float,
               small_n: int, min_cell: int, say: Progress) -> _PerGroup:
    """Per-group estimates under every variant with pooling factors and flags, the variance
    partition and, for a log response, the effect on the original scale."""
    hier = fits["hierarchical"]
    block = next(b for b in hier.model.design.blocks if b.group == inputs.group)
    labels = group_labels(hier.model, inputs.group)
    levels = list(block.levels)
    say("per-group estimates")
    log_resp = is_log_response(inputs.terms)
    gt = group_table(fits, kinds, inputs.data, labels, levels, inputs.group, inputs.group_cols,
                     inputs.spec, prob=prob, small_n=small_n, min_cell=min_cell,
                     log_response=log_resp)
    tables = {"groups": gt.table, "pooling": pooling_table(gt, list(inputs.formulas)),
              "estimates": gt.estimates, "population": gt.population}
    if hier.model.info.group_terms:
        tables["variance"] = variance_partition(hier, prob)
    if log_resp and inputs.spec.variable is not None:
        tables["original_scale"] = original_scale(gt.draws, prob)
    warnings: list[str] = []
    flagged = gt.table[gt.table["flags"] != ""]
    hit = flagged.loc[flagged["small_n"], "group"].astype(str).tolist()
    if hit:
        warnings.append(f"{len(hit)} group(s) with few rows ({', '.join(hit[:8])}"
                        f"{', ...' if len(hit) > 8 else ''}): their unpooled estimates are "
                        "noise-dominated; the hierarchical estimate borrows strength")
    return _PerGroup(labels=labels, levels=levels, table=gt, log_response=log_resp,
                     tables=tables, warnings=warnings)


@dataclass
class _Logo:
    """Leave-one-group-out: its result, or why it was skipped."""

    result: LogoResult | None
    skipped: str
    warnings: list[str]


def _logo_skipped(logo: bool | str, n_levels: int, kinds: dict[str, str], group: str) -> str:
    """Why leave-one-group-out does not run ("" when it does)."""
    mixed = [n for n, k in kinds.items() if k == "mixed"]
    if logo is False:
        return "logo=False"
    if n_levels < 3:
        return f"'{group}' has only {n_levels} groups; leave-one-group-out needs 3"
    if mixed:
        return (f"variant(s) {', '.join(mixed)} use '{group}' both as a population factor and "
                "as a grouping factor, so how to predict a new group is ambiguous")
    return ""


def _leave_groups_out(inputs: _Inputs, fits: dict[str, Fit], kinds: dict[str, str],
                      per_group: _PerGroup, sampling: Sampling, y: np.ndarray, *,
                      logo: bool | str, logo_max_groups: int, logo_folds: int | None,
                      chains: int, chunk: int | None, keep_logo_fits: bool,
                      reporter: Reporter, samplers: VariantSamplers | None,
                      pool: TaskPool | None = None) -> _Logo:
    """Leave-one-group-out CV of every variant (exact or grouped K-fold), unless ``logo=False``,
    there are fewer than 3 groups or a variant uses the group both ways."""
    group, levels, formulas = inputs.group, per_group.levels, inputs.formulas
    warnings: list[str] = []
    logo_result = None
    l_draws, l_tune = sampling.logo_draws, sampling.logo_tune
    logo_skipped = _logo_skipped(logo, len(levels), kinds, group)
    if logo_skipped and logo is not False:
        warnings.append(f"leave-one-group-out skipped: {logo_skipped}")
    if not logo_skipped:
        mode = "auto" if logo is True else str(logo)
        exact = mode == "exact" or (mode == "auto" and len(levels) <= logo_max_groups)
        n_folds = len(levels) if exact else min(logo_folds or DEFAULT_FOLDS, len(levels))
        reporter.note(
            f"leave-one-group-out: {'exact' if exact else f'grouped {n_folds}-fold CV'} over "
            f"{len(levels)} groups of '{group}': {n_folds * len(formulas)} refits "
            f"({l_draws} draws + {l_tune} tune, {chains} chains each)")

        kw = sampling.fit_kw
        options = kw["options"]
        # a held-out fold may remove the level an override names: relaxed matching
        refit = FoldRefitter(
            fits, inputs.data, samplers or VariantSamplers(per_group.labels, kw["backend"]),
            inputs.group_cols,
            model_kw={"family": kw["family"], "link": kw["link"],
                      "priors": sampling.relaxed_priors,
                      **{k: v for k, v in options.items() if k in MODEL_OPTIONS}},
            sample_kw={"draws": l_draws, "tune": l_tune, "chains": kw["chains"],
                       "backend": kw["backend"],
                       **{k: v for k, v in options.items() if k in SAMPLER_OPTIONS}},
            seed=sampling.logo_seed)

        trials = fits["hierarchical"].model.design.trials
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always", ConvergenceWarning)
            logo_result = leave_one_group_out(
                formulas, inputs.data, per_group.labels, inputs.group_cols, y, trials, refit,
                max_groups=logo_max_groups, mode=mode, seed=sampling.logo_seed, chunk=chunk,
                progress=reporter.callback, keep_fits=keep_logo_fits, folds=logo_folds,
                weights=fits["hierarchical"].model.prepared.weights, pool=pool)
        warnings += refit_warnings(caught, len(logo_result.folds) * len(formulas))
    return _Logo(result=logo_result, skipped=logo_skipped, warnings=warnings)


def _variants_table(formulas: dict[str, str], kinds: dict[str, str],
                    fitted: VariantFits) -> pd.DataFrame:
    """One row per variant: formula, kind, size, time and sampler diagnostics."""
    fits, diagnostics, fit_seconds = fitted.fits, fitted.diagnostics, fitted.seconds

    def n_cells(fit: Fit) -> int | None:
        cells = fit.model.info.cells
        return None if cells is None else cells.n_cells

    return pd.DataFrame([
        {"variant": n, "formula": formulas[n], "kind": kinds[n],
         "n_coef": len(fits[n].model.design.x_names) + int(fits[n].model.design.has_intercept),
         "compressed_cells": n_cells(fits[n]),
         "seconds": fit_seconds[n], "sampler_seconds": fits[n].sampler.get("seconds"),
         **{k: diagnostics[n].get(k) for k in ("max_rhat", "min_ess_bulk", "divergences")}}
        for n in formulas])


# -- compare() ------------------------------------------------------------------------------

def compare(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    variants: Mapping[str, str] | None = None,
    group: str | None = None,
    effect: str | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    backend: str = "auto",
    logo: bool | str = "auto",
    logo_max_groups: int = 12,
    progress: bool | Progress | None = False,
    center_predictors: bool = True,
    logo_folds: int | None = None,
    logo_draws: int | None = None,
    logo_tune: int | None = None,
    prob: float = 0.95,
    small_n: int = SMALL_N,
    min_cell: int = MIN_CELL,
    chunk: int | None = DEFAULT_CHUNK,
    dropna: bool = False,
    keep_logo_fits: bool = False,
    fit_options: Mapping[str, Any] | None = None,
    client: Any = None,
) -> Comparison:
    """Fit pooled, unpooled and hierarchical variants of ``formula`` and compare them.

    Variant rule (``docs/compare.md``): *pooled* drops every group-level term; *hierarchical*
    is ``formula`` as written; *unpooled* turns each varying term into a per-group fixed effect
    with no shared prior — ``(1|g)`` becomes ``0 + g`` (replacing the intercept), ``(1 + x|g)``
    becomes ``0 + g + g:x`` with the population ``x`` dropped; other population terms stay.
    ``variants={"unpooled": "y ~ 0 + g:x", "extra": "..."}`` replaces or adds variants. Every
    variant is fitted with the same priors and sampler settings.

    The report (``str(result)``, ``result.tables``, ``result.figures``, ``result.write(dir)``):

    - PSIS-LOO per observation (chunked, bounded memory; identical observations computed
      once), differences with SEs, stacking weights and Pareto-k warnings;
    - leave-one-group-out CV (``logo``: ``"auto"``/``True`` exact refits when there are at most
      ``logo_max_groups`` groups, else grouped K-fold with ``K = logo_folds`` (default 5);
      ``"exact"``, ``"kfold"``; ``False`` skips). Refits use ``logo_draws``/``logo_tune``
      (default ``min(draws, 500)``/``min(tune, 500)``). New groups: hierarchical draws their
      effects from the fitted group distribution, unpooled from the prior of a group's
      coefficients, pooled simply predicts;
    - per-group table for ``group`` (default: the first grouping factor): estimates of the
      ``effect`` (default: its first varying slope, else the first population term that some
      variant lets vary by group, else none; ``"1"`` for the intercept only) and of the
      intercept under each variant, pooling factor
      ``(unpooled - hierarchical) / (unpooled - pooled)`` and flags ``small_n``,
      ``sign_reversal``, ``extreme``, ``wide_interval`` with the reason;
    - variance partition / ICC of the hierarchical model; for a ``log(...)``/``log_*`` response
      the multiplicative effect ``exp(effect)``.

    ``progress=True`` prints each step ("fitting unpooled (2/3): y ~ 0 + g + x"); a function
    receives the messages instead. ``center_predictors`` is passed to every fit;
    ``fit_options`` passes ``parametrization``, ``center_predictors`` (overriding the
    argument), ``compress``, ``cores``, ``target_accept`` or ``progressbar`` to every fit and
    refit.

    ``client``: run the variant fits and the leave-one-group-out refits as Dask tasks —
    ``"local"``/``"local:N"``, a scheduler address or a :class:`distributed.Client` (see
    :mod:`hiermodel.cluster`); the data go once to each worker, and the result equals the
    serial one (same seeds). ``None`` (default): in this process.
    """
    with task_pool(client) as pool:
        return _compare(formula, data, family=family, link=link, priors=priors,
                        variants=variants, group=group, effect=effect, draws=draws, tune=tune,
                        chains=chains, seed=seed, backend=backend, logo=logo,
                        logo_max_groups=logo_max_groups, progress=progress,
                        center_predictors=center_predictors, logo_folds=logo_folds,
                        logo_draws=logo_draws, logo_tune=logo_tune, prob=prob,
                        small_n=small_n, min_cell=min_cell, chunk=chunk, dropna=dropna,
                        keep_logo_fits=keep_logo_fits, fit_options=fit_options, pool=pool)


def _compare(formula: str, data: pd.DataFrame, *, family: str, link: str | None, priors: Any,
             variants: Mapping[str, str] | None, group: str | None, effect: str | None,
             draws: int, tune: int, chains: int, seed: int | None, backend: str,
             logo: bool | str, logo_max_groups: int, progress: bool | Progress | None,
             center_predictors: bool, logo_folds: int | None, logo_draws: int | None,
             logo_tune: int | None, prob: float, small_n: int, min_cell: int,
             chunk: int | None, dropna: bool, keep_logo_fits: bool,
             fit_options: Mapping[str, Any] | None, pool: TaskPool | None) -> Comparison:
    """:func:`compare` with its tasks on ``pool`` (``None``: in this process)."""
    t_start = time.perf_counter()
    reporter, options = _check_arguments(data, prob=prob, logo=logo, logo_folds=logo_folds,
                                    progress=progress, center_predictors=center_predictors,
                                    fit_options=fit_options)
    inputs = _resolve_inputs(formula, data, variants=variants, group=group, effect=effect,
                             dropna=dropna, ordinal=get_family(family, link).ordinal)
    sampling = sampling_plan(seed=seed, family=family, link=link, priors=priors, chains=chains,
                             backend=backend, options=options, draws=draws, tune=tune,
                             logo_draws=logo_draws, logo_tune=logo_tune)

    def shares(labels: np.ndarray, built: dict[str, Model]) -> bool:
        kinds = {n: variant_kind(m, inputs.group_cols) for n, m in built.items()}
        return not _logo_skipped(logo, len(np.unique(labels)), kinds, inputs.group)

    fitted = fit_variants(inputs.formulas, inputs.data, inputs.group, sampling, draws=draws,
                          tune=tune, reporter=reporter, shares=shares, pool=pool)
    t_fits = time.perf_counter()

    fits = fitted.fits
    y = _check_same_response(formula, inputs.formulas, fits)
    kinds = {name: variant_kind(fit.model, inputs.group_cols) for name, fit in fits.items()}
    psis_loo = _psis_loo(fits, len(y), chunk=chunk, seed=sampling.fit_seed, reporter=reporter)
    t_loo = time.perf_counter()

    per_group = _per_group(inputs, fits, kinds, prob=prob, small_n=small_n, min_cell=min_cell,
                           say=reporter.note)
    t_groups = time.perf_counter()

    held_out = _leave_groups_out(inputs, fits, kinds, per_group, sampling, y, logo=logo,
                                 logo_max_groups=logo_max_groups, logo_folds=logo_folds,
                                 chains=chains, chunk=chunk, keep_logo_fits=keep_logo_fits,
                                 reporter=reporter, samplers=fitted.samplers, pool=pool)
    t_logo = time.perf_counter()

    # assemble the result
    logo_result, gt = held_out.result, per_group.table
    tables = {"variants": _variants_table(inputs.formulas, kinds, fitted),
              "loo": psis_loo.table, **per_group.tables}
    if logo_result is not None:
        tables["logo"] = logo_result.summary
        tables["logo_groups"] = logo_result.groups
    warnings = fitted.warnings + psis_loo.warnings + held_out.warnings + per_group.warnings
    timings = {"fits": t_fits - t_start, "PSIS-LOO": t_loo - t_fits,
               "per-group": t_groups - t_loo}
    if logo_result is not None:
        timings["leave-one-group-out"] = t_logo - t_groups
    timings["total"] = time.perf_counter() - t_start
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                "backend": backend, "family": family, "link": link, "priors": priors_label(priors),
                "center_predictors": options["center_predictors"],
                "prob": prob, "n": len(y), "group": inputs.group, "effect": inputs.spec.label,
                "logo": str(logo), "logo_max_groups": logo_max_groups,
                "logo_folds": (len(logo_result.folds) if logo_result is not None
                               and not logo_result.exact else None),
                "logo_method": logo_result.method if logo_result is not None else None,
                "logo_skipped": held_out.skipped or None,
                "logo_draws": sampling.logo_draws, "logo_tune": sampling.logo_tune,
                "small_n": small_n, "min_cell": min_cell,
                "extreme_scale": gt.scale, "extreme_scale_source": gt.scale_source,
                "loo_distinct_rows": psis_loo.distinct, "seconds": timings}
    reporter.note(f"done in {format_seconds(timings['total'])}")
    return Comparison(formula=formula, formulas=inputs.formulas, fits=fits, kinds=kinds,
                      loo=psis_loo.elpds, group=inputs.group, effect=inputs.spec, groups=gt,
                      tables=tables, logo=logo_result, warnings=warnings, settings=settings,
                      labels=per_group.labels, data=inputs.data,
                      log_response=per_group.log_response)


__all__ = ["Progress", "compare"]
