"""Evaluate formula variables (R expressions) on a DataFrame.

Supports the transformations lme4 users write inline: arithmetic (``+ - * / ^``), ``log``,
``log2``, ``log10``, ``log1p``, ``exp``, ``sqrt``, ``abs``, ``scale`` (R's: centred and divided
by the n-1 SD), ``factor``/``as.factor``, ``as.numeric`` and ``I()``.

Stateful transforms (``scale``) remember their training mean and SD in ``state`` so that
predictions on new data use the same centring, like formulae/patsy stateful transforms. Basis
variables (``poly``, ``bs``, ``ns``; :func:`evaluate_columns`) keep their fitted basis there the
same way, under ``basis:<call>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError, did_you_mean
from hiermodel.formula.ast import BinOp, Call, Dot, Expr, Name, Number, Paren, Unary, deparse
from hiermodel.formula.bases import basis_argument
from hiermodel.formula.terms import Variable

# function name -> number of arguments
SUPPORTED_FUNCTIONS: dict[str, int] = {
    "log": 1,
    "log2": 1,
    "log10": 1,
    "log1p": 1,
    "exp": 1,
    "sqrt": 1,
    "abs": 1,
    "scale": 1,
    "factor": 1,
    "as.factor": 1,
    "as.numeric": 1,
    "I": 1,
}

_NUMERIC = {
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}

Value = Any  # pd.Series or a float scalar


def _numeric(value: Value, where: str) -> Value:
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(value) or pd.api.types.is_bool_dtype(value)
        ):
            raise DataError(
                f"{where} needs numbers, but '{value.name}' is {value.dtype} "
                f"(e.g. {value.iloc[0]!r})"
            )
        return value.astype(float)
    return float(value)


def _eval(expr: Expr, data: pd.DataFrame, state: dict[str, Any]) -> Value:
    if isinstance(expr, Name):
        if expr.name not in data.columns:
            raise DataError(
                f"no column '{expr.name}' in the data"
                f"{did_you_mean(expr.name, [str(c) for c in data.columns])}"
            )
        col = data[expr.name]
        return col.rename(expr.name)
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Paren):
        return _eval(expr.expr, data, state)
    if isinstance(expr, Unary):
        value = _numeric(_eval(expr.operand, data, state), f"'{deparse(expr)}'")
        return -value if expr.op == "-" else value
    if isinstance(expr, BinOp):
        where = f"'{deparse(expr)}'"
        if expr.op not in ("+", "-", "*", "/", "^"):
            raise DataError(f"operator '{expr.op}' is not arithmetic in {where}")
        left = _numeric(_eval(expr.left, data, state), where)
        right = _numeric(_eval(expr.right, data, state), where)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        if expr.op == "/":
            with np.errstate(divide="ignore", invalid="ignore"):
                return left / right
        with np.errstate(invalid="ignore", over="ignore"):
            return left**right
    if isinstance(expr, Call):
        return _call(expr, data, state)
    if isinstance(expr, Dot):
        raise DataError("'.' cannot be evaluated")
    raise DataError(f"cannot evaluate {expr!r}")  # pragma: no cover


def _call(expr: Call, data: pd.DataFrame, state: dict[str, Any]) -> Value:
    name = expr.func
    if name not in SUPPORTED_FUNCTIONS:
        raise DataError(
            f"unknown function '{name}'{did_you_mean(name, sorted(SUPPORTED_FUNCTIONS))}"
        )
    if len(expr.args) != 1:
        raise DataError(f"{name}() takes 1 argument, got {len(expr.args)}")
    arg = expr.args[0]
    text = deparse(expr)
    if name in ("factor", "as.factor"):
        value = _eval(arg, data, state)
        if not isinstance(value, pd.Series):
            raise DataError(f"{text}: factor() needs a column")
        if isinstance(value.dtype, pd.CategoricalDtype):
            return value
        key = f"levels:{text}"
        if key not in state:
            state[key] = sorted(pd.unique(value.dropna()).tolist(), key=lambda v: (str(type(v)), v))
        return pd.Series(pd.Categorical(value, categories=state[key]), index=value.index,
                         name=text)
    value = _numeric(_eval(arg, data, state), f"{name}()")
    if name in ("I", "as.numeric"):
        return value
    if name == "scale":
        key = f"scale:{text}"
        if key not in state:
            arr = np.asarray(value, dtype=float)
            arr = arr[np.isfinite(arr)]
            sd = float(np.std(arr, ddof=1)) if arr.size > 1 else 0.0
            if not sd > 0:
                raise DataError(f"{text}: the column is constant, so it cannot be scaled")
            state[key] = (float(np.mean(arr)), sd)
        mean, sd = state[key]
        return (value - mean) / sd
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _NUMERIC[name](value)


def evaluate_expression(expr: Expr, data: pd.DataFrame, state: dict[str, Any] | None = None,
                        name: str | None = None) -> pd.Series:
    """Evaluate an expression to a Series aligned with ``data`` (scalars are broadcast)."""
    value = _eval(expr, data, {} if state is None else state)
    if not isinstance(value, pd.Series):
        value = pd.Series(np.full(len(data), float(value)), index=data.index)
    return value.rename(name if name is not None else deparse(expr))


def evaluate_variable(var: Variable, data: pd.DataFrame, state: dict[str, Any]) -> pd.Series:
    """Materialise ``var`` on ``data``; missing columns and non-numeric inputs are DataErrors."""
    return evaluate_expression(var.expr, data, state, name=var.column)


def evaluate_columns(var: Variable, data: pd.DataFrame, state: dict[str, Any]
                     ) -> dict[str, pd.Series]:
    """Every design column of ``var`` on ``data``, by safe column name: one for a plain
    variable, k for a basis. The first call fits the basis (training data) into ``state``;
    later calls with that state (new data) reuse it."""
    if var.basis is None:
        return {var.column: evaluate_variable(var, data, state)}
    if not isinstance(var.expr, Call):  # pragma: no cover - built by the translator
        raise TypeError(f"basis variable {var.name!r} is not a call")
    inner = basis_argument(var.expr)
    x = _numeric(evaluate_expression(inner, data, state), var.name)
    arr = np.asarray(x, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = data.index[int(np.flatnonzero(bad)[0])]
        raise DataError(f"'{var.name}': {deparse(inner)} is not finite for {int(bad.sum())} of "
                        f"{arr.size} rows (first at row {first!r}); a basis needs finite numbers")
    key = f"basis:{var.name}"
    if key not in state:
        state[key] = var.basis.fit(arr)
    Z = state[key].evaluate(arr)
    return {c: pd.Series(Z[:, j], index=data.index, name=c) for j, c in enumerate(var.columns)}


def evaluate_text(text: str, data: pd.DataFrame) -> pd.Series:
    """Evaluate an R expression given as text, e.g. a spec file's derived column
    ``log_maize_yield = "log(maize_yield + 0.1)"``."""
    from hiermodel.formula.parser import parse_expression

    return evaluate_expression(parse_expression(text), data)
