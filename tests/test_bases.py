"""R's poly(), bs() and ns(): design columns equal R's, names are R's, the training basis is
reused for new data, and every misuse is a located error.

Expected values come from the definitions (worked out by hand or by an independent
Cox-de Boor recursion written here), from R's documented ``poly(1:10, 2)`` and from R's printed
output of the ``?bs`` / ``?ns`` examples on the ``women`` data.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hiermodel as hm
from hiermodel.formula import translate
from hiermodel.formula.bases import (
    BasisSpec,
    bspline_basis,
    default_knots,
    nspline_basis,
    poly_coefs,
    poly_predict,
)
from hiermodel.posterior.fitted import Fit
from hiermodel.posterior.prediction import linear_predictor

# R's `women` data set (datasets package)
HEIGHT = np.arange(58.0, 73.0)
WEIGHT = np.array([115, 117, 120, 123, 126, 129, 132, 135, 139, 142, 146, 150, 154, 159, 164.0])


def _fitted(call: str, x: np.ndarray) -> np.ndarray:
    """The training design columns of a basis call (as the data stage computes them)."""
    terms = translate(f"y ~ {call}")
    var = terms.variables[next(v for v in terms.variables if v != "y")]
    assert var.basis is not None
    return var.basis.fit(x).evaluate(x)


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]


def _cox_de_boor(x: float, t: np.ndarray, i: int, k: int) -> float:
    """B-spline i of degree k on knots t at x, straight from the recursion (right-closed at the
    last knot, as R's splineDesign)."""
    if k == 0:
        if t[i] <= x < t[i + 1]:
            return 1.0
        last = np.flatnonzero(t < t[-1]).max()  # the last non-empty interval is closed
        return 1.0 if (i == last and x == t[-1]) else 0.0
    out = 0.0
    if t[i + k] > t[i]:
        out += (x - t[i]) / (t[i + k] - t[i]) * _cox_de_boor(x, t, i, k - 1)
    if t[i + k + 1] > t[i + 1]:
        out += (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1]) * _cox_de_boor(x, t, i + 1, k - 1)
    return out


def _reference_bs(x: np.ndarray, knots: list[float], lo: float, hi: float, degree: int
                  ) -> np.ndarray:
    t = np.array([lo] * (degree + 1) + knots + [hi] * (degree + 1))
    n = len(t) - degree - 1
    return np.array([[_cox_de_boor(v, t, i, degree) for i in range(n)] for v in x])


# -- poly -------------------------------------------------------------------------------------
def test_poly_of_1_to_10_is_rs() -> None:
    x = np.arange(1.0, 11.0)
    Z = _fitted("poly(x, 2)", x)
    # ?poly: the first column is (x - 5.5) / sqrt(82.5)
    assert np.allclose(Z[:, 0], (x - 5.5) / np.sqrt(82.5))
    # R's printed poly(1:10, 2)[, 2]
    r_second = [0.52223297, 0.17407766, -0.08703883, -0.26111648, -0.34815531,
                -0.34815531, -0.26111648, -0.08703883, 0.17407766, 0.52223297]
    assert np.allclose(Z[:, 1], r_second, atol=5e-9)
    # attr(poly(1:10, 2), "coefs"): alpha = (5.5, 5.5); norm2 = (1, 10, 82.5, 528) -- by hand:
    # ||1||^2 = 10, ||x - 5.5||^2 = 82.5, ||(x-5.5)^2 - 8.25||^2 = 528
    alpha, norm2 = poly_coefs(x, 2)
    assert np.allclose(alpha, [5.5, 5.5])
    assert np.allclose(norm2, [1, 10, 82.5, 528])


def test_poly_columns_are_orthonormal_span_the_powers_and_follow_rs_signs() -> None:
    x = np.random.default_rng(3).gamma(2.0, 2.0, 50)
    Z = _fitted("poly(x, 4)", x)
    assert np.allclose(Z.T @ Z, np.eye(4), atol=1e-10)
    assert np.allclose(Z.sum(axis=0), 0, atol=1e-10)  # orthogonal to the intercept
    for j in range(1, 5):
        powers = np.column_stack([x**p for p in range(j + 1)])
        coef = np.linalg.lstsq(powers, Z[:, j - 1], rcond=None)[0]
        assert np.allclose(powers @ coef, Z[:, j - 1], atol=1e-8)  # a polynomial of degree j
        assert coef[-1] > 0  # R's sign: positive leading coefficient (Q diag(R) is monic)


