"""Fit stage: sample a built :class:`~hiermodel.model.Model` with one of several backends."""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from hiermodel.errors import FitError

if TYPE_CHECKING:
    from hiermodel.model import Model
    from hiermodel.results import Fit

log = logging.getLogger("hiermodel")

BACKENDS = ("pymc", "nutpie", "numpyro", "blackjax")
_BACKEND_PACKAGE = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}


def available_backends() -> list[str]:
    """Backends whose packages are importable here."""
    return ["pymc"] + [b for b, pkg in _BACKEND_PACKAGE.items()
                       if importlib.util.find_spec(pkg) is not None]


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        from hiermodel.errors import did_you_mean

        raise FitError(f"unknown backend '{backend}'{did_you_mean(backend, BACKENDS)}; "
                       f"choose one of: {', '.join(BACKENDS)}")
    pkg = _BACKEND_PACKAGE.get(backend)
    if pkg and importlib.util.find_spec(pkg) is None:
        extra = {"nutpie": "pip install 'hiermodel[nutpie]'"}.get(backend, f"pip install {pkg}")
        raise FitError(
            f"backend '{backend}' needs the package '{pkg}', which is not installed; "
            f"install it ({extra}) or use backend='pymc'"
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
    backend: str = "pymc",
    target_accept: float = 0.9,
    progressbar: bool = False,
) -> Fit:
    """Draw from the posterior of ``model`` and wrap the result in a :class:`Fit`."""
    from hiermodel.results import Fit

    _check_backend(backend)
    if draws < 1 or tune < 0 or chains < 1:
        raise FitError(f"draws ({draws}) and chains ({chains}) must be ≥ 1 and tune ≥ 0")
    cores = cores or min(chains, 2)
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
    elapsed = time.perf_counter() - start
    if model.info.compressed and "observed_data" in idata.groups():
        del idata.observed_data  # per-cell summaries, not the user's data; rebuilt on demand
    sampler = {"backend": backend, "draws": draws, "tune": tune, "chains": chains,
               "seed": seed, "target_accept": target_accept, "seconds": elapsed}
    return Fit(model, idata, sampler)


def prior_predictive(model: Model, draws: int = 500, seed: int | None = None) -> Any:
    """Prior predictive draws of the response (uncompressed graph), as InferenceData."""
    import pymc as pm

    from hiermodel.build import BuildOptions, build_graph

    options = BuildOptions(center_predictors=model.options.center_predictors,
                           parametrization=model.options.parametrization, compress=False)
    graph, _ = build_graph(model.design, model.prior_table, options)
    with graph, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        return pm.sample_prior_predictive(draws=draws, random_seed=seed)


__all__ = ["BACKENDS", "available_backends", "prior_predictive", "sample"]
