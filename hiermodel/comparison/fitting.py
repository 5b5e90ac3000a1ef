"""Fitting a comparison's variants: their shared settings, priors and seeds, and the fits.

:func:`fit_variants` builds every variant, then samples each one — through its compiled graph
in :class:`~hiermodel.comparison.refits.VariantSamplers` when the comparison will refit the
variants without some groups (one nutpie compile per variant for its fit and all its refits),
else as ``hm.fit`` does; on a Dask cluster each variant is one task.
"""

from __future__ import annotations

import time
import warnings as pywarnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.cluster import Task
from hiermodel.comparison.convergence import variant_diagnostics
from hiermodel.comparison.refits import VariantSamplers
from hiermodel.errors import CompareError, ConvergenceWarning, HiermodelError

if TYPE_CHECKING:
    from hiermodel.cluster import TaskPool
    from hiermodel.console import Reporter
    from hiermodel.models import Model
    from hiermodel.posterior.fitted import Fit
    from hiermodel.priors import PriorSpec

    # shares(labels, built models): whether the variants will be refitted without some groups
    Shares = Callable[[np.ndarray, dict[str, Model]], bool]

MODEL_OPTIONS = ("center_predictors", "parametrization", "compress")
SAMPLER_OPTIONS = ("cores", "target_accept", "progressbar")


def _build(name: str, formula: str, data: pd.DataFrame, sampling: Sampling) -> Model:
    """What ``hm.fit`` builds (:func:`hiermodel.models.model`) for variant ``name``."""
    from hiermodel.models import model

    kw = sampling.fit_kw
    # overrides are checked against the hierarchical model; the other variants take those that
    # name one of their parameters (no Intercept in "0 + g", ...)
    priors = kw["priors"] if name == "hierarchical" else sampling.relaxed_priors
    return model(formula, data, family=kw["family"], link=kw["link"], priors=priors,
                 **{k: v for k, v in kw["options"].items() if k in MODEL_OPTIONS})


def _sample(name: str, built: Model, sampling: Sampling, draws: int, tune: int,
            samplers: VariantSamplers | None) -> Fit:
    """Sample variant ``name``: through its compiled graph in ``samplers`` when it can share
    one with its refits, else as ``hm.fit`` does."""
    kw = sampling.fit_kw
    options = {k: v for k, v in kw["options"].items() if k in SAMPLER_OPTIONS}
    if samplers is not None and samplers.problem(built) is None:
        return samplers.fit(name, built, seed=sampling.fit_seed, draws=draws, tune=tune,
                            chains=kw["chains"], **options)
    return built.fit(draws=draws, tune=tune, chains=kw["chains"], seed=sampling.fit_seed,
                     backend=kw["backend"], **options)


@dataclass
class Sampling:
    """What every fit and refit shares: the model and sampler arguments (family, link,
    priors, chains, backend, options), the priors of the non-hierarchical variants and the
    refits, the seeds and the draws of the refits."""

    fit_kw: dict[str, Any]
    relaxed_priors: PriorSpec
    fit_seed: int
    logo_seed: int
    logo_draws: int
    logo_tune: int


def sampling_plan(*, seed: int | None, family: Any, link: str | None, priors: Any,
                  chains: int, backend: str, options: dict[str, Any], draws: int, tune: int,
                  logo_draws: int | None, logo_tune: int | None) -> Sampling:
    """The seeds of the fits and of the leave-one-group-out refits, and the shared settings."""
    rng = np.random.default_rng(seed)
    fit_seed = int(rng.integers(2**31 - 1)) if seed is None else int(seed)
    logo_seed = int(rng.integers(2**31 - 1))
    fit_kw = {"family": family, "link": link, "priors": priors, "chains": chains,
              "backend": backend, "options": options}
    from hiermodel.priors import as_prior_spec

    relaxed_priors = replace(as_prior_spec(priors), unmatched="ignore")
    return Sampling(fit_kw=fit_kw, relaxed_priors=relaxed_priors, fit_seed=fit_seed,
                    logo_seed=logo_seed,
                    logo_draws=logo_draws if logo_draws is not None else min(draws, 500),
                    logo_tune=logo_tune if logo_tune is not None else min(tune, 500))


