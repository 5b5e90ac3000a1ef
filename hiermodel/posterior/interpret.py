"""Predictions, comparisons and slopes (marginaleffects / ``bambi.interpret`` semantics).

Every quantity is computed per posterior draw from
:func:`~hiermodel.posterior.prediction.predict` on constructed data, so ``re_form``, unseen
group levels (``allow_new_levels``, ``new_levels``) and stateful transforms behave exactly as
in ``fit.predict``. ``kind="response"`` is the expected value of the response (``predict``'s
``kind="mean"``: marginaleffects' ``type="response"``, brms's ``posterior_epred``);
``kind="link"`` the linear predictor.

Two ways to fix the covariates the question does not name:

- ``average=False`` (default; bambi, ``marginaleffects::datagrid``): a grid of the
  ``conditional`` values, every other predictor at its reference value — the mean of a
  numeric column, the most frequent value (mode) of a categorical one (grouping factors too;
  ``re_form="~0"`` removes their effects). ``by`` columns join the grid at their default
  values.
- ``average=True`` (marginaleffects' ``avg_predictions`` / ``avg_comparisons`` /
  ``avg_slopes``): for each combination of ``conditional`` values, those columns are set in
  *every* training row (a counterfactual copy of the data), the quantity is computed per row
  and averaged over the rows — per draw — within each level of the observed ``by`` columns.

Default values of a ``conditional`` variable named without values: every level of a
categorical column; for the first numeric one 50 points over its observed range, for later
numeric ones mean - sd, mean, mean + sd (brms's moderator values).

``comparisons`` contrasts one variable: ``{"x": [a, b]}`` sets it to ``a`` and to ``b`` (more
values: each against the first); a categorical name alone compares every level with the
first; a numeric name alone is a centred one-unit change (``x - 0.5`` vs ``x + 0.5`` around
each row's value, marginaleffects' default). ``comparison="difference"`` is ``hi - lo``,
``"ratio"`` is ``hi / lo``; averaging takes the mean of the row-level comparisons
(marginaleffects' ``"difference"`` / ``"ratio"``). ``slopes`` is the centred finite
difference ``(f(x + eps/2) - f(x - eps/2)) / eps`` with ``eps = 1e-4 x`` the observed range
of ``x`` (marginaleffects' default step) unless given.

Estimates are posterior means; ``lower`` / ``upper`` the equal-tailed ``prob`` interval of the
draws. Results are :class:`Effects`: ``.frame`` (grid columns, ``estimate``, ``lower``,
``upper``), ``.draws`` (draws x rows) and ``.plot()`` / ``.save()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError, did_you_mean
from hiermodel.posterior.drawn import Drawn

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

KINDS = ("response", "link")
COMPARISONS = ("difference", "ratio")
N_CURVE = 50
EPS_SCALE = 1e-4


@dataclass(repr=False, eq=False)
class Effects(Drawn):
    """Predictions, comparisons or slopes: the table, the draws behind it and a figure."""

    what: str  # "predictions", "comparisons" or "slopes"
    frame: pd.DataFrame
    draws: np.ndarray  # (draws, rows of frame)
    grid: list[str]  # the frame's grid columns, in plotting order (x first)
    kind: str
    note: str = ""

    def draw(self) -> Any:
        from hiermodel.posterior.interpret_plots import draw_effects

        return draw_effects(self)

    def __repr__(self) -> str:
        head = f"<{self.what} ({self.kind} scale){': ' + self.note if self.note else ''}>"
        return f"{head}\n{self.frame.to_string(index=False)}"


@dataclass(repr=False, eq=False)
class ConditionalEffects(Drawn):
    """brms's ``conditional_effects``: one :class:`Effects` (and figure panel) per
    population-level variable."""

    effects: dict[str, Effects]

    def draw(self) -> Any:
        from hiermodel.posterior.interpret_plots import draw_panels

        return draw_panels(list(self.effects.items()))

    def __repr__(self) -> str:
        return "\n\n".join(f"{k}:\n{v!r}" for k, v in self.effects.items())


def training_data(fit: Fit) -> pd.DataFrame:
    """The training rows of the data the model was built from (after ``dropna``)."""
    data = getattr(fit.model, "call", {}).get("data")
    if not isinstance(data, pd.DataFrame):
        raise DataError("this fit does not hold the data it was built from; predictions, "
                        "comparisons and slopes need it (refit with hm.fit)")
    return data.loc[fit.model.prepared.frame.index]


def predictor_columns(fit: Fit) -> list[str]:
    """Data columns the model's predictors (every formula, grouping factors, offsets) read."""
    terms = fit.model.terms
    skip = {terms.response.variable.name}
    if terms.response.failures is not None:
        skip.add(terms.response.failures.name)
    if terms.response.weights is not None:
        skip.add(terms.response.weights.name)
    every = [terms, *(c.terms for c in fit.model.design.components.values())]
    out: list[str] = []
    for t in every:
        for name, var in t.variables.items():
            if name in skip:
                continue
            out.extend(c for c in var.source_columns if c not in out)
    return out


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
                and not isinstance(series.dtype, pd.CategoricalDtype))


