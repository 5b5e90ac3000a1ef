"""Per-group estimates under each variant: the effect, the reference rows, the draws per group.

Group estimates are computed the same way for every variant, from posterior draws of the
linear predictor (:func:`hiermodel.posterior.prediction.linear_predictor`) at one *reference
row* per group:

- ``intercept``: the linear predictor of a typical unit of the group with the effect "off"
  (numeric covariates at their mean, categorical/logical ones at their most frequent value,
  the effect variable at its reference level / its mean);
- ``effect``: the linear predictor with the effect "on" minus "off" (for a logical or
  two-level effect: TRUE vs FALSE / second vs first level; for ``"var[level]"``: that level vs
  the first; for a numeric effect: one unit above its mean vs its mean).

So a pooled model gives the same value for every group, a hierarchical one the partially pooled
group value and an unpooled one the group's own value — whatever the formulas look like.

This module resolves ``effect=`` (:class:`EffectSpec`), builds the reference rows, computes
the posterior draws per group (:func:`group_draws`) and the population effect on the original
scale of a log response (:func:`original_scale`). The per-group table and the pooling factors
are in :mod:`hiermodel.comparison.pooling`, the flags in :mod:`hiermodel.comparison.flags`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import CompareError, InternalError, did_you_mean

if TYPE_CHECKING:
    from hiermodel.formula.terms import ModelTerms
    from hiermodel.posterior.fitted import Fit

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
        raise InternalError(f"no rows for group levels {missing[:5]}")
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
    from hiermodel.posterior.prediction import linear_predictor

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


# -- effect on the original scale ---------------------------------------------------------

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
    "INTERCEPT_NAMES",
    "EffectSpec",
    "GroupRows",
    "default_effect",
    "group_draws",
    "group_rows",
    "is_log_response",
    "original_scale",
    "reference_frames",
    "resolve_effect",
    "summarize_draws",
]
