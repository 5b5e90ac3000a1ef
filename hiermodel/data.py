"""Data stage: materialise the formula's variables on a DataFrame and check them.

Turns user data + :class:`~hiermodel.formula.terms.ModelTerms` into a frame whose columns
are the safe names the Bambi formula uses, with every user error (missing values, invalid
transforms, one-level grouping factors, a response the family cannot model) reported as a
:class:`~hiermodel.errors.DataError` / :class:`~hiermodel.errors.FamilyError` that says how
to fix it. No PyMC here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError, FamilyError
from hiermodel.families import Family, check_response
from hiermodel.formula import evaluate_columns, evaluate_variable
from hiermodel.formula.terms import ModelTerms, Variable

log = logging.getLogger("hiermodel")


@dataclass
class PreparedData:
    """Model-ready data: safe columns only, rows with missing values handled."""

    frame: pd.DataFrame
    terms: ModelTerms
    family: Family
    # (failure, success) for a two-level response; the ordered levels of an ordinal response
    response_levels: tuple[str, ...] | None = None
    n_input_rows: int = 0
    n_dropped: int = 0
    # stateful transforms for predict: scale()'s mean/SD, poly()/bs()/ns()'s fitted basis
    state: dict[str, Any] = field(default_factory=dict)
    # observation weights (``y | weights(w)``): row i's log-likelihood times weights[i]; None
    # for an unweighted model
    weights: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.frame)


def _grouping_names(terms: ModelTerms) -> set[str]:
    return {f for block in terms.groups for f in block.factor}


def _missing_report(data: pd.DataFrame, columns: list[str]) -> tuple[pd.Series, dict[str, int]]:
    used = [c for c in columns if c in data.columns]
    na = data[used].isna()
    counts = {c: int(na[c].sum()) for c in used if na[c].any()}
    return na.any(axis=1), counts


def _plain(value: Any) -> str:
    """``repr`` of a cell without numpy's type wrapper (``0.0``, not ``np.float64(0.0)``)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _check_finite(var: Variable, values: pd.Series, data: pd.DataFrame) -> None:
    if var.categorical or not pd.api.types.is_numeric_dtype(values):
        return
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    first = positions[0]
    shown = ", ".join(f"{c} = {_plain(data[c].iloc[first])}" for c in var.source_columns)
    hint = ""
    if var.name.startswith(("log(", "log2(", "log10(")):
        hint = "; log needs positive values: add a constant (e.g. log(x + 0.1)) or filter the rows"
    elif var.name.startswith("sqrt("):
        hint = "; sqrt needs non-negative values"
    raise DataError(
        f"'{var.name}' is not finite for {bad.sum()} of {len(arr)} rows "
        f"(first at row {_plain(data.index[first])}: {shown}){hint}"
    )


def _rows_text(data: pd.DataFrame, mask: np.ndarray, values: np.ndarray) -> str:
    shown = np.flatnonzero(mask)[:5]
    listing = ", ".join(f"{_plain(data.index[i])} ({_plain(values[i])})" for i in shown)
    return listing + (", ..." if mask.sum() > shown.size else "")


def check_weights(var: Variable, values: pd.Series, data: pd.DataFrame) -> np.ndarray:
    """Observation weights as floats: numeric, finite and >= 0, not all zero; otherwise a
    :class:`DataError` naming the rows (by index label, with their values)."""
    label = f"weights '{var.name}'"
    fix = "fix or drop those rows (a weight of 0 removes a row from the likelihood)"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"{label} must be numbers, but the column has dtype {values.dtype}; "
                        "convert it with pd.to_numeric or pass a numeric column")
    w = values.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(w)
    if bad.any():
        raise DataError(f"{label} are not finite in {int(bad.sum())} of {w.size} rows (row "
                        f"label (value): {_rows_text(data, bad, w)}); weights must be finite "
                        f"numbers >= 0: {fix}")
    negative = w < 0
    if negative.any():
        raise DataError(f"{label} are negative in {int(negative.sum())} of {w.size} rows (row "
                        f"label (value): {_rows_text(data, negative, w)}); weights must be "
                        f">= 0: {fix}")
    if not (w > 0).any():
        raise DataError(f"{label} are 0 in all {w.size} rows, so no row informs the model; "
                        "at least one row needs a positive weight")
    return w


