"""Figures of posterior predictive checks (:class:`~hiermodel.posterior.ppc.PPCheck`).

ArviZ draws the overlays (``plot_ppc`` kinds ``kde`` / ``cumulative``, ``plot_loo_pit`` for a
continuous response); histograms, bars and statistics are drawn directly with Matplotlib in
bayesplot's layout (observed as bars or a line, replicated as points with 95 % intervals).
Matplotlib is imported inside the functions.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hiermodel.posterior.ppc import PPCheck

OBS_COLOR = "#1f3b73"
REP_COLOR = "#7fa6d9"


def _axes(n: int) -> tuple[Any, list[Any]]:
    import matplotlib.pyplot as plt

    cols = min(n, 4)
    rows = math.ceil(n / cols)
    size = (5.5, 3.6) if n == 1 else (3.2 * cols + 0.8, 2.6 * rows + 0.6)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _overlay(ax: Any, y: np.ndarray, yrep: np.ndarray, kind: str) -> None:
    import arviz as az

    idata = az.from_dict(posterior_predictive={"y": yrep[None]}, observed_data={"y": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        az.plot_ppc(idata, kind=kind, num_pp_samples=min(yrep.shape[0], 100), ax=ax,
                    random_seed=0, legend=False)


def _intervals(ax: Any, x: np.ndarray, table: Any, width: np.ndarray | float) -> None:
    ax.bar(x, table["observed"], width=width, color=OBS_COLOR, alpha=0.55, label="y")
    err = np.clip(np.vstack([table["rep_mean"] - table["rep_low"],
                             table["rep_high"] - table["rep_mean"]]), 0.0, None)
    ax.errorbar(x, table["rep_mean"], yerr=err, fmt="o", color=REP_COLOR, ms=3, lw=1.2,
                label="y_rep (mean, 95%)")


def _panel(check: PPCheck, ax: Any, idx: np.ndarray, level: str | None) -> None:
    y, yrep = check.observed[idx], check.replicated[:, idx]
    table = check.table if level is None else check.table[check.table["level"] == level]
    kind = check.kind
    if kind in ("density", "ecdf"):
        _overlay(ax, y, yrep, "kde" if kind == "density" else "cumulative")
    elif kind == "hist":
        assert check.edges is not None
        mids = (check.edges[:-1] + check.edges[1:]) / 2
        _intervals(ax, mids, table, np.diff(check.edges) * 0.95)
        ax.set_ylabel("count")
    elif kind == "bars":
        _intervals(ax, np.asarray(table["value"], float), table, 0.8)
        ax.set_ylabel("count")
    elif kind == "stat":
        assert check.stat_draws is not None
        t = check.stat_draws[level if level is not None else check.stat_draws.columns[0]]
        ax.hist(t, bins=30, color=REP_COLOR, edgecolor="white")
        t_obs = float(table["observed"].iloc[0])
        ax.axvline(t_obs, color=OBS_COLOR, lw=2)
        ax.set_xlabel(f"T = {check.stat}  (p = {float(table['p_value'].iloc[0]):.2f})")
    else:
        _pit_panel(check, ax, idx)
    if level is not None:
        ax.set_title(f"{check.group} = {level}", fontsize=9)


def _pit_panel(check: PPCheck, ax: Any, idx: np.ndarray) -> None:
    assert check.pit is not None
    if not check.discrete and check.log_weights is not None:
        import arviz as az

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            az.plot_loo_pit(y=check.observed[idx], y_hat=check.replicated[:, idx].T,
                            log_weights=check.log_weights[idx], ax=ax, legend=False)
        ax.set_xlabel("LOO-PIT")
        return
    ax.hist(check.pit[idx], bins=np.linspace(0, 1, 11), density=True, color=REP_COLOR,
            edgecolor="white")
    ax.axhline(1.0, color=OBS_COLOR, lw=1.5)
    ax.set_xlabel("LOO-PIT (randomized, discrete response)")


def draw(check: PPCheck) -> Any:
    """The figure of ``check``: one panel, or one per level of its ``group``."""
    if check.labels is None:
        fig, axes = _axes(1)
        _panel(check, axes[0], np.arange(check.observed.size), None)
    else:
        levels = check.levels
        fig, axes = _axes(len(levels))
        for ax, lv in zip(axes, levels, strict=True):
            _panel(check, ax, np.flatnonzero(check.labels == lv), lv)
    title = {"density": "density overlay", "ecdf": "ECDF overlay", "hist": "histogram",
             "bars": "bars", "stat": f"test statistic {check.stat}",
             "loo_pit": "LOO-PIT"}[check.kind]
    fig.suptitle(f"Posterior predictive check: {title}", fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["draw"]
