"""Per-group estimates under each variant, pooling factors, flags and the variance partition.

Group estimates are computed the same way for every variant, from posterior draws of the
linear predictor (:func:`hiermodel.predict.linear_predictor`) at one *reference row* per group:

- ``intercept``: the linear predictor of a typical unit of the group with the effect "off"
  (numeric covariates at their mean, categorical/logical ones at their most frequent value,
  the effect variable at its reference level / its mean);
- ``effect``: the linear predictor with the effect "on" minus "off" (for a logical or
  two-level effect: TRUE vs FALSE / second vs first level; for ``"var[level]"``: that level vs
  the first; for a numeric effect: one unit above its mean vs its mean).

So a pooled model gives the same value for every group, a hierarchical one the partially pooled
group value and an unpooled one the group's own value — whatever the formulas look like.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.build.naming import safe
from hiermodel.errors import CompareError, did_you_mean

if TYPE_CHECKING:
    from hiermodel.formula.terms import ModelTerms
    from hiermodel.results import Fit

SMALL_N = 10
MIN_CELL = 5
EXTREME_SD = 2.0
WIDE_FACTOR = 2.0
FLAGS = ("small_n", "sign_reversal", "extreme", "wide_interval")
INTERCEPT_NAMES = ("1", "(Intercept)", "Intercept", "intercept")


@dataclass(frozen=True)
class EffectSpec:
    """Which contrast the per-group table reports as each group's ``effect``."""

    variable: str | None  # display name of the effect variable; None: intercept only
    column: str | None = None  # the raw data column that is switched off/on
    kind: str | None = None  # "binary", "categorical" or "numeric"
    off: Any = None
    on: Any = None
    coef_names: tuple[str, ...] = ()  # lme4 names of the coefficient (for the group SD)

    @property
    def label(self) -> str:
        if self.variable is None:
            return "(Intercept)"
        if self.kind == "numeric":
            return f"{self.variable} (+1 unit)"
        return f"{self.variable}: {_show(self.on)} vs {_show(self.off)}"

    @property
    def has_cells(self) -> bool:
        return self.kind in ("binary", "categorical")


