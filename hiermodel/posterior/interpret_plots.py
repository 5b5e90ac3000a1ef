"""Figures of predictions, comparisons and slopes (:class:`~hiermodel.posterior.interpret.
Effects`) and of ``conditional_effects`` (one panel per population-level variable, as brms).

The first grid column is the x axis: a numeric one draws a line with its interval as a band, a
categorical one points with interval bars; every combination of the other grid columns is one
coloured series. Matplotlib is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from hiermodel.posterior.interpret import Effects

COLORS = ("#1f3b73", "#c0392b", "#2e8b57", "#b8860b", "#6a3d9a", "#4d4d4d")
YLABELS = {"predictions": "prediction", "comparisons": "comparison", "slopes": "slope"}


def _numeric(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def draw_on(effects: Effects, ax: Any) -> None:
    """Draw ``effects`` into Matplotlib axes ``ax``."""
    frame = effects.frame
    grid = effects.grid
    if not grid:  # one number per row (e.g. an overall average): points with bars
        labels = (frame["contrast"].astype(str).tolist() if "contrast" in frame
                  else [effects.what] * len(frame))
        x = np.arange(len(frame))
        _points(ax, x, frame, COLORS[0], None)
        ax.set_xticks(x, labels)
    else:
        xname, series = grid[0], grid[1:]
        keys = (frame[series].astype(str).agg(", ".join, axis=1) if series
                else pd.Series([""] * len(frame), index=frame.index))
        numeric = _numeric(frame[xname])
        cats = list(pd.unique(frame[xname].astype(str)))
        for i, key in enumerate(pd.unique(keys)):
            part = frame[keys == key]
            color = COLORS[i % len(COLORS)]
            label = f"{', '.join(series)} = {key}" if series else None
            if numeric:
                x = np.asarray(part[xname], dtype=float)
                order = np.argsort(x)
                ax.plot(x[order], part["estimate"].to_numpy()[order], color=color, lw=1.8,
                        label=label)
                ax.fill_between(x[order], part["lower"].to_numpy()[order],
                                part["upper"].to_numpy()[order], color=color, alpha=0.2, lw=0)
            else:
                pos = np.array([cats.index(v) for v in part[xname].astype(str)], dtype=float)
                shift = (i - (keys.nunique() - 1) / 2) * 0.12
                _points(ax, pos + shift, part, color, label)
        if not numeric:
            ax.set_xticks(np.arange(len(cats)), cats, rotation=90 if len(cats) > 8 else 0,
                          fontsize=7 if len(cats) > 8 else None)
            ax.set_xlim(-0.5, len(cats) - 0.5)
        ax.set_xlabel(xname)
        if series:
            ax.legend(fontsize=7, frameon=False)
    if effects.what != "predictions":
        ax.axhline(1.0 if "ratio" in effects.note else 0.0, color="grey", lw=0.8, ls=":")
    ax.set_ylabel(f"{YLABELS[effects.what]} ({effects.kind})")


def _points(ax: Any, x: np.ndarray, part: pd.DataFrame, color: str, label: str | None) -> None:
    est = part["estimate"].to_numpy()
    err = np.clip(np.vstack([est - part["lower"].to_numpy(), part["upper"].to_numpy() - est]),
                  0.0, None)
    ax.errorbar(x, est, yerr=err, fmt="o", color=color, ms=4, lw=1.4, capsize=2, label=label)


def draw_effects(effects: Effects) -> Any:
    """A one-panel figure of ``effects``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    draw_on(effects, ax)
    title = effects.what
    if "term" in effects.frame:
        title += f" of {effects.frame['term'].iloc[0]}"
        if effects.frame["contrast"].nunique() == 1:
            title += f": {effects.frame['contrast'].iloc[0]}"
    ax.set_title(f"{title} ({effects.note})", fontsize=9)
    fig.tight_layout()
    return fig


def draw_panels(panels: Sequence[tuple[str, Effects]]) -> Any:
    """One panel per (title, effects), up to three per row."""
    import matplotlib.pyplot as plt

    n = max(1, len(panels))
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 0.6, 3.0 * rows + 0.4),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax, (title, effects) in zip(flat, panels, strict=False):
        draw_on(effects, ax)
        ax.set_title(title, fontsize=9)
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Conditional effects", fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["COLORS", "draw_effects", "draw_on", "draw_panels"]
