"""Flagged groups: ``small_n``, ``sign_reversal``, ``extreme`` and ``wide_interval``, each with
the reason, added to the wide per-group table (:func:`compute_flags`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SMALL_N = 10
MIN_CELL = 5
EXTREME_SD = 2.0
WIDE_FACTOR = 2.0
FLAGS = ("small_n", "sign_reversal", "extreme", "wide_interval")


def compute_flags(table: pd.DataFrame, quantity: str, population: float, scale: float,
                  variants: list[str], small_n: int = SMALL_N, min_cell: int = MIN_CELL,
                  extreme_sd: float = EXTREME_SD, wide_factor: float = WIDE_FACTOR,
                  hier_varies: bool = True, check_sign: bool = True) -> pd.DataFrame:
    """Add boolean flag columns and a ``reason`` text to a wide per-group table.

    ``table`` has ``n`` (and optionally ``n_off``/``n_on``) and ``{quantity}_{variant}``,
    ``..._low``, ``..._high`` columns. ``population`` is the population value of the quantity,
    ``scale`` its group-level SD (the yardstick of ``extreme``).
    """
    t = table.copy()
    reasons: list[list[str]] = [[] for _ in range(len(t))]
    has_u = "unpooled" in variants
    has_h = "hierarchical" in variants

    def col(v: str, stat: str = "") -> np.ndarray:
        name = f"{quantity}_{v}" + (f"_{stat}" if stat else "")
        return t[name].to_numpy(dtype=float)

    # small_n
    n = t["n"].to_numpy()
    small = n < small_n
    if "n_off" in t and "n_on" in t:
        cell = np.minimum(t["n_off"].to_numpy(), t["n_on"].to_numpy())
        small_cell = cell < min_cell
        for i in np.flatnonzero(small_cell):
            reasons[i].append(f"only {int(cell[i])} row(s) in the smaller effect cell")
        small = small | small_cell
    for i in np.flatnonzero(n < small_n):
        reasons[i].append(f"n = {int(n[i])} < {small_n}")
    t["small_n"] = small

    # sign_reversal
    pop_sign = np.sign(population)
    rev = np.zeros(len(t), dtype=bool)
    if check_sign and pop_sign != 0:
        if has_u:
            u, lo, hi = col("unpooled"), col("unpooled", "low"), col("unpooled", "high")
            excl = (lo > 0) | (hi < 0)
            u_rev = (np.sign(u) == -pop_sign) & excl
            for i in np.flatnonzero(u_rev):
                reasons[i].append(f"unpooled {quantity} {u[i]:+.2f} [{lo[i]:+.2f}, {hi[i]:+.2f}]"
                                  f" excludes 0, opposite to the population {population:+.2f}")
            rev |= u_rev
        if has_h and hier_varies:
            h = col("hierarchical")
            h_rev = np.sign(h) == -pop_sign
            for i in np.flatnonzero(h_rev & ~rev):
                reasons[i].append(f"hierarchical {quantity} {h[i]:+.2f} has the opposite sign "
                                  f"of the population {population:+.2f}")
            rev |= h_rev
    t["sign_reversal"] = rev

    # extreme: the partially pooled estimate, or the group's own (unpooled) estimate with an
    # interval that excludes the population value, is more than extreme_sd group SDs away
    ext = np.zeros(len(t), dtype=bool)
    if np.isfinite(scale) and scale > 0:
        limit = extreme_sd * scale
        if has_h and hier_varies:
            h = col("hierarchical")
            ext_h = np.abs(h - population) > limit
            for i in np.flatnonzero(ext_h):
                reasons[i].append(f"hierarchical {quantity} {h[i]:+.2f} is "
                                  f"{abs(h[i] - population) / scale:.1f} group SDs from the "
                                  f"population {population:+.2f}")
            ext |= ext_h
        if has_u:
            u, lo, hi = col("unpooled"), col("unpooled", "low"), col("unpooled", "high")
            ext_u = (np.abs(u - population) > limit) & ((lo > population) | (hi < population))
            for i in np.flatnonzero(ext_u & ~ext):
                reasons[i].append(f"unpooled {quantity} {u[i]:+.2f} [{lo[i]:+.2f}, {hi[i]:+.2f}]"
                                  f" is {abs(u[i] - population) / scale:.1f} group SDs from the "
                                  f"population {population:+.2f}")
            ext |= ext_u
    t["extreme"] = ext

    # wide_interval
    basis_v = "unpooled" if has_u else "hierarchical" if has_h else variants[0]
    width = col(basis_v, "high") - col(basis_v, "low")
    med = np.nanmedian(width) if width.size else np.nan
    wide = width > wide_factor * med if np.isfinite(med) and med > 0 else np.zeros(len(t), bool)
    for i in np.flatnonzero(wide):
        reasons[i].append(f"{basis_v} interval {width[i]:.2f} wide, {width[i] / med:.1f}x the "
                          "median")
    t["wide_interval"] = wide
    t["flags"] = [",".join(f for f in FLAGS if t[f].iloc[i]) for i in range(len(t))]
    t["reason"] = ["; ".join(r) for r in reasons]
    return t


__all__ = ["EXTREME_SD", "FLAGS", "MIN_CELL", "SMALL_N", "WIDE_FACTOR", "compute_flags"]
