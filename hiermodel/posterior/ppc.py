"""Posterior predictive checks (brms ``pp_check``, bayesplot's ``ppc_*``): observed vs replicated.

``fit.pp_check(kind="density")`` simulates replicated data sets ``y_rep`` (one per posterior
draw, from :func:`~hiermodel.posterior.prediction.predict` with ``kind="response"``, i.e. the
family's ``simulate``) for the training rows and compares them with the observed response ``y``
(on the scale the model sees it: ``log(y)`` for ``log(y) ~ ...``). Every check returns a
:class:`PPCheck` holding the numbers — ``observed``, ``replicated`` (draws x rows) and a
``table`` — and draws its Matplotlib figure on demand (``.figure``, ``.plot()``, ``.save()``):

- ``"density"`` / ``"ecdf"``: overlaid KDEs / ECDFs (ArviZ ``plot_ppc``, kinds ``kde`` and
  ``cumulative``); table: quantiles (5, 25, 50, 75, 95 %) of ``y`` / the ECDF of ``y`` at
  them, against the mean and 95 % interval over the replicated data sets;
- ``"hist"``: one set of bins over observed and replicated values; observed count per bin
  against the replicated counts' mean and 95 % interval;
- ``"bars"`` (discrete responses): the same per distinct value (bayesplot ``ppc_bars``);
- ``"stat"``: a test statistic ``T`` (``"mean"``, ``"sd"``, ``"median"``, ``"min"``,
  ``"max"``, ``"var"``, ``"prop_zero"`` or any function of a 1-D array) per replicated data set
  (``stat_draws``), its observed value and the posterior predictive p-value
  ``P(T(y_rep) >= T(y))`` (Gelman et al., BDA3 ch. 6);
- ``"loo_pit"``: LOO probability integral transforms ``P(y_rep_i <= y_i | y_-i)`` with
  PSIS weights (the log-likelihood's Pareto-smoothed importance weights, as ``az.loo_pit``);
  uniform when the model is calibrated. For a discrete response the PIT is randomized within
  the observed value's mass (``P(y_rep < y) + u P(y_rep = y)``, as loo >= 2.8 and the
  ``bayesplot`` discrete PIT), which makes it uniform too; continuous responses give exactly
  ``az.loo_pit``'s values.

``group="Subject"`` repeats the check per level of a data column: one table row block and one
figure panel per level (``"stat"``: one statistic per level, bayesplot ``ppc_stat_grouped``).
``ndraws`` uses that many posterior draws (chosen at random with ``seed``; default all);
overlay figures draw at most 100 of the replicated curves. ``"loo_pit"`` always uses every
draw (the importance weights belong to the full set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError, did_you_mean
from hiermodel.posterior.drawn import Drawn

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

KINDS = ("density", "hist", "ecdf", "stat", "bars", "loo_pit")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_BARS = 60
MAX_CURVES = 100


def _prop_zero(y: np.ndarray, axis: int | None = None) -> Any:
    return np.mean(y == 0, axis=axis)


def _sd(y: np.ndarray, axis: int | None = None) -> Any:
    return np.std(y, axis=axis, ddof=1)


def _var(y: np.ndarray, axis: int | None = None) -> Any:
    return np.var(y, axis=axis, ddof=1)


STATS: dict[str, Callable[..., Any]] = {
    "mean": np.mean, "sd": _sd, "var": _var, "median": np.median, "min": np.min,
    "max": np.max, "prop_zero": _prop_zero,
}


def statistic(stat: str | Callable[[np.ndarray], float]) -> tuple[str, Callable[..., Any]]:
    """(name, function of (array, axis)) for a statistic name or a user function."""
    if callable(stat):
        def by_row(y: np.ndarray, axis: int | None = None) -> Any:
            if axis is None:
                return float(stat(y))
            return np.apply_along_axis(stat, axis, y)
        return getattr(stat, "__name__", "stat"), by_row
    if stat not in STATS:
        raise DataError(f"stat={stat!r} is not a known statistic{did_you_mean(str(stat), STATS)}"
                        f"; use one of {', '.join(STATS)} or a function of a 1-D array")
    return stat, STATS[stat]


def _interval(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, 2.5 % and 97.5 % quantiles along ``axis``."""
    return a.mean(axis=axis), np.quantile(a, 0.025, axis=axis), np.quantile(a, 0.975, axis=axis)


