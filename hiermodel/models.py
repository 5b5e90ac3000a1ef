"""The pipeline in one object: formula -> data -> Bambi design -> priors -> PyMC graph.

:func:`model` runs every stage up to (not including) sampling, so a user can inspect the
translation, the prior table and the PyMC graph before spending time on MCMC;
:meth:`Model.fit` samples and returns a :class:`~hiermodel.posterior.fitted.Fit`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.data import PreparedData, prepare_data
from hiermodel.errors import DataError, InternalError, did_you_mean
from hiermodel.families import Family, get_family
from hiermodel.formula import translate, with_weights
from hiermodel.formula.distributional import AUX_LINKS, split_formulas
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
        self.call: dict[str, Any] = {}  # the arguments of model(): what update() rebuilds from

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

    def fit(self, strict: bool = False, remedy: bool = False, **kwargs: Any) -> Fit:
        """Sample the posterior (see :func:`hiermodel.backend.sampling.sample` for the
        arguments), then run the convergence gate: a failed check warns
        (:class:`~hiermodel.errors.ConvergenceWarning`), raises with ``strict=True``
        (:class:`~hiermodel.errors.ConvergenceError`), and with ``remedy=True`` is first
        refitted once with the gate's advice (:func:`hiermodel.posterior.refit.gated`)."""
        from hiermodel.backend.sampling import sample
        from hiermodel.posterior.fitted import Fit
        from hiermodel.posterior.refit import gated

        idata, sampler = sample(self, **kwargs)
        return gated(Fit(self, idata, sampler), strict=strict, remedy=remedy)

    def graph(self, path: str | Path | None = None, title: str | None = None) -> Any:
        """The model graph (``pm.model_to_graphviz`` of hiermodel's PyMC graph, with the
        parameter names of ``fit.idata``) as a ``graphviz.Digraph``; ``path`` also writes it
        (SVG, PNG or PDF by suffix; needs Graphviz's ``dot``). See
        :mod:`hiermodel.backend.diagram`."""
        from hiermodel.backend.diagram import model_graph, save_graph

        drawn = model_graph(self, title=title)
        if path is not None:
            save_graph(drawn, path)
        return drawn

    def prior_predictive(self, draws: int = 200, seed: int | None = None) -> Any:
        """Prior predictive draws vs the observed response (``.summary()``, ``.plot()``)."""
        from hiermodel.posterior.prior_check import prior_predictive_check

        return prior_predictive_check(self, draws=draws, seed=seed)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as the arguments of :func:`model` and rebuilt from them on unpickling (the
        PyMC graph holds objects that do not pickle); this is how a fitted model comes back
        from a Dask worker (:mod:`hiermodel.cluster`)."""
        if not self.call:
            raise InternalError("a Model built without model() cannot be pickled: it has no "
                                "arguments to rebuild from")
        return _rebuild, (self.call,)

    def __repr__(self) -> str:
        return (
            f"<hiermodel.Model {self.formula!r} family={self.family.name} "
            f"n={self.prepared.n}>"
        )


def _rebuild(call: dict[str, Any]) -> Model:
    """The :class:`Model` that ``model(**call)`` builds (unpickling)."""
    return model(**call)


def _design(formula: str | Sequence[str], data: pd.DataFrame, family: str | Family,
            link: str | None, dropna: bool, aux: Mapping[str, str | None] | None = None
            ) -> tuple[ModelTerms, PreparedData, ModelDesign]:
    from hiermodel.backend.design import add_component, build_design

    fam = get_family(family, link)
    main, rhs = split_formulas(formula, aux or {}, fam.aux, fam.name)
    columns = list(data.columns) if isinstance(data, pd.DataFrame) else None
    terms = translate(main, columns=columns)
    response = terms.response.variable.name
    aux_terms = {name: translate(f"{response} ~ {text}", columns=columns)
                 for name, text in rhs.items()}
    n_input, n_dropped = (len(data), 0) if isinstance(data, pd.DataFrame) else (0, 0)
    if aux_terms and dropna and isinstance(data, pd.DataFrame):
        # every component must see the same rows: drop incomplete rows over all of them
        used = {c for t in (terms, *aux_terms.values()) for v in t.variables.values()
                for c in v.source_columns if c in data.columns}
        complete = data.dropna(subset=sorted(used))
        n_dropped = len(data) - len(complete)
        if n_dropped:
            log.warning("dropped %d of %d rows with missing values", n_dropped, len(data))
        data = complete
    prepared = prepare_data(terms, data, fam, dropna=dropna)
    if n_dropped:
        prepared.n_input_rows, prepared.n_dropped = n_input, n_dropped
    design = build_design(prepared)
    for name, t in aux_terms.items():
        sub = prepare_data(t, data, fam, dropna=False)
        for column in sub.frame.columns:
            if column not in prepared.frame.columns:
                prepared.frame[column] = sub.frame[column].to_numpy()
            elif not prepared.frame[column].equals(sub.frame[column]):
                raise InternalError(f"column {column!r} differs between the main formula and "
                                    f"the formula for '{name}'")
        prepared.state.update(sub.state)
        add_component(design, name, AUX_LINKS[name], sub, f"{name} ~ {rhs[name]}")
    return terms, prepared, design


def check_keywords(name: str, aux: Mapping[str, Any], function: Any) -> None:
    """Keyword arguments that are not auxiliary-parameter formulas are a caller's mistake:
    raise Python's usual TypeError, with a did-you-mean over ``function``'s parameters."""
    import difflib
    import inspect

    for key, value in aux.items():
        if key in AUX_LINKS and (value is None or isinstance(value, str)):
            continue
        if key in AUX_LINKS:
            raise TypeError(f"{name}(): {key}= takes a one-sided formula such as '~ x' "
                            f"(got {type(value).__name__})")
        params = [p for p in inspect.signature(function).parameters if p != "aux"]
        close = difflib.get_close_matches(key, params + list(AUX_LINKS), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise TypeError(f"{name}() got an unexpected keyword argument '{key}'{hint} "
                        f"(formulas for auxiliary parameters: {', '.join(AUX_LINKS)})")


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
    """The prior table: the mean's slots under the response's scaling numbers, each
    auxiliary formula's slots under its own (link-scale) numbers, one table."""
    from hiermodel.backend.slots import component_slots, component_stats, model_stats, prior_slots
    from hiermodel.priors import PriorTable, check_overrides, resolve_priors

    groups = [(prior_slots(design), model_stats(design))]
    groups += [(component_slots(design, c), component_stats(design, c))
               for c in design.components]
    every = [s for slots, _ in groups for s in slots]
    overrides = tuple(spec.overrides)
    if spec.unmatched == "ignore":
        overrides = tuple(o for o in overrides if any(o.matches(s) for s in every))
    if len(groups) == 1:
        return resolve_priors(every, groups[0][1], spec.template, overrides)
    check_overrides(every, overrides)
    tables = [resolve_priors(slots, stats, spec.template,
                             tuple(o for o in overrides if any(o.matches(s) for s in slots)))
              for slots, stats in groups]
    return PriorTable(tuple(r for t in tables for r in t.rows), tables[0].template)


