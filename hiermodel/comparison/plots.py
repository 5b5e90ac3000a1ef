"""Figures of a comparison (matplotlib ``Figure`` objects, no pyplot state).

- :func:`plot_group_estimates`: every group's estimate under each variant with its interval,
  side by side, groups sorted, the pooled estimate as a line ("comparison of the three
  methods" in the talk).
- :func:`plot_group_means`: raw mean response by group, split by the effect's two levels when
  there are two ("mean log yield by county").
- :func:`plot_shrinkage`: each group's unpooled estimate and an arrow to its hierarchical
  estimate, against the group's size: small groups move (are pooled) the most.
- :func:`plot_loo`: elpd (PSIS-LOO, and leave-one-group-out when computed) with SEs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PALETTE = {"pooled": "#7f7f7f", "unpooled": "#d62728", "hierarchical": "#1f77b4"}
_EXTRA = ["#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def _colors(variants: list[str]) -> dict[str, str]:
    out, k = {}, 0
    for v in variants:
        if v in PALETTE:
            out[v] = PALETTE[v]
        else:
            out[v] = _EXTRA[k % len(_EXTRA)]
            k += 1
    return out


def _height(n_groups: int) -> float:
    return float(min(max(3.0, 0.28 * n_groups + 1.5), 40.0))


def plot_group_estimates(estimates: pd.DataFrame, quantity: str, *, title: str | None = None,
                         xlabel: str | None = None, population: dict[str, float] | None = None,
                         flags: pd.Series | None = None) -> Figure:
    """Per-group estimates with intervals under every variant, sorted by the hierarchical one.

    ``estimates`` is the long table (group, variant, quantity, mean, low, high); ``population``
    maps variant -> population value (the pooled one is drawn as a line); ``flags`` maps group
    -> flag text shown next to the group name.
    """
    est = estimates[estimates["quantity"] == quantity]
    variants = list(dict.fromkeys(est["variant"]))
    sort_by = "hierarchical" if "hierarchical" in variants else variants[-1]
    order = (est[est.variant == sort_by].sort_values("mean")["group"].tolist())
    pos = {g: i for i, g in enumerate(order)}
    colors = _colors(variants)
    fig = Figure(figsize=(8.0, _height(len(order))), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(variants), 1)
    for k, v in enumerate(variants):
        d = est[est.variant == v]
        y = np.array([pos[g] for g in d["group"]]) + (k - (len(variants) - 1) / 2) * width
        mean = d["mean"].to_numpy()
        err = np.vstack([mean - d["low"].to_numpy(), d["high"].to_numpy() - mean])
        ax.errorbar(mean, y, xerr=err, fmt="o", ms=3.5, lw=1.1, capsize=0, color=colors[v],
                    label=v)
    if population:
        for v, value in population.items():
            if v == "pooled" or (v == "hierarchical" and "pooled" not in population):
                ax.axvline(value, color=colors.get(v, "k"), ls="--", lw=1,
                           label=f"{v} ({value:.2f})")
    # keep the axis on the informative range: prior-dominated intervals (a group with one row
    # in the unpooled model) would otherwise squash every other group into a line
    means = est["mean"].to_numpy(dtype=float)
    lows, highs = est["low"].to_numpy(dtype=float), est["high"].to_numpy(dtype=float)
    lo = min(np.nanmin(means), np.nanpercentile(lows, 10))
    hi = max(np.nanmax(means), np.nanpercentile(highs, 90))
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    clipped = bool(np.nanmin(lows) < lo - pad or np.nanmax(highs) > hi + pad)
    ax.set_xlim(lo - pad, hi + pad)
    labels = order
    if flags is not None:
        labels = [f"{g}  [{flags.get(g)}]" if flags.get(g) else g for g in order]
    ax.set_yticks(range(len(order)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel((xlabel or quantity) + ("  (some intervals extend beyond the axis)"
                                          if clipped else ""))
    ax.set_title(title or f"Per-group {quantity}: pooled vs unpooled vs hierarchical",
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_group_means(data: pd.DataFrame, y: np.ndarray, labels: np.ndarray, *,
                     response: str, group: str, split: pd.Series | None = None,
                     split_name: str | None = None) -> Figure:
    """Raw mean of the (transformed) response by group with ±2 SE, sorted by the mean."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "g": np.asarray(labels).astype(str)})
    if split is not None:
        frame["s"] = np.asarray(split).astype(str)
    overall = frame.groupby("g")["y"].mean().sort_values()
    order = overall.index.tolist()
    pos = {g: i for i, g in enumerate(order)}
    fig = Figure(figsize=(8.0, _height(len(order))), layout="constrained")
    ax = fig.add_subplot()
    parts: list[tuple[str, pd.DataFrame]]
    if split is not None:
        parts = [(f"{split_name} = {s}", d) for s, d in frame.groupby("s")]
    else:
        parts = [("all rows", frame)]
    offsets = np.linspace(-0.2, 0.2, len(parts)) if len(parts) > 1 else [0.0]
    for (label, d), off, color in zip(parts, offsets, [*_EXTRA, "k"], strict=False):
        stats = d.groupby("g")["y"].agg(["mean", "std", "count"])
        se = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
        yy = np.array([pos[g] for g in stats.index]) + off
        ax.errorbar(stats["mean"], yy, xerr=2 * se, fmt="o", ms=3.5, lw=1, color=color,
                    label=label)
        for g, c in stats["count"].items():
            if c < 5:
                ax.annotate(f"n={int(c)}", (stats.loc[g, "mean"], pos[g] + off), fontsize=7,
                            xytext=(4, -3), textcoords="offset points", color=color)
    ax.axvline(frame["y"].mean(), color="k", ls=":", lw=1, label="overall mean")
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_xlabel(f"mean {response} (±2 SE)")
    ax.set_title(f"Mean {response} by {group}")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_shrinkage(pooling: pd.DataFrame, *, pooled: dict[str, float] | None = None,
                   population: dict[str, float] | None = None, group: str = "group",
                   effect_label: str | None = None, annotate: int = 4) -> Figure:
    """Shrinkage plot: per quantity (effect, group mean), each group's unpooled estimate (open
    circle) with an arrow to its hierarchical estimate (dot), against the group's size (for a
    categorical effect: rows in its smaller effect cell); the hierarchical population value
    (what the groups are shrunk toward) dashed, the pooled estimate dotted.

    ``pooling`` is the long table of :func:`hiermodel.comparison.pooling.pooling_table`; the
    ``annotate`` groups that move the most are named.
    """
    quantities = list(dict.fromkeys(pooling["quantity"]))
    fig = Figure(figsize=(6.0 * len(quantities), 4.6), layout="constrained")
    axes: Any = fig.subplots(1, len(quantities), squeeze=False)[0]
    for ax, q in zip(axes, quantities, strict=True):
        d = pooling[pooling["quantity"] == q]
        cells = q == "effect" and {"n_off", "n_on"} <= set(d.columns)
        size = (np.minimum(d["n_off"], d["n_on"]) if cells else d["n"]).to_numpy(dtype=float)
        x = np.maximum(size, 0.8)  # a group with an empty cell still gets a place on log axis
        u = d["unpooled"].to_numpy(dtype=float)
        h = d["hierarchical"].to_numpy(dtype=float)
        for xi, ui, hi in zip(x, u, h, strict=True):
            if np.isfinite(ui) and np.isfinite(hi) and abs(hi - ui) > 0:
                ax.annotate("", xy=(xi, hi), xytext=(xi, ui),
                            arrowprops={"arrowstyle": "->", "color": "0.55", "lw": 0.8})
        ax.scatter(x, u, facecolors="none", edgecolors=PALETTE["unpooled"], s=28,
                   label="unpooled", zorder=3)
        ax.scatter(x, h, color=PALETTE["hierarchical"], s=18, label="hierarchical", zorder=4)
        if population and q in population:
            ax.axhline(population[q], color=PALETTE["hierarchical"], ls="--", lw=1,
                       label=f"hierarchical population ({population[q]:.2f})")
        if pooled and q in pooled:
            ax.axhline(pooled[q], color=PALETTE["pooled"], ls=":", lw=1.2,
                       label=f"pooled ({pooled[q]:.2f})")
        move = np.abs(h - u)
        for i in np.argsort(-np.nan_to_num(move, nan=-1.0))[:annotate]:
            ax.annotate(str(d["group"].iloc[i]), (x[i], u[i]), fontsize=7, xytext=(4, 2),
                        textcoords="offset points")
        ax.set_xscale("log")
        what = (f"rows in the smaller {effect_label.split(':')[0]} cell" if cells
                and effect_label else "rows in the group")
        ax.set_xlabel(f"{what} (log scale)")
        name = (effect_label or "effect") if q == "effect" else {
            "mean": "group mean (linear predictor)", "intercept": "intercept (reference row)"
        }.get(q, q)
        ax.set_ylabel(name)
        ax.set_title(f"Shrinkage of the per-{group} {q}: unpooled -> hierarchical", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_loo(loo_table: pd.DataFrame, logo_table: pd.DataFrame | None = None) -> Figure:
    """elpd ± SE per variant for PSIS-LOO (and leave-one-group-out when available)."""
    panels: list[tuple[str, pd.DataFrame, str]] = [("PSIS-LOO (new observations)", loo_table,
                                                    "elpd_loo")]
    if logo_table is not None and len(logo_table):
        panels.append(("leave-one-group-out (new groups)", logo_table, "elpd_logo"))
    fig = Figure(figsize=(5.0 * len(panels), 0.6 * len(loo_table) + 2.0), layout="constrained")
    axes: Any = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, table, col) in zip(axes, panels, strict=True):
        t = table.sort_values(col)
        colors = _colors(list(t.index))
        y = np.arange(len(t))
        for i, (v, row) in enumerate(t.iterrows()):
            ax.errorbar(row[col], y[i], xerr=row["se"], fmt="o", color=colors[str(v)])
            if row.get("elpd_diff", 0) > 0 and np.isfinite(row.get("dse", np.nan)):
                best = t[col].max()
                ax.errorbar(best - row["elpd_diff"], y[i] + 0.2, xerr=row["dse"], fmt="^",
                            ms=4, color="0.4")
        ax.axvline(t[col].max(), color="0.6", ls="--", lw=1)
        ax.set_yticks(y, list(t.index))
        ax.set_xlabel("elpd (log score; higher is better)\n▲: difference to best ± SE")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    return fig


__all__ = ["PALETTE", "plot_group_estimates", "plot_group_means", "plot_loo",
           "plot_shrinkage"]
