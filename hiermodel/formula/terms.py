"""Normalized model terms: what an lme4 formula *means*, independent of how it was written.

This is the contract between the formula front end (``hiermodel.formula``) and everything
downstream (data preparation, priors, the build stage). It holds no algorithms beyond small
naming helpers; parsing lives in ``parser.py``, meaning in ``translate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hiermodel.formula.ast import Expr


@dataclass(frozen=True)
class Variable:
    """One model variable: an R expression over data columns.

    ``name`` is the lme4 display name (``"Days"``, ``"log(maize_yield + 0.1)"``,
    ``"factor(cyl)"``); ``column`` is the safe column name the data stage materialises and the
    Bambi formula refers to (equal to ``name`` for a plain, identifier-like column).
    ``source_columns`` are the data columns the expression reads.
    """

    name: str
    column: str
    expr: Expr
    source_columns: tuple[str, ...]
    categorical: bool = False  # factor()/as.factor() force categorical coding
    span: tuple[int, int] = (0, 0)  # [start, end) character offsets in the formula


@dataclass(frozen=True)
class Term:
    """A population- or group-level term: an interaction of variables (display names)."""

    variables: tuple[str, ...]

    @property
    def name(self) -> str:
        return ":".join(self.variables)


@dataclass(frozen=True)
class GroupBlock:
    """One ``( expr | factor )`` block after expansion of ``||``, ``/`` and ``%in%``.

    ``correlated`` is True when lme4 would estimate an unstructured covariance between the
    block's terms (``(x|g)``); ``(x||g)`` is expanded into one block per term with
    ``correlated=False``. ``factor`` is the grouping variables' display names, more than one
    for an interaction grouping (``a:b``).
    """

    intercept: bool
    terms: tuple[Term, ...]
    factor: tuple[str, ...]
    correlated: bool
    span: tuple[int, int] = (0, 0)

    @property
    def group(self) -> str:
        return ":".join(self.factor)


@dataclass(frozen=True)
class Response:
    """The left-hand side: one variable, or ``cbind(successes, failures)``."""

    kind: Literal["single", "cbind"]
    variable: Variable  # the response, or the successes for cbind
    failures: Variable | None = None
    trials_column: str | None = None  # safe column with successes + failures, for cbind


@dataclass(frozen=True)
class ModelTerms:
    """The meaning of an lme4 formula, ready for the data stage and the Bambi build."""

    formula: str
    response: Response
    intercept: bool
    fixed: tuple[Term, ...]
    groups: tuple[GroupBlock, ...]
    offsets: tuple[Variable, ...]
    variables: dict[str, Variable]  # display name -> Variable, every variable used
    bambi_formula: str
    notes: tuple[str, ...] = field(default_factory=tuple)