def _encode_binary(
    values: pd.Series, label: str, family: Family
) -> tuple[pd.Series, tuple[str, str]]:
    """R's rule: the first level (categorical order, else sorted) is failure, the other success."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [lv for lv in values.cat.categories if (values == lv).any()]
    else:
        levels = sorted(pd.unique(values.dropna()).tolist(), key=lambda v: (str(type(v)), v))
    if len(levels) != 2:
        raise FamilyError(
            f"family '{family.name}' needs a response with exactly two levels, but '{label}' "
            f"has {len(levels)}: {[str(v) for v in levels][:6]}"
        )
    failure, success = levels
    coded = (values == success).astype(float)
    return coded, (str(failure), str(success))


def _encode_ordinal(values: pd.Series, label: str, family: Family
                    ) -> tuple[pd.Series, tuple[str, ...]]:
    """Code an ordinal response 1..K: an ordered Categorical in its category order (unused
    categories dropped, as clmm does), integers in numeric order."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        if not values.cat.ordered:
            raise FamilyError(
                f"family '{family.name}' needs an ordered response, but '{label}' is an "
                "unordered Categorical; make it ordered with "
                "pd.Categorical(values, categories=[...in order...], ordered=True)"
            )
        levels = [lv for lv in values.cat.categories if (values == lv).any()]
    elif pd.api.types.is_integer_dtype(values) or (
            pd.api.types.is_float_dtype(values) and bool(np.all(values == np.round(values)))):
        levels = sorted(pd.unique(values).tolist())
    else:
        raise FamilyError(
            f"family '{family.name}' needs an ordered response (an ordered pandas Categorical "
            f"or integer ratings), but '{label}' has dtype {values.dtype}; convert it with "
            "pd.Categorical(values, categories=[...in order...], ordered=True)"
        )
    if len(levels) < 2:
        raise FamilyError(
            f"family '{family.name}' needs a response with at least two observed levels, but "
            f"'{label}' has {len(levels)} ({[str(v) for v in levels]}); an ordinal model of "
            "one category has nothing to estimate"
        )
    position = {lv: i + 1 for i, lv in enumerate(levels)}
    coded = values.map(position).astype(float)
    names = tuple(str(int(lv)) if isinstance(lv, float) else str(lv) for lv in levels)
    return coded, names


