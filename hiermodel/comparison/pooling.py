"""The per-group table (estimates of every group under every variant, pooling factors, flags)
and the long pooling table.

A group's pooling factor is ``(unpooled - hierarchical) / (unpooled - pooled)``: 0 when the
hierarchical model keeps the group's own estimate, 1 when it gives it the population value. The
estimates come from :mod:`hiermodel.comparison.effects`, the flags from
:mod:`hiermodel.comparison.flags`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.comparison.effects import (
    EffectSpec,
    group_draws,
    group_rows,
    reference_frames,
    summarize_draws,
)
from hiermodel.comparison.flags import MIN_CELL, SMALL_N, compute_flags
from hiermodel.errors import CompareError
from hiermodel.naming import safe

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit


def pooling_factor(unpooled: np.ndarray, hierarchical: np.ndarray, pooled: np.ndarray,
                   tol: float = 1e-9) -> np.ndarray:
    """(unpooled - hierarchical) / (unpooled - pooled), clipped to [0, 1]; NaN where the
    unpooled and pooled estimates coincide (nothing to pool towards)."""
    u, h, p = (np.asarray(x, dtype=float) for x in (unpooled, hierarchical, pooled))
    den = u - p
    scale = np.nanmax(np.abs(np.concatenate([u, p]))) if u.size else 1.0
    ok = np.abs(den) > tol * max(scale, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(ok, (u - h) / np.where(ok, den, 1.0), np.nan)
    return np.clip(raw, 0.0, 1.0)


# -- the per-group table -------------------------------------------------------------------

@dataclass
class GroupTable:
    """Everything the per-group report needs."""

    table: pd.DataFrame  # wide, one row per group
    estimates: pd.DataFrame  # long: group, variant, quantity, mean, median, sd, low, high
    population: pd.DataFrame  # variant, quantity, mean, median, sd, low, high
    draws: dict[str, dict[str, np.ndarray]]  # variant -> key -> draws
    quantity: str  # "effect", else "mean": what the flags use
    scale: float  # the group SD used by the extreme flag
    scale_source: str
    varies: dict[str, bool] = field(default_factory=dict)  # quantity -> varies in hierarchical


def cell_counts(data: pd.DataFrame, labels: np.ndarray, levels: list[str],
                spec: EffectSpec) -> pd.DataFrame:
    """n per group, and rows with the effect off / on for a categorical effect."""
    s = pd.Series(labels)
    out = pd.DataFrame({"group": levels})
    out["n"] = s.value_counts().reindex(levels, fill_value=0).to_numpy()
    if spec.has_cells and spec.column is not None:
        values = data[spec.column].reset_index(drop=True)
        for name, lv in (("n_off", spec.off), ("n_on", spec.on)):
            hit = (values == lv) | (values.astype(str) == str(lv))
            out[name] = s[hit.to_numpy()].value_counts().reindex(levels, fill_value=0).to_numpy()
    return out


def _model_group_sd(fit: Fit, group: str, names: tuple[str, ...]) -> float | None:
    terms = fit.model.info.group_terms.get(group)
    if not terms:
        return None
    for name in names:
        if name in terms:
            sd = fit.draws(f"sd_{safe(group)}")
            sd = sd.reshape(sd.shape[0] * sd.shape[1], -1)
            return float(sd[:, terms.index(name)].mean())
    return None


def group_table(fits: dict[str, Fit], kinds: dict[str, str], data: pd.DataFrame,
                labels: np.ndarray, levels: list[str], group: str, group_columns: tuple[str, ...],
                spec: EffectSpec, prob: float = 0.95, small_n: int = SMALL_N,
                min_cell: int = MIN_CELL, log_response: bool = False,
                chunk: int = 4000) -> GroupTable:
    """Estimates of every group under every variant, pooling factors and flags.

    Quantities: ``effect`` (when there is an effect), ``mean`` (the group's mean linear
    predictor over its own rows: the classic quantity a varying intercept shrinks) and
    ``intercept`` (the linear predictor at the group's reference row, effect off). Flags use
    the first of them.
    """
    used: list[str] = []
    for fit in fits.values():
        t = fit.model.terms
        resp = {t.response.variable.name} | (
            {t.response.failures.name} if t.response.failures is not None else set())
        for name, var in t.variables.items():
            if name in resp:
                continue
            for c in var.source_columns:
                if c not in used:
                    used.append(c)
    off, on = reference_frames(data, labels, levels, used, group_columns, spec)
    table = cell_counts(data, labels, levels, spec)
    quantities = ["effect", "mean", "intercept"] if on is not None else ["mean", "intercept"]
    rows = group_rows(data, labels, levels, used)
    draws: dict[str, dict[str, np.ndarray]] = {}
    long_rows: list[pd.DataFrame] = []
    pop_rows: list[dict[str, Any]] = []
    for name, fit in fits.items():
        try:
            d = group_draws(fit, kinds[name], off, on, weights=table["n"].to_numpy(),
                            rows=rows, chunk=chunk)
        except Exception as exc:  # a variant that cannot predict the reference rows
            raise CompareError(f"cannot compute per-group estimates of variant '{name}' "
                               f"({fit.formula}): {exc}") from exc
        draws[name] = d
        for q in quantities:
            s = summarize_draws(d[q], prob)
            table[f"{q}_{name}"] = s["mean"]
            table[f"{q}_{name}_low"] = s["low"]
            table[f"{q}_{name}_high"] = s["high"]
            long_rows.append(pd.DataFrame({"group": levels, "variant": name, "quantity": q,
                                           **{k: v for k, v in s.items()}}))
            p = summarize_draws(d[f"pop_{q}"][:, None], prob)
            pop_rows.append({"variant": name, "quantity": q,
                             "basis": "mean over groups (row-weighted)"
                             if kinds[name] in ("unpooled", "mixed")
                             else "population level",
                             **{k: float(v[0]) for k, v in p.items()}})
    varies = {q: _hier_varies(draws, q) for q in quantities}
    for q in quantities:
        if {"unpooled", "hierarchical"} <= set(fits):
            hd = draws["hierarchical"]
            target = hd.get(f"popg_{q}")
            table[f"{q}_hierarchical_population"] = (
                target.mean(axis=0) if target is not None
                else np.full(len(table), float(np.mean(hd[f"pop_{q}"]))))
            if varies[q]:
                table[f"pooling_{q}"] = pooling_factor(
                    table[f"{q}_unpooled"], table[f"{q}_hierarchical"],
                    table[f"{q}_hierarchical_population"])
            else:  # one common value in the hierarchical model: pooled by construction
                table[f"pooling_{q}"] = 1.0
    if log_response and on is not None:
        for name in fits:
            s = summarize_draws(np.exp(draws[name]["effect"]), prob)
            table[f"ratio_{name}"] = np.exp(np.median(draws[name]["effect"], 0))
            table[f"ratio_{name}_low"] = s["low"]
            table[f"ratio_{name}_high"] = s["high"]

    quantity = quantities[0]
    ref = "hierarchical" if "hierarchical" in fits else next(iter(fits))
    population = float(np.mean(draws[ref][f"pop_{quantity}"]))
    hier_varies = varies[quantity]
    scale, source = float("nan"), "none"
    if "hierarchical" in fits:
        dev = draws["hierarchical"][quantity] - draws["hierarchical"][f"pop_{quantity}"][:, None]
        fp = float(np.mean(dev.std(axis=1))) if dev.shape[1] > 1 else 0.0
        # the yardstick of a group's mean or intercept is the SD of the varying intercept
        names = spec.coef_names if quantity == "effect" else ("(Intercept)",)
        model_sd = _model_group_sd(fits["hierarchical"], group, names) if hier_varies else None
        if model_sd is not None:
            scale, source = model_sd, "hierarchical group-level SD"
        elif hier_varies:
            scale, source = fp, "SD of the hierarchical group estimates"
    if not np.isfinite(scale) and "unpooled" in fits:
        u = table[f"{quantity}_unpooled"].to_numpy()
        keep = table["n"].to_numpy() >= small_n
        if quantity == "effect" and "n_off" in table and "n_on" in table:
            keep &= np.minimum(table["n_off"], table["n_on"]).to_numpy() >= min_cell
        u = u[keep] if keep.sum() >= 3 else u
        mad = float(np.median(np.abs(u - np.median(u)))) * 1.4826
        scale, source = mad, "robust SD (MAD) of the unpooled group estimates"
    flagged = compute_flags(table, quantity, population, scale, list(fits), small_n=small_n,
                            min_cell=min_cell, hier_varies=hier_varies,
                            check_sign=quantity == "effect")
    return GroupTable(table=flagged, estimates=pd.concat(long_rows, ignore_index=True),
                      population=pd.DataFrame(pop_rows), draws=draws, quantity=quantity,
                      scale=scale, scale_source=source, varies=varies)


def _hier_varies(draws: dict[str, dict[str, np.ndarray]], quantity: str) -> bool:
    """True when the hierarchical model gives groups different values of ``quantity``."""
    if "hierarchical" not in draws:
        return False
    d = draws["hierarchical"][quantity]
    if d.shape[1] < 2:
        return False
    return bool(float(np.mean(d.std(axis=1))) > 1e-8)


def pooling_table(gt: GroupTable, variants: list[str]) -> pd.DataFrame:
    """Long per-group pooling table: one row per group and quantity with the pooled, unpooled
    and hierarchical means, the hierarchical model's population value for the group (what it
    shrinks toward), the pooling factor and whether the hierarchical model lets the quantity
    vary by group (if not, it is pooled by construction: factor 1)."""
    t = gt.table
    rows = []
    for q in dict.fromkeys(gt.estimates["quantity"]):
        frame = pd.DataFrame({"group": t["group"], "quantity": q, "n": t["n"]})
        for c in ("n_off", "n_on"):
            if c in t:
                frame[c] = t[c]
        for v in variants:
            if f"{q}_{v}" in t:
                frame[v] = t[f"{q}_{v}"]
        if f"{q}_hierarchical_population" in t:
            frame["hierarchical_population"] = t[f"{q}_hierarchical_population"]
        if {"unpooled", "hierarchical"} <= set(frame.columns):
            frame["hierarchical_minus_unpooled"] = frame["hierarchical"] - frame["unpooled"]
        frame["pooling_factor"] = t.get(f"pooling_{q}", np.nan)
        frame["varies_in_hierarchical"] = gt.varies.get(q, False)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


__all__ = ["GroupTable", "cell_counts", "group_table", "pooling_factor", "pooling_table"]
