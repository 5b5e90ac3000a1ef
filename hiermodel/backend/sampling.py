"""Sampling: draw from a built model's PyMC graph with one of several backends."""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import signal
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np

from hiermodel.console import show_sampler_output
from hiermodel.errors import FitError, Interrupted

if TYPE_CHECKING:
    from hiermodel.models import Model

log = logging.getLogger("hiermodel")

BACKENDS = ("auto", "pymc", "nutpie", "numpyro", "blackjax")
_BACKEND_PACKAGE = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}

# backend="auto" samples with nutpie whenever it is installed. Its sampler has almost no
# per-step overhead (12.6x PyMC's sampling speed on sleepstudy's 180 rows, 3-19x on larger
# data: benchmarks/compile_split.py, backend_choice.py), and its numba compile, which used to
# make PyMC the faster choice for small likelihoods, is cached on disk per model
# (backend/nutpie_cache.py): a model fitted before compiles in well under a second in a new
# process (the talk's 60-cell model: 3.7 s process start to summary, vs 13.5 s with PyMC).
AUTO_REASON = "auto: nutpie, whose compile is cached on disk per model (backend/nutpie_cache.py)"


def resolve_backend(model: Model, backend: str) -> tuple[str, str]:
    """(backend to use, why) — ``"auto"`` picks the faster sound sampler for this model."""
    check_backend(backend)
    if backend != "auto":
        return backend, "requested"
    if importlib.util.find_spec("nutpie") is None:
        return "pymc", "auto: nutpie not installed"
    return "nutpie", AUTO_REASON


# target_accept="auto" (benchmarks/target_accept.py, 10 models x 3 seeds x 4 x (1000 + 1000)):
# 0.8, Stan's, brms's, PyMC's and nutpie's default, gave 1.03-1.65x the min bulk ESS per
# leapfrog step of 0.9 and no divergence on the reference models; on a non-centered factor with
# only 8-15 weakly informed levels (eight schools) it diverged (3-17 in 12,000 draws, against
# 0-2 at 0.9), while 27 and 30 non-centered levels had none at 0.8: few levels leave the SD's
# posterior mass near zero, in the funnel's neck. So: 0.9 when a sampled non-centered factor
# has fewer than FEW_LEVELS levels, else 0.8.
TARGET_ACCEPT = 0.8
TARGET_ACCEPT_FEW_LEVELS = 0.9
FEW_LEVELS = 20


def resolve_target_accept(model: Model, target_accept: float | str) -> tuple[float, str]:
    """(NUTS target acceptance rate, why): ``"auto"`` is 0.8 unless a non-centered factor has
    few levels (then 0.9); a number is used as given."""
    if target_accept != "auto":
        if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) \
                or not 0.0 < float(target_accept) < 1.0:
            raise FitError(f"target_accept must be 'auto' or a number between 0 and 1 "
                           f"(exclusive), got {target_accept!r}")
        return float(target_accept), "requested"
    levels = {b.group: len(b.levels) for b in model.design.blocks}
    few = sorted(g for g, choice in model.info.parametrization.items()
                 if choice == "noncentered" and levels.get(g, FEW_LEVELS) < FEW_LEVELS)
    if few:
        return TARGET_ACCEPT_FEW_LEVELS, (
            f"auto: {TARGET_ACCEPT_FEW_LEVELS:g}, non-centered factor with < {FEW_LEVELS} "
            f"levels ({', '.join(few)})")
    return TARGET_ACCEPT, f"auto: {TARGET_ACCEPT:g}"


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


# the loggers of the samplers' own messages ("Initializing NUTS...", "Multiprocess sampling",
# "Sampling 4 chains for ... took 9 seconds", "Sampling: [y]")
SAMPLER_LOGGERS = ("pymc", "nutpie")


@contextmanager
def sampler_logs() -> Iterator[None]:
    """Inside the block, the samplers log only errors when
    :func:`hiermodel.console.sampler_output` asked for ``False`` (the CLI without
    ``--verbose``); otherwise their loggers are left as they are. PyMC sets its logger's level
    when it is imported, so the level is set here, around each call, and restored after."""
    if show_sampler_output() is not False:
        yield
        return
    loggers = [logging.getLogger(name) for name in SAMPLER_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)  # hiermodel's own diagnostics report short chains etc.
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def stop_children(keep: frozenset[int] = frozenset(), patience: float = 5.0) -> None:
    """Terminate (then kill) the child processes this process started that are still alive,
    except those whose pid is in ``keep`` (children that existed before sampling)."""
    children = [c for c in multiprocessing.active_children() if c.pid not in keep]
    for child in children:
        child.terminate()
    for child in children:
        child.join(patience)
        if child.is_alive():
            child.kill()
            child.join(patience)


