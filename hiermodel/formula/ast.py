"""Syntax tree of an R/lme4 formula. Types only, plus R-style deparsing; no algorithms.

Every node carries ``span``: its ``[start, end)`` character offsets in the formula text, so
later stages can put a caret under the token an error is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from hiermodel.errors import FormulaError

Span = tuple[int, int]


@dataclass(frozen=True)
class Name:
    """A column name (``Days``, or backquoted ```my col```)."""

    name: str
    span: Span


@dataclass(frozen=True)
class Number:
    value: float
    text: str
    span: Span


@dataclass(frozen=True)
class Call:
    """A function call: ``log(x + 1)``, ``factor(g)``, ``cbind(s, f)``, ``offset(log(n))``."""

    func: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class BinOp:
    """A binary operator: ``+ - * / : ^ | || %in% ~`` (formula algebra or arithmetic)."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Unary:
    """Unary ``-`` or ``+`` (``-1`` removes the intercept)."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Paren:
    expr: Expr
    span: Span


@dataclass(frozen=True)
class Named:
    """A named function argument: ``degree = 2`` in ``poly(x, degree = 2)``. Only a
    :class:`Call` argument; the value is an option of the function, never data."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class Dot:
    """``.``: every column not otherwise used."""

    span: Span


Expr = Union[Name, Number, Call, BinOp, Unary, Paren, Dot, Named]  # noqa: UP007 (recursive alias)


@dataclass(frozen=True)
class Formula:
    """``lhs ~ rhs``; ``lhs`` is None for a one-sided formula (``~ 0``)."""

    lhs: Expr | None
    rhs: Expr
    text: str


_SPACED = {"+", "-", "*", "~", "|", "||", "%in%"}
_IDENT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")


def _name_text(name: str) -> str:
    if name and (name[0].isalpha() or name[0] == ".") and set(name) <= _IDENT_CHARS:
        return name
    return f"`{name}`"


def deparse(expr: Expr) -> str:
    """R's ``deparse()`` of an expression: ``log(maize_yield + 0.1)``, ``I(x^2)``, ``a:b``."""
    if isinstance(expr, Name):
        return _name_text(expr.name)
    if isinstance(expr, Number):
        return expr.text
    if isinstance(expr, Dot):
        return "."
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(deparse(a) for a in expr.args)})"
    if isinstance(expr, Paren):
        return f"({deparse(expr.expr)})"
    if isinstance(expr, Named):
        return f"{_name_text(expr.name)} = {deparse(expr.value)}"
    if isinstance(expr, Unary):
        return f"{expr.op}{deparse(expr.operand)}"
    if isinstance(expr, BinOp):
        sep = f" {expr.op} " if expr.op in _SPACED else expr.op
        return f"{deparse(expr.left)}{sep}{deparse(expr.right)}"
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover - internal


def names_in(expr: Expr) -> list[Name]:
    """Every :class:`Name` in ``expr``, left to right (duplicates kept). Named arguments
    (``raw = TRUE``) are function options, not data, and are skipped."""
    if isinstance(expr, Name):
        return [expr]
    if isinstance(expr, Call):
        return [n for a in expr.args for n in names_in(a)]
    if isinstance(expr, BinOp):
        return names_in(expr.left) + names_in(expr.right)
    if isinstance(expr, (Unary,)):
        return names_in(expr.operand)
    if isinstance(expr, Paren):
        return names_in(expr.expr)
    return []


def node_error(message: str, text: str, node: Expr) -> FormulaError:
    """A :class:`FormulaError` for ``text`` with the caret under ``node``'s span."""
    start, end = node.span
    return FormulaError(message, text, start, max(1, end - start))
