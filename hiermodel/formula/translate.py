"""Formula meaning: syntax tree -> :class:`~hiermodel.formula.terms.ModelTerms`.

Implements R's formula algebra (``+ - * / : ^ %in%``, ``0``/``1``/``-1``, ``.``) and lme4's
group-level syntax on top of it:

* ``(x | g)``  -> one correlated block (intercept + x) for ``g``;
* ``(x || g)`` -> independent blocks ``(1 | g) + (0 + x | g)``;
* ``(1 | a/b)`` -> ``(1 | a) + (1 | a:b)`` (nesting); ``(1 | a:b)`` groups by the combination;
* ``cbind(s, f) ~ ...`` -> binomial successes ``s`` out of ``s + f`` trials;
* ``offset(v)`` -> a fixed offset on the linear predictor;
* ``y | weights(w) ~ ...`` -> observation weights (brms syntax, see ``addition.py``).
* ``poly(x, 2)``, ``bs(x, df = 4)``, ``ns(x, 3)`` -> one variable with several columns
  (R's bases, :mod:`~hiermodel.formula.bases`), one Bambi term per column.

The result names the Bambi formula that the build stage hands to Bambi, with every variable
expression materialised as a "safe" column so formulae sees plain identifiers.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hiermodel.errors import FormulaError, did_you_mean
from hiermodel.formula.addition import weights_argument
from hiermodel.formula.ast import (
    BinOp,
    Call,
    Dot,
    Expr,
    Formula,
    Name,
    Named,
    Number,
    Paren,
    Unary,
    deparse,
    names_in,
    node_error,
)
from hiermodel.formula.bases import BASIS_FUNCTIONS, basis_argument, basis_spec
from hiermodel.formula.evaluate import SUPPORTED_FUNCTIONS
from hiermodel.formula.parser import parse
from hiermodel.formula.terms import GroupBlock, ModelTerms, Response, Term, Variable

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Smooths that lme4 users write but hiermodel cannot reproduce exactly.
_UNSUPPORTED = {
    "s": "s() smooths are not supported (that is mgcv syntax); use ns(x, df = 4) or "
         "bs(x, df = 5) for a regression spline",
}
_KNOWN = sorted({*SUPPORTED_FUNCTIONS, *BASIS_FUNCTIONS})


@dataclass
class _TermSet:
    terms: list[tuple[str, ...]] = field(default_factory=list)
    intercept: bool | None = None  # None: not said; True: 1; False: 0 / -1
    blocks: list[GroupBlock] = field(default_factory=list)
    offsets: list[str] = field(default_factory=list)

    def add_terms(self, terms: Sequence[tuple[str, ...]]) -> None:
        for t in terms:
            if not _contains(self.terms, t):
                self.terms.append(t)


class _Translator:
    def __init__(self, formula: Formula, columns: Sequence[str] | None) -> None:
        self.formula = formula
        self.text = formula.text
        self.columns = list(columns) if columns is not None else None
        self.variables: dict[str, Variable] = {}
        self.used_columns: set[str] = set()
        self.notes: list[str] = []
        self.grouping: set[str] = set()
        self.reserved: set[str] = set()

    # -- errors -------------------------------------------------------------------------------
    def error(self, message: str, node: Expr | None = None) -> FormulaError:
        if node is None:
            return FormulaError(message, self.text)
        return node_error(message, self.text, node)

    # -- variables ----------------------------------------------------------------------------
    def _check_names(self, expr: Expr) -> tuple[str, ...]:
        sources: list[str] = []
        for node in names_in(expr):
            if self.columns is not None and node.name not in self.columns:
                raise self.error(
                    f"no column '{node.name}'{did_you_mean(node.name, self.columns)}", node
                )
            if node.name not in sources:
                sources.append(node.name)
        return tuple(sources)

    def _check_calls(self, expr: Expr, top: bool = True) -> None:
        if isinstance(expr, Call):
            if expr.func in _UNSUPPORTED:
                raise self.error(_UNSUPPORTED[expr.func], expr)
            if expr.func in ("cbind", "offset") and not top:
                raise self.error(f"{expr.func}() cannot be nested inside an expression", expr)
            if expr.func in BASIS_FUNCTIONS:
                if not top:
                    raise self.error(
                        f"{expr.func}() makes several columns, so it must be a term by itself "
                        f"(e.g. y ~ {expr.func}(x, 3) + z or {expr.func}(x, 3):z), not part of "
                        "another expression", expr)
                self._check_calls(self._basis_argument(expr), top=False)
                return  # the other arguments are options, read by basis_spec
            if expr.func not in SUPPORTED_FUNCTIONS and expr.func not in ("cbind", "offset"):
                raise self.error(
                    f"unknown function '{expr.func}'"
                    f"{did_you_mean(expr.func, _KNOWN)} Supported: " + ", ".join(_KNOWN),
                    expr,
                )
            named = [a for a in expr.args if isinstance(a, Named)]
            if named:
                raise self.error(f"{expr.func}() has no argument '{named[0].name}'", named[0])
            n_args = SUPPORTED_FUNCTIONS.get(expr.func)
            if n_args is not None and len(expr.args) != n_args:
                raise self.error(
                    f"{expr.func}() takes {n_args} argument{'s' if n_args != 1 else ''}, "
                    f"got {len(expr.args)}",
                    expr,
                )
            for arg in expr.args:
                self._check_calls(arg, top=False)
        elif isinstance(expr, BinOp):
            if expr.op in ("|", "||", "~"):
                raise self.error(f"'{expr.op}' cannot appear inside a function call", expr)
            self._check_calls(expr.left, top=False)
            self._check_calls(expr.right, top=False)
        elif isinstance(expr, Unary):
            self._check_calls(expr.operand, top=False)
        elif isinstance(expr, Paren):
            self._check_calls(expr.expr, top=False)
        elif isinstance(expr, Dot):
            raise self.error("'.' cannot be used inside a function call", expr)

    def variable(self, expr: Expr) -> Variable:
        """The Variable for a name or call (``Days``, ``log(y + 1)``, ``factor(g)``)."""
        if isinstance(expr, Paren):
            return self.variable(expr.expr)
        self._check_calls(expr)
        display = deparse(expr)
        if display in self.variables:
            return self.variables[display]
        if isinstance(expr, Call) and expr.func in BASIS_FUNCTIONS:
            return self._basis_variable(expr, display)
        sources = self._check_names(expr)
        self.used_columns.update(sources)
        categorical = isinstance(expr, Call) and expr.func in ("factor", "as.factor")
        var = Variable(
            name=display,
            column=self._safe_column(display),
            expr=expr,
            source_columns=sources,
            categorical=categorical,
            span=expr.span,
        )
        self.variables[display] = var
        return var

    def _basis_argument(self, expr: Call) -> Expr:
        try:
            return basis_argument(expr)
        except FormulaError as err:
            raise self.error(err.message, expr) from None

    def _basis_variable(self, expr: Call, display: str) -> Variable:
        spec = basis_spec(expr, self.text)
        sources = self._check_names(self._basis_argument(expr))
        self.used_columns.update(sources)
        taken = self._taken()
        prefix = self._safe_column(display)
        while any(f"{prefix}_{j}" in taken for j in range(1, spec.n_columns + 1)):
            prefix += "_"
        columns = [f"{prefix}_{j}" for j in range(1, spec.n_columns + 1)]
        var = Variable(name=display, column=prefix, expr=expr, source_columns=sources,
                       span=expr.span, basis=spec, columns=tuple(columns))
        self.variables[display] = var
        self.notes.append(spec.note())
        return var

    def _taken(self) -> set[str]:
        return {c for v in self.variables.values() for c in (v.column, *v.columns)
                } | self.reserved

    def _safe_column(self, display: str) -> str:
        if _IDENT.match(display) and not keyword.iskeyword(display) and not display.startswith(
            "hm_"
        ):
            column = display
        else:
            column = "hm_" + (re.sub(r"[^A-Za-z0-9]+", "_", display).strip("_") or "v")
        base, i = column, 1
        taken = self._taken()
        while column in taken:
            i += 1
            column = f"{base}_{i}"
        return column

    # -- right-hand side ----------------------------------------------------------------------
    def expand(self, expr: Expr) -> _TermSet:
        if isinstance(expr, Number):
            if expr.value == 1:
                return _TermSet(intercept=True)
            if expr.value == 0:
                return _TermSet(intercept=False)
            raise self.error(
                f"a number in a formula must be 0 or 1 (intercept), got {expr.text}; "
                f"use I({expr.text} * x) for arithmetic",
                expr,
            )
        if isinstance(expr, Name) or (isinstance(expr, Call) and expr.func not in (
            "offset", "cbind"
        )):
            var = self.variable(expr)
            return _TermSet(terms=[(var.name,)])
        if isinstance(expr, Call) and expr.func == "offset":
            if len(expr.args) != 1:
                raise self.error(f"offset() takes 1 argument, got {len(expr.args)}", expr)
            if isinstance(expr.args[0], Call) and expr.args[0].func in BASIS_FUNCTIONS:
                raise self.error(f"an offset is one column; {expr.args[0].func}() makes several",
                                 expr.args[0])
            var = self.variable(expr.args[0])
            return _TermSet(offsets=[var.name])
        if isinstance(expr, Call) and expr.func == "cbind":
            raise self.error(
                "cbind() belongs on the left of '~' (a binomial response: cbind(successes, "
                "failures))",
                expr,
            )
        if isinstance(expr, Dot):
            return self.dot(expr)
        if isinstance(expr, Paren):
            inner = expr.expr
            if isinstance(inner, BinOp) and inner.op in ("|", "||"):
                return _TermSet(blocks=self.group_blocks(inner, expr))
            return self.expand(inner)
        if isinstance(expr, Unary):
            if expr.op == "+":
                return self.expand(expr.operand)
            operand = expr.operand
            if isinstance(operand, Number) and operand.value in (0, 1):
                return _TermSet(intercept=operand.value == 0)
            raise self.error("'-' at the start removes a term; only -1 (no intercept) is "
                             "meaningful here", expr)
        if isinstance(expr, BinOp):
            return self.binop(expr)
        raise self.error("unexpected expression", expr)  # pragma: no cover

    def binop(self, expr: BinOp) -> _TermSet:
        op = expr.op
        if op in ("|", "||"):
            raise self.error(
                f"group-level terms need parentheses: ({deparse(expr)})", expr
            )
        if op == "~":
            raise self.error("a formula has only one '~'", expr)
        left = self.expand(expr.left)
        if op == "^":
            return self.power(left, expr)
        right = self.expand(expr.right)
        if op == "+":
            out = _TermSet(intercept=left.intercept, blocks=left.blocks + right.blocks,
                           offsets=left.offsets + right.offsets)
            out.add_terms(left.terms)
            out.add_terms(right.terms)
            if right.intercept is not None:
                out.intercept = right.intercept
            return out
        if op == "-":
            if right.blocks or right.offsets:
                raise self.error("group-level terms and offsets cannot be removed with '-'",
                                 expr.right)
            out = _TermSet(terms=[t for t in left.terms if not _contains(right.terms, t)],
                           intercept=left.intercept, blocks=left.blocks, offsets=left.offsets)
            if right.intercept is not None:
                out.intercept = not right.intercept
            return out
        for side, node in ((left, expr.left), (right, expr.right)):
            if side.blocks:
                raise self.error(
                    f"a group-level term cannot be part of '{op}'; add it with '+'", node
                )
            if side.offsets:
                raise self.error(f"offset() cannot be part of '{op}'; add it with '+'", node)
        if op in (":", "%in%"):
            return _TermSet(terms=_interact(left.terms, right.terms))
        if op == "*":
            out = _TermSet()
            out.add_terms(left.terms)
            out.add_terms(right.terms)
            out.add_terms(_interact(left.terms, right.terms))
            return out
        if op == "/":
            # R: a / b == a + a:b, where a:b uses *all* variables of the left side together.
            allvars: tuple[str, ...] = ()
            for t in left.terms:
                allvars = _merge(allvars, t)
            out = _TermSet(terms=list(left.terms))
            out.add_terms(_interact([allvars], right.terms) if allvars else right.terms)
            return out
        raise self.error(f"operator '{op}' is not supported", expr)  # pragma: no cover

    def power(self, left: _TermSet, expr: BinOp) -> _TermSet:
        exponent = expr.right
        if not (isinstance(exponent, Number) and exponent.value >= 1
                and float(exponent.value).is_integer()):
            raise self.error(
                "'^' in a formula means interactions up to an order, e.g. (a + b + c)^2; "
                "for a power of a variable write I(x^2)",
                exponent,
            )
        if left.blocks or left.offsets:
            raise self.error("'^' cannot apply to group-level terms or offsets", expr.left)
        order = int(exponent.value)
        if order > 1 and len(left.terms) == 1:
            name = ":".join(left.terms[0])
            self.notes.append(
                f"{deparse(expr)} in a formula means interactions of {name} with itself, which is "
                f"just {name}; write I({deparse(expr)}) for the square"
            )
        out = _TermSet()
        out.add_terms(left.terms)
        current = list(left.terms)
        for _ in range(order - 1):
            current = _interact(current, left.terms)
            out.add_terms(current)
        return out

    def dot(self, node: Dot) -> _TermSet:
        if self.columns is None:
            raise self.error("'.' (all other columns) needs the data to expand", node)
        excluded = set(self.used_columns) | self.grouping | self.reserved
        chosen = [c for c in self.columns if c not in excluded]
        out = _TermSet()
        for col in chosen:
            var = self.variable(Name(col, node.span))
            out.add_terms([(var.name,)])
        self.notes.append(
            "'.' expanded to " + (" + ".join(chosen) if chosen else "nothing")
            + " (every column except the response, grouping factors and offsets)"
        )
        return out

    # -- group-level blocks -------------------------------------------------------------------
    def group_blocks(self, bar: BinOp, paren: Paren) -> list[GroupBlock]:
        lhs = self.expand(bar.left)
        if lhs.blocks:
            raise self.error("group-level terms cannot be nested", bar.left)
        if lhs.offsets:
            raise self.error("offset() cannot be a group-level term", bar.left)
        intercept = lhs.intercept is not False
        if not intercept and not lhs.terms:
            raise self.error("this group-level term has no terms (0 and nothing else)", bar.left)
        factors = self.grouping_factors(bar.right)
        terms = tuple(Term(t) for t in _by_degree(lhs.terms))
        blocks: list[GroupBlock] = []
        for factor in factors:
            if bar.op == "||":
                if intercept:
                    blocks.append(GroupBlock(True, (), factor, False, paren.span))
                for t in terms:
                    blocks.append(GroupBlock(False, (t,), factor, False, paren.span))
            else:
                blocks.append(GroupBlock(intercept, terms, factor, True, paren.span))
        if bar.op == "||" and len(terms) + intercept > 1:
            pieces = " + ".join(f"({b.lme4()})" for b in blocks)
            self.notes.append(f"{deparse(paren)} means independent terms: {pieces}")
        if len(factors) > 1:
            self.notes.append(
                f"{deparse(paren)} is nested grouping: "
                + " + ".join(f"({b.lme4()})" for b in blocks if b.terms == blocks[0].terms)
            )
        return blocks

    def grouping_factors(self, expr: Expr) -> list[tuple[str, ...]]:
        """``g`` -> [(g,)]; ``a:b`` -> [(a, b)]; ``a/b`` -> [(a,), (a, b)]."""
        if isinstance(expr, Paren):
            return self.grouping_factors(expr.expr)
        if isinstance(expr, Name) or (isinstance(expr, Call) and expr.func in (
            "factor", "as.factor"
        )):
            var = self.variable(expr)
            self.grouping.update(var.source_columns)
            return [(var.name,)]
        if isinstance(expr, BinOp) and expr.op in (":", "%in%"):
            left = self.grouping_factors(expr.left)
            right = self.grouping_factors(expr.right)
            if len(left) != 1 or len(right) != 1:
                raise self.error("write nested grouping as a/b, not inside ':'", expr)
            if expr.op == "%in%":
                return [right[0] + left[0]]
            return [left[0] + right[0]]
        if isinstance(expr, BinOp) and expr.op == "/":
            outer = self.grouping_factors(expr.left)
            inner = self.grouping_factors(expr.right)
            if len(inner) != 1:
                raise self.error("the right side of '/' must be a single factor", expr.right)
            return [*outer, outer[-1] + inner[0]]
        if isinstance(expr, BinOp) and expr.op == "+":
            raise self.error(
                "a grouping factor must be one factor; write one term per factor, e.g. "
                "(1|a) + (1|b)",
                expr,
            )
        raise self.error(
            f"'{deparse(expr)}' cannot be a grouping factor; use a column name (or a:b, a/b)", expr
        )

    # -- left-hand side -----------------------------------------------------------------------
    def response(self, lhs: Expr | None) -> Response:
        if lhs is None:
            raise FormulaError(
                "formula has no response; write it as 'response ~ predictors'", self.text, 0
            )
        if isinstance(lhs, BinOp) and lhs.op == "|":  # y | weights(w)
            if isinstance(lhs.left, BinOp) and lhs.left.op == "|":
                raise self.error("the left of '~' takes one addition term: write "
                                 "'y | weights(w) ~ ...'", lhs)
            weights = self.variable(weights_argument(lhs.right, self.text))
            return replace(self.response(lhs.left), weights=weights)
        if isinstance(lhs, Call) and lhs.func == "cbind":
            if len(lhs.args) != 2:
                raise self.error(
                    f"cbind() takes 2 arguments (successes, failures), got {len(lhs.args)}", lhs
                )
            succ = self.variable(lhs.args[0])
            fail = self.variable(lhs.args[1])
            trials = f"hm_trials_{succ.column}"
            while trials in {v.column for v in self.variables.values()}:
                trials += "_"
            self.reserved.add(trials)
            self.notes.append(
                f"{deparse(lhs)}: binomial with {succ.name} successes out of "
                f"{succ.name} + {fail.name} trials"
            )
            return Response("cbind", succ, fail, trials)
        if isinstance(lhs, (Dot,)):
            raise self.error("'.' cannot be the response", lhs)
        if isinstance(lhs, BinOp) and lhs.op in ("|", "||", "+", "*", ":"):
            raise self.error(
                "the response must be one variable (or cbind(successes, failures)); use "
                "I(a + b) for arithmetic",
                lhs,
            )
        if isinstance(lhs, Number):
            raise self.error("the response must be a variable, not a number", lhs)
        if isinstance(lhs, Call) and lhs.func in BASIS_FUNCTIONS:
            raise self.error(f"{lhs.func}() makes predictor columns; it cannot be the response",
                             lhs)
        return Response("single", self.variable(lhs))

    # -- everything ---------------------------------------------------------------------------
    def run(self) -> ModelTerms:
        response = self.response(self.formula.lhs)
        # Grouping factors are known before '.' expands: collect them first.
        _collect_grouping(self.formula.rhs, self)
        rhs = self.expand(self.formula.rhs)
        intercept = rhs.intercept is not False
        fixed = tuple(Term(t) for t in _by_degree(rhs.terms))
        response_names = {response.variable.name} | (
            {response.failures.name} if response.failures is not None else set()
        )
        for t in fixed:
            if set(t.variables) & response_names:
                name = next(iter(set(t.variables) & response_names))
                at = self.text.find(name, self.text.index("~"))
                raise FormulaError(
                    f"the response '{name}' is also a predictor; remove it from the right of '~'",
                    self.text, at if at >= 0 else None, len(name),
                )
        seen: dict[tuple[str, str], GroupBlock] = {}
        for block in rhs.blocks:
            names = (["(Intercept)"] if block.intercept else []) + [t.name for t in block.terms]
            for name in names:
                key = (block.group, name)
                if key in seen:
                    start, end = block.span
                    raise FormulaError(
                        f"'{name}' varies by '{block.group}' twice; each term may appear in one "
                        f"group-level block per grouping factor",
                        self.text, start, max(1, end - start),
                    )
                seen[key] = block
        col = {v.name: v.design_columns for v in self.variables.values()}
        blocks = tuple(_with_bambi_names(b, col) for b in rhs.blocks)
        offsets = tuple(self.variables[name] for name in rhs.offsets)
        if offsets:
            self.notes.append(
                "offset: " + " + ".join(v.name for v in offsets)
                + " is added to the linear predictor with coefficient 1"
            )
        return ModelTerms(
            formula=self.text,
            response=response,
            intercept=intercept,
            fixed=fixed,
            groups=blocks,
            offsets=offsets,
            variables=dict(self.variables),
            bambi_formula=_bambi_formula(response, intercept, fixed, blocks, col),
            notes=tuple(self.notes),
        )


def _collect_grouping(expr: Expr, tr: _Translator) -> None:
    if isinstance(expr, Paren) and isinstance(expr.expr, BinOp) and expr.expr.op in ("|", "||"):
        for node in names_in(expr.expr.right):
            tr.grouping.add(node.name)
        return
    if isinstance(expr, BinOp):
        _collect_grouping(expr.left, tr)
        _collect_grouping(expr.right, tr)
    elif isinstance(expr, Paren):
        _collect_grouping(expr.expr, tr)
    elif isinstance(expr, Call) and expr.func == "offset":
        for node in names_in(expr):
            tr.grouping.add(node.name)


def _contains(terms: Sequence[tuple[str, ...]], term: tuple[str, ...]) -> bool:
    """Is ``term`` in ``terms``? Interactions are sets: a:b is b:a."""
    key = frozenset(term)
    return any(frozenset(t) == key for t in terms)


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(v for v in b if v not in a)


def _interact(left: list[tuple[str, ...]], right: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for lt in left:
        for rt in right:
            t = _merge(lt, rt)
            if not _contains(out, t):
                out.append(t)
    return out


def _by_degree(terms: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """R orders model terms by interaction order (main effects first), stable otherwise."""
    return sorted(terms, key=len)


Columns = dict[str, tuple[str, ...]]  # display name -> safe design column(s)


def _bambi_terms(term: Term, col: Columns) -> list[str]:
    """The Bambi terms of one lme4 term: one per combination of its variables' columns
    (a basis variable has several), the first variable varying fastest as in R."""
    parts = [col[v] for v in term.variables]
    return [":".join(reversed(combo)) for combo in itertools.product(*reversed(parts))]


def _with_bambi_names(block: GroupBlock, col: Columns) -> GroupBlock:
    group = ":".join(c for f in block.factor for c in col[f])
    names = ["1|" + group] if block.intercept else []
    owners = [-1] if block.intercept else []
    for i, t in enumerate(block.terms):
        for expanded in _bambi_terms(t, col):
            names.append(expanded + "|" + group)
            owners.append(i)
    return GroupBlock(block.intercept, block.terms, block.factor, block.correlated, block.span,
                      tuple(names), tuple(owners))


def _bambi_formula(response: Response, intercept: bool, fixed: tuple[Term, ...],
                   blocks: tuple[GroupBlock, ...], col: Columns) -> str:
    if response.kind == "cbind":
        lhs = f"p({response.variable.column}, {response.trials_column})"
    else:
        lhs = response.variable.column
    rhs = ["1" if intercept else "0"]
    rhs += [b for t in fixed for b in _bambi_terms(t, col)]
    for b in blocks:
        group = ":".join(c for f in b.factor for c in col[f])
        terms = [e for t in b.terms for e in _bambi_terms(t, col)]
        inner = " + ".join((["0"] if not b.intercept else []) + terms) or "1"
        rhs.append(f"({inner}|{group})")
    return f"{lhs} ~ {' + '.join(rhs)}"


def translate(formula: str | Formula, columns: Sequence[str] | None = None) -> ModelTerms:
    """Parse and interpret an lme4 formula.

    With ``columns`` (the data's column names), every referenced column is checked — an unknown
    one is a :class:`FormulaError` with a caret and a close match — and ``.`` is expanded.
    """
    parsed = parse(formula) if isinstance(formula, str) else formula
    return _Translator(parsed, columns).run()