def test_raw_poly_is_the_powers() -> None:
    x = np.array([-1.0, 0.5, 2.0, 3.0])
    assert np.allclose(_fitted("poly(x, 3, raw = TRUE)", x),
                       np.column_stack([x, x**2, x**3]))


def test_poly_on_new_data_uses_the_training_coefficients() -> None:
    x = np.arange(1.0, 11.0)
    alpha, norm2 = poly_coefs(x, 2)
    # one new row at a training value: the training row, not a re-orthogonalised 1-row basis
    assert np.allclose(poly_predict(np.array([3.0]), alpha, norm2), _fitted("poly(x, 2)", x)[2])
    # at x = 11 the recurrence continues: (11 - 5.5)/sqrt(82.5); ((11-5.5)^2 - 8.25)/sqrt(528)
    assert np.allclose(poly_predict(np.array([11.0]), alpha, norm2),
                       [[5.5 / np.sqrt(82.5), (5.5**2 - 8.25) / np.sqrt(528)]])


# -- bs ---------------------------------------------------------------------------------------
def test_linear_bs_is_hat_functions() -> None:
    # bs(x, degree = 1, knots = 2, Boundary.knots = c(0, 4)): without the intercept column the
    # hats peaking at 2 (x/2 up, (4 - x)/2 down) and at 4 ((x - 2)/2 after 2)
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    B = _fitted("bs(x, degree = 1, knots = 2, Boundary.knots = c(0, 4))", x)
    assert np.allclose(B, [[0, 0], [0.5, 0], [1, 0], [0.5, 0.5], [0, 1]])


def test_cubic_bs_without_knots_is_bernstein() -> None:
    # no inner knots on [0, 1]: the cubic Bernstein polynomials without (1 - x)^3
    x = np.linspace(0, 1, 11)
    B = _fitted("bs(x)", x)
    assert np.allclose(B, np.column_stack([3 * x * (1 - x) ** 2, 3 * x**2 * (1 - x), x**3]))


def test_bs_equals_the_cox_de_boor_recursion() -> None:
    x = np.random.default_rng(5).uniform(0, 10, 40)
    x[:2] = [0.0, 10.0]
    ref = _reference_bs(x, [2.0, 5.0, 7.5], 0.0, 10.0, 3)
    B = bspline_basis(x, (2.0, 5.0, 7.5), (0.0, 10.0), 3, intercept=True)
    assert np.allclose(B, ref, atol=1e-12)
    assert np.allclose(B.sum(axis=1), 1)  # partition of unity
    assert np.allclose(bspline_basis(x, (2.0, 5.0, 7.5), (0.0, 10.0), 2),
                       _reference_bs(x, [2.0, 5.0, 7.5], 0.0, 10.0, 2)[:, 1:], atol=1e-12)


def test_default_knots_are_rs_quantiles() -> None:
    x = np.arange(1.0, 11.0)
    # type-7 quantile of 1:10 at p is 1 + 9p: p = 1/3, 2/3 -> 4, 7
    assert np.allclose(default_knots(x, 2), [4, 7])
    for call in ("bs(x, df = 5)", "ns(x, df = 3)"):
        terms = translate(f"y ~ {call}")
        spec = terms.variables[call].basis
        assert spec is not None and spec.n_columns == (5 if call.startswith("bs") else 3)
        assert spec.fit(x).knots == pytest.approx((4.0, 7.0))


def test_bs_and_ns_reproduce_rs_women_examples() -> None:
    # R's printed summary(lm(weight ~ bs(height, df = 5), data = women)) (?bs example)
    assert np.allclose(_ols(_fitted("bs(height, df = 5)", HEIGHT), WEIGHT),
                       [114.8799, 3.4657, 13.0300, 27.6161, 40.8481, 49.1296], atol=6e-5)
    # R's printed summary(lm(weight ~ ns(height, df = 5), data = women)) (?ns example); these
    # coefficients depend on the rotation ns() picks (R's QR), not only on the spline space
    assert np.allclose(_ols(_fitted("ns(height, df = 5)", HEIGHT), WEIGHT),
                       [114.7447, 15.9474, 25.1695, 33.2582, 50.7894, 45.0363], atol=6e-5)