@contextmanager
def interruptible(what: str) -> Iterator[None]:
    """Make SIGINT and SIGTERM stop ``what`` (sampling) cleanly, with :class:`Interrupted`.

    PyMC's and nutpie's samplers catch ``KeyboardInterrupt`` themselves: they stop their
    chains and then return (or fail on) the partial trace, so Ctrl-C surfaced as "Not enough
    samples to build a trace", and SIGTERM's default action killed this process without that
    cleanup, orphaning PyMC's worker processes. Here both signals raise ``KeyboardInterrupt``
    (so the sampler's own cleanup runs: PyMC aborts and terminates its workers), any child
    still alive afterwards is terminated, and :class:`Interrupted` is raised whatever the
    sampler returned (children that were alive before are left alone). A signal that was
    ignored (a background job's SIGINT) stays ignored.
    Outside the main thread signals cannot be handled, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    earlier = frozenset(c.pid for c in multiprocessing.active_children() if c.pid is not None)
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked sampler worker inherited this handler
            signal.signal(signum, signal.SIG_DFL)
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # PyMC's worker loop ends on it
            os.kill(os.getpid(), signum)
            return
        caught.append(signum)
        raise Interrupted(signum, what)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current is not signal.SIG_IGN:
            previous[signum] = current
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for restored, old in previous.items():
            signal.signal(restored, old)
        if caught:
            stop_children(keep=earlier)
            raise Interrupted(caught[0], what) from None


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


def run_nutpie(compiled: Any, draws: int, tune: int, chains: int, cores: int,
               seed: int | None, target_accept: float, progressbar: bool) -> Any:
    """Sample a nutpie-compiled model (``nutpie.compile_pymc_model``) and return its
    InferenceData; call it inside :func:`guarded_sampling`."""
    import nutpie

    sampler = nutpie.sample(
        compiled, draws=draws, tune=tune, chains=chains, cores=cores,
        seed=seed if seed is not None else int(np.random.default_rng().integers(2**31)),
        target_accept=target_accept, progress_bar=progressbar, blocking=False,
    )
    try:
        return sampler.wait()
    except KeyboardInterrupt:
        # nutpie's own blocking wait would convert the partial trace to InferenceData first
        # (tens of seconds for a long run); an interrupted fit discards it
        sampler.cancel()
        raise


@contextmanager
def guarded_sampling(what: str) -> Iterator[None]:
    """Around every sampler call: SIGINT/SIGTERM stop ``what`` cleanly (:func:`interruptible`),
    the samplers' log lines follow :func:`sampler_logs`, and their numeric noise is silenced."""
    with interruptible(what), warnings.catch_warnings(), sampler_logs():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        # NUTS's first, oversized trial steps on very precise likelihoods (compressed cell
        # means of thousands of rows) overflow to inf/NaN energies; the sampler treats such
        # steps as divergent and rejects them, and hiermodel counts and reports every
        # post-tuning divergence in the diagnostics, so NumPy's per-step warnings add noise,
        # not information.
        warnings.filterwarnings("ignore", category=RuntimeWarning,
                                message="(overflow|invalid value) encountered in dot")
        yield


def stored_variables(pymc_model: Any, latent: list[str]) -> list[str]:
    """The variables of a graph stored in ``fit.idata``: not the internal latent ones, the raw
    non-centered ``z_*`` or the parts of a split block (``*_part*``)."""
    hidden = set(latent)
    return [v.name for v in pymc_model.free_RVs + pymc_model.deterministics
            if v.name not in hidden and not v.name.startswith("z_") and "_part" not in v.name]


