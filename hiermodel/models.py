"""The pipeline in one object: formula -> data -> Bambi design -> priors -> PyMC graph.

:func:`model` runs every stage up to (not including) sampling, so a user can inspect the
translation, the prior table and the PyMC graph before spending time on MCMC;
:meth:`Model.fit` samples and returns a :class:`~hiermodel.posterior.fitted.Fit`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.data import PreparedData, prepare_data
from hiermodel.errors import DataError, did_you_mean
from hiermodel.families import Family, get_family
from hiermodel.formula import translate, with_weights
from hiermodel.formula.terms import ModelTerms
from hiermodel.priors import PriorSpec, as_prior_spec

if TYPE_CHECKING:
    from hiermodel.backend.design import ModelDesign
    from hiermodel.backend.graph import BuildInfo, BuildOptions
    from hiermodel.posterior.fitted import Fit

log = logging.getLogger("hiermodel")

class Model:
    """A hierarchical model, built and ready to sample (see :func:`model`)."""

    def __init__(
        self,
        terms: ModelTerms,
        prepared: PreparedData,
        design: ModelDesign,
        prior_table: Any,
        pymc_model: Any,  # pymc.Model (typed loosely: only the backend imports PyMC)
        info: BuildInfo,
        options: BuildOptions,
        prior_spec: PriorSpec,
    ) -> None:
        self.terms = terms
        self.prepared = prepared
        self.design = design
        self.prior_table = prior_table
        self.pymc_model = pymc_model
        self.info = info
        self.options = options
        self.prior_spec = prior_spec

    @property
    def family(self) -> Family:
        return self.prepared.family

    @property
    def formula(self) -> str:
        return self.terms.formula

    @property
    def bambi_model(self) -> Any:
        """Bambi's model of the translated formula (built on first access when the design was
        read out with stand-in grouping factors, see ``build.design.DENSE_GROUP_CELLS``)."""
        if self.design.bambi_model is None:
            from hiermodel.backend.design import bambi_model

            self.design.bambi_model = bambi_model(self.prepared)
        return self.design.bambi_model

    def prior_summary(self) -> Any:
        """The prior table: class, term, group, prior, source."""
        return self.prior_table

    def fit(self, **kwargs: Any) -> Fit:
        """Sample the posterior; see :func:`hiermodel.backend.sampling.sample` for the arguments."""
        from hiermodel.backend.sampling import sample
        from hiermodel.posterior.fitted import Fit

        idata, sampler = sample(self, **kwargs)
        return Fit(self, idata, sampler)

    def prior_predictive(self, draws: int = 200, seed: int | None = None) -> Any:
        """Prior predictive draws vs the observed response (``.summary()``, ``.plot()``)."""
        from hiermodel.posterior.prior_check import prior_predictive_check

        return prior_predictive_check(self, draws=draws, seed=seed)

    def __repr__(self) -> str:
        return (
            f"<hiermodel.Model {self.formula!r} family={self.family.name} "
            f"n={self.prepared.n}>"
        )


def _design(formula: str, data: pd.DataFrame, family: str | Family, link: str | None,
            dropna: bool) -> tuple[ModelTerms, PreparedData, ModelDesign]:
    from hiermodel.backend.design import build_design

    fam = get_family(family, link)
    columns = list(data.columns) if isinstance(data, pd.DataFrame) else None
    terms = translate(formula, columns=columns)
    prepared = prepare_data(terms, data, fam, dropna=dropna)
    return terms, prepared, build_design(prepared)


def weighted_formula(formula: str, data: pd.DataFrame, weights: str | None) -> str:
    """``formula`` with the ``weights=`` column written into it (``y | weights(w) ~ ...``)."""
    if weights is None:
        return formula
    if not isinstance(weights, str):
        raise DataError(f"weights must be the name of a data column (a string), got "
                        f"{type(weights).__name__}; e.g. weights=\"w\", or write "
                        "'y | weights(w) ~ ...' in the formula")
    if isinstance(data, pd.DataFrame) and weights not in data.columns:
        hint = did_you_mean(weights, [str(c) for c in data.columns]) or "."
        raise DataError(f"weights='{weights}': the data have no column '{weights}'{hint} "
                        "Pass the name of a column of non-negative weights.")
    return with_weights(formula, weights)


def _resolve(design: ModelDesign, spec: PriorSpec) -> Any:
    from hiermodel.backend.slots import model_stats, prior_slots
    from hiermodel.priors import resolve_priors

    slots = prior_slots(design)
    overrides = tuple(spec.overrides)
    if spec.unmatched == "ignore":
        overrides = tuple(o for o in overrides if any(o.matches(s) for s in slots))
    return resolve_priors(slots, model_stats(design), spec.template, overrides)


def default_priors(formula: str, data: pd.DataFrame, family: str | Family = "gaussian",
                   link: str | None = None, template: Any = "weakly_informative",
                   dropna: bool = False) -> Any:
    """The prior of every parameter slot (class, term, group, prior, source) under ``template``.

    Like brms's ``default_prior``: look before you fit, then override single slots with
    :func:`hiermodel.set_prior`.
    """
    _, _, design = _design(formula, data, family, link, dropna)
    return _resolve(design, as_prior_spec(template))


def model(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    dropna: bool = False,
    center_predictors: bool = True,
    parametrization: str | dict[str, str] = "auto",
    compress: bool | str = "auto",
    weights: str | None = None,
) -> Model:
    """Translate, check and build a model without sampling it.

    ``weights``: a data column of observation weights, the same as writing
    ``y | weights(w) ~ ...`` (brms): each row's log-likelihood is multiplied by its weight."""
    from hiermodel.backend.graph import BuildOptions, build_graph

    formula = weighted_formula(formula, data, weights)
    terms, prepared, design = _design(formula, data, family, link, dropna)
    spec = as_prior_spec(priors)
    table = _resolve(design, spec)
    options = BuildOptions(
        center_predictors=center_predictors, parametrization=parametrization,  # type: ignore[arg-type]
        compress=compress,  # type: ignore[arg-type]
    )
    pymc_model, info = build_graph(design, table, options)
    return Model(terms, prepared, design, table, pymc_model, info, options, spec)


__all__ = ["Model", "PriorSpec", "default_priors", "model", "weighted_formula"]
