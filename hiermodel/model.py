"""The pipeline in one object: formula -> data -> Bambi design -> priors -> PyMC graph.

:func:`model` runs every stage up to (not including) sampling, so a user can inspect the
translation, the prior table and the PyMC graph before spending time on MCMC;
:meth:`Model.fit` samples and returns a :class:`~hiermodel.results.Fit`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.data import PreparedData, prepare_data
from hiermodel.families import Family, get_family
from hiermodel.formula import translate
from hiermodel.formula.terms import ModelTerms

if TYPE_CHECKING:
    import pymc as pm

    from hiermodel.build.design import ModelDesign
    from hiermodel.build.graph import BuildInfo, BuildOptions
    from hiermodel.results import Fit

log = logging.getLogger("hiermodel")

PriorsArg = Any  # template name | path | PriorSpec | list of overrides | None


@dataclass(frozen=True)
class PriorSpec:
    """A template plus per-slot overrides (what ``priors=`` accepts in its full form)."""

    template: Any = "weakly_informative"
    overrides: tuple[Any, ...] = ()
    # "error": an override that matches no parameter is a PriorError (brms validate_prior).
    # "ignore": drop it silently - for variants of one model (hm.compare), where overrides
    # written for the hierarchical model need not exist in the pooled/unpooled ones.
    unmatched: str = "error"


def _prior_spec(priors: PriorsArg) -> PriorSpec:
    from hiermodel.priors import PriorOverride

    if priors is None:
        return PriorSpec()
    if isinstance(priors, PriorSpec):
        return priors
    if isinstance(priors, PriorOverride):
        return PriorSpec(overrides=(priors,))
    if isinstance(priors, list | tuple) and all(isinstance(p, PriorOverride) for p in priors):
        return PriorSpec(overrides=tuple(priors))
    return PriorSpec(template=priors)


class Model:
    """A hierarchical model, built and ready to sample (see :func:`model`)."""

    def __init__(
        self,
        terms: ModelTerms,
        prepared: PreparedData,
        design: ModelDesign,
        prior_table: Any,
        pymc_model: pm.Model,
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
            from hiermodel.build.design import bambi_model

            self.design.bambi_model = bambi_model(self.prepared)
        return self.design.bambi_model

    def prior_summary(self) -> Any:
        """The prior table: class, term, group, prior, source."""
        return self.prior_table

    def fit(self, **kwargs: Any) -> Fit:
        """Sample the posterior; see :func:`hiermodel.fit.sample` for the arguments."""
        from hiermodel.fit import sample

        return sample(self, **kwargs)

    def prior_predictive(self, draws: int = 200, seed: int | None = None) -> Any:
        """Prior predictive draws vs the observed response (``.summary()``, ``.plot()``)."""
        from hiermodel.predictive import prior_predictive_check

        return prior_predictive_check(self, draws=draws, seed=seed)

    def __repr__(self) -> str:
        return (
            f"<hiermodel.Model {self.formula!r} family={self.family.name} "
            f"n={self.prepared.n}>"
        )


def _design(formula: str, data: pd.DataFrame, family: str | Family, link: str | None,
            dropna: bool) -> tuple[ModelTerms, PreparedData, ModelDesign]:
    from hiermodel.build import build_design

    fam = get_family(family, link)
    columns = list(data.columns) if isinstance(data, pd.DataFrame) else None
    terms = translate(formula, columns=columns)
    prepared = prepare_data(terms, data, fam, dropna=dropna)
    return terms, prepared, build_design(prepared)


def _resolve(design: ModelDesign, spec: PriorSpec) -> Any:
    from hiermodel.build import model_stats, prior_slots
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
    return _resolve(design, _prior_spec(template))


def model(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    link: str | None = None,
    priors: PriorsArg = "weakly_informative",
    dropna: bool = False,
    center_predictors: bool = True,
    parametrization: str | dict[str, str] = "auto",
    compress: bool | str = "auto",
) -> Model:
    """Translate, check and build a model without sampling it."""
    from hiermodel.build import BuildOptions, build_graph

    terms, prepared, design = _design(formula, data, family, link, dropna)
    spec = _prior_spec(priors)
    table = _resolve(design, spec)
    options = BuildOptions(
        center_predictors=center_predictors, parametrization=parametrization,  # type: ignore[arg-type]
        compress=compress,  # type: ignore[arg-type]
    )
    pymc_model, info = build_graph(design, table, options)
    return Model(terms, prepared, design, table, pymc_model, info, options, spec)


__all__ = ["Model", "PriorSpec", "default_priors", "model"]