@dataclass
class VariantFits:
    """The fitted variants with their diagnostics and fitting time."""

    fits: dict[str, Fit]
    diagnostics: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    warnings: list[str]
    samplers: VariantSamplers | None  # the variants' compiled graphs, when they share them


@contextmanager
def _variant_errors(name: str, formula: str) -> Iterator[None]:
    """A failure of a variant other than the hierarchical model is a CompareError naming it;
    the comparison reports failed checks of its variants itself (variant_diagnostics)."""
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore", ConvergenceWarning)
            yield
    except HiermodelError as exc:
        if name == "hierarchical":
            raise
        raise CompareError(f"fitting variant '{name}' ({formula}) failed: {exc}") from exc


def _fit_variant(name: str, formula: str, data: pd.DataFrame, sampling: Sampling,
                 draws: int, tune: int) -> tuple[Fit, float]:
    """Fit one variant (and its seconds): the task that runs on a Dask worker."""
    t0 = time.perf_counter()
    with _variant_errors(name, formula):
        fit = _sample(name, _build(name, formula, data, sampling), sampling, draws, tune, None)
    return fit, time.perf_counter() - t0


def group_labels(hierarchical: Model, group: str) -> np.ndarray:
    """The level of ``group`` of every row, from the hierarchical model's block of it."""
    block = next(b for b in hierarchical.design.blocks if b.group == group)
    return np.asarray(block.levels, dtype=object)[block.index].astype(str)


def _fit_here(formulas: dict[str, str], data: pd.DataFrame, group: str, sampling: Sampling, *,
              draws: int, tune: int, reporter: Reporter, shares: Shares,
              ) -> tuple[dict[str, tuple[Fit, float]], VariantSamplers | None]:
    """Fit every variant in this process; when ``shares(labels, built)`` says the variants
    will be refitted without some groups, through their :class:`VariantSamplers`."""
    t0 = time.perf_counter()
    built: dict[str, Model] = {}
    for name, f in formulas.items():
        with _variant_errors(name, f):
            built[name] = _build(name, f, data, sampling)
    labels = group_labels(built["hierarchical"], group)
    samplers = (VariantSamplers(labels, sampling.fit_kw["backend"])
                if shares(labels, built) else None)
    build_seconds = (time.perf_counter() - t0) / len(built)
    fitted: dict[str, tuple[Fit, float]] = {}
    stage = reporter.stage("fit", len(formulas))
    for i, (name, f) in enumerate(formulas.items(), start=1):
        with stage.step(name, f"fitting {name} ({i}/{len(formulas)}): {f}"):
            t1 = time.perf_counter()
            with _variant_errors(name, f):
                fit = _sample(name, built[name], sampling, draws, tune, samplers)
            fitted[name] = (fit, build_seconds + time.perf_counter() - t1)
    return fitted, samplers


def fit_variants(formulas: dict[str, str], data: pd.DataFrame, group: str,
                 sampling: Sampling, *, draws: int, tune: int, reporter: Reporter,
                 shares: Shares, pool: TaskPool | None = None) -> VariantFits:
    """Fit every variant with the same priors and sampler settings (on ``pool``'s cluster,
    the data shipped once per worker, when given)."""
    samplers = None
    if pool is None:
        fitted, samplers = _fit_here(formulas, data, group, sampling, draws=draws,
                                     tune=tune, reporter=reporter, shares=shares)
    else:
        fitted = {}
        shared = pool.share(data)
        tasks = [Task(name, name, _fit_variant, (name, f, shared, sampling, draws, tune))
                 for name, f in formulas.items()]
        for outcome in pool.run(tasks, reporter.note, what="variant fits"):
            if outcome.error is not None:
                raise outcome.error
            fitted[str(outcome.key)] = outcome.value
    warnings: list[str] = []
    diagnostics: dict[str, dict[str, Any]] = {}
    for name in formulas:
        diagnostics[name], w = variant_diagnostics(name, fitted[name][0])
        warnings += w
    return VariantFits(fits={n: fitted[n][0] for n in formulas}, diagnostics=diagnostics,
                       seconds={n: fitted[n][1] for n in formulas}, warnings=warnings,
                       samplers=samplers)


__all__ = ["MODEL_OPTIONS", "SAMPLER_OPTIONS", "Sampling", "VariantFits", "fit_variants",
           "group_labels", "sampling_plan"]