def _frame(label: dict[str, Any], observed: np.ndarray, rep: np.ndarray) -> pd.DataFrame:
    mean, low, high = _interval(rep)
    return pd.DataFrame({**label, "observed": observed, "rep_mean": mean, "rep_low": low,
                         "rep_high": high})


def quantile_table(y: np.ndarray, yrep: np.ndarray) -> pd.DataFrame:
    """Quantiles of ``y`` against those of every replicated data set (mean, 95 % interval)."""
    q = np.asarray(QUANTILES)
    return _frame({"quantile": q}, np.quantile(y, q), np.quantile(yrep, q, axis=1).T)


def ecdf_table(y: np.ndarray, yrep: np.ndarray) -> pd.DataFrame:
    """ECDF of ``y`` and of every replicated set at the observed quantiles."""
    x = np.quantile(y, np.asarray(QUANTILES))
    obs = (y[None, :] <= x[:, None]).mean(axis=1)
    rep = (yrep[:, None, :] <= x[None, :, None]).mean(axis=2)
    return _frame({"x": x}, obs, rep)


def bin_edges(y: np.ndarray, yrep: np.ndarray, bins: int | None = None) -> np.ndarray:
    """Equal-width bins over the range of observed and replicated values; their number from
    the observed data (numpy's ``"auto"`` rule, at most 30) unless given."""
    if bins is None:
        bins = min(30, max(5, len(np.histogram_bin_edges(y, bins="auto")) - 1))
    lo = float(min(y.min(), yrep.min()))
    hi = float(max(y.max(), yrep.max()))
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, int(bins) + 1)