def prepare_data(
    terms: ModelTerms, data: pd.DataFrame, family: Family, dropna: bool = False
) -> PreparedData:
    """Evaluate every variable of ``terms`` on ``data`` and validate the result."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("data has no rows")
    n_input = len(data)
    source_cols: list[str] = []
    for var in terms.variables.values():
        for c in var.source_columns:
            if c not in source_cols:
                source_cols.append(c)
    duplicated = sorted({str(c) for c in data.columns[data.columns.duplicated()]
                         if c in source_cols})
    if duplicated:
        raise DataError(f"the data have more than one column named "
                        f"{', '.join(repr(c) for c in duplicated)}, which the model uses; "
                        "rename or drop the copies (e.g. df.loc[:, ~df.columns.duplicated()])")
    row_has_na, na_counts = _missing_report(data, source_cols)
    n_dropped = 0
    if na_counts:
        n_rows = int(row_has_na.sum())
        if not dropna:
            listing = ", ".join(f"'{c}' ({k} rows)" for c, k in na_counts.items())
            raise DataError(
                f"missing values in columns the model uses: {listing}; remove those rows or "
                f"pass dropna=True to drop them ({n_rows} of {n_input} rows would be dropped)"
            )
        data = data.loc[~row_has_na]
        n_dropped = n_rows
        log.warning("dropped %d of %d rows with missing values (%s)", n_rows, n_input,
                    ", ".join(na_counts))
        if len(data) == 0:
            raise DataError("every row has a missing value in a column the model uses")

    state: dict[str, Any] = {}
    frame = pd.DataFrame(index=data.index)
    response = terms.response
    response_names = {response.variable.name}
    if response.failures is not None:
        response_names.add(response.failures.name)
    grouping = _grouping_names(terms)
    weights_var = response.weights
    weights: np.ndarray | None = None
    for name, var in terms.variables.items():
        if var.basis is not None:  # poly()/bs()/ns(): k numeric columns, basis fitted here
            for column, values in evaluate_columns(var, data, state).items():
                frame[column] = values
            continue
        values = evaluate_variable(var, data, state)
        if weights_var is not None and name == weights_var.name:
            weights = check_weights(var, values, data)
            if not _used_by_model(terms, name):
                frame[var.column] = values
                continue
        if name in grouping:
            values = values.astype(str) if not isinstance(values.dtype, pd.CategoricalDtype) \
                else values.cat.remove_unused_categories()
        elif name not in response_names:
            _check_finite(var, values, data)
            if var.categorical and not isinstance(values.dtype, pd.CategoricalDtype):
                values = pd.Categorical(values)
            elif pd.api.types.is_bool_dtype(values):
                # R treats a logical predictor as a factor with levels FALSE < TRUE, so lme4
                # names its coefficient "xTRUE"; formulae would treat it as numeric 0/1.
                values = pd.Categorical(values, categories=[False, True])
        frame[var.column] = values

    levels: tuple[str, ...] | None = None
    y_var = response.variable
    y = frame[y_var.column]
    if response.kind == "cbind":
        if family.name != "binomial":
            raise FamilyError(
                f"cbind(successes, failures) is a binomial response; use family='binomial' "
                f"(got '{family.name}')"
            )
        assert response.failures is not None and response.trials_column is not None
        for v in (y_var, response.failures):
            col = frame[v.column]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                raise DataError(f"cbind(): '{v.name}' must be numeric counts (got {col.dtype} "
                                f"values such as {_plain(col.iloc[0])}); convert it with "
                                "pd.to_numeric or pick the count columns")
            _check_finite(v, col, data)
        trials = frame[y_var.column] + frame[response.failures.column]
        bad_fail = frame[response.failures.column] < 0
        if bad_fail.any():
            raise FamilyError(
                f"cbind() failures '{response.failures.name}' are negative in {int(bad_fail.sum())}"
                " rows; the second argument of cbind() is failures (not trials): counts ≥ 0"
            )
        frame[response.trials_column] = trials
        check_response(family, frame[y_var.column].to_numpy(float), y_var.name,
                       trials.to_numpy(float))
    else:
        is_numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
        if family.ordinal:
            if not terms.intercept:
                raise FamilyError(
                    f"family '{family.name}' has thresholds in place of an intercept, so the "
                    "formula must keep its intercept: remove '0 +' / '- 1' (the intercept is "
                    "dropped from the linear predictor automatically)"
                )
            coded, levels = _encode_ordinal(y, y_var.name, family)
            frame[y_var.column] = coded
        elif family.name in ("bernoulli", "binomial") and (
            not is_numeric or set(pd.unique(y)) - {0, 1}
        ):
            if is_numeric and y.nunique() != 2:
                check_response(family, y.to_numpy(float), y_var.name)
            coded, levels = _encode_binary(y, y_var.name, family)
            frame[y_var.column] = coded
        elif not is_numeric:
            raise FamilyError(
                f"response '{y_var.name}' is not numeric (dtype {y.dtype}); family "
                f"'{family.name}' needs numbers (two-level responses need family='bernoulli')"
            )
        else:
            _check_finite(y_var, y, data)
            check_response(family, y.to_numpy(float), y_var.name)

    for block in terms.groups:
        for f in block.factor:
            col = terms.variables[f].column
            n_levels = frame[col].nunique()
            if n_levels < 2:
                only = frame[col].iloc[0]
                raise DataError(
                    f"grouping factor '{f}' in '({block_text(block)})' has only one level "
                    f"('{only}'); a group-level effect needs at least 2 levels — drop the term "
                    "or check the row filter"
                )
    return PreparedData(
        frame=frame,
        terms=terms,
        family=family,
        response_levels=levels,
        n_input_rows=n_input,
        n_dropped=n_dropped,
        state=state,
        weights=weights,
    )


def _used_by_model(terms: ModelTerms, name: str) -> bool:
    """Is variable ``name`` also a predictor, grouping factor, offset or response?"""
    r = terms.response
    names = {v for t in terms.fixed for v in t.variables} | _grouping_names(terms)
    names |= {v for b in terms.groups for t in b.terms for v in t.variables}
    names |= {v.name for v in terms.offsets} | {r.variable.name}
    if r.failures is not None:
        names.add(r.failures.name)
    return name in names


def block_text(block: Any) -> str:
    """lme4 text of a group block, e.g. ``1 + Days | Subject``."""
    return str(block.lme4())


__all__ = ["PreparedData", "block_text", "check_weights", "prepare_data"]
