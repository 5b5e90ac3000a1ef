"""Normalized model terms: what an lme4 formula *means*, independent of how it was written.

This is the contract between the formula front end (``hiermodel.formula``) and everything
downstream (data preparation, priors, the build stage). It holds no algorithms beyond small
naming helpers; parsing lives in ``parser.py``, meaning in ``translate.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hiermodel.formula.ast import Expr
from hiermodel.formula.bases import BasisSpec


@dataclass(frozen=True)
class Variable:
    """One model variable: an R expression over data columns.

    ``name`` is the lme4 display name (``"Days"``, ``"log(maize_yield + 0.1)"``,
    ``"factor(cyl)"``); ``column`` is the safe column name the data stage materialises and the
    Bambi formula refers to (equal to ``name`` for a plain, identifier-like column).
    ``source_columns`` are the data columns the expression reads.

    A basis call (``poly(x, 2)``, ``bs(x, df = 4)``, ``ns(x, 3)``) is one variable with
    several design columns: ``basis`` holds its arguments and ``columns`` the safe column of
    each basis column (``column`` is then only their common prefix, never materialised).
    """

    name: str
    column: str
    expr: Expr
    source_columns: tuple[str, ...]
    categorical: bool = False  # factor()/as.factor() force categorical coding
    span: tuple[int, int] = (0, 0)  # [start, end) character offsets in the formula
    basis: BasisSpec | None = None
    columns: tuple[str, ...] = ()  # the basis columns' safe names, for a basis variable

    @property
    def design_columns(self) -> tuple[str, ...]:
        """The safe columns the data stage materialises for this variable."""
        return self.columns if self.basis is not None else (self.column,)

    @property
    def column_names(self) -> tuple[str, ...]:
        """lme4/R display name of each design column (``poly(x, 2)1``, ``poly(x, 2)2``)."""
        return self.basis.column_names() if self.basis is not None else (self.name,)


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
    bambi_names: tuple[str, ...] = ()  # Bambi's term names, e.g. ("1|Subject", "Days|Subject")
    # per Bambi term, the index of its term in ``terms`` (-1: the intercept); a basis term
    # (poly(x, 2)) is one Bambi term per basis column
    bambi_owners: tuple[int, ...] = ()

    @property
    def group(self) -> str:
        return ":".join(self.factor)

    def bambi_terms(self) -> tuple[str, ...]:
        """The names Bambi gives this block's group-specific terms, intercept first."""
        return self.bambi_names

    def lme4(self) -> str:
        """lme4 text of the block: ``1 + Days | Subject``, ``0 + Days | Subject``."""
        parts = (["1"] if self.intercept else ["0"]) + [t.name for t in self.terms]
        return " + ".join(parts) + " | " + self.group


@dataclass(frozen=True)
class Response:
    """The left-hand side: one variable, or ``cbind(successes, failures)``, optionally with
    observation weights (``y | weights(w)``, brms syntax)."""

    kind: Literal["single", "cbind"]
    variable: Variable  # the response, or the successes for cbind
    failures: Variable | None = None
    trials_column: str | None = None  # safe column with successes + failures, for cbind
    weights: Variable | None = None  # each row's log-likelihood is multiplied by its weight


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

    def describe(self) -> str:
        """Human-readable account of what will be built (``print(hm.translate(...))``)."""
        r = self.response
        lines = [f"formula:   {self.formula}"]
        if r.kind == "cbind":
            assert r.failures is not None
            lines.append(f"response:  {r.variable.name} successes of {r.variable.name} + "
                         f"{r.failures.name} trials (binomial)")
        else:
            lines.append(f"response:  {r.variable.name}")
        if r.weights is not None:
            lines.append(f"weights:   {r.weights.name} (each row's log-likelihood times its "
                         "weight)")
        fixed = (["(Intercept)"] if self.intercept else []) + [t.name for t in self.fixed]
        lines.append("fixed:     " + (", ".join(fixed) if fixed else "(none)"))
        if self.offsets:
            lines.append("offset:    " + " + ".join(v.name for v in self.offsets))
        if self.groups:
            lines.append("group-level blocks:")
            for b in self.groups:
                n = len(b.terms) + int(b.intercept)
                kind = ("correlated (LKJ prior on the correlation)" if b.correlated and n > 1
                        else "independent")
                lines.append(f"  ({b.lme4()})  {kind}")
        lines.append(f"bambi:     {self.bambi_formula}")
        derived = [(c, n) for v in self.variables.values()
                   for c, n in zip(v.design_columns, v.column_names, strict=True) if c != n]
        if derived:
            lines.append("columns:   " + ", ".join(f"{c} = {n}" for c, n in derived))
        for note in self.notes:
            lines.append(f"note:      {note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()