def hist_table(y: np.ndarray, yrep: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Observed count per bin against the replicated counts (mean, 95 % interval)."""
    obs = np.histogram(y, edges)[0]
    rep = np.stack([np.histogram(r, edges)[0] for r in yrep])
    return _frame({"bin_low": edges[:-1], "bin_high": edges[1:]}, obs, rep)


def bars_table(y: np.ndarray, yrep: np.ndarray) -> pd.DataFrame:
    """Observed count per distinct value against the replicated counts."""
    values = np.unique(np.concatenate([np.unique(y), np.unique(yrep)]))
    if values.size > MAX_BARS:
        raise DataError(f"kind='bars' is for discrete responses with few values; this one has "
                        f"{values.size} distinct observed or replicated values (more than "
                        f"{MAX_BARS}); use kind='hist'")
    obs = (y[None, :] == values[:, None]).sum(axis=1)
    rep = (yrep[:, None, :] == values[None, :, None]).sum(axis=2)
    return _frame({"value": values}, obs, rep)


def stat_table(y: np.ndarray, yrep: np.ndarray, fn: Callable[..., Any]
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """(one-row table of T(y), T(y_rep) summaries and p-value, T per replicated set)."""
    t_rep = np.asarray(fn(yrep, axis=1), dtype=float)
    t_obs = float(fn(y))
    table = _frame({}, np.array([t_obs]), t_rep[:, None])
    table["rep_sd"] = float(np.std(t_rep, ddof=1)) if t_rep.size > 1 else np.nan
    table["p_value"] = float(np.mean(t_rep >= t_obs))
    return table, t_rep


def loo_pit_values(y: np.ndarray, yrep: np.ndarray, log_weights: np.ndarray,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """LOO-PIT per observation: ``y`` (n,), ``yrep`` (draws, n), normalized PSIS log weights
    (n, draws). Randomized within the observed value's mass when ``rng`` is given."""
    w = np.exp(log_weights).T  # (draws, n)
    below = np.minimum(1.0, np.sum(w * (yrep < y[None, :]), axis=0))
    at = np.minimum(1.0, np.sum(w * (yrep <= y[None, :]), axis=0))
    if rng is None:
        return at
    return below + rng.uniform(size=y.size) * (at - below)


def _psis_weights(fit: Fit) -> np.ndarray:
    """Normalized PSIS log weights (rows, draws) of every training row."""
    from hiermodel.comparison.loo import psis, relative_efficiency
    from hiermodel.posterior.loglik import log_likelihood

    ll = log_likelihood(fit)
    ll = ll.reshape(-1, ll.shape[-1])
    lw, _ = psis(-ll.T, relative_efficiency(fit))
    return lw


def group_labels(fit: Fit, group: str) -> np.ndarray:
    """The value of data column ``group`` for every training row, as text."""
    model = fit.model
    frame = model.prepared.frame
    var = model.terms.variables.get(group)
    if var is not None and var.column in frame.columns:
        return frame[var.column].astype(str).to_numpy()
    if group in frame.columns:
        return frame[group].astype(str).to_numpy()
    data = getattr(model, "call", {}).get("data")
    if isinstance(data, pd.DataFrame) and group in data.columns:
        return data.loc[frame.index, group].astype(str).to_numpy()
    known = [str(c) for c in (data.columns if isinstance(data, pd.DataFrame) else frame.columns)]
    raise DataError(f"group={group!r} is not a column of the model's data"
                    f"{did_you_mean(group, known)}")


class PPCheck(Drawn):
    """The numbers of one posterior predictive check and its figure (see module docstring)."""

    def __init__(self, kind: str, observed: np.ndarray, replicated: np.ndarray,
                 table: pd.DataFrame, stat: str | None = None, group: str | None = None,
                 labels: np.ndarray | None = None, stat_draws: pd.DataFrame | None = None,
                 pit: np.ndarray | None = None, edges: np.ndarray | None = None,
                 log_weights: np.ndarray | None = None, discrete: bool = False) -> None:
        self.kind = kind
        self.observed = observed
        self.replicated = replicated
        self.table = table
        self.stat = stat
        self.group = group
        self.labels = labels
        self.stat_draws = stat_draws
        self.pit = pit
        self.edges = edges
        self.log_weights = log_weights
        self.discrete = discrete

    @property
    def levels(self) -> list[str]:
        return [] if self.labels is None else list(pd.unique(self.labels))

    @property
    def p_value(self) -> float | pd.Series:
        """``kind="stat"``: P(T(y_rep) >= T(y)); a Series per level when grouped."""
        if self.kind != "stat":
            raise DataError(f"p_value is for kind='stat' (this check is kind={self.kind!r})")
        if self.group is None:
            return float(self.table["p_value"].iloc[0])
        return self.table.set_index("level")["p_value"]

    def draw(self) -> Any:
        """A new Matplotlib figure of the check (:mod:`hiermodel.posterior.ppc_plots`)."""
        from hiermodel.posterior.ppc_plots import draw

        return draw(self)

    def __repr__(self) -> str:
        what = f"kind={self.kind!r}" + (f", stat={self.stat!r}" if self.stat else "")
        what += f", group={self.group!r}" if self.group else ""
        head = (f"<posterior predictive check {what}: {self.observed.size} observations, "
                f"{self.replicated.shape[0]} replicated data sets>")
        return f"{head}\n{self.table.to_string(index=False)}"


def _subsets(labels: np.ndarray) -> list[tuple[dict[str, Any], np.ndarray]]:
    return [({"level": lv}, np.flatnonzero(labels == lv)) for lv in pd.unique(labels)]


def pp_check(fit: Fit, kind: str = "density", stat: str | Callable[[np.ndarray], float] = "mean",
             group: str | None = None, ndraws: int | None = None, seed: int | None = None,
             bins: int | None = None) -> PPCheck:
    """A posterior predictive check of ``fit`` (see the module docstring for the kinds)."""
    if kind not in KINDS:
        raise DataError(f"kind={kind!r} is not a posterior predictive check"
                        f"{did_you_mean(str(kind), KINDS)}; kinds: {', '.join(KINDS)}")
    from hiermodel.posterior.prediction import predict

    y = np.asarray(fit.model.design.y, dtype=float)
    yrep = np.asarray(predict(fit, kind="response", summary=False, seed=seed), dtype=float)
    rng = np.random.default_rng(seed)
    s = yrep.shape[0]
    log_weights = None
    if kind == "loo_pit":
        log_weights = _psis_weights(fit)
    elif ndraws is not None:
        if ndraws < 1:
            raise DataError(f"ndraws must be >= 1 (got {ndraws})")
        if ndraws < s:
            yrep = yrep[np.sort(rng.choice(s, size=ndraws, replace=False))]
    labels = group_labels(fit, group) if group is not None else None
    discrete = bool(np.all(y == np.round(y)) and np.all(yrep == np.round(yrep)))
    return check(kind, y, yrep, stat=stat, labels=labels, group=group, log_weights=log_weights,
                 discrete=discrete, rng=rng, bins=bins)


def check(kind: str, y: np.ndarray, yrep: np.ndarray,
          stat: str | Callable[[np.ndarray], float] = "mean", labels: np.ndarray | None = None,
          group: str | None = None, log_weights: np.ndarray | None = None,
          discrete: bool = False, rng: np.random.Generator | None = None,
          bins: int | None = None) -> PPCheck:
    """The check of observed ``y`` (n,) against replicated ``yrep`` (draws, n): the numbers
    of :func:`pp_check` from arrays (``labels``: the group of every row, or None)."""
    name, fn = statistic(stat) if kind == "stat" else (None, None)
    edges = bin_edges(y, yrep, bins) if kind == "hist" else None
    parts: list[pd.DataFrame] = []
    stat_draws: dict[str, np.ndarray] = {}
    pit = None
    if kind == "loo_pit":
        if log_weights is None:
            raise DataError("kind='loo_pit' needs the PSIS log weights")
        pit = loo_pit_values(y, yrep, log_weights, rng if discrete else None)
    subsets = _subsets(labels) if labels is not None else [({}, np.arange(y.size))]
    for label, idx in subsets:
        yy, rr = y[idx], yrep[:, idx]
        if kind == "density":
            part = quantile_table(yy, rr)
        elif kind == "ecdf":
            part = ecdf_table(yy, rr)
        elif kind == "hist":
            assert edges is not None
            part = hist_table(yy, rr, edges)
        elif kind == "bars":
            part = bars_table(yy, rr)
        elif kind == "stat":
            assert fn is not None
            part, t_rep = stat_table(yy, rr, fn)
            stat_draws[str(label.get("level", name))] = t_rep
        else:
            assert pit is not None
            p = pit[idx]
            qs = np.asarray(QUANTILES)
            part = pd.DataFrame({"quantile": qs, "pit": np.quantile(p, qs), "uniform": qs})
        for key, value in reversed(list(label.items())):
            part.insert(0, key, value)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    draws = pd.DataFrame(stat_draws) if kind == "stat" else None
    return PPCheck(kind, y, yrep, table, stat=name, group=group, labels=labels,
                   stat_draws=draws, pit=pit, edges=edges, log_weights=log_weights,
                   discrete=discrete)


__all__ = ["KINDS", "MAX_CURVES", "QUANTILES", "STATS", "PPCheck", "bars_table", "bin_edges",
           "check", "ecdf_table", "group_labels", "hist_table", "loo_pit_values", "pp_check",
           "quantile_table", "stat_table", "statistic"]
