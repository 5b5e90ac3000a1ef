"""Leave-one-group-out cross-validation: how well does each variant predict a *new* group?

For each held-out group every variant is refitted on the other groups, and the held-out
observations' log predictive density is computed per observation and per group:

- ``elpd_joint``: log of the posterior mean of ``exp(sum_i log p(y_i | theta_s))`` over the
  group's rows — the joint predictive density of the whole group (its rows share the unknown
  group effect, so this is the honest score for "a new county");
- ``elpd_pointwise``: ``sum_i log mean_s p(y_i | theta_s)`` — the sum of per-observation
  predictive densities (also reported per observation).

How each kind of variant predicts a group it has never seen:

- pooled: the group plays no role; it simply predicts.
- hierarchical: the group's effects are drawn from the fitted group-level distribution, once per
  posterior draw (``allow_new_levels=True, new_levels="sample"``), the same draw for all rows
  of the group.
- unpooled: the model has *no* information about a new group — its per-group coefficients
  share no prior — so the group's coefficients are drawn from their **prior** (the same prior
  every group's coefficients have in the fit), while the other parameters (residual SD,
  population terms) come from the posterior. That is the honest unpooled answer, and why the
  unpooled model usually predicts new groups worst.

With more than ``max_groups`` groups, exact refits per group are replaced by grouped K-fold
with ``K = folds`` (default 5) folds of whole groups (groups shuffled with the seed, then,
largest first, each assigned to the fold with the fewest rows so far): an approximation of LOGO
that holds out several groups at once, so each refit sees fewer groups. Its cost is
``K x variants`` refits instead of ``groups x variants``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.backend.design import evaluate_recipes
from hiermodel.backend.sampling import prior_draws
from hiermodel.cluster import Task
from hiermodel.comparison.variants import group_x_columns, variant_kind
from hiermodel.console import Reporter
from hiermodel.errors import CompareError
from hiermodel.families import weighted_loglik
from hiermodel.posterior.loglik import DEFAULT_CHUNK, chunk_rows, logsumexp, n_draws
from hiermodel.posterior.prediction import auxiliary_draws, predictor_columns

if TYPE_CHECKING:
    from hiermodel.cluster import TaskPool
    from hiermodel.posterior.fitted import Fit

FitFn = Callable[[str, str, pd.DataFrame, int], "Fit"]
DEFAULT_FOLDS = 5


def assign_folds(sizes: pd.Series, max_groups: int, mode: str | bool = "auto",
                 seed: int | None = None, folds: int | None = None
                 ) -> tuple[list[list[str]], bool]:
    """Folds of whole groups: ``([[group, ...], ...], exact)``.

    ``sizes`` maps group label -> rows. ``mode``: ``"auto"``/``True`` (exact when the number of
    groups is at most ``max_groups``, else ``folds`` folds), ``"exact"``, ``"kfold"``.
    ``folds`` defaults to :data:`DEFAULT_FOLDS` (5), at most the number of groups.
    """
    labels = [str(g) for g in sizes.index]
    if mode is True:
        mode = "auto"
    if mode not in ("auto", "exact", "kfold"):
        raise CompareError(f"logo must be True, False, 'auto', 'exact' or 'kfold' (got {mode!r})")
    if max_groups < 2:
        raise CompareError(f"logo_max_groups must be >= 2 (got {max_groups})")
    if folds is not None and folds < 2:
        raise CompareError(f"logo_folds must be >= 2 (got {folds})")
    exact = mode == "exact" or (mode == "auto" and len(labels) <= max_groups)
    if exact:
        return [[g] for g in labels], True
    k = min(folds or DEFAULT_FOLDS, len(labels))
    rng = np.random.default_rng(seed)
    order = [labels[i] for i in rng.permutation(len(labels))]
    size = {str(g): int(n) for g, n in sizes.items()}
    order.sort(key=lambda g: -size[g])  # stable: ties keep the shuffled order
    assigned: list[list[str]] = [[] for _ in range(k)]
    load = np.zeros(k)
    for g in order:
        j = int(np.argmin(load))
        assigned[j].append(g)
        load[j] += size[g]
    return [f for f in assigned if f], False


class NewGroupPredictor:
    """Linear predictor draws for rows of groups a fit has never seen (see module docstring)."""

    def __init__(self, fit: Fit, group_columns: tuple[str, ...], train: pd.DataFrame,
                 seed: int | None = None) -> None:
        self.fit = fit
        self.group_columns = group_columns
        self.kind = variant_kind(fit.model, group_columns)
        if self.kind == "mixed":
            raise CompareError(
                f"variant '{fit.formula}' uses the grouping factor both as a population-level "
                "factor and as a group-level factor; leave-one-group-out cannot predict a new "
                "group for it (pass logo=False or drop that variant)"
            )
        if fit.model.design.components:
            raise CompareError("leave-one-group-out of a model with a formula for an auxiliary "
                               f"parameter ({', '.join(fit.model.design.components)}) is not "
                               "supported yet; pass logo=False")
        self.seed = seed
        self.cols: list[int] = []
        if self.kind == "unpooled":
            self.cols = group_x_columns(fit.model, group_columns)
            # a training level whose columns stand in for the new group (same prior)
            self.proxy = train.iloc[[0]][list(group_columns)].reset_index(drop=True)
            post = fit.draws("b")
            self.b_post = post.reshape(post.shape[0] * post.shape[1], -1)[:, self.cols]

    def prior_draws(self, n_groups: int, seed: int | None) -> np.ndarray | None:
        """(n_groups, draws, group columns) prior draws of a new group's coefficients for an
        unpooled variant (one PyMC prior sampling call for all held-out groups); None for the
        other kinds."""
        if self.kind != "unpooled":
            return None
        post = self.fit.idata.posterior
        n_draws = post.sizes["chain"] * post.sizes["draw"]
        b = prior_draws(self.fit.pymc_model, "b", n_draws * n_groups, seed)[:, self.cols]
        return b.reshape(n_groups, n_draws, len(self.cols))

    def eta(self, rows: pd.DataFrame, group_seed: int, b_prior: np.ndarray | None) -> np.ndarray:
        from hiermodel.posterior.prediction import linear_predictor, new_data_frame

        fit = self.fit
        if self.kind == "pooled":
            return linear_predictor(fit, rows)
        if self.kind == "hierarchical":
            return linear_predictor(fit, rows, allow_new_levels=True, new_levels="sample",
                                    seed=group_seed)
        relabeled = rows.copy()
        for c in self.group_columns:
            relabeled[c] = pd.Series([self.proxy[c].iloc[0]] * len(rows), index=rows.index,
                                     dtype=rows[c].dtype)
        eta = linear_predictor(fit, relabeled)
        frame = new_data_frame(fit, relabeled)
        recipes = [fit.model.design.x_recipes[j] for j in self.cols]
        Xg = evaluate_recipes(recipes, frame)
        assert b_prior is not None
        return eta + (b_prior - self.b_post) @ Xg.T


def held_out_density(predictor: NewGroupPredictor, rows: pd.DataFrame, y: np.ndarray,
                     trials: np.ndarray | None, group_seed: int,
                     chunk: int | None = DEFAULT_CHUNK,
                     b_prior: np.ndarray | None = None,
                     weights: np.ndarray | None = None) -> dict[str, float]:
    """Joint and pointwise log predictive density of one held-out group's rows.

    ``b_prior`` (draws, group columns): prior draws of the group's coefficients for an
    unpooled variant (:meth:`NewGroupPredictor.prior_draws`); drawn here when not given.
    ``weights``: the rows' observation weights of a weighted fit; each row's log density is
    multiplied by its weight (brms's weighted log-likelihood, as in PSIS-LOO).
    """
    fit = predictor.fit
    if predictor.kind == "unpooled" and b_prior is None:
        draws = predictor.prior_draws(1, group_seed)
        assert draws is not None
        b_prior = draws[0]
    # rows equal in every predictor have equal linear-predictor draws: compute each once
    columns = predictor_columns(fit)
    if columns:
        codes, _ = pd.MultiIndex.from_frame(rows[columns].astype(str)).factorize()
        codes = np.asarray(codes)
    else:
        codes = np.zeros(len(rows), dtype=np.int64)
    first = np.unique(codes, return_index=True)[1]  # codes number rows by first appearance
    eta_distinct = predictor.eta(rows.iloc[first], group_seed, b_prior)
    # rows equal in predictors, response, trials and weight have equal log densities: each
    # distinct one is computed once and counted (y is often recorded on a coarse grid)
    keys = {"x": codes, "y": np.asarray(y, dtype=float)}
    if trials is not None:
        keys["trials"] = np.asarray(trials, dtype=float)
    if weights is not None:
        keys["weight"] = np.asarray(weights, dtype=float)
    obs_codes = np.asarray(pd.MultiIndex.from_frame(pd.DataFrame(keys)).factorize()[0])
    count = np.bincount(obs_codes).astype(float)
    rep = np.unique(obs_codes, return_index=True)[1]
    total: np.ndarray | None = None
    pointwise = 0.0
    chunk = chunk_rows(n_draws(fit), chunk)
    aux = auxiliary_draws(fit)
    for start in range(0, rep.size, chunk):
        at = rep[start:start + chunk]
        eta = eta_distinct[:, codes[at]]
        t = None if trials is None else np.asarray(trials)[at]
        ll = fit.model.family.logpdf(np.asarray(y, dtype=float)[at], eta, aux, t)
        ll = weighted_loglik(ll, None if weights is None else np.asarray(weights)[at])
        s = ll.shape[0]
        c = count[start:start + chunk]
        pointwise += float((logsumexp(ll, axis=0) - np.log(s)) @ c)
        part = ll @ c
        total = part if total is None else total + part
    assert total is not None
    joint = float(logsumexp(total, axis=0) - np.log(total.size))
    n = len(rows)
    return {"n": n, "elpd_joint": joint, "elpd_joint_per_obs": joint / n,
            "elpd_pointwise": pointwise, "elpd_pointwise_per_obs": pointwise / n}


@dataclass
class LogoResult:
    """Per-group held-out densities and their per-variant totals."""

    groups: pd.DataFrame  # one row per (group, variant)
    summary: pd.DataFrame  # one row per variant
    folds: list[list[str]]
    exact: bool
    fits: dict[tuple[int, str], Any] = field(default_factory=dict)
    seconds: float = float("nan")  # wall time of every refit and score
    refit_seconds: dict[str, float] = field(default_factory=dict)  # variant -> summed refits

    @property
    def n_refits(self) -> int:
        return len(self.folds) * len(self.refit_seconds)

    @property
    def method(self) -> str:
        if self.exact:
            return f"exact leave-one-group-out ({len(self.folds)} refits per variant)"
        n_groups = sum(len(f) for f in self.folds)
        return (f"grouped {len(self.folds)}-fold CV ({n_groups} groups in {len(self.folds)} "
                f"folds of whole groups, {len(self.folds)} refits per variant; approximates "
                "leave-one-group-out)")


def summarize_logo(groups: pd.DataFrame) -> pd.DataFrame:
    """Totals per variant: elpd (sum of group joint densities), SE over groups, difference to
    the best variant and its SE (paired over groups), per-observation means."""
    wide = groups.pivot(index="group", columns="variant", values="elpd_joint")
    n_groups = len(wide)
    totals = wide.sum()
    best = totals.idxmax()
    rows = []
    for v in wide.columns:
        g = groups[groups.variant == v]
        diff = wide[best] - wide[v]
        n_obs = int(g["n"].sum())
        rows.append({
            "variant": v,
            "elpd_logo": float(totals[v]),
            "se": float(np.sqrt(n_groups * np.var(wide[v]))),
            "elpd_diff": float(totals[best] - totals[v]),
            "dse": float(np.sqrt(n_groups * np.var(diff))) if v != best else 0.0,
            "elpd_per_obs": float(totals[v] / n_obs),
            "elpd_pointwise": float(g["elpd_pointwise"].sum()),
            "elpd_pointwise_per_obs": float(g["elpd_pointwise"].sum() / n_obs),
            "n_groups": n_groups,
            "n_obs": n_obs,
        })
    out = pd.DataFrame(rows).sort_values("elpd_logo", ascending=False)
    out.insert(0, "rank", np.arange(len(out)))
    return out.set_index("variant")


@dataclass
class LogoInputs:
    """What every leave-one-group-out refit and score reads (shipped once per Dask worker):
    see :func:`leave_one_group_out` for the fields."""

    data: pd.DataFrame
    labels: np.ndarray
    group_columns: tuple[str, ...]
    y: np.ndarray
    trials: np.ndarray | None
    refit: FitFn
    base_seed: int
    chunk: int | None
    weights: np.ndarray | None


@dataclass
class FoldScore:
    """One variant refitted without one fold: the held-out groups' records, the refit's
    seconds and, when kept, the refit."""

    records: list[dict[str, Any]]
    seconds: float
    fit: Any = None


def training_rows(data: pd.DataFrame, labels: np.ndarray, held: list[str],
                  group_columns: tuple[str, ...]) -> pd.DataFrame:
    """The rows of every group not in ``held`` (unused categories of the group dropped)."""
    test_mask = np.isin(labels, held)
    train = data.loc[~test_mask].copy()
    for c in group_columns:
        if isinstance(train[c].dtype, pd.CategoricalDtype):
            train[c] = train[c].cat.remove_unused_categories()
    return train.reset_index(drop=True)


def score_fold(inputs: LogoInputs, f: int, held: list[str], name: str, formula: str,
               train: pd.DataFrame | None = None, keep_fit: bool = False) -> FoldScore:
    """Refit variant ``name`` without fold ``f`` (groups ``held``) and score the held-out
    groups: the task that runs in-process or on a Dask worker. ``train`` defaults to
    :func:`training_rows`."""
    labels, y, trials, weights = inputs.labels, inputs.y, inputs.trials, inputs.weights
    if train is None:
        train = training_rows(inputs.data, labels, held, inputs.group_columns)
    t0 = time.perf_counter()
    try:
        fit = inputs.refit(name, formula, train, f)
    except Exception as exc:
        raise CompareError(f"leave-one-group-out refit of '{name}' without "
                           f"{held} failed: {exc}") from exc
    seconds = time.perf_counter() - t0
    predictor = NewGroupPredictor(fit, inputs.group_columns, train, seed=inputs.base_seed + f)
    fold_seed = inputs.base_seed + 1000 * (f + 1)
    # unpooled: independent prior draws for every held-out group, in one call
    b_prior = predictor.prior_draws(len(held), fold_seed)
    records: list[dict[str, Any]] = []
    for j, g in enumerate(held):
        pos = np.flatnonzero(labels == g)
        group_seed = fold_seed + j
        try:
            rec = held_out_density(predictor, inputs.data.iloc[pos], y[pos],
                                   None if trials is None else trials[pos], group_seed,
                                   inputs.chunk, None if b_prior is None else b_prior[j],
                                   None if weights is None else weights[pos])
        except CompareError:
            raise
        except Exception as exc:
            raise CompareError(f"leave-one-group-out: variant '{name}' cannot predict "
                               f"held-out group '{g}': {exc}") from exc
        records.append({"group": g, "variant": name, "fold": f, "seed": group_seed,
                        "prior_seed": fold_seed, "prior_block": j, **rec})
    return FoldScore(records, seconds, fit if keep_fit else None)


def _held_text(held: list[str]) -> str:
    return held[0] if len(held) == 1 else f"{len(held)} groups"


def leave_one_group_out(formulas: dict[str, str], data: pd.DataFrame, labels: np.ndarray,
                        group_columns: tuple[str, ...], y: np.ndarray,
                        trials: np.ndarray | None, refit: FitFn, max_groups: int = 12,
                        mode: str | bool = "auto", seed: int | None = None,
                        chunk: int | None = DEFAULT_CHUNK,
                        progress: Callable[[str], None] | None = None,
                        keep_fits: bool = False, folds: int | None = None,
                        weights: np.ndarray | None = None,
                        pool: TaskPool | None = None) -> LogoResult:
    """Refit every variant without each fold of groups and score the held-out groups.

    ``data`` is positionally indexed and aligned with ``labels`` (group label per row), ``y``,
    ``trials`` and ``weights`` (the response and observation weights as the models see
    them). ``refit(name, formula, train, fold)`` returns a :class:`~hiermodel.posterior.fitted.Fit`.
    ``pool`` (:class:`~hiermodel.cluster.TaskPool`) runs every (fold, variant) as a Dask task
    (:func:`score_fold`, the inputs shipped once per worker); the result equals the serial one.
    """
    labels = np.asarray(labels).astype(str)
    sizes = pd.Series(labels).value_counts(sort=False)
    sizes = sizes.reindex(pd.unique(labels))
    if len(sizes) < 3:
        raise CompareError(f"leave-one-group-out needs at least 3 groups (have {len(sizes)})")
    fold_list, exact = assign_folds(sizes, max_groups, mode, seed, folds)
    base_seed = 0 if seed is None else int(seed)
    inputs = LogoInputs(data, labels, group_columns, y, trials, refit, base_seed, chunk, weights)
    scores: dict[tuple[int, str], FoldScore] = {}
    n_total = len(fold_list) * len(formulas)
    reporter = Reporter(progress)
    stage = reporter.stage("LOGO", n_total)
    step = 0
    t_start = time.perf_counter()
    if pool is None:
        for f, held in enumerate(fold_list):
            train = training_rows(data, labels, held, group_columns)
            for name, formula in formulas.items():
                step += 1
                what = _held_text(held)
                with stage.step(f"{name} without {what}",
                                f"leave-one-group-out: refitting {name} without {what} "
                                f"({step}/{n_total})"):
                    scores[(f, name)] = score_fold(inputs, f, held, name, formula, train,
                                                   keep_fits)
    else:
        shared = pool.share(inputs)
        tasks = [Task((f, name), f"{name} without {_held_text(held)}", score_fold,
                      (shared, f, held, name, formula, None, keep_fits))
                 for f, held in enumerate(fold_list) for name, formula in formulas.items()]

        def say(message: str) -> None:
            reporter.note(f"leave-one-group-out: {message}")

        for outcome in pool.run(tasks, say, what="refits"):
            if outcome.error is not None:
                raise outcome.error
            scores[outcome.key] = outcome.value  # type: ignore[index]
    records = [r for f in range(len(fold_list)) for name in formulas
               for r in scores[(f, name)].records]
    refit_seconds = {name: sum(scores[(f, name)].seconds for f in range(len(fold_list)))
                     for name in formulas}
    kept = {k: s.fit for k, s in scores.items() if keep_fits}
    groups = pd.DataFrame(records)
    return LogoResult(groups=groups, summary=summarize_logo(groups), folds=fold_list,
                      exact=exact, fits=kept, seconds=time.perf_counter() - t_start,
                      refit_seconds=refit_seconds)


__all__ = [
    "DEFAULT_FOLDS",
    "FoldScore",
    "LogoInputs",
    "LogoResult",
    "NewGroupPredictor",
    "assign_folds",
    "held_out_density",
    "leave_one_group_out",
    "score_fold",
    "summarize_logo",
    "training_rows",
]
