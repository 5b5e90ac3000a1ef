"""hiermodel: Bayesian hierarchical models from lme4 formulas, through Bambi into PyMC.

>>> import hiermodel as hm
>>> df = hm.datasets.sleepstudy()
>>> fit = hm.fit("Reaction ~ Days + (Days|Subject)", data=df)  # doctest: +SKIP
>>> print(fit.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from hiermodel import datasets, priors
from hiermodel.errors import (
    BuildError,
    CompareError,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DiagnosticsError,
    FamilyError,
    FitError,
    FormulaError,
    HiermodelError,
    HypothesisError,
    PriorError,
    RunError,
    SpecError,
)
from hiermodel.families import Family, get_family
from hiermodel.models import Model, check_keywords, default_priors, model
from hiermodel.priors import PriorSpec, set_prior
from hiermodel.spec import Spec, load_spec

if TYPE_CHECKING:
    import pandas as pd

    from hiermodel.comparison import Comparison
    from hiermodel.formula.terms import ModelTerms
    from hiermodel.posterior.fitted import Fit
    from hiermodel.posterior.prior_check import PriorPredictive
    from hiermodel.runs import RunFit, SpecRuns

try:
    __version__ = version("hiermodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

logging.getLogger("hiermodel").addHandler(logging.NullHandler())


def translate(formula: str, data: pd.DataFrame | None = None) -> ModelTerms:
    """What hiermodel will build for an lme4 formula: Bambi formula, terms, blocks and notes.

    ``print(hm.translate("y ~ x + (x||g)"))`` shows it. With ``data``, column names are
    checked and ``.`` is expanded.
    """
    from hiermodel.formula import translate as _translate

    columns = list(data.columns) if data is not None else None
    return _translate(formula, columns=columns)


def fit(
    formula: str | Sequence[str],
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    backend: str = "auto",
    target_accept: float | str = "auto",
    dropna: bool = False,
    center_predictors: bool = True,
    parametrization: str | dict[str, str] = "auto",
    compress: bool | str = "auto",
    progressbar: bool = False,
    weights: str | None = None,
    file: str | None = None,
    refit: str = "on_change",
    marginalize: bool | str = "auto",
    strict: bool = False,
    remedy: bool = False,
    **aux: str | None,
) -> Fit:
    """Fit an lme4-style formula and return a :class:`~hiermodel.posterior.fitted.Fit`.

    ``family`` accepts R/brms/Bambi names (``"binomial"``, ``"poisson"``, ``"Gamma"``);
    ``priors`` a template name, a template file, a :class:`PriorSpec` or a list of
    :func:`set_prior` overrides; ``backend`` one of ``pymc``, ``nutpie``, ``numpyro``,
    ``blackjax``; ``target_accept``: NUTS's target acceptance rate, ``"auto"`` 0.8 (0.9 when
    a non-centered factor has fewer than 20 levels; ``fit.sampler["target_accept_reason"]``).
    ``weights``: a column of observation weights (as ``y | weights(w) ~ ...``
    in the formula, brms semantics: each row's log-likelihood times its weight).

    Distributional sub-models: a keyword named after an auxiliary parameter gives it its own
    one-sided formula, with population- and group-level terms (``sigma="~ Days"``,
    ``zi="~ mined"``; links log for sigma, alpha, phi, nu and logit for zi, hu), or pass a
    list ``["y ~ x + (1|g)", "sigma ~ x"]`` as ``formula``.

    ``file="fits/sleep"`` stores the fit there and reuses it while formula, data, priors,
    sampler settings and hiermodel version are unchanged (``fit.cached``); ``refit``:
    ``"on_change"``, ``"always"`` or ``"never"`` (brms's ``file_refit``; see
    :mod:`hiermodel.runs.fit_cache`).

    After sampling, the convergence gate checks R-hat, bulk/tail ESS, divergences, tree depth
    and E-BFMI (``fit.checks()``); a failure warns (:class:`ConvergenceWarning`, with advice for
    this model), ``strict=True`` raises :class:`ConvergenceError` instead, and ``remedy=True``
    first refits once with the advice applied (``fit.remedy`` says what changed; with ``file=``
    the stored fit is the one before the remedy).
    """
    check_keywords("fit", aux, fit)
    formulas: dict[str, Any] = dict(aux)
    if file is not None:
        from hiermodel.runs.fit_cache import cached_fit

        args = {"formula": formula, "data": data, "family": family, "link": link,
                "priors": priors, "dropna": dropna, "center_predictors": center_predictors,
                "parametrization": parametrization, "compress": compress,
                "weights": weights, "marginalize": marginalize, **formulas}
        sampler = {"draws": draws, "tune": tune, "chains": chains, "cores": cores,
                   "seed": seed, "backend": backend, "target_accept": target_accept,
                   "progressbar": progressbar}
        from hiermodel.posterior.refit import gated

        with warnings.catch_warnings():  # the gate below reports once, with strict / remedy
            warnings.simplefilter("ignore", ConvergenceWarning)
            stored = cached_fit(file, refit, args, sampler)
        return gated(stored, strict=strict, remedy=remedy)
    built = model(formula, data, family=family, link=link, priors=priors, dropna=dropna,
                  center_predictors=center_predictors, parametrization=parametrization,
                  compress=compress, weights=weights, marginalize=marginalize, **formulas)
    return built.fit(draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                     backend=backend, target_accept=target_accept, progressbar=progressbar,
                     strict=strict, remedy=remedy)


def prior_predictive(
    formula: str | Sequence[str],
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    draws: int = 200,
    seed: int | None = None,
    dropna: bool = False,
    center_predictors: bool = True,
    **aux: str | None,
) -> PriorPredictive:
    """Simulate responses from the priors alone and compare them with the data.

    ``pp = hm.prior_predictive("y ~ x + (1|g)", df, priors="wide")``; ``print(pp)`` shows
    quantiles of observed vs simulated responses, ``pp.plot()`` overlays their densities.
    """
    check_keywords("prior_predictive", aux, prior_predictive)
    formulas: dict[str, Any] = dict(aux)
    built = model(formula, data, family=family, link=link, priors=priors, dropna=dropna,
                  center_predictors=center_predictors, **formulas)
    return built.prior_predictive(draws=draws, seed=seed)


def compare(formula: str, data: pd.DataFrame, **kwargs: Any) -> Comparison:
    """Fit the pooled, unpooled and hierarchical variants of ``formula`` and compare them.

    See :func:`hiermodel.comparison.compare` for the options and ``docs/compare.md`` for the rules.
    """
    from hiermodel.comparison import compare as _compare

    return _compare(formula, data, **kwargs)


def loo(fit: Any, reloo: bool = False, k_threshold: float = 0.7, **sampler: Any) -> Any:
    """PSIS-LOO of a fit as :class:`arviz.ELPDData` (pointwise); ``reloo=True`` refits the
    model exactly without each observation of Pareto k > ``k_threshold`` (brms ``reloo``).
    See :mod:`hiermodel.comparison.model_compare`."""
    from hiermodel.comparison.model_compare import loo_fit

    return loo_fit(fit, reloo=reloo, k_threshold=k_threshold, **sampler)


def loo_compare(*fits: Any, method: str = "stacking", seed: int | None = None,
                reloo: bool = False, **kwargs: Any) -> pd.DataFrame:
    """Compare fits (or a dict of named fits) by PSIS-LOO, like ``az.compare``: elpd_diff,
    dse, weights by stacking (``method="pseudo-BMA"`` or ``"BB-pseudo-BMA"``)."""
    from hiermodel.comparison.model_compare import compare_fits

    return compare_fits(*fits, method=method, seed=seed, reloo=reloo, **kwargs)


def kfold(fit: Any, K: int = 10, group: str | None = None, folds: Any = None,
          seed: int | None = None, **sampler: Any) -> Any:
    """K-fold cross-validation by refitting (brms ``kfold``): random folds, or by ``group``
    (``folds="grouped"``, the default with a group, or ``"stratified"``)."""
    from hiermodel.comparison.model_compare import kfold_fit

    return kfold_fit(fit, K=K, group=group, folds=folds, seed=seed, **sampler)


def run_spec(spec: Spec | str, refit: bool = False, strict: bool = False, **kwargs: Any) -> RunFit:
    """Fit a spec file into its run directory, reusing a stored run when spec and data are
    unchanged (see :func:`hiermodel.runs.run_spec`)."""
    from hiermodel.runs import run_spec as _run_spec

    return _run_spec(spec, refit=refit, strict=strict, **kwargs)


def run_specs(specs: Sequence[Spec | str], client: Any = None, **kwargs: Any) -> SpecRuns:
    """Fit several spec files, in this process or as Dask tasks (``client="local:2"``, a
    scheduler address or a ``distributed.Client``); one failed spec does not stop the others
    (see :func:`hiermodel.runs.run_specs`)."""
    from hiermodel.runs import run_specs as _run_specs

    return _run_specs(specs, client=client, **kwargs)


def load_run(path: str) -> RunFit:
    """A stored run as a fit object (``summary``, ``fixef``, ...) without refitting."""
    from hiermodel.runs import load_run as _load_run

    return _load_run(path)


__all__ = [
    "BuildError",
    "CompareError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DiagnosticsError",
    "FamilyError",
    "FitError",
    "FormulaError",
    "HiermodelError",
    "HypothesisError",
    "Model",
    "PriorError",
    "PriorSpec",
    "RunError",
    "Spec",
    "SpecError",
    "__version__",
    "compare",
    "datasets",
    "default_priors",
    "fit",
    "get_family",
    "kfold",
    "load_run",
    "load_spec",
    "loo",
    "loo_compare",
    "model",
    "prior_predictive",
    "priors",
    "run_spec",
    "run_specs",
    "set_prior",
    "translate",
]
