"""Figures of the fit report, drawn from the lme4-style tables (``fixef``, ``coef``), so a stored
run draws them from its CSV files without loading the posterior. Matplotlib ``Figure`` objects,
no pyplot state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hiermodel.comparison.plots import PALETTE

MAX_LEVELS = 120  # levels drawn in a forest plot; the table lists them all


def _height(rows: int) -> float:
    return float(min(max(2.4, 0.24 * rows + 1.3), 30.0))


def plot_population(fixef: pd.DataFrame, prob: float) -> Figure:
    """Population-level effects (``fixef``: index term; mean, hdi_low, hdi_high) with their
    intervals, one row per term, zero marked."""
    terms = [str(t) for t in fixef.index]
    fig = Figure(figsize=(7.0, _height(len(terms))), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(terms))[::-1]
    mean = fixef["mean"].to_numpy(dtype=float)
    err = np.vstack([mean - fixef["hdi_low"].to_numpy(dtype=float),
                     fixef["hdi_high"].to_numpy(dtype=float) - mean])
    ax.errorbar(mean, y, xerr=err, fmt="o", ms=4, lw=1.2, capsize=0,
                color=PALETTE["hierarchical"])
    ax.axvline(0.0, color="0.6", ls=":", lw=1)
    ax.set_yticks(y, terms, fontsize=8)
    ax.set_ylim(-0.7, len(terms) - 0.3)
    ax.set_xlabel(f"posterior mean and {round(prob * 100)}% interval")
    ax.set_title("Population-level effects", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_group_forest(coef: pd.DataFrame, group: str, terms: list[str],
                      population: dict[str, float], prob: float) -> Figure:
    """Forest plot of each level's coefficient (``coef``: level, term, mean, hdi_low,
    hdi_high) for every varying term of ``group``, levels sorted by the first term's mean, the
    population value dashed."""
    panels = [t for t in terms if t in set(coef["term"])]
    first = coef[coef["term"] == panels[0]].sort_values("mean")
    levels = [str(v) for v in first["level"]][-MAX_LEVELS:]
    pos = {lv: i for i, lv in enumerate(levels)}
    fig = Figure(figsize=(4.2 * len(panels) + 1.2, _height(len(levels))), layout="constrained")
    axes: Any = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, term in zip(axes, panels, strict=True):
        d = coef[(coef["term"] == term) & coef["level"].astype(str).isin(pos)]
        y = np.array([pos[str(lv)] for lv in d["level"]])
        mean = d["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - d["hdi_low"].to_numpy(dtype=float),
                         d["hdi_high"].to_numpy(dtype=float) - mean])
        ax.errorbar(mean, y, xerr=err, fmt="o", ms=3, lw=1, capsize=0,
                    color=PALETTE["hierarchical"])
        if term in population:
            ax.axvline(population[term], color=PALETTE["pooled"], ls="--", lw=1,
                       label=f"population {term}")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"{term} by {group}", fontsize=10)
        ax.set_xlabel(f"posterior mean and {round(prob * 100)}% interval", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(levels)), levels, fontsize=7)
    axes[0].set_ylim(-0.7, len(levels) - 0.3)
    return fig


__all__ = ["MAX_LEVELS", "plot_group_forest", "plot_population"]