def sample(
    model: Model,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    backend: str = "auto",
    target_accept: float | str = "auto",
    progressbar: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Draw from the posterior of ``model``: (InferenceData, sampler settings and timing).

    ``backend``: ``"auto"`` (default: nutpie when it is installed, else PyMC),
    ``"pymc"``, ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``. The choice and its reason are
    recorded in ``fit.sampler`` and printed by ``summary()``; so are ``target_accept``'s
    (``"auto"``: :func:`resolve_target_accept`). ``progressbar`` (the sampler's
    own bar) and the sampler's log lines are off inside
    ``hiermodel.console.sampler_output(False)``.
    """
    requested = backend
    backend, reason = resolve_backend(model, backend)
    target_accept, accept_reason = resolve_target_accept(model, target_accept)
    if draws < 1 or tune < 0 or chains < 1:
        raise FitError(f"draws ({draws}) and chains ({chains}) must be ≥ 1 and tune ≥ 0")
    cores = cores or min(chains, 2)
    if backend == "pymc" and multiprocessing.current_process().daemon:
        # a Dask worker (or a multiprocessing pool worker) is daemonic and cannot start PyMC's
        # chain processes: run the chains one after another; the draws do not depend on cores
        cores = 1
    pm_model = model.pymc_model
    keep = stored_variables(pm_model, model.info.latent)
    log.info("sampling %s with %s: %d chains x (%d tune + %d draws)", model.formula, backend,
             chains, tune, draws)
    if show_sampler_output() is False:
        progressbar = False
    start = time.perf_counter()
    compile_seconds = 0.0
    what = f"sampling {model.formula} with {backend} ({chains} chains x {tune} + {draws})"
    try:
        with guarded_sampling(what):
            if backend == "nutpie":
                from hiermodel.backend.nutpie_cache import compile_nutpie

                compiled = compile_nutpie(pm_model)
                compile_seconds = time.perf_counter() - start
                idata = run_nutpie(compiled, draws, tune, chains,
                                   cores, seed, target_accept, progressbar)
                idata.posterior = idata.posterior[[v for v in keep if v in idata.posterior]]
            else:
                idata = _sample_pymc(pm_model, draws, tune, chains, cores, seed, target_accept,
                                     progressbar, keep, nuts_sampler=backend)
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
               "seed": seed, "target_accept": target_accept,
               "target_accept_reason": accept_reason, "seconds": elapsed}
    if backend == "nutpie":
        sampler["compile_seconds"] = compile_seconds
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
    with graph, warnings.catch_warnings(), sampler_logs():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        idata = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    if model.design.family.ordinal:  # PyMC's ordered likelihoods count categories from 0
        idata.prior_predictive["y"] = idata.prior_predictive["y"] + 1
    return idata


# graph -> variable -> (compiled forward draw of it, the random generators it uses)
_PRIOR_DRAW: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, list[Any]]]] = (
    weakref.WeakKeyDictionary())


def prior_draws(pymc_model: Any, name: str, draws: int, seed: int | None) -> np.ndarray:
    """``draws`` prior draws of variable ``name`` of a graph, as (draws, elements).

    The forward draw is compiled once per graph and variable (leave-one-group-out draws a new
    group's unpooled coefficients once per fold from the same graph) and reseeded per call,
    so equal seeds give equal draws."""
    from pymc.pytensorf import compile as compile_draw
    from pymc.pytensorf import find_rng_nodes, reseed_rngs

    per_graph = _PRIOR_DRAW.setdefault(pymc_model, {})
    if name not in per_graph:
        var = pymc_model[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_graph[name] = (compile_draw([], var, random_seed=0), find_rng_nodes([var]))
    draw, rngs = per_graph[name]
    reseed_rngs(rngs, seed)
    return np.stack([np.asarray(draw()) for _ in range(draws)]).reshape(draws, -1)


def joint_prior_draws(pymc_model: Any, names: list[str], draws: int, seed: int | None
                      ) -> dict[str, np.ndarray]:
    """``draws`` joint prior draws of the variables ``names`` of a graph, each as
    (draws, *shape) (one forward simulation of the graph per draw)."""
    import pymc as pm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=draws, var_names=list(names), model=pymc_model,
                                           random_seed=seed)
    return {n: np.asarray(prior.prior[n].values).reshape(draws, *prior.prior[n].shape[2:])
            for n in names}


__all__ = ["AUTO_REASON", "BACKENDS", "FEW_LEVELS", "SAMPLER_LOGGERS", "TARGET_ACCEPT",
           "TARGET_ACCEPT_FEW_LEVELS", "check_backend",
           "guarded_sampling", "interruptible", "joint_prior_draws",
           "prior_draws", "prior_predictive", "resolve_backend", "resolve_target_accept",
           "run_nutpie", "sample",
           "sampler_logs", "stop_children", "stored_variables"]
