"""R's polynomial and spline bases: ``poly()`` (stats), ``bs()`` and ``ns()`` (splines).

A basis call is one formula variable that makes several design columns, named as R's model
matrix names them: the call as written plus 1..k (``poly(x, 2)1``, ``ns(x, df = 3)2``).

Two steps, as in R's ``makepredictcall``:

* :func:`basis_spec` reads the call's arguments (constants only) into a :class:`BasisSpec` when
  the formula is translated, so the number of columns is known before any data is seen;
* :meth:`BasisSpec.fit` computes the data-dependent parameters on the *training* data (poly's
  ``alpha``/``norm2``, the spline knots and boundary knots) into a :class:`FittedBasis`, whose
  :meth:`~FittedBasis.evaluate` gives the columns for any x — training rows and new data alike.
  New data is never re-orthogonalised and never gets new knots.

Outside the boundary knots ``bs()`` continues the polynomial piece of the boundary interval
(what R's ``bs``/``predict.bs`` compute with their Taylor expansion) and says so in a warning,
like R; ``ns()`` is linear beyond the boundary knots by construction (R's rule, no warning);
``poly()`` is a polynomial everywhere.

Pure NumPy/SciPy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiermodel.errors import DataError, FormulaError, did_you_mean
from hiermodel.formula.ast import (
    BinOp,
    Call,
    Expr,
    Name,
    Named,
    Number,
    Paren,
    Unary,
    deparse,
    node_error,
)

log = logging.getLogger("hiermodel")

# R's formal arguments, in order (positional matching); poly's options follow `...`, so only
# its degree may be given by position and its names must be exact, as in R.
FORMALS: dict[str, tuple[str, ...]] = {
    "poly": ("x", "degree", "coefs", "raw", "simple"),
    "bs": ("x", "df", "knots", "degree", "intercept", "Boundary.knots", "warn.outside"),
    "ns": ("x", "df", "knots", "intercept", "Boundary.knots"),
}
BASIS_FUNCTIONS = tuple(FORMALS)
_UNSUPPORTED_ARGS = {
    "coefs": "poly(coefs = ) is set from the training data; leave it out",
    "simple": "poly(simple = ) is not supported; leave it out",
}
_CONSTANTS = {"TRUE": True, "T": True, "FALSE": False, "F": False, "NULL": None}


@dataclass(frozen=True)
class BasisSpec:
    """The arguments of one ``poly``/``bs``/``ns`` call (constants, before seeing data)."""

    kind: str  # "poly", "bs" or "ns"
    call: str  # the call as written (deparsed): the prefix of every column name
    degree: int = 3
    raw: bool = False
    df: int | None = None
    knots: tuple[float, ...] | None = None
    intercept: bool = False
    boundary: tuple[float, float] | None = None
    warn_outside: bool = True

    @property
    def n_columns(self) -> int:
        if self.kind == "poly":
            return self.degree
        order = self.degree if self.kind == "bs" else 1
        if self.knots is not None:
            return len(self.knots) + order + int(self.intercept)
        if self.df is not None:
            return self.df
        return order + int(self.intercept)

    def column_names(self) -> tuple[str, ...]:
        """R's model-matrix names: ``poly(x, 2)1``, ``poly(x, 2)2``."""
        return tuple(f"{self.call}{j}" for j in range(1, self.n_columns + 1))

    def note(self) -> str:
        """What the call builds, for ``translate()``'s notes."""
        k = f"{self.n_columns} column{'s' if self.n_columns != 1 else ''}"
        if self.kind == "poly" and self.raw:
            return f"{self.call}: raw powers of degree 1 to {self.degree} ({k})"
        what, fitted = {
            "poly": (f"orthogonal polynomial of degree {self.degree} (R's stats::poly)",
                     "coefficients"),
            "bs": (f"degree-{self.degree} B-spline (R's splines::bs)", "knots"),
            "ns": ("natural cubic spline (R's splines::ns)", "knots"),
        }[self.kind]
        return (f"{self.call}: {what}, {k}; its {fitted} come from the fitting data and are "
                "reused for predictions")

    def fit(self, x: np.ndarray) -> FittedBasis:
        """The basis parameters from the training values ``x`` (finite numbers)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "poly":
            if self.raw:
                return FittedBasis(self)
            alpha, norm2 = poly_coefs(x, self.degree, self.call)
            return FittedBasis(self, alpha=alpha, norm2=norm2)
        if self.boundary is not None:
            lo, hi = self.boundary
        else:
            lo, hi = float(np.min(x)), float(np.max(x))
            if not hi > lo:
                raise DataError(f"{self.call}: x is constant ({lo:g}), so it has no spline "
                                "basis; give Boundary.knots = c(low, high) or drop the term")
        knots = self.knots
        if knots is None:
            order = self.degree if self.kind == "bs" else 1
            n_inner = (self.df - order - int(self.intercept)) if self.df is not None else 0
            inside = x[(x >= lo) & (x <= hi)]
            if n_inner > 0 and inside.size == 0:
                raise DataError(f"{self.call}: no x values inside Boundary.knots "
                                f"[{lo:g}, {hi:g}] to place knots at")
            knots = default_knots(inside, n_inner)
        bad = [k for k in knots if not lo <= k <= hi]
        if bad:
            raise DataError(f"{self.call}: knots {[float(k) for k in bad]} lie outside the "
                            f"boundary knots [{lo:g}, {hi:g}]; move them inside or widen "
                            "Boundary.knots")
        return FittedBasis(self, knots=tuple(sorted(knots)), boundary=(lo, hi))


@dataclass(frozen=True)
class FittedBasis:
    """A basis with its training-data parameters: R's ``attr(, "coefs")`` for poly, the
    ``knots`` and ``Boundary.knots`` attributes for bs/ns."""

    spec: BasisSpec
    alpha: tuple[float, ...] = ()
    norm2: tuple[float, ...] = ()  # R's norm2: c(1, ||p0||^2, ..., ||p_degree||^2)
    knots: tuple[float, ...] = ()
    boundary: tuple[float, float] = (0.0, 0.0)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The (len(x), k) design columns at ``x``."""
        x = np.asarray(x, dtype=float)
        spec = self.spec
        if spec.kind == "poly":
            if spec.raw:
                return np.column_stack([x**j for j in range(1, spec.degree + 1)])
            return poly_predict(x, self.alpha, self.norm2)
        lo, hi = self.boundary
        n_out = int(np.sum((x < lo) | (x > hi)))
        if spec.kind == "bs":
            if n_out and spec.warn_outside:
                log.warning("%s: %d x value(s) beyond the boundary knots [%g, %g]; the basis "
                            "continues the boundary pieces' polynomials there (as R's bs "
                            "does), which may be ill-conditioned", spec.call, n_out, lo, hi)
            return bspline_basis(x, self.knots, self.boundary, spec.degree, spec.intercept)
        return nspline_basis(x, self.knots, self.boundary, spec.intercept)