def default_priors(formula: str | Sequence[str], data: pd.DataFrame,
                   family: str | Family = "gaussian", link: str | None = None,
                   template: Any = "weakly_informative", dropna: bool = False,
                   **aux: str | None) -> Any:
    """The prior of every parameter slot (class, term, group, prior, source) under ``template``.

    Like brms's ``default_prior``: look before you fit, then override single slots with
    :func:`hiermodel.set_prior`.
    """
    check_keywords("default_priors", aux, default_priors)
    _, _, design = _design(formula, data, family, link, dropna, aux)
    return _resolve(design, as_prior_spec(template))


def model(
    formula: str | Sequence[str],
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    dropna: bool = False,
    center_predictors: bool = True,
    parametrization: str | dict[str, str] = "auto",
    compress: bool | str = "auto",
    weights: str | None = None,
    marginalize: bool | str = "auto",
    **aux: str | None,
) -> Model:
    """Translate, check and build a model without sampling it.

    ``weights``: a data column of observation weights, the same as writing
    ``y | weights(w) ~ ...`` (brms): each row's log-likelihood is multiplied by its weight.
    ``marginalize``: integrate a gaussian model's group effects out analytically and sample
    only the population-level parameters (``True``: wherever the model allows it, else an
    error; ``False``; ``"auto"``, the default: when the model allows it and the factor has at
    least 1,000 group effects; see :mod:`hiermodel.backend.marginal`). With several grouping factors
    the one with the most effects is integrated out and the others are sampled.
    Keywords named after an auxiliary parameter give it its own one-sided formula
    (``sigma="~ Days"``, ``zi="~ mined"``); ``formula`` may also be a list
    ``["y ~ x", "sigma ~ x"]`` (see :mod:`hiermodel.formula.distributional`).
    """
    from hiermodel.backend.graph import BuildOptions, build_graph

    check_keywords("model", aux, model)
    original = formula if isinstance(formula, str) else list(formula)
    if isinstance(formula, str):
        formula = weighted_formula(formula, data, weights)
    else:
        formula = [weighted_formula(str(formula[0]), data, weights), *formula[1:]]
    terms, prepared, design = _design(formula, data, family, link, dropna, aux)
    spec = as_prior_spec(priors)
    table = _resolve(design, spec)
    options = BuildOptions(
        center_predictors=center_predictors, parametrization=parametrization,  # type: ignore[arg-type]
        compress=compress,  # type: ignore[arg-type]
        marginalize=marginalize,  # type: ignore[arg-type]
    )
    pymc_model, info = build_graph(design, table, options)
    built = Model(terms, prepared, design, table, pymc_model, info, options, spec)
    built.call = {"formula": original, "data": data, "family": family, "link": link,
                  "priors": priors, "dropna": dropna, "center_predictors": center_predictors,
                  "parametrization": parametrization, "compress": compress,
                  "weights": weights, "marginalize": marginalize, **aux}
    return built


__all__ = ["Model", "PriorSpec", "check_keywords", "default_priors", "model",
           "weighted_formula"]