# -- ns ---------------------------------------------------------------------------------------
def test_ns_is_a_natural_cubic_spline() -> None:
    knots, boundary = (3.0, 5.0, 8.0), (1.0, 10.0)
    h = 1e-3
    for intercept in (False, True):
        inside = np.linspace(1, 10, 91)
        N = nspline_basis(inside, knots, boundary, intercept)
        assert N.shape[1] == len(knots) + 1 + intercept
        # in the span of the cubic B-splines with the same knots
        B = _reference_bs(inside, list(knots), *boundary, 3)
        coef = np.linalg.lstsq(B, N, rcond=None)[0]
        assert np.allclose(B @ coef, N, atol=1e-10)
        # zero second derivative at each boundary knot (one-sided differences from inside)
        for b, s in ((1.0, 1), (10.0, -1)):
            pts = np.array([b, b + s * h, b + 2 * s * h])
            v = nspline_basis(pts, knots, boundary, intercept)
            assert np.allclose((v[0] - 2 * v[1] + v[2]) / h**2, 0, atol=1e-2)
        # linear beyond the boundary knots, continuing the boundary value and slope
        out = np.array([-5.0, -2.0, 0.0, 11.0, 14.0, 20.0])
        V = nspline_basis(out, knots, boundary, intercept)
        assert np.allclose(V[1] - V[0], (V[2] - V[1]) * 3 / 2)
        assert np.allclose(V[4] - V[3], (V[5] - V[4]) * 3 / 6)
        edge = nspline_basis(np.array([1.0, 1.0 + h]), knots, boundary, intercept)
        assert np.allclose(V[2], edge[0] - (edge[1] - edge[0]) / h, atol=1e-4)
    # no inner knots: a natural spline is a straight line, 0 at the lower boundary
    x = np.arange(1.0, 11.0)
    one = _fitted("ns(x)", x)[:, 0]
    assert one[0] == pytest.approx(0, abs=1e-12) and np.allclose(np.diff(one, 2), 0)


# -- names and the design ---------------------------------------------------------------------
def test_terms_and_columns_carry_rs_names() -> None:
    terms = translate("y ~ poly(x, 2) * z + bs(x, df = 4) + ns(x, knots = c(1, 2)) "
                      "+ poly(x, degree = 3, raw = TRUE)")
    assert [t.name for t in terms.fixed] == [
        "poly(x, 2)", "z", "bs(x, df = 4)", "ns(x, knots = c(1, 2))",
        "poly(x, degree = 3, raw = TRUE)", "poly(x, 2):z"]
    assert terms.variables["poly(x, 2)"].column_names == ("poly(x, 2)1", "poly(x, 2)2")
    assert terms.variables["ns(x, knots = c(1, 2))"].basis.n_columns == 3  # type: ignore[union-attr]
    assert "hm_poly_x_2_1:z + hm_poly_x_2_2:z" in terms.bambi_formula
    assert any("orthogonal polynomial of degree 2" in n for n in terms.notes)