# -- the math ---------------------------------------------------------------------------------
def poly_coefs(x: np.ndarray, degree: int, where: str = "poly()"
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """R's ``attr(poly(x, degree), "coefs")``: (alpha, norm2), from the QR decomposition of
    the centred powers exactly as ``stats::poly`` computes them."""
    n_unique = np.unique(x).size
    if degree >= n_unique:
        raise DataError(f"{where}: degree {degree} needs more than {degree} distinct values of "
                        f"x, but the data have {n_unique}; lower the degree")
    xbar = float(np.mean(x))
    xc = x - xbar
    X = np.column_stack([xc**j for j in range(degree + 1)])
    q, r = np.linalg.qr(X)
    Z = q * np.diag(r)  # Q diag(R): the monic orthogonal polynomials at x (sign-free)
    norm2 = np.sum(Z**2, axis=0)
    if not np.all(norm2[1:] > 1e-20 * max(1.0, float(norm2[0]))):
        raise DataError(f"{where}: x has too few distinct values for degree {degree}; lower "
                        "the degree")
    alpha = (np.sum(xc[:, None] * Z**2, axis=0) / norm2 + xbar)[:degree]
    return tuple(float(a) for a in alpha), (1.0, *(float(v) for v in norm2))


def poly_predict(x: np.ndarray, alpha: tuple[float, ...], norm2: tuple[float, ...]
                 ) -> np.ndarray:
    """``predict(poly(...), x)``: R's three-term recurrence with the stored coefficients,
    ``Z[, i+2] = (x - alpha[i+1]) Z[, i+1] - norm2[i+2]/norm2[i+1] Z[, i]``, columns
    divided by ``sqrt(norm2[-1])``."""
    degree = len(alpha)
    Z = np.ones((len(x), degree + 1))
    Z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        Z[:, i + 1] = (x - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
    Z = Z / np.sqrt(np.asarray(norm2[1:]))
    return Z[:, 1:]


def default_knots(x: np.ndarray, n_inner: int) -> tuple[float, ...]:
    """R's inner knots: ``quantile(x, seq(0, 1, length = n + 2)[-c(1, n + 2)])`` (type 7)."""
    if n_inner <= 0:
        return ()
    probs = np.linspace(0.0, 1.0, n_inner + 2)[1:-1]
    return tuple(float(v) for v in np.quantile(x, probs))


def _bsplines(x: np.ndarray, aknots: np.ndarray, degree: int, nu: int = 0) -> np.ndarray:
    """Every B-spline of the knot sequence (or its ``nu``-th derivative) at ``x``; outside the
    knots, the polynomial of the first / last interval continues (R's Taylor expansion)."""
    from scipy.interpolate import BSpline

    n = len(aknots) - degree - 1
    spline = BSpline(aknots, np.eye(n), degree, extrapolate=True)
    if nu:
        spline = spline.derivative(nu)
    return np.asarray(spline(x), dtype=float).reshape(len(x), n)


def _aknots(knots: tuple[float, ...], boundary: tuple[float, float], order: int) -> np.ndarray:
    return np.sort(np.concatenate([np.repeat(boundary, order), np.asarray(knots, float)]))


def bspline_basis(x: np.ndarray, knots: tuple[float, ...], boundary: tuple[float, float],
                  degree: int = 3, intercept: bool = False) -> np.ndarray:
    """``splines::bs(x, knots=, degree=, intercept=, Boundary.knots=)``."""
    basis = _bsplines(np.asarray(x, float), _aknots(knots, boundary, degree + 1), degree)
    return basis if intercept else basis[:, 1:]


def nspline_basis(x: np.ndarray, knots: tuple[float, ...], boundary: tuple[float, float],
                  intercept: bool = False) -> np.ndarray:
    """``splines::ns(x, knots=, intercept=, Boundary.knots=)``: the cubic B-splines projected
    onto the null space of their second derivatives at the boundary knots, by R's QR."""
    x = np.asarray(x, float)
    aknots = _aknots(knots, boundary, 4)
    basis = _bsplines(x, aknots, 3)
    lo, hi = boundary
    for side, pivot in ((x < lo, lo), (x > hi, hi)):
        if side.any():  # linear beyond the boundary: value + slope at the boundary knot
            at = np.array([pivot])
            basis[side] = (_bsplines(at, aknots, 3)
                           + (x[side] - pivot)[:, None] * _bsplines(at, aknots, 3, nu=1))
    const = _bsplines(np.array([lo, hi]), aknots, 3, nu=2)
    if not intercept:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = np.linalg.qr(const.T, mode="complete")
    return np.asarray(basis @ q[:, 2:])


# -- reading the call -------------------------------------------------------------------------
def basis_argument(call: Call) -> Expr:
    """The data argument ``x`` of a basis call (first positional, or ``x = ...``)."""
    for arg in call.args:
        if isinstance(arg, Named) and arg.name == "x":
            return arg.value
    for arg in call.args:
        if not isinstance(arg, Named):
            return arg
    raise FormulaError(f"{call.func}() needs the variable as its first argument, e.g. "
                       f"{call.func}(x, {'2' if call.func == 'poly' else 'df = 4'})")


def _constant(expr: Expr, text: str, what: str) -> Any:
    """A constant argument: number, TRUE/FALSE/NULL, ``c(...)`` of numbers, arithmetic."""
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Paren):
        return _constant(expr.expr, text, what)
    if isinstance(expr, Name) and expr.name in _CONSTANTS:
        return _CONSTANTS[expr.name]
    if isinstance(expr, Unary):
        value = _constant(expr.operand, text, what)
        if isinstance(value, float):
            return -value if expr.op == "-" else value
    if isinstance(expr, Call) and expr.func == "c":
        values = [_constant(a, text, what) for a in expr.args]
        if all(isinstance(v, float) for v in values):
            return tuple(values)
    if isinstance(expr, BinOp) and expr.op in ("+", "-", "*", "/", "^"):
        a, b = _constant(expr.left, text, what), _constant(expr.right, text, what)
        if isinstance(a, float) and isinstance(b, float):
            with np.errstate(all="ignore"):
                value = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
                         "^": np.power}[expr.op](a, b)
            if np.isfinite(value):
                return float(value)
    raise node_error(f"{what} must be a constant (a number, TRUE/FALSE, NULL or c(...)), got "
                     f"'{deparse(expr)}'", text, expr)