def _show(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    return str(value)


def _lme4_level(value: Any) -> str:
    return {"True": "TRUE", "False": "FALSE"}.get(str(value), str(value))


def _levels(col: pd.Series) -> list[Any]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [c for c in col.cat.categories if c in present]
    if pd.api.types.is_bool_dtype(col):
        return [False, True]
    values = pd.unique(col.dropna())
    try:
        return sorted(values.tolist())
    except TypeError:
        return sorted(values.tolist(), key=str)


def _varies(terms: ModelTerms, column: str, group_columns: set[str]) -> bool:
    """True when ``terms`` lets the variable computed from data column ``column`` (``x``,
    ``factor(x)``, ...) have a different effect per group."""
    def is_group(name: str) -> bool:
        v = terms.variables.get(name)
        return bool(v is not None and v.source_columns
                    and set(v.source_columns) <= group_columns)

    def is_effect(name: str) -> bool:
        v = terms.variables.get(name)
        return v is not None and tuple(v.source_columns) == (column,)

    for block in terms.groups:
        if all(is_group(f) for f in block.factor) and any(
                len(t.variables) == 1 and is_effect(t.variables[0]) for t in block.terms):
            return True
    return any(any(is_effect(v) for v in t.variables)
               and any(is_group(v) for v in t.variables if not is_effect(v))
               for t in terms.fixed)


def default_effect(terms: ModelTerms, group: str,
                   variants: list[ModelTerms] | None = None) -> str | None:
    """The first varying non-intercept term of ``group`` (one variable); else the first
    population term (one variable) that some variant lets vary by group (the talk's unpooled
    ``0 + county:used_hybrid_seeds`` or ``0 + county:factor(used_hybrid_seeds)``); else None
    (intercept only)."""
    for block in terms.groups:
        if block.group == group:
            for t in block.terms:
                if len(t.variables) == 1:
                    return t.variables[0]
    found = next((b for b in terms.groups if b.group == group), None)
    cols: set[str] = set()
    if found is not None:
        for f in found.factor:
            cols |= set(terms.variables[f].source_columns)
    for t in terms.fixed:
        if len(t.variables) != 1:
            continue
        var = terms.variables.get(t.variables[0])
        if var is None or len(var.source_columns) != 1:
            continue
        if any(_varies(v, var.source_columns[0], cols) for v in (variants or [])):
            return t.variables[0]
    return None


def resolve_effect(terms: ModelTerms, data: pd.DataFrame, group: str,
                   effect: str | None, variants: list[ModelTerms] | None = None) -> EffectSpec:
    """Turn ``effect=`` (a variable, ``"var[level]"``, an lme4 coefficient name such as
    ``used_hybrid_seedsTRUE``, or ``"1"`` for the intercept) into an :class:`EffectSpec`;
    ``None`` picks :func:`default_effect` (``variants``: the terms of every variant)."""
    if effect is None:
        effect = default_effect(terms, group, variants)
        if effect is None:
            return EffectSpec(variable=None)
    effect = effect.strip()
    if effect in INTERCEPT_NAMES:
        return EffectSpec(variable=None)
    level: str | None = None
    m = re.match(r"^(?P<var>.+)\[(?P<level>[^\]]+)\]$", effect)
    name = effect
    if m and m.group("var") in terms.variables:
        name, level = m.group("var"), m.group("level")
    if name not in terms.variables:
        # an lme4 coefficient name: variable + level (used_hybrid_seedsTRUE)
        for known in terms.variables:
            if effect.startswith(known) and len(effect) > len(known):
                name, level = known, effect[len(known):]
                break
    grouping = {f for b in terms.groups for f in b.factor}
    response = {terms.response.variable.name}
    if terms.response.failures is not None:
        response.add(terms.response.failures.name)
    candidates = [v for v in terms.variables if v not in grouping | response]
    if name not in terms.variables or name in grouping | response:
        raise CompareError(f"effect '{effect}' is not a predictor of '{terms.formula}'"
                           f"{did_you_mean(effect, candidates)}; predictors: "
                           f"{', '.join(candidates) or '(none)'} (or '1' for the intercept)")
    var = terms.variables[name]
    if len(var.source_columns) != 1:
        raise CompareError(f"effect '{name}' is computed from {len(var.source_columns)} columns "
                           f"{list(var.source_columns)}; pick a variable of one column")
    column = var.source_columns[0]
    col = data[column]
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if numeric and not var.categorical:
        if level is not None:
            raise CompareError(f"effect '{effect}': '{name}' is numeric and has no levels")
        mean = float(np.mean(col))
        return EffectSpec(variable=name, column=column, kind="numeric", off=mean, on=mean + 1.0,
                          coef_names=(name,))
    levels = _levels(col)
    if len(levels) < 2:
        raise CompareError(f"effect '{name}' has a single value in the data ({levels}); "
                           "nothing to contrast")
    if level is None:
        if len(levels) != 2:
            shown = ", ".join(f"'{name}[{_lme4_level(lv)}]'" for lv in levels[1:4])
            raise CompareError(f"effect '{name}' has {len(levels)} levels; name one to contrast "
                               f"with the reference '{_show(levels[0])}', e.g. {shown}")
        off, on = levels
    else:
        match = [lv for lv in levels if level in (str(lv), _lme4_level(lv))]
        if not match:
            raise CompareError(f"effect '{effect}': '{name}' has no level '{level}'; levels: "
                               f"{', '.join(_show(lv) for lv in levels)}")
        on = match[0]
        off = levels[0] if on != levels[0] else levels[1]
    kind = "binary" if len(levels) == 2 else "categorical"
    return EffectSpec(variable=name, column=column, kind=kind, off=off, on=on,
                      coef_names=(f"{name}{_lme4_level(on)}", name))


# -- reference rows ------------------------------------------------------------------------

def _fill(value: Any, like: pd.Series, n: int) -> pd.Series:
    if pd.api.types.is_integer_dtype(like) and not pd.api.types.is_bool_dtype(like) \
            and not float(value).is_integer():
        return pd.Series(np.full(n, float(value)))
    try:
        return pd.Series([value] * n, dtype=like.dtype)
    except (TypeError, ValueError):
        return pd.Series([value] * n)


def reference_frames(data: pd.DataFrame, labels: np.ndarray, levels: list[str],
                     used_columns: list[str], group_columns: tuple[str, ...],
                     spec: EffectSpec) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One row per group level (in ``levels`` order) with the effect off, and with it on."""
    first = pd.Series(np.arange(len(labels))).groupby(labels).first()
    missing = [lv for lv in levels if lv not in first.index]
    if missing:
        raise CompareError(f"internal: no rows for group levels {missing[:5]}")
    base = data.iloc[first.loc[levels].to_numpy()].reset_index(drop=True)
    n = len(base)
    for c in used_columns:
        if c in group_columns or c not in data.columns:
            continue
        col = data[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            value: Any = float(col.mean())
        else:
            value = col.mode(dropna=True).iloc[0]
        base[c] = _fill(value, col, n)
    if spec.variable is None or spec.column is None:
        return base, None
    off, on = base.copy(), base.copy()
    off[spec.column] = _fill(spec.off, data[spec.column], n)
    on[spec.column] = _fill(spec.on, data[spec.column], n)
    return off, on


# -- draws per group -----------------------------------------------------------------------

def _eta(fit: Fit, frame: pd.DataFrame, re_form: Any = None) -> np.ndarray:
    from hiermodel.predict import linear_predictor

    return linear_predictor(fit, frame, re_form=re_form)


@dataclass
class GroupRows:
    """The data's distinct predictor combinations ("cells") and how they make up each group:
    ``frame`` (one row per cell), ``count`` (rows per cell) and ``group`` (group index per
    cell), so that a group's mean prediction is a count-weighted mean over its cells."""

    frame: pd.DataFrame
    count: np.ndarray
    group: np.ndarray
    n_groups: int

    def weights(self) -> Any:
        """Sparse (cells, groups) matrix: count / rows of the group."""
        from scipy import sparse

        n = np.bincount(self.group, weights=self.count, minlength=self.n_groups)
        w = self.count / n[self.group]
        return sparse.csr_matrix((w, (np.arange(len(w)), self.group)),
                                 shape=(len(w), self.n_groups))


def group_rows(data: pd.DataFrame, labels: np.ndarray, levels: list[str],
               used_columns: list[str]) -> GroupRows:
    """Distinct combinations of the predictor columns (``used_columns``) within each group."""
    cols = [c for c in used_columns if c in data.columns]
    lookup = {lv: i for i, lv in enumerate(levels)}
    gidx = pd.Series(np.asarray(labels).astype(str)).map(lookup).to_numpy()
    keys = data[cols].reset_index(drop=True).copy() if cols else pd.DataFrame(index=data.index)
    keys["__group__"] = gidx
    codes, _ = pd.MultiIndex.from_frame(keys).factorize() if len(keys.columns) > 1 else \
        pd.factorize(keys["__group__"])
    codes = np.asarray(codes)
    n_cells = int(codes.max()) + 1 if codes.size else 0
    first = np.full(n_cells, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    count = np.bincount(codes, minlength=n_cells).astype(float)
    frame = data.iloc[first].reset_index(drop=True)
    return GroupRows(frame=frame, count=count, group=gidx[first].astype(int),
                     n_groups=len(levels))


def _mean_eta(fit: Fit, rows: GroupRows, chunk: int, re_form: Any = None) -> np.ndarray:
    """Draws (draws, groups) of each group's mean linear predictor over its own rows."""
    w = rows.weights()
    out: np.ndarray | None = None
    for start in range(0, len(rows.frame), chunk):
        eta = _eta(fit, rows.frame.iloc[start:start + chunk], re_form=re_form)
        part = np.asarray((w[start:start + chunk].T @ eta.T).T)
        out = part if out is None else out + part
    assert out is not None
    return out


def group_draws(fit: Fit, kind: str, off: pd.DataFrame, on: pd.DataFrame | None,
                weights: np.ndarray | None = None, rows: GroupRows | None = None,
                chunk: int = 4000) -> dict[str, np.ndarray]:
    """Posterior draws per group (draws, groups) and of the population value (draws,).

    Keys: ``intercept``, ``effect`` (when ``on`` is given), ``mean`` (with ``rows``: the
    group's mean linear predictor over its own rows) and ``pop_<key>``. For an unpooled variant
    the population value is the mean over groups weighted by ``weights`` (rows per group), so
    prior-dominated tiny groups barely count; for the others it is the population-level value
    (for ``mean``: the row-weighted mean of the population-level predictions). For the others
    ``popg_<key>`` (draws, groups) is also given: the population-level value *for each group*
    (its own rows or reference row, group-level effects left out) — what a hierarchical model
    shrinks each group toward.
    """
    out: dict[str, np.ndarray] = {}
    unpooled = kind in ("unpooled", "mixed")
    w = None if weights is None else np.asarray(weights, dtype=float)
    if rows is not None:
        out["mean"] = _mean_eta(fit, rows, chunk)
        if unpooled:
            ww = np.ones(rows.n_groups) if w is None else w
            out["pop_mean"] = out["mean"] @ (ww / ww.sum())
        else:
            n = np.bincount(rows.group, weights=rows.count, minlength=rows.n_groups)
            out["popg_mean"] = _mean_eta(fit, rows, chunk, re_form="~0")
            out["pop_mean"] = out["popg_mean"] @ (n / n.sum())
    eta_off = _eta(fit, off)
    out["intercept"] = eta_off
    if on is not None:
        out["effect"] = _eta(fit, on) - eta_off
    if unpooled:
        ww = np.ones(eta_off.shape[1]) if w is None else w
        ww = ww / ww.sum()
        out["pop_intercept"] = eta_off @ ww
        if on is not None:
            out["pop_effect"] = out["effect"] @ ww
    else:
        p_off = _eta(fit, off, re_form="~0")
        out["popg_intercept"] = p_off
        out["pop_intercept"] = p_off[:, 0]
        if on is not None:
            out["popg_effect"] = _eta(fit, on, re_form="~0") - p_off
            out["pop_effect"] = out["popg_effect"][:, 0]
    return out


def summarize_draws(draws: np.ndarray, prob: float) -> dict[str, np.ndarray]:
    """mean, median, sd and the equal-tailed ``prob`` interval along axis 0."""
    a = (1 - prob) / 2
    lo, hi = np.quantile(draws, [a, 1 - a], axis=0)
    return {"mean": draws.mean(0), "median": np.median(draws, 0),
            "sd": draws.std(0, ddof=1) if draws.shape[0] > 1 else np.zeros(draws.shape[1:]),
            "low": lo, "high": hi}


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


# -- flags ---------------------------------------------------------------------------------

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


# -- variance partition --------------------------------------------------------------------

def _residual_variance(fit: Fit) -> tuple[np.ndarray | float, str]:
    fam = fit.model.family
    name, link = fam.name, fam.link
    if name in ("gaussian", "t"):
        sigma = fit.draws("sigma").reshape(-1)
        note = "sigma^2" + ("" if link == "identity" else f" (on the {link} scale: approximate)")
        return sigma**2, note
    if name in ("bernoulli", "binomial", "beta") and link in ("logit", "probit", "cloglog"):
        value = {"logit": math.pi**2 / 3, "probit": 1.0, "cloglog": math.pi**2 / 6}[link]
        text = {"logit": "pi^2/3", "probit": "1", "cloglog": "pi^2/6"}[link]
        extra = " (latent-variable scale; beta: approximate)" if name == "beta" else \
            " (latent-variable scale)"
        return value, text + extra
    if name in ("poisson", "negativebinomial") and link == "log":
        lam = float(np.mean(fit.model.design.y))
        lam = max(lam, 1e-8)
        if name == "poisson":
            return math.log1p(1 / lam), "log(1 + 1/mean(y)) (lognormal approximation)"
        alpha = fit.draws("alpha").reshape(-1)
        return np.log1p(1 / lam + 1 / alpha), "log(1 + 1/mean(y) + 1/alpha) (approximate)"
    if name == "gamma" and link == "log":
        from scipy.special import polygamma

        alpha = fit.draws("alpha").reshape(-1)
        return polygamma(1, alpha), "trigamma(alpha) (log scale)"
    return float("nan"), f"no latent residual variance for {name} ({link})"


def variance_partition(fit: Fit, prob: float = 0.95) -> pd.DataFrame:
    """Variance components of a hierarchical fit and their share (ICC) with intervals.

    Each grouping factor's intercept variance sd^2 is divided by the sum of all intercept
    variances plus the residual variance (gaussian: sigma^2; logit: pi^2/3; probit: 1;
    cloglog: pi^2/6; poisson: log(1 + 1/mean(y))). Varying slopes are listed with their
    variance (per unit of the predictor) but not in the denominator: their contribution depends
    on the predictor's value.
    """
    info = fit.model.info
    comps: list[tuple[str, str, np.ndarray]] = []
    slopes: list[tuple[str, str, np.ndarray]] = []
    for group, terms in info.group_terms.items():
        sd = fit.draws(f"sd_{safe(group)}")
        sd = sd.reshape(sd.shape[0] * sd.shape[1], -1)
        for j, term in enumerate(terms):
            (comps if term == "(Intercept)" else slopes).append((group, term, sd[:, j] ** 2))
    resid, note = _residual_variance(fit)
    s = comps[0][2].shape[0] if comps else (slopes[0][2].shape[0] if slopes else 1)
    resid_draws = np.broadcast_to(np.asarray(resid, dtype=float), (s,))
    total = resid_draws + sum((c[2] for c in comps), np.zeros(s))
    rows = []
    a = (1 - prob) / 2

    def stats(x: np.ndarray) -> tuple[float, float, float]:
        if not np.all(np.isfinite(x)):
            return float("nan"), float("nan"), float("nan")
        lo, hi = np.quantile(x, [a, 1 - a])
        return float(np.mean(x)), float(lo), float(hi)

    for group, term, var in comps:
        v, vl, vh = stats(var)
        share = var / total
        sm, sl, sh = stats(share)
        rows.append({"component": group, "term": term, "variance": v, "variance_low": vl,
                     "variance_high": vh, "share": sm, "share_low": sl, "share_high": sh,
                     "note": "ICC"})
    v, vl, vh = stats(resid_draws)
    sm, sl, sh = stats(resid_draws / total)
    rows.append({"component": "Residual", "term": "", "variance": v, "variance_low": vl,
                 "variance_high": vh, "share": sm, "share_low": sl, "share_high": sh,
                 "note": note})
    for group, term, var in slopes:
        v, vl, vh = stats(var)
        rows.append({"component": group, "term": term, "variance": v, "variance_low": vl,
                     "variance_high": vh, "share": np.nan, "share_low": np.nan,
                     "share_high": np.nan, "note": "slope variance (per unit^2; not in the "
                     "ICC denominator)"})
    if len(comps) > 1:
        allg = sum((c[2] for c in comps), np.zeros(s))
        sm, sl, sh = stats(allg / total)
        v, vl, vh = stats(allg)
        rows.append({"component": "all groups", "term": "(Intercept)", "variance": v,
                     "variance_low": vl, "variance_high": vh, "share": sm, "share_low": sl,
                     "share_high": sh, "note": "ICC of all grouping factors together"})
    return pd.DataFrame(rows)


def is_log_response(terms: ModelTerms) -> bool:
    """True for a response written ``log(...)`` or a column named ``log_...``."""
    name = terms.response.variable.name.replace(" ", "")
    return name.startswith("log(") or name.startswith("log_")


def original_scale(draws: dict[str, dict[str, np.ndarray]], prob: float = 0.95) -> pd.DataFrame:
    """Population effects as multiplicative effects exp(effect) on the original scale."""
    rows = []
    a = (1 - prob) / 2
    for name, d in draws.items():
        if "pop_effect" not in d:
            continue
        e = d["pop_effect"]
        lo, hi = np.quantile(e, [a, 1 - a])
        med = float(np.median(e))
        rows.append({"variant": name, "effect": med, "effect_low": float(lo),
                     "effect_high": float(hi), "ratio": math.exp(med),
                     "ratio_low": math.exp(lo), "ratio_high": math.exp(hi),
                     "percent_change": 100 * (math.exp(med) - 1)})
    return pd.DataFrame(rows)


__all__ = [
    "EXTREME_SD",
    "FLAGS",
    "MIN_CELL",
    "SMALL_N",
    "WIDE_FACTOR",
    "EffectSpec",
    "GroupRows",
    "GroupTable",
    "cell_counts",
    "compute_flags",
    "default_effect",
    "group_draws",
    "group_rows",
    "group_table",
    "is_log_response",
    "original_scale",
    "pooling_factor",
    "pooling_table",
    "reference_frames",
    "resolve_effect",
    "summarize_draws",
    "variance_partition",
]
