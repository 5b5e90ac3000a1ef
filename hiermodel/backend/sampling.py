"""Sampling: draw from a built model's PyMC graph with one of several backends."""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import time
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiermodel.errors import FitError

if TYPE_CHECKING:
    from hiermodel.models import Model

log = logging.getLogger("hiermodel")

BACKENDS = ("auto", "pymc", "nutpie", "numpyro", "blackjax")
_BACKEND_PACKAGE = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}

# backend="auto" samples with nutpie from this many likelihood rows (after compression) on.
# nutpie compiles each model with numba (~7 s in a fresh process, less once numba has warmed up
# in the session) and then has almost no per-step overhead; PyMC's NUTS reuses its on-disk C
# cache but spends ~0.1 ms of Python per leapfrog step on top of the gradient. Measured side
# by side on 2 CPUs, 4 x (1000 + 1000) (benchmarks/backend_choice.py, y ~ x + (1|g)): nutpie
# was faster at every size from 1,000 rows (1.7-1.9x at 1,000, 1.8x at 3,000, 3.2x at 10,000;
# crossed 70,000-row design 19.7 vs 112 s), PyMC on the maize model's 60 compressed cells in a
# fresh process (8.6 vs 10.8 s), where nutpie's compile is most of the time.
AUTO_NUTPIE_ROWS = 1_000


def likelihood_rows(model: Model) -> int:
    """Rows the sampler's log-density visits: cells when compressed, else observations."""
    cells = model.info.cells
    return int(cells.n_cells) if cells is not None else len(model.design.y)


def resolve_backend(model: Model, backend: str) -> tuple[str, str]:
    """(backend to use, why) — ``"auto"`` picks the faster sound sampler for this model."""
    check_backend(backend)
    if backend != "auto":
        return backend, "requested"
    rows = likelihood_rows(model)
    if importlib.util.find_spec("nutpie") is None:
        return "pymc", "auto: nutpie not installed"
    if rows >= AUTO_NUTPIE_ROWS:
        return "nutpie", (f"auto: {rows:,} likelihood rows >= {AUTO_NUTPIE_ROWS:,}, where "
                          "nutpie's compiled sampler beats PyMC's per-step overhead")
    return "pymc", (f"auto: {rows:,} likelihood rows < {AUTO_NUTPIE_ROWS:,}, where PyMC's "
                    "cached C compile beats nutpie's numba compile")


def check_backend(backend: str) -> None:
    """Raise :class:`FitError` for an unknown backend or one whose package is missing."""
    if backend not in BACKENDS:
        from hiermodel.errors import did_you_mean

        hint = did_you_mean(backend, BACKENDS) or f"; choose one of: {', '.join(BACKENDS)}"
        raise FitError(f"unknown backend '{backend}'{hint}")
    pkg = _BACKEND_PACKAGE.get(backend)
    if pkg and importlib.util.find_spec(pkg) is None:
        raise FitError(
            f"backend '{backend}' needs the package '{pkg}', which is not installed; "
            f"install it (pip install {pkg}) or use backend='auto' or 'pymc'"
        )


def _sample_pymc(model: Any, draws: int, tune: int, chains: int, cores: int, seed: int | None,
                 target_accept: float, progressbar: bool, keep: list[str],
                 nuts_sampler: str = "pymc") -> Any:
    import pymc as pm

    with model:
        return pm.sample(
            draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
            target_accept=target_accept, progressbar=progressbar, var_names=keep,
            compute_convergence_checks=False, nuts_sampler=nuts_sampler,
            idata_kwargs={"log_likelihood": False},
        )


def _sample_nutpie(model: Any, draws: int, tune: int, chains: int, cores: int, seed: int | None,
                   target_accept: float, progressbar: bool) -> Any:
    import nutpie

    compiled = nutpie.compile_pymc_model(model)
    return nutpie.sample(
        compiled, draws=draws, tune=tune, chains=chains, cores=cores,
        seed=seed if seed is not None else int(np.random.default_rng().integers(2**31)),
        target_accept=target_accept, progress_bar=progressbar,
    )