def _levels(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if (series == c).any()]
    return sorted(pd.unique(series), key=str)


def reference_values(data: pd.DataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """Mean of each numeric column, mode (most frequent value; first in sort order on ties) of
    any other."""
    out: dict[str, Any] = {}
    for c in columns:
        s = data[c]
        if _is_numeric(s):
            out[c] = float(s.mean())
        else:
            counts = s.astype(str).value_counts()
            top = sorted(counts.index[counts == counts.max()])[0]
            out[c] = s[s.astype(str) == top].iloc[0]
    return out


def default_values(series: pd.Series, first_numeric: bool) -> list[Any]:
    """Values a variable takes when named without values (see the module docstring)."""
    if not _is_numeric(series):
        return _levels(series)
    if first_numeric:
        return list(np.linspace(float(series.min()), float(series.max()), N_CURVE))
    m, s = float(series.mean()), float(series.std())
    return [m - s, m, m + s]


def _names(arg: Any, what: str) -> list[str]:
    if arg is None:
        return []
    if isinstance(arg, str):
        return [arg]
    if isinstance(arg, Mapping):
        return [str(k) for k in arg]
    if isinstance(arg, Sequence):
        return [str(a) for a in arg]
    raise DataError(f"{what} must be a column name, a list of names or a dict of values "
                    f"(got {type(arg).__name__})")


def _check_columns(names: Sequence[str], data: pd.DataFrame, allowed: Sequence[str],
                   what: str) -> None:
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise DataError(f"{what}: '{repeated[0]}' is named twice (conditional and by take "
                        "different variables)")
    for n in names:
        if n not in data.columns:
            raise DataError(f"{what}: '{n}' is not a column of the model's data"
                            f"{did_you_mean(n, list(data.columns))}")
        if n not in allowed:
            raise DataError(f"{what}: '{n}' is not a predictor of this model "
                            f"(predictors: {', '.join(allowed)})")


def value_grid(data: pd.DataFrame, conditional: Any, extra: Sequence[str] = ()
               ) -> list[dict[str, Any]]:
    """The product of the values of ``conditional`` (and ``extra`` names at their default
    values), one dict per combination; one empty combination when nothing is named."""
    given = dict(conditional) if isinstance(conditional, Mapping) else {}
    names = _names(conditional, "conditional") + [e for e in extra if e not in given]
    values: dict[str, list[Any]] = {}
    numeric_seen = False
    for n in dict.fromkeys(names):
        v = given.get(n)
        if v is None:
            first = not numeric_seen
            v = default_values(data[n], first)
        elif isinstance(v, (str, bytes)) or np.ndim(v) == 0:
            v = [v]
        values[n] = list(v)
        numeric_seen = numeric_seen or _is_numeric(data[n])
        if not values[n]:
            raise DataError(f"conditional: no values given for '{n}'")
    return [dict(zip(values, combo, strict=True))
            for combo in itertools.product(*values.values())]


def _set(frame: pd.DataFrame, column: str, value: Any) -> None:
    """Set ``column`` of every row to ``value`` (a scalar or one value per row); values are
    checked against the training levels by ``predict``, so a new group level is allowed
    exactly when ``allow_new_levels`` is."""
    frame[column] = value.to_numpy() if isinstance(value, pd.Series) else value


def _predict(fit: Fit, newdata: pd.DataFrame, opts: Mapping[str, Any]) -> np.ndarray:
    from hiermodel.posterior.prediction import predict

    kind = "link" if opts["kind"] == "link" else "mean"
    return np.asarray(predict(fit, newdata.reset_index(drop=True), re_form=opts["re_form"],
                              allow_new_levels=opts["allow_new_levels"], kind=kind,
                              summary=False, seed=opts["seed"],
                              new_levels=opts["new_levels"]), dtype=float)


@dataclass(frozen=True)
class Contrast:
    """One comparison of a variable: its two counterfactual values — fixed values, or shifts
    added to each row's own value (``shift=True``)."""

    lo: Any
    hi: Any
    shift: bool = False
    name: str = ""  # the label of a shift ("+1", "dY/dX")

    def label(self, comparison: str = "difference") -> str:
        """``"+1"``, ``"dY/dX"``, or ``"hi - lo"`` / ``"hi / lo"`` for fixed values."""
        if self.shift:
            return self.name
        return f"{self.hi} {'/' if comparison == 'ratio' else '-'} {self.lo}"

    def values(self, x: pd.Series) -> tuple[Any, Any]:
        """(low, high) values of the variable for rows whose value is ``x``."""
        return (x + self.lo, x + self.hi) if self.shift else (self.lo, self.hi)


def contrasts(data: pd.DataFrame, contrast: Any, eps: float | None = None,
              slope: bool = False) -> tuple[str, list[Contrast], float]:
    """(variable, its contrasts, the finite-difference step or 1.0)."""
    if slope:
        var = str(contrast)
        if var not in data.columns:
            raise DataError(f"slopes: '{var}' is not a column of the model's data"
                            f"{did_you_mean(var, list(data.columns))}")
        if not _is_numeric(data[var]):
            raise DataError(f"slopes: '{var}' is not numeric; use fit.comparisons(contrast="
                            f"'{var}') for a categorical variable")
        span = float(data[var].max() - data[var].min()) or 1.0
        step = float(eps) if eps is not None else EPS_SCALE * span
        if step <= 0:
            raise DataError(f"slopes: eps must be > 0 (got {eps})")
        return var, [Contrast(-step / 2, step / 2, shift=True, name="dY/dX")], step
    if isinstance(contrast, Mapping):
        if len(contrast) != 1:
            raise DataError("contrast: give one variable, e.g. {'FoodTreatment': ['Deprived', "
                            "'Satiated']}")
        var, values = next(iter(contrast.items()))
        var = str(var)
    else:
        var, values = str(contrast), None
    if var not in data.columns:
        raise DataError(f"contrast: '{var}' is not a column of the model's data"
                        f"{did_you_mean(var, list(data.columns))}")
    if values is None and _is_numeric(data[var]):
        return var, [Contrast(-0.5, 0.5, shift=True, name="+1")], 1.0
    values = _levels(data[var]) if values is None else list(values)
    if len(values) < 2:
        raise DataError(f"contrast: '{var}' needs at least two values to compare (got "
                        f"{values})")
    base = values[0]
    out = [Contrast(base, v) for v in values[1:]]
    return var, out, 1.0


def _summarise(draws: np.ndarray, prob: float) -> pd.DataFrame:
    if not 0 < prob < 1:
        raise DataError(f"prob must be in (0, 1) (got {prob})")
    a = (1 - prob) / 2
    return pd.DataFrame({"estimate": draws.mean(0), "lower": np.quantile(draws, a, axis=0),
                         "upper": np.quantile(draws, 1 - a, axis=0)})


def _options(kind: str, re_form: Any, allow_new_levels: bool, new_levels: str,
             seed: int | None) -> dict[str, Any]:
    if kind not in KINDS:
        raise DataError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    return {"kind": kind, "re_form": re_form, "allow_new_levels": allow_new_levels,
            "new_levels": new_levels, "seed": seed}


def _base_rows(fit: Fit, data: pd.DataFrame, combo: Mapping[str, Any],
               average: bool) -> pd.DataFrame:
    """Training rows with ``combo`` set (average) or one reference row with it set."""
    columns = predictor_columns(fit)
    if average:
        rows = data[columns].copy()
    else:
        rows = pd.DataFrame(index=[0])
        for c, v in reference_values(data, columns).items():
            _set(rows, c, v)
    for c, v in combo.items():
        _set(rows, c, v)
    return rows


def _by_groups(data: pd.DataFrame, by: Sequence[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    if not by:
        return [((), np.arange(len(data)))]
    keys = data[list(by)].astype(str).agg("\x1f".join, axis=1).to_numpy()
    out = []
    for key in pd.unique(keys):
        idx = np.flatnonzero(keys == key)
        out.append((tuple(data[b].iloc[idx[0]] for b in by), idx))
    return out


def _batches(fit: Fit, data: pd.DataFrame, grid: list[dict[str, Any]], average: bool,
             by: Sequence[str]) -> Iterator[tuple[pd.DataFrame, list[tuple[dict[str, Any],
                                                                       np.ndarray]]]]:
    """Rows to predict in one call and the (label, row positions) averaged per result row:
    per grid combination the whole counterfactual data, split by the observed ``by`` levels
    (average), or one batch with a reference row per combination (so an unseen group level
    gets the same draws in every row)."""
    if average:
        for combo in grid:
            yield _base_rows(fit, data, combo, True), [
                ({**combo, **dict(zip(by, key, strict=True))}, idx)
                for key, idx in _by_groups(data, by)]
    else:
        base = pd.concat([_base_rows(fit, data, c, False) for c in grid], ignore_index=True)
        yield base, [(c, np.array([i])) for i, c in enumerate(grid)]


def predictions(fit: Fit, conditional: Any = None, by: Any = None, average: bool = False,
                re_form: Any = None, kind: str = "response", prob: float = 0.95,
                allow_new_levels: bool = False, new_levels: str = "sample",
                seed: int | None = None) -> Effects:
    """Expected responses (or linear predictors) over a grid; see the module docstring."""
    opts = _options(kind, re_form, allow_new_levels, new_levels, seed)
    data = training_data(fit)
    allowed = predictor_columns(fit)
    cond_names, by_names = _names(conditional, "conditional"), _names(by, "by")
    _check_columns(cond_names + by_names, data, allowed, "predictions")
    grid = value_grid(data, conditional, () if average else by_names)
    labels, parts = [], []
    for base, groups in _batches(fit, data, grid, average, by_names):
        d = _predict(fit, base, opts)
        for label, idx in groups:
            labels.append(label)
            parts.append(d[:, idx].mean(1))
    names = list(dict.fromkeys(cond_names + by_names))
    return _effects("predictions", labels, parts, names, prob, kind, average)


def comparisons(fit: Fit, contrast: Any, conditional: Any = None, by: Any = None,
                comparison: str = "difference", average: bool = False, re_form: Any = None,
                kind: str = "response", prob: float = 0.95, allow_new_levels: bool = False,
                new_levels: str = "sample", seed: int | None = None,
                eps: float | None = None, slope: bool = False) -> Effects:
    """Contrasts of one variable (``slope=True``: its finite-difference slope); see the
    module docstring."""
    if comparison not in COMPARISONS:
        raise DataError(f"comparison must be one of {', '.join(COMPARISONS)} "
                        f"(got {comparison!r})")
    opts = _options(kind, re_form, allow_new_levels, new_levels, seed)
    data = training_data(fit)
    allowed = predictor_columns(fit)
    var, pairs, step = contrasts(data, contrast, eps, slope)
    cond_names, by_names = _names(conditional, "conditional"), _names(by, "by")
    if var in cond_names + by_names and not (slope or pairs[0].shift):
        raise DataError(f"comparisons: '{var}' is the contrast; it cannot also be in "
                        "conditional or by")
    _check_columns(list(dict.fromkeys([var, *cond_names])) + by_names, data, allowed,
                   "slopes" if slope else "comparisons")
    grid = value_grid(data, conditional, () if average else by_names)
    labels, parts = [], []
    for base, groups in _batches(fit, data, grid, average, by_names):
        n = len(base)
        for pair in pairs:
            lo, hi = base.copy(), base.copy()
            v_lo, v_hi = pair.values(base[var])
            _set(lo, var, v_lo)
            _set(hi, var, v_hi)
            d = _predict(fit, pd.concat([lo, hi], ignore_index=True), opts)
            d_lo, d_hi = d[:, :n], d[:, n:]
            unit = (d_hi / d_lo) if comparison == "ratio" and not slope else (d_hi - d_lo) / step
            for label, idx in groups:
                labels.append({"term": var, "contrast": pair.label(
                    "difference" if slope else comparison), **label})
                parts.append(unit[:, idx].mean(1))
    names = ["term", "contrast", *dict.fromkeys(cond_names + by_names)]
    what = "slopes" if slope else "comparisons"
    note = (f"eps = {step:.4g}" if slope else comparison) + (
        ", averaged over the data" if average else "")
    return _effects(what, labels, parts, names, prob, kind, average, note)


def _effects(what: str, labels: list[dict[str, Any]], parts: list[np.ndarray],
             names: list[str], prob: float, kind: str, average: bool,
             note: str | None = None) -> Effects:
    draws = np.stack(parts, axis=1)
    frame = pd.concat([pd.DataFrame(labels, columns=names).reset_index(drop=True),
                       _summarise(draws, prob)], axis=1)
    grid = [n for n in names if n not in ("term", "contrast")]
    if "contrast" in frame and frame["contrast"].nunique() > 1:
        grid.append("contrast")
    if note is None:
        note = "averaged over the data" if average else "at reference values"
    return Effects(what, frame, draws, grid, kind, note)


def main_effects(fit: Fit) -> list[str]:
    """Data columns of the population-level terms of the main formula, in formula order."""
    terms = fit.model.terms
    out: list[str] = []
    for term in terms.fixed:
        for name in term.variables:
            var = terms.variables.get(name)
            if var is not None:
                out.extend(c for c in var.source_columns if c not in out)
    return out


def conditional_effects(fit: Fit, effects: Sequence[str] | None = None, re_form: Any = "~0",
                        kind: str = "response", prob: float = 0.95,
                        seed: int | None = None) -> ConditionalEffects:
    """Predictions over each main effect with every other predictor at its reference value
    (brms's ``conditional_effects``, whose default ``re_formula = NA`` is ``re_form="~0"``):
    one :class:`Effects` per variable of ``effects`` (default :func:`main_effects`)."""
    names = list(effects) if effects is not None else main_effects(fit)
    if not names:
        raise DataError("the model has no population-level predictors to show")
    return ConditionalEffects({n: predictions(fit, conditional=[n], re_form=re_form, kind=kind,
                                              prob=prob, seed=seed) for n in names})


__all__ = ["COMPARISONS", "EPS_SCALE", "KINDS", "N_CURVE", "ConditionalEffects", "Contrast",
           "Effects", "comparisons", "conditional_effects", "contrasts",
           "default_values", "main_effects", "predictions", "predictor_columns",
           "reference_values", "training_data", "value_grid"]