@pytest.fixture()
def curve() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    x = rng.uniform(0, 10, n)
    z = rng.uniform(-1, 1, n)
    g = np.repeat(["a", "b", "c", "d"], n // 4)
    return pd.DataFrame({"x": x, "z": z, "g": g,
                         "y": np.sin(x) + z**2 + rng.normal(0, 0.2, n)})


def test_design_columns_equal_the_bases_with_lme4_names(curve: pd.DataFrame) -> None:
    m = hm.model("y ~ poly(x, 2) + ns(z, df = 3):g + (0 + bs(x, df = 4) | g)", curve)
    d = m.design
    assert d.x_names[:2] == ["poly(x, 2)1", "poly(x, 2)2"]
    assert "ns(z, df = 3)2:gc" in d.x_names
    assert np.allclose(d.X[:, :2], _fitted("poly(x, 2)", curve["x"].to_numpy()))
    (block,) = d.blocks
    assert block.terms == [f"bs(x, df = 4){j}" for j in range(1, 5)]
    assert np.allclose(block.Z, _fitted("bs(x, df = 4)", curve["x"].to_numpy()))


def _fake_fit(model: hm.Model, seed: int = 0, n_draws: int = 4) -> Fit:
    """A Fit with random 'draws' of the linear-predictor parameters (no sampling)."""
    rng = np.random.default_rng(seed)
    d = model.design
    post = {"Intercept": (["chain", "draw"], rng.normal(size=(1, n_draws))),
            "b": (["chain", "draw", "coef"], rng.normal(size=(1, n_draws, len(d.x_names))))}
    for block in d.blocks:
        post[f"r_{block.group}"] = (["chain", "draw", "lv", "term"],
                                    rng.normal(size=(1, n_draws, len(block.levels), block.k)))

    class _Idata:
        posterior = xr.Dataset(post)

    return Fit(model, _Idata(), {})  # type: ignore[arg-type]


def test_prediction_reuses_the_training_basis(curve: pd.DataFrame) -> None:
    m = hm.model("y ~ poly(x, 3) + bs(z, df = 5) + ns(x, 3):z + (0 + poly(x, 2) | g)", curve)
    fit = _fake_fit(m)
    train = linear_predictor(fit)
    for row in (0, 17, 64):  # one new row at a time: no refit of the basis on one value
        one = fit.predict(curve.iloc[[row]], kind="link", summary=False)
        assert np.allclose(one[:, 0], train[:, row])
    new = fit.predict(curve.iloc[::-1], kind="link", summary=False)
    assert np.allclose(new, train[:, ::-1])
    assert fit.fixef().index[1] == "poly(x, 3)1"


def test_new_data_beyond_the_boundary_knots(curve: pd.DataFrame,
                                            caplog: pytest.LogCaptureFixture) -> None:
    m = hm.model("y ~ bs(x, df = 4) + ns(z, 3)", curve)
    fit = _fake_fit(m)
    lo, hi = curve["x"].min(), curve["x"].max()
    new = pd.DataFrame({"x": [lo - 1.0, hi + 1.0], "z": [0.0, 0.0]})
    with caplog.at_level(logging.WARNING, logger="hiermodel"):
        eta = fit.predict(new, kind="link", summary=False)
    assert np.isfinite(eta).all()
    assert "bs(x, df = 4): 2 x value(s) beyond the boundary knots" in caplog.text
    assert "ns(" not in caplog.text  # ns is linear there by design: no warning, as in R


# -- errors -----------------------------------------------------------------------------------
COLUMNS = ["y", "x", "z", "g"]
FORMULA_ERRORS = [
    ("y ~ poly(x, 0)",
     "poly() argument 'degree' must be a whole number >= 1, got 0\n"
     "  y ~ poly(x, 0)\n"
     "              ^"),
    ("y ~ poly(x, dgree = 2)",
     "poly() has no argument 'dgree'; did you mean 'degree'? Arguments: degree, coefs, raw, "
     "simple\n"
     "  y ~ poly(x, dgree = 2)\n"
     "              ^^^^^^^^^"),
    ("y ~ bs(x, df = 2)",
     "df = 2 is too small for a degree-3 bs(): it needs df >= 3 (degree + intercept); lower "
     "the degree or raise df\n"
     "  y ~ bs(x, df = 2)\n"
     "                 ^"),
    ("y ~ ns(x, df = 1, intercept = TRUE)",
     "df = 1 is too small for ns() with intercept = TRUE: it needs df >= 2\n"
     "  y ~ ns(x, df = 1, intercept = TRUE)\n"
     "                 ^"),
    ("y ~ bs(x, knots = z)",
     "bs() argument 'knots' must be a constant (a number, TRUE/FALSE, NULL or c(...)), got 'z'\n"
     "  y ~ bs(x, knots = z)\n"
     "                    ^"),
    ("y ~ poly(x, 2, TRUE)",
     "poly() takes one variable and its degree; poly() of several variables is not supported, "
     "and options need names, e.g. poly(x, 2, raw = TRUE)\n"
     "  y ~ poly(x, 2, TRUE)\n"
     "                 ^^^^"),
    ("y ~ log(poly(x, 2))",
     "poly() makes several columns, so it must be a term by itself (e.g. y ~ poly(x, 3) + z or "
     "poly(x, 3):z), not part of another expression\n"
     "  y ~ log(poly(x, 2))\n"
     "          ^^^^^^^^^^"),
    ("ns(y, 2) ~ x",
     "ns() makes predictor columns; it cannot be the response\n"
     "  ns(y, 2) ~ x\n"
     "  ^^^^^^^^"),
    ("y ~ ns(x, Boundary.knots = 3)",
     "ns() Boundary.knots must be two different numbers, e.g. c(0, 10)\n"
     "  y ~ ns(x, Boundary.knots = 3)\n"
     "                             ^"),
    ("y ~ poly(xx, 2)",
     "no column 'xx'; did you mean 'x'?\n"
     "  y ~ poly(xx, 2)\n"
     "           ^^"),
    ("y ~ log(x, base = 2)",
     "log() has no argument 'base'\n"
     "  y ~ log(x, base = 2)\n"
     "             ^^^^^^^^"),
    ("y ~ x = 2",
     "'=' only names a function argument, e.g. poly(x, degree = 2); a formula has one '~'\n"
     "  y ~ x = 2\n"
     "        ^"),
]


@pytest.mark.parametrize(("formula", "message"), FORMULA_ERRORS)
def test_basis_formula_errors_point_at_the_argument(formula: str, message: str) -> None:
    with pytest.raises(hm.FormulaError) as info:
        translate(formula, columns=COLUMNS)
    assert str(info.value) == message


def test_partial_argument_names_match_as_in_r() -> None:
    spec = translate("y ~ bs(x, deg = 2, df = 4)").variables["bs(x, deg = 2, df = 4)"].basis
    assert spec == BasisSpec("bs", "bs(x, deg = 2, df = 4)", degree=2, df=4)


@pytest.mark.parametrize(("formula", "data", "message"), [
    ("y ~ poly(x, 3)", {"x": [1.0, 2.0, 3.0, 1.0, 2.0]},
     "poly(x, 3): degree 3 needs more than 3 distinct values of x, but the data have 3; lower "
     "the degree"),
    ("y ~ poly(g, 2)", {"g": list("abcab")},
     "poly(g, 2) needs numbers, but 'g' is object (e.g. 'a')"),
    ("y ~ ns(x, knots = 10)", {"x": [1.0, 2.0, 3.0, 4.0, 5.0]},
     "ns(x, knots = 10): knots [10.0] lie outside the boundary knots [1, 5]; move them inside "
     "or widen Boundary.knots"),
    ("y ~ bs(log(x), df = 3)", {"x": [0.0, 2.0, 3.0, 4.0, 5.0]},
     "'bs(log(x), df = 3)': log(x) is not finite for 1 of 5 rows (first at row 0); a basis "
     "needs finite numbers"),
])
def test_basis_data_errors(formula: str, data: dict, message: str) -> None:
    frame = pd.DataFrame({"y": [1.0, 2.0, 0.5, 3.0, 2.5], **data})
    with pytest.raises(hm.DataError) as info:
        hm.model(formula, frame)
    assert str(info.value) == message
    assert isinstance(info.value, hm.HiermodelError)


# -- one real fit -----------------------------------------------------------------------------
@pytest.mark.fit
def test_gaussian_poly_fit_recovers_the_coefficients() -> None:
    # y = 1 + 3 P1(x) - 2 P2(x) + N(0, 0.1^2), P = poly(x, 2) (orthonormal columns), so each
    # coefficient's posterior SD is about sigma / ||P_j|| = 0.1. A tolerance of 0.5 is 5 SDs:
    # a false failure has probability about 6e-7 per coefficient (plus MCMC error of the mean,
    # ~0.1 / sqrt(ESS) << 0.1). Fixed seeds make the test deterministic.
    rng = np.random.default_rng(2024)
    x = rng.uniform(-2, 3, 150)
    P = _fitted("poly(x, 2)", x)
    data = pd.DataFrame({"x": x, "y": 1 + 3 * P[:, 0] - 2 * P[:, 1] + rng.normal(0, 0.1, 150)})
    fit = hm.fit("y ~ poly(x, 2)", data, draws=300, tune=400, chains=2, seed=3)
    fe = fit.fixef()
    assert list(fe.index) == ["(Intercept)", "poly(x, 2)1", "poly(x, 2)2"]
    assert np.allclose(fe["mean"], [1, 3, -2], atol=0.5)