def sample(
    model: Model,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    backend: str = "auto",
    target_accept: float = 0.9,
    progressbar: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Draw from the posterior of ``model``: (InferenceData, sampler settings and timing).

    ``backend``: ``"auto"`` (default: nutpie for likelihoods of at least
    :data:`AUTO_NUTPIE_ROWS` rows after compression when nutpie is installed, else PyMC),
    ``"pymc"``, ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``. The choice and its reason are
    recorded in ``fit.sampler`` and printed by ``summary()``.
    """
    requested = backend
    backend, reason = resolve_backend(model, backend)
    if draws < 1 or tune < 0 or chains < 1:
        raise FitError(f"draws ({draws}) and chains ({chains}) must be ≥ 1 and tune ≥ 0")
    cores = cores or min(chains, 2)
    if backend == "pymc" and multiprocessing.current_process().daemon:
        # a Dask worker (or a multiprocessing pool worker) is daemonic and cannot start PyMC's
        # chain processes: run the chains one after another; the draws do not depend on cores
        cores = 1
    pm_model = model.pymc_model
    latent = set(model.info.latent)
    keep = [v.name for v in pm_model.free_RVs + pm_model.deterministics
            if v.name not in latent and not v.name.startswith("z_") and "_part" not in v.name]
    log.info("sampling %s with %s: %d chains x (%d tune + %d draws)", model.formula, backend,
             chains, tune, draws)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*BLAS.*")
            # NUTS's first, oversized trial steps on very precise likelihoods (compressed cell
            # means of thousands of rows) overflow to inf/NaN energies; the sampler treats such
            # steps as divergent and rejects them, and hiermodel counts and reports every
            # post-tuning divergence in the diagnostics, so NumPy's per-step warnings add noise,
            # not information.
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message="(overflow|invalid value) encountered in dot")
            if backend == "nutpie":
                idata = _sample_nutpie(pm_model, draws, tune, chains, cores, seed,
                                       target_accept, progressbar)
                idata.posterior = idata.posterior[[v for v in keep if v in idata.posterior]]
            else:
                idata = _sample_pymc(pm_model, draws, tune, chains, cores, seed, target_accept,
                                     progressbar, keep, nuts_sampler=backend)
    except KeyboardInterrupt:
        raise
    except FitError:
        raise
    except Exception as exc:
        raise FitError(f"sampling failed with backend '{backend}': {exc}") from exc
    if model.info.marginal is not None:
        from hiermodel.backend.marginal import group_effect_draws

        idata.posterior = group_effect_draws(model.info.marginal, idata.posterior, seed)
    elapsed = time.perf_counter() - start
    if model.info.compressed and "observed_data" in idata.groups():
        del idata.observed_data  # per-cell summaries, not the user's data; rebuilt on demand
    sampler = {"backend": backend, "backend_requested": requested, "backend_reason": reason,
               "draws": draws, "tune": tune, "chains": chains,
               "seed": seed, "target_accept": target_accept, "seconds": elapsed}
    return idata, sampler


def prior_predictive(model: Model, draws: int = 500, seed: int | None = None) -> Any:
    """Prior predictive draws of the response (uncompressed graph), as InferenceData.

    Observation weights scale the likelihood, not the data-generating process: the graph is
    built without them, so it has the observed node ``y`` to draw from."""
    import pymc as pm

    from hiermodel.backend.graph import BuildOptions, build_graph

    options = BuildOptions(center_predictors=model.options.center_predictors,
                           parametrization=model.options.parametrization, compress=False,
                           marginalize=False)
    design = model.design
    if design.prepared.weights is not None:
        design = replace(design, prepared=replace(design.prepared, weights=None))
    graph, _ = build_graph(design, model.prior_table, options)
    with graph, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        idata = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    if model.design.family.ordinal:  # PyMC's ordered likelihoods count categories from 0
        idata.prior_predictive["y"] = idata.prior_predictive["y"] + 1
    return idata


def prior_draws(pymc_model: Any, name: str, draws: int, seed: int | None) -> np.ndarray:
    """``draws`` prior draws of variable ``name`` of a graph, as (draws, elements)."""
    import pymc as pm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=draws, var_names=[name], model=pymc_model,
                                           random_seed=seed)
    return np.asarray(prior.prior[name].values).reshape(draws, -1)


__all__ = ["AUTO_NUTPIE_ROWS", "BACKENDS", "check_backend", "likelihood_rows", "prior_draws",
           "prior_predictive", "resolve_backend", "sample"]