def _match(call: Call, text: str) -> dict[str, Named | Expr]:
    """R's argument matching: exact names, then unique prefixes (not for poly's options after
    ``...``), then positions."""
    func = call.func
    formals = FORMALS[func]
    matched: dict[str, Named | Expr] = {}
    positional: list[Expr] = []
    for arg in call.args:
        if not isinstance(arg, Named):
            positional.append(arg)
            continue
        name = arg.name
        if name not in formals and func != "poly":
            prefixed = [f for f in formals if f.startswith(name)]
            if len(prefixed) == 1:
                name = prefixed[0]
        if name not in formals:
            raise node_error(f"{func}() has no argument '{arg.name}'"
                             f"{did_you_mean(arg.name, formals[1:])} Arguments: "
                             + ", ".join(formals[1:]), text, arg)
        if name in matched:
            raise node_error(f"argument '{name}' of {func}() is given twice", text, arg)
        matched[name] = arg
    free = [f for f in formals if f not in matched]
    if func == "poly":
        free = [f for f in ("x", "degree") if f not in matched]
    if len(positional) > len(free):
        extra = positional[len(free)]
        if func == "poly":
            msg = ("poly() takes one variable and its degree; poly() of several variables "
                   "is not supported, and options need names, e.g. poly(x, 2, raw = TRUE)")
        else:
            msg = f"{func}() takes at most {len(formals)} arguments: {', '.join(formals)}"
        raise node_error(msg, text, extra)
    for name, arg in zip(free, positional, strict=False):
        matched[name] = arg
    return matched


