"""How one leave-groups-out refit is fitted: through one compiled graph per variant.

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


class FoldRefitter:
    """``refit(name, formula, train, fold) -> Fit`` for every variant of a comparison.

    ``fits``: the full-data fit of every variant; ``data``/``labels``: the rows they were
    fitted to and each row's group label; ``model_kw``: the keyword arguments of
    :func:`hiermodel.models.model` besides formula and data (family, link, priors and the
    model options); ``sample_kw``: those of ``Model.fit`` (draws, tune, chains, backend and
    the sampler options); ``seed``: fold ``f`` samples with ``seed + f``.
    """

    def __init__(self, fits: Mapping[str, Fit], data: pd.DataFrame, labels: np.ndarray,
                 group_columns: tuple[str, ...], model_kw: dict[str, Any],
                 sample_kw: dict[str, Any], seed: int) -> None:
        self.fits = fits
        self.data = data
        self.labels = np.asarray(labels).astype(str)
        self.group_columns = group_columns
        self.model_kw = model_kw
        self.sample_kw = sample_kw
        self.seed = seed
        self.samplers: dict[str, FoldSampler] = {}
        self.fresh: dict[str, str] = {}  # variant -> why its refits are fresh fits
        self.compile_seconds: dict[str, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        # compiled samplers stay in their process: a Dask worker compiles its own on first use
        state = dict(self.__dict__)
        state["samplers"] = {}
        state["compile_seconds"] = {}
        return state

    def _shared_problem(self, name: str, full: Model) -> str | None:
        from hiermodel.backend.folds import fold_problem

        if self.sample_kw.get("backend", "auto") not in ("auto", "nutpie"):
            return f"backend '{self.sample_kw['backend']}' requested"
        if importlib.util.find_spec("nutpie") is None:
            return "nutpie is not installed"
        if len(full.design.y) != len(self.labels):
            return "its rows differ from the grouping rows"
        return fold_problem(full)

    def __call__(self, name: str, formula: str, train: pd.DataFrame, fold: int) -> Fit:
        from hiermodel.backend.folds import FoldSampler, same_model
        from hiermodel.models import model
        from hiermodel.posterior.fitted import Fit

        built = model(formula, train, **self.model_kw)
        seed = self.seed + fold
        full = self.fits[name].model
        held = held_out_groups(self.data, self.labels, self.group_columns, train)
        problem = self.fresh.get(name) or self._shared_problem(name, full) \
            or same_model(full, built)
        if problem is None and int(np.isin(self.labels, held).sum()) != len(self.data) - len(
                train):
            problem = "the training rows are not the data minus whole groups"
        if problem is not None:
            if name not in self.fresh:
                log.info("leave-one-group-out refits of %s are fresh fits: %s", name, problem)
            self.fresh.setdefault(name, problem)
            return built.fit(seed=seed, **self.sample_kw)
        if name not in self.samplers:
            self.samplers[name] = FoldSampler(full, self.labels)
            self.compile_seconds[name] = self.samplers[name].compile_seconds
        kw = {k: v for k, v in self.sample_kw.items() if k != "backend"}
        fold_model, idata, sampler = self.samplers[name].sample(
            held, built.info.x_mean, seed=seed,
            backend_requested=self.sample_kw.get("backend", "auto"), **kw)
        return Fit(fold_model, idata, sampler)


__all__ = ["FoldRefitter", "held_out_groups"]
