"""A tiny, safe arithmetic evaluator for prior-template parameters.

Template parameters such as ``sigma = "2.5 * sd_y / sd_x"`` are parsed with :mod:`ast` and
only a whitelist of node types is accepted: numbers, names, ``+ - * / **``, unary ``+ -``,
parentheses and calls of the functions in :data:`FUNCTIONS`. Nothing is ever passed to
:func:`eval`; attribute access, subscripts, comparisons, strings, keyword arguments and any
other function are rejected with a :class:`~hiermodel.errors.PriorError` that says where the
expression came from (``weakly_informative.toml: [priors.b] sigma``) and what is allowed.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hiermodel.errors import PriorError, did_you_mean


def _round(x: float, digits: float = 0.0) -> float:
    if digits != int(digits):
        raise ValueError(f"round() digits must be a whole number, got {digits:g}")
    return float(round(x, int(digits)))


def _log(x: float, base: float | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


# name -> (function, min args, max args or None for unbounded)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (min, 2, None),
    "max": (max, 2, None),
}

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: dict[type, Callable[[float], float]] = {
    ast.UAdd: lambda a: +a,
    ast.USub: lambda a: -a,
}

ALLOWED = (
    "numbers, names, + - * / ** ( ) and the functions "
    + ", ".join(f"{f}()" for f in FUNCTIONS)
)

_DESCRIBE: dict[type, str] = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "indexing ('[...]')",
    ast.Compare: "a comparison",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if ... else'",
    ast.Lambda: "a lambda",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking",
}


def _fmt_names(names: Iterable[str]) -> str:
    return ", ".join(sorted(set(names))) or "(none)"


def _where(where: str) -> str:
    return f"{where}: " if where else ""


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r}"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    return _DESCRIBE.get(type(node), f"a '{type(node).__name__}' expression")


def _check(node: ast.AST, text: str, where: str) -> set[str]:
    """Validate ``node`` against the whitelist; return the free names it uses."""

    def fail(msg: str) -> PriorError:
        return PriorError(f"{_where(where)}'{text}': {msg} is not allowed; expressions may use "
                          f"{ALLOWED}")

    if isinstance(node, ast.Expression):
        return _check(node.body, text, where)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise fail(_describe(node))
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise fail(_describe(node))
        return _check(node.left, text, where) | _check(node.right, text, where)
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise fail(_describe(node))
        return _check(node.operand, text, where)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise fail("calling anything but a plain function name")
        fname = node.func.id
        if fname not in FUNCTIONS:
            hint = did_you_mean(fname, FUNCTIONS) or ";"
            raise PriorError(
                f"{_where(where)}'{text}': function '{fname}' is not allowed{hint} "
                f"allowed functions: {', '.join(FUNCTIONS)}"
            )
        if node.keywords:
            raise fail(f"a keyword argument in {fname}()")
        _, lo, hi = FUNCTIONS[fname]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if hi == lo else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
            raise PriorError(
                f"{_where(where)}'{text}': {fname}() takes {want} argument(s), got {n}"
            )
        used: set[str] = set()
        for arg in node.args:
            used |= _check(arg, text, where)
        return used
    raise fail(_describe(node))


@dataclass(frozen=True)
class Expr:
    """A validated arithmetic expression (or a plain number) with the names it uses."""

    text: str
    names: frozenset[str] = frozenset()
    node: ast.Expression | None = field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def compile(cls, value: str | float | int, where: str = "") -> Expr:
        """Parse and whitelist-check ``value`` (a number or an expression string)."""
        if isinstance(value, bool):
            raise PriorError(f"{_where(where)}expected a number or an expression, got {value!r}")
        if isinstance(value, int | float):
            return cls(_fmt_number(float(value)), frozenset(), ast.Expression(
                body=ast.Constant(float(value))))
        if not isinstance(value, str):
            raise PriorError(
                f"{_where(where)}expected a number or an expression string, got "
                f"{type(value).__name__} {value!r}"
            )
        text = value.strip()
        if not text:
            raise PriorError(f"{_where(where)}empty expression")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise PriorError(
                f"{_where(where)}cannot parse expression '{text}': {exc.msg}"
            ) from None
        names = _check(tree, text, where)
        return cls(text, frozenset(names), tree)

    @classmethod
    def from_node(cls, node: ast.expr, source: str, where: str = "") -> Expr:
        """An :class:`Expr` for a sub-node of a larger parsed text (e.g. one prior argument)."""
        text = ast.get_source_segment(source, node) or ast.unparse(node)
        tree = ast.Expression(body=node)
        names = _check(tree, text, where)
        return cls(text, frozenset(names), tree)

    @property
    def is_number(self) -> bool:
        return not self.names and self.node is not None and isinstance(
            self.node.body, ast.Constant)

    def check_names(self, valid: Iterable[str], where: str = "") -> None:
        """Raise :class:`PriorError` if the expression uses a name outside ``valid``."""
        valid = set(valid)
        for name in sorted(self.names):
            if name not in valid:
                raise _unknown_name(name, self.text, valid, where)

    def evaluate(self, env: Mapping[str, float], where: str = "") -> float:
        """The value of the expression with names looked up in ``env``."""
        if self.node is None:  # pragma: no cover - constructed by hand without a node
            return float(Expr.compile(self.text, where).evaluate(env, where))
        self.check_names(env, where)
        try:
            value = _eval(self.node.body, env)
        except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
            reason = "the result is too large" if isinstance(exc, OverflowError) else str(exc)
            used = ", ".join(f"{n}={_fmt_number(float(env[n]))}" for n in sorted(self.names))
            with_ = f" (with {used})" if used else ""
            raise PriorError(
                f"{_where(where)}'{self.text}' could not be evaluated{with_}: {reason}"
            ) from None
        if not math.isfinite(value):
            raise PriorError(
                f"{_where(where)}'{self.text}' evaluates to {value}, not a finite number"
            )
        return value

    def __str__(self) -> str:
        return self.text


def _unknown_name(name: str, text: str, valid: Iterable[str], where: str) -> PriorError:
    valid = sorted(set(valid))
    if name in FUNCTIONS:
        return PriorError(
            f"{_where(where)}'{text}': '{name}' is a function; call it as {name}(...)"
        )
    hint = did_you_mean(name, valid) or ";"
    return PriorError(
        f"{_where(where)}unknown name '{name}' in '{text}'{hint} valid names: {_fmt_names(valid)}"
    )


def _eval(node: ast.AST, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # _check allowed numbers only
    if isinstance(node, ast.Name):
        return float(env[node.id])
    if isinstance(node, ast.BinOp):
        value = _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
        if isinstance(value, complex):
            raise ValueError("a negative number to a fractional power is not a real number")
        return float(value)
    if isinstance(node, ast.UnaryOp):
        return float(_UNARY[type(node.op)](_eval(node.operand, env)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = FUNCTIONS[node.func.id][0]
        return float(fn(*(_eval(a, env) for a in node.args)))
    raise TypeError(f"unsupported expression node {type(node).__name__}")  # pragma: no cover


def evaluate(value: str | float | int, env: Mapping[str, float] | None = None,
             where: str = "") -> float:
    """Evaluate a number or an expression string over ``env`` (a name -> number mapping).

    >>> evaluate("round(log(typical), 1)", {"typical": 10})
    2.3
    """
    return Expr.compile(value, where).evaluate(env or {}, where)


def _fmt_number(value: float, digits: int = 15) -> str:
    """Short text for a number: ``1`` for 1.0, ``2.5``, ``1e-06``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


__all__ = ["ALLOWED", "FUNCTIONS", "Expr", "evaluate"]
