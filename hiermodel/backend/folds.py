"""Compile once, fit many: one compiled graph for every refit that leaves groups out.

Leave-one-group-out and grouped K-fold CV refit a model without some groups' rows. Rebuilding
and recompiling the model for every refit costs far more than sampling it (nutpie's numba
compile is seconds, its sampling of a compressed model a fraction of that), so a
:class:`FoldSampler` builds the model's graph once with the likelihood split by group,

    log p(y | theta) = sum_g keep[g] * log p(y_g | theta),   keep = data vector "fold_keep",

(each group's rows compressed on their own when the model is compressed,
``backend.graph.build_graph(folds=)``), compiles it once with nutpie, and samples "all groups
but S" by setting ``keep[S] = 0`` (``CompiledModel.with_data``). For centered predictors the
column means are data too (``x_mean``), set to the training rows' means.

Why this is the same posterior as a fresh fit on the training rows: the likelihood terms of
the held-out groups are exactly zero, the population-level priors are the same (the caller
checks that the training rows' prior table, centering and parametrization equal the full
model's, :func:`same_model`), and the parameters that only a held-out group has (its group
effects, an unpooled model's coefficients of its levels) have no likelihood term left, so they
follow their prior given the rest and integrate out of the joint posterior: the other
parameters' marginal posterior is the fresh fit's. A test checks posterior means against a
fresh fit (tests/test_folds.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hiermodel.backend.graph import build_graph
from hiermodel.backend.nutpie_cache import compile_nutpie
from hiermodel.backend.sampling import (
    guarded_sampling,
    resolve_target_accept,
    run_nutpie,
    stored_variables,
)
from hiermodel.console import show_sampler_output
from hiermodel.errors import FitError

if TYPE_CHECKING:
    from hiermodel.models import Model


def fold_problem(model: Model) -> str | None:
    """Why ``model`` cannot be refitted through a :class:`FoldSampler` (None: it can)."""
    if model.info.marginal is not None:
        return "its group effects are integrated out (marginalize=)"
    if model.design.offset is not None:
        return "it has an offset"
    return None


def same_model(full: Model, train: Model) -> str | None:
    """Why the model built on the training rows differs from the full-data model in
    something other than the data (None: the fold graph is the training model): the prior of a
    parameter both have, predictor centering, or the group-level parametrization."""
    if train.info.centered != full.info.centered:
        return "predictor centering differs"
    if train.info.parametrization != full.info.parametrization:
        return (f"the parametrization chosen on the training rows "
                f"({train.info.parametrization}) differs from the full data's "
                f"({full.info.parametrization})")
    if list(train.design.x_names) != [n for n in full.design.x_names
                                      if n in set(train.design.x_names)]:
        return "the population-level columns differ"
    full_priors = {(r.cls, r.term, r.group): r.prior for r in full.prior_table}
    for r in train.prior_table:
        key = (r.cls, r.term, r.group)
        if key not in full_priors:
            return f"the training model has a parameter the full model lacks ({key})"
        if full_priors[key] != r.prior:
            return (f"priors depend on the data ({r.label}: {r.prior} on the training rows, "
                    f"{full_priors[key]} on all rows)")
    return None


class FoldSampler:
    """One nutpie-compiled graph of ``model`` whose likelihood is split by ``groups`` (a group
    label per observation); :meth:`sample` fits the model without some groups."""

    def __init__(self, model: Model, groups: np.ndarray) -> None:
        problem = fold_problem(model)
        if problem:
            raise FitError(f"cannot refit this model by swapping data: {problem}")
        labels = np.asarray(groups).astype(str)
        if labels.shape != (len(model.design.y),):
            raise FitError(f"{labels.size} group labels for {len(model.design.y)} rows")
        self.levels, codes = np.unique(labels, return_inverse=True)
        self.codes = codes.reshape(-1)
        t0 = time.perf_counter()
        options = replace(model.options, compress=model.info.cells is not None)
        graph, info = build_graph(model.design, model.prior_table, options, folds=self.codes)
        self.compiled = compile_nutpie(graph)
        self.compile_seconds = time.perf_counter() - t0
        self.graph = graph
        self.info = info
        self.model = model
        self.keep = stored_variables(graph, info.latent)

    def fold_model(self, x_mean: np.ndarray) -> Model:
        """The :class:`~hiermodel.models.Model` a fold's draws belong to: the full model's
        design with this graph, predictors centered at the training rows' ``x_mean``."""
        from hiermodel.models import Model

        m = self.model
        built = Model(m.terms, m.prepared, m.design, m.prior_table, self.graph,
                                  replace(self.info, x_mean=np.asarray(x_mean, dtype=float)),
                                  m.options, m.prior_spec)
        built.call = dict(m.call)
        return built

    def sample(self, held_out: list[str], x_mean: np.ndarray | None = None, *,
               draws: int = 1000, tune: int = 1000, chains: int = 4,
               cores: int | None = None, seed: int | None = None,
               target_accept: float | str = "auto", progressbar: bool = False,
               backend_requested: str = "auto",
               reason: str = "refit through one compiled graph (backend/folds.py)",
               ) -> tuple[Any, dict[str, Any]]:
        """(InferenceData, sampler settings) of the fit without the ``held_out`` groups (none:
        the full-data posterior); ``x_mean``: the training rows' predictor means (centered
        models; default the full data's). The draws belong to :meth:`fold_model` (to the full
        model itself when nothing is held out). Interrupts, log lines and warnings are
        handled as in :func:`hiermodel.backend.sampling.sample`."""
        unknown = sorted(set(held_out) - set(self.levels))
        if unknown:
            raise FitError(f"unknown groups to leave out: {unknown[:5]}")
        keep = (~np.isin(self.levels, list(held_out))).astype(float)
        data: dict[str, Any] = {"fold_keep": keep}
        if x_mean is None:
            x_mean = self.info.x_mean
        if "x_mean" in self.compiled.shared_data:
            data["x_mean"] = np.asarray(x_mean, dtype=float)
        if show_sampler_output() is False:
            progressbar = False
        target_accept, accept_reason = resolve_target_accept(self.model, target_accept)
        left = f"without {len(held_out)} group(s) " if held_out else ""
        what = (f"sampling {self.model.formula} {left}with nutpie "
                f"({chains} chains x {tune} + {draws})")
        start = time.perf_counter()
        try:
            with guarded_sampling(what):
                idata = run_nutpie(self.compiled.with_data(**data), draws, tune, chains,
                                   cores or min(chains, 2), seed, target_accept, progressbar)
        except FitError:
            raise
        except Exception as exc:
            raise FitError(f"sampling failed with backend 'nutpie': {exc}") from exc
        idata.posterior = idata.posterior[[v for v in self.keep if v in idata.posterior]]
        sampler = {"backend": "nutpie", "backend_requested": backend_requested,
                   "backend_reason": reason, "draws": draws, "tune": tune, "chains": chains,
                   "seed": seed, "target_accept": target_accept,
                   "target_accept_reason": accept_reason,
                   "seconds": time.perf_counter() - start}
        return idata, sampler


__all__ = ["FoldSampler", "fold_problem", "same_model"]
