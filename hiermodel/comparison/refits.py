"""Compile once, fit many: one compiled graph per variant for its fit and its refits.

:class:`VariantSamplers` holds one :class:`~hiermodel.backend.folds.FoldSampler` per variant
of a comparison — the variant's graph with its likelihood split by group, compiled with nutpie
on first use. When the comparison will refit the variants without some groups, the full-data
fit samples that same graph with every group kept (:meth:`VariantSamplers.fit`), so each
variant is compiled once for its fit and all its refits, instead of once for the fit (PyMC's
or nutpie's) and once more for the refits.

:class:`FoldRefitter` is the ``refit(name, formula, train, fold)`` callable that
:func:`~hiermodel.comparison.logo.leave_one_group_out` (or any other dispatcher of folds)
calls. It builds the variant on the training rows, as a fresh refit would; when that model
equals the full-data variant in everything but the data (:func:`~hiermodel.backend.folds.
same_model`: same priors, centering and parametrization) and can be refitted by swapping data
(:func:`~hiermodel.backend.folds.fold_problem`), it samples the variant's
:class:`~hiermodel.backend.folds.FoldSampler` — compiled once, on first use — with the held-out
groups' likelihood switched off. Otherwise, or when the sampler backend is not nutpie's, it
samples the freshly built model. ``fresh`` records why a variant took the fresh path.

A reused refit's :class:`~hiermodel.posterior.fitted.Fit` has the full-data design (its
held-out groups' parameters follow their prior), which is all that scoring held-out groups
needs. A refitter holds compiled nutpie models: a dispatcher that runs folds in other
processes gives each process its own refitter (one compile per variant and process).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from hiermodel.backend.folds import FoldSampler
    from hiermodel.models import Model
    from hiermodel.posterior.fitted import Fit

log = logging.getLogger("hiermodel")

def held_out_groups(data: pd.DataFrame, labels: np.ndarray, group_columns: tuple[str, ...],
                    train: pd.DataFrame) -> list[str]:
    """Group labels (``labels``: one per row of ``data``) whose rows ``train`` lacks."""
    cols = list(group_columns)

    def key(frame: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(frame[cols].astype(str))

    present = np.asarray(key(data).isin(key(train)))
    return sorted(set(np.asarray(labels).astype(str)[~present]))


class VariantSamplers:
    """One :class:`~hiermodel.backend.folds.FoldSampler` per variant (compiled on first use),
    its likelihood split by ``labels`` (one group label per row of the data).

    ``backend``: the comparison's requested backend; only ``"auto"`` and ``"nutpie"`` share
    compiled graphs. A process that runs folds elsewhere (Dask) pickles this without its
    compiled samplers: each worker compiles its own on first use."""

    def __init__(self, labels: np.ndarray, backend: str = "auto") -> None:
        self.labels = np.asarray(labels).astype(str)
        self.backend = backend
        self.samplers: dict[str, FoldSampler] = {}
        self.compile_seconds: dict[str, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["samplers"] = {}
        state["compile_seconds"] = {}
        return state

    def problem(self, full: Model) -> str | None:
        """Why the variant whose full-data model is ``full`` cannot share a compiled graph
        (None: it can)."""
        from hiermodel.backend.folds import fold_problem

        if self.backend not in ("auto", "nutpie"):
            return f"backend '{self.backend}' requested"
        if importlib.util.find_spec("nutpie") is None:
            return "nutpie is not installed"
        if len(full.design.y) != len(self.labels):
            return "its rows differ from the grouping rows"
        return fold_problem(full)

    def sampler(self, name: str, full: Model) -> FoldSampler:
        """The compiled sampler of variant ``name`` (built from ``full`` on first use)."""
        from hiermodel.backend.folds import FoldSampler

        if name not in self.samplers:
            self.samplers[name] = FoldSampler(full, self.labels)
            self.compile_seconds[name] = self.samplers[name].compile_seconds
        return self.samplers[name]

    def fit(self, name: str, full: Model, *, seed: int | None, **sample_kw: Any) -> Fit:
        """The full-data fit of variant ``name`` through its compiled sampler (every group
        kept): the posterior of ``full``, run through the convergence gate like ``Model.fit``.
        ``sample_kw``: draws, tune, chains, cores, target_accept, progressbar."""
        from hiermodel.posterior.fitted import Fit
        from hiermodel.posterior.refit import gated

        sampler = self.sampler(name, full)
        idata, settings = sampler.sample(
            [], seed=seed, backend_requested=self.backend,
            reason=("the comparison refits this variant without some groups: one nutpie-"
                    "compiled graph for the fit and its refits (comparison/refits.py)"),
            **sample_kw)
        settings["compile_seconds"] = sampler.compile_seconds
        return gated(Fit(full, idata, settings))


class FoldRefitter:
    """``refit(name, formula, train, fold) -> Fit`` for every variant of a comparison.

    ``fits``: the full-data fit of every variant; ``data``: the rows they were fitted to;
    ``samplers``: the variants' compiled samplers, with each row's group label (those the
    full fits used, when they were sampled through them); ``model_kw``: the keyword arguments
    of :func:`hiermodel.models.model` besides formula and data (family, link, priors and the
    model options); ``sample_kw``: those of ``Model.fit`` (draws, tune, chains, backend and
    the sampler options); ``seed``: fold ``f`` samples with ``seed + f``.
    """

    def __init__(self, fits: Mapping[str, Fit], data: pd.DataFrame, samplers: VariantSamplers,
                 group_columns: tuple[str, ...], model_kw: dict[str, Any],
                 sample_kw: dict[str, Any], seed: int) -> None:
        self.fits = fits
        self.data = data
        self.shared = samplers
        self.labels = samplers.labels
        self.group_columns = group_columns
        self.model_kw = model_kw
        self.sample_kw = sample_kw
        self.seed = seed
        self.fresh: dict[str, str] = {}  # variant -> why its refits are fresh fits

    def __call__(self, name: str, formula: str, train: pd.DataFrame, fold: int) -> Fit:
        from hiermodel.backend.folds import same_model
        from hiermodel.models import model
        from hiermodel.posterior.fitted import Fit
        from hiermodel.posterior.refit import gated

        built = model(formula, train, **self.model_kw)
        seed = self.seed + fold
        full = self.fits[name].model
        held = held_out_groups(self.data, self.labels, self.group_columns, train)
        problem = self.fresh.get(name) or self.shared.problem(full) or same_model(full, built)
        if problem is None and int(np.isin(self.labels, held).sum()) != len(self.data) - len(
                train):
            problem = "the training rows are not the data minus whole groups"
        if problem is not None:
            if name not in self.fresh:
                log.info("leave-one-group-out refits of %s are fresh fits: %s", name, problem)
            self.fresh.setdefault(name, problem)
            return built.fit(seed=seed, **self.sample_kw)
        sampler = self.shared.sampler(name, full)
        kw = {k: v for k, v in self.sample_kw.items() if k != "backend"}
        idata, settings = sampler.sample(held, built.info.x_mean, seed=seed,
                                         backend_requested=self.shared.backend, **kw)
        return gated(Fit(sampler.fold_model(built.info.x_mean), idata, settings))


__all__ = ["FoldRefitter", "VariantSamplers", "held_out_groups"]