def _value(arg: Named | Expr) -> Expr:
    return arg.value if isinstance(arg, Named) else arg


def basis_spec(call: Call, text: str) -> BasisSpec:
    """Read a ``poly``/``bs``/``ns`` call; a bad argument is a :class:`FormulaError` with a
    caret under it."""
    func = call.func
    args = _match(call, text)
    if "x" not in args:
        raise node_error(f"{func}() needs the variable as its first argument", text, call)

    def get(name: str, kind: str, default: Any) -> Any:
        if name not in args:
            return default
        node = _value(args[name])
        value = _constant(node, text, f"{func}() argument '{name}'")
        if value is None and kind != "bool":
            return default
        if kind == "bool":
            if not isinstance(value, bool):
                raise node_error(f"{func}() argument '{name}' must be TRUE or FALSE", text, node)
        elif kind in ("int", "count"):
            low = 1 if kind == "count" else 0
            if not (isinstance(value, float) and value.is_integer() and value >= low):
                raise node_error(f"{func}() argument '{name}' must be a whole number >= {low}, got "
                            f"{deparse(node)}", text, node)
            value = int(value)
        elif kind == "vector":
            value = (value,) if isinstance(value, float) else value
            if not isinstance(value, tuple) or not all(np.isfinite(value)):
                raise node_error(f"{func}() argument '{name}' must be finite numbers, e.g. "
                            "c(1, 2.5)", text, node)
        return value

    for name in _UNSUPPORTED_ARGS:
        if name in args:
            raise node_error(_UNSUPPORTED_ARGS[name], text, args[name])
    display = deparse(call)
    if func == "poly":
        degree = get("degree", "count", 1)
        return BasisSpec("poly", display, degree=degree, raw=get("raw", "bool", False))
    degree = get("degree", "count", 3) if func == "bs" else 3
    intercept = get("intercept", "bool", False)
    knots = get("knots", "vector", None)
    boundary = get("Boundary.knots", "vector", None)
    if boundary is not None:
        if len(boundary) != 2 or boundary[0] == boundary[1]:
            raise node_error(f"{func}() Boundary.knots must be two different numbers, e.g. "
                             "c(0, 10)", text, _value(args["Boundary.knots"]))
        boundary = (min(boundary), max(boundary))
    df = get("df", "count", None)
    order = degree if func == "bs" else 1
    if df is not None and knots is None and df < order + int(intercept):
        need = order + int(intercept)
        what = (f"a degree-{degree} bs()" if func == "bs" else "ns()") + (
            " with intercept = TRUE" if intercept else "")
        raise node_error(f"df = {df} is too small for {what}: it needs df >= {need}"
                         + (" (degree + intercept); lower the degree or raise df" if func == "bs"
                            else ""), text, _value(args["df"]))
    return BasisSpec(func, display, degree=degree, df=df,
                     knots=tuple(float(k) for k in knots) if knots is not None else None,
                     intercept=intercept, boundary=boundary,
                     warn_outside=get("warn.outside", "bool", True) if func == "bs" else True)


__all__ = [
    "BASIS_FUNCTIONS",
    "FORMALS",
    "BasisSpec",
    "FittedBasis",
    "basis_argument",
    "basis_spec",
    "bspline_basis",
    "default_knots",
    "nspline_basis",
    "poly_coefs",
    "poly_predict",
]
