"""Prior value type, prior-string parsing and class/support validation (pure Python)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hiermodel.errors import PriorError
from hiermodel.priors import Prior, parse_prior
from hiermodel.priors.dist import check_support, fmt_number, make_prior

VALID = [
    ("Normal(2.3, 1.1)", "Normal", (("mu", 2.3), ("sigma", 1.1))),
    ("normal(0, 5)", "Normal", (("mu", 0.0), ("sigma", 5.0))),
    ("Normal(mu=0, sigma=5)", "Normal", (("mu", 0.0), ("sigma", 5.0))),
    ("Normal(sigma=5, mu=0)", "Normal", (("mu", 0.0), ("sigma", 5.0))),
    ("Normal(0, sigma=5)", "Normal", (("mu", 0.0), ("sigma", 5.0))),
    ("  normal( -1e3 , 2e-5 ) ", "Normal", (("mu", -1000.0), ("sigma", 2e-5))),
    ("student_t(3, 0, 2.5)", "StudentT", (("nu", 3.0), ("mu", 0.0), ("sigma", 2.5))),
    ("StudentT(nu=3, mu=0, sigma=2.5)", "StudentT", (("nu", 3.0), ("mu", 0.0), ("sigma", 2.5))),
    ("half_cauchy(1)", "HalfCauchy", (("beta", 1.0),)),
    ("HalfCauchy(beta=1)", "HalfCauchy", (("beta", 1.0),)),
    ("halfnormal(2)", "HalfNormal", (("sigma", 2.0),)),
    ("half_student_t(3, 2.5)", "HalfStudentT", (("nu", 3.0), ("sigma", 2.5))),
    ("cauchy(0, 2.5)", "Cauchy", (("alpha", 0.0), ("beta", 2.5))),
    ("exponential(1)", "Exponential", (("lam", 1.0),)),
    ("Exponential(1 / 4)", "Exponential", (("lam", 0.25),)),
    ("gamma(2, 0.1)", "Gamma", (("alpha", 2.0), ("beta", 0.1))),
    ("inv_gamma(3, 2)", "InverseGamma", (("alpha", 3.0), ("beta", 2.0))),
    ("lognormal(0, 1)", "LogNormal", (("mu", 0.0), ("sigma", 1.0))),
    ("double_exponential(0, 1)", "Laplace", (("mu", 0.0), ("b", 1.0))),
    ("uniform(0, 10)", "Uniform", (("lower", 0.0), ("upper", 10.0))),
    ("flat", "Flat", ()),
    ("Flat()", "Flat", ()),
    ("half_flat()", "HalfFlat", ()),
    ("lkj(2)", "LKJ", (("eta", 2.0),)),
    ("LKJ(eta=2)", "LKJ", (("eta", 2.0),)),
    ("lkj_corr_cholesky(1)", "LKJ", (("eta", 1.0),)),
]


@pytest.mark.parametrize(("text", "dist", "params"), VALID)
def test_parse_prior_valid(text: str, dist: str, params: tuple) -> None:
    prior = parse_prior(text)
    assert prior == Prior(dist, params)
    assert prior.dist == dist
    assert prior.params == params


_SPELLING = ("(lower-case brms/Stan spellings such as normal, student_t, half_cauchy, "
             "exponential, lkj also work)")
_DISTS = ("Normal, StudentT, Cauchy, Laplace, Flat, HalfNormal, HalfCauchy, HalfStudentT, "
          "Exponential, Gamma, InverseGamma, LogNormal, HalfFlat, Beta, Uniform, LKJ")
_EXAMPLE = "write it like Normal(0, 1), normal(mu=0, sigma=1) or student_t(3, 0, 2.5)"
_ALLOWED = ("expressions may use numbers, names, + - * / ** ( ) and the functions log(), "
            "log10(), exp(), sqrt(), abs(), round(), min(), max()")

INVALID = [
    ("normel(0, 1)",
     f"prior 'normel(0, 1)': unknown distribution 'normel'; did you mean 'Normal' or "
     f"'LogNormal' or 'HalfNormal'? valid: {_DISTS} {_SPELLING}"),
    ("beta_binomial(1, 2)",
     f"prior 'beta_binomial(1, 2)': unknown distribution 'beta_binomial'; valid: {_DISTS} "
     f"{_SPELLING}"),
    ("Normal(0)", "prior 'Normal(0)': Normal needs parameters (mu, sigma); missing 'sigma'"),
    ("HalfNormal()", "prior 'HalfNormal()': HalfNormal needs parameters (sigma); missing 'sigma'"),
    ("Normal(0, 1, 2)", "prior 'Normal(0, 1, 2)': Normal takes 2 parameters (mu, sigma), got 3"),
    ("lkj(1, 2)", "prior 'lkj(1, 2)': LKJ takes 1 parameter (eta), got 2"),
    ("Normal(mu=0, sd=1)",
     "prior 'Normal(mu=0, sd=1)': unknown parameter 'sd' for Normal; valid: mu, sigma"),
    ("HalfCauchy(sigma=1)",
     "prior 'HalfCauchy(sigma=1)': unknown parameter 'sigma' for HalfCauchy; valid: beta"),
    ("Normal(0, mu=1)", "prior 'Normal(0, mu=1)': parameter 'mu' is given twice"),
    ("Normal(0, -1)", "prior 'Normal(0, -1)': Normal sigma must be > 0, got -1"),
    ("exponential(0)", "prior 'exponential(0)': Exponential lam must be > 0, got 0"),
    ("uniform(5, 1)", "prior 'uniform(5, 1)': Uniform needs lower < upper, got lower=5, upper=1"),
    ("Normal(0, sd_y)",
     "prior 'Normal(0, sd_y)': parameters must be numbers, got 'sd_y' for sigma; data-scaled "
     "expressions such as '2.5 * sd_y' belong in a prior template"),
    ("Normal(0, 1", f"prior 'Normal(0, 1': cannot parse ('(' was never closed); {_EXAMPLE}"),
    ("0.5", f"prior '0.5': not a distribution call; {_EXAMPLE}"),
    ("pm.Normal(0, 1)", f"prior 'pm.Normal(0, 1)': not a distribution call; {_EXAMPLE}"),
    ("", f"empty prior; {_EXAMPLE}"),
    ("Normal(0, 1/0)",
     "prior 'Normal(0, 1/0)': '1/0' could not be evaluated: float division by zero"),
    ("Normal(0, __import__('os').getpid())",
     f"prior 'Normal(0, __import__('os').getpid())': '__import__('os').getpid()': calling "
     f"anything but a plain function name is not allowed; {_ALLOWED}"),
    ("Normal(*[0, 1])", "prior 'Normal(*[0, 1])': '*' unpacking is not allowed"),
    ("Normal(**{'mu': 0})", "prior 'Normal(**{'mu': 0})': '**' unpacking is not allowed"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_parse_prior_invalid(text: str, message: str) -> None:
    with pytest.raises(PriorError) as err:
        parse_prior(text)
    assert str(err.value) == message


def test_parse_prior_rejects_non_string() -> None:
    with pytest.raises(PriorError, match=r"a prior must be a string like 'Normal\(0, 1\)'"):
        parse_prior(3)  # type: ignore[arg-type]


def test_prior_value_type() -> None:
    p = Prior("Normal", (("sigma", 1.1), ("mu", 2.3)))  # canonical order restored
    assert p.params == (("mu", 2.3), ("sigma", 1.1))
    assert str(p) == "Normal(mu=2.3, sigma=1.1)"
    assert p.kwargs == {"mu": 2.3, "sigma": 1.1}
    assert p == parse_prior("Normal(2.3, 1.1)")
    assert hash(p) == hash(parse_prior("normal(mu=2.3, sigma=1.1)"))
    assert p.support == "real"
    assert Prior.from_dict(p.to_dict()) == p
    assert p.to_dict() == {"dist": "Normal", "params": {"mu": 2.3, "sigma": 1.1}}
    with pytest.raises(AttributeError):
        p.dist = "Cauchy"  # type: ignore[misc]
    # Bambi's automatic priors arrive with any order and int values
    assert Prior("HalfStudentT", (("sigma", 56), ("nu", 4))).params == (
        ("nu", 4.0), ("sigma", 56.0))
    assert Prior("Weibull", (("alpha", 1),)).support is None  # unknown dists pass through


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (2.3, "2.3"), (140.50000000000003, "140.5"), (48.954703832752614, "48.95"),
    (0.017793594306049824, "0.01779"), (19581.881533101047, "19582"), (2e-5, "2e-05"),
    (-1000.0, "-1000"), (0.1, "0.1"),
])
def test_number_format(value: float, text: str) -> None:
    assert fmt_number(value) == text


def test_str_uses_four_significant_digits_but_params_are_exact() -> None:
    p = make_prior("Normal", {"mu": 0, "sigma": 2.5 * 56.2 / 2.87})
    assert str(p) == "Normal(mu=0, sigma=48.95)"
    assert p.format(6) == "Normal(mu=0, sigma=48.9547)"
    assert p.kwargs["sigma"] == 2.5 * 56.2 / 2.87


_POS = ("another positive distribution: HalfNormal, HalfCauchy, HalfStudentT, Exponential, "
        "Gamma, InverseGamma, LogNormal, HalfFlat, Uniform with lower >= 0")
_REAL = ("another real-line distribution: Normal, StudentT, Cauchy, Laplace, Flat "
         "(or a bounded Uniform)")

SUPPORT = [
    ("normal(0, 5)", "sd",
     "x: Normal(mu=0, sigma=5) cannot be used for class 'sd' (a group-level standard deviation, "
     f"which must be positive); use HalfNormal(sigma=5) instead, or {_POS}"),
    ("student_t(3, 0, 2.5)", "sigma",
     "x: StudentT(nu=3, mu=0, sigma=2.5) cannot be used for class 'sigma' (the residual standard "
     f"deviation, which must be positive); use HalfStudentT(nu=3, sigma=2.5) instead, or {_POS}"),
    ("cauchy(0, 2)", "nu",
     "x: Cauchy(alpha=0, beta=2) cannot be used for class 'nu' (the Student-t degrees of "
     f"freedom, which must be positive); use HalfCauchy(beta=2) instead, or {_POS}"),
    ("uniform(-1, 10)", "alpha",
     "x: Uniform(lower=-1, upper=10) cannot be used for class 'alpha' (the negative-binomial/"
     f"gamma shape, which must be positive); use Uniform(lower=0, upper=10) instead, or {_POS}"),
    ("lkj(2)", "phi",
     f"x: LKJ(eta=2) cannot be used for class 'phi' (the beta precision, which must be "
     f"positive); use {_POS}"),
    ("half_normal(1)", "b",
     "x: HalfNormal(sigma=1) cannot be used for class 'b' (a population-level coefficient, "
     f"which can be any real number); use Normal(mu=0, sigma=1) instead, or {_REAL}"),
    ("half_cauchy(2)", "Intercept",
     "x: HalfCauchy(beta=2) cannot be used for class 'Intercept' (the intercept, which can be "
     f"any real number); use Cauchy(alpha=0, beta=2) instead, or {_REAL}"),
    ("exponential(1)", "b",
     "x: Exponential(lam=1) cannot be used for class 'b' (a population-level coefficient, "
     f"which can be any real number); use {_REAL}"),
    ("normal(0, 1)", "cor",
     "x: Normal(mu=0, sigma=1) cannot be used for class 'cor' (the correlation matrix of a "
     "group-level block); use LKJ(eta=2) instead (LKJ is the only prior for correlations)"),
]


@pytest.mark.parametrize(("text", "cls", "message"), SUPPORT)
def test_support_validation(text: str, cls: str, message: str) -> None:
    with pytest.raises(PriorError) as err:
        check_support(parse_prior(text), cls, "x")
    assert str(err.value) == message


@pytest.mark.parametrize(("text", "cls"), [
    ("normal(0, 1)", "b"), ("student_t(3, 0, 1)", "Intercept"), ("flat", "b"),
    ("uniform(-5, 5)", "b"), ("half_normal(1)", "sd"), ("exponential(1)", "sigma"),
    ("gamma(2, 0.1)", "nu"), ("half_flat", "sd"), ("uniform(0, 100)", "sigma"),
    ("lognormal(0, 1)", "phi"), ("inv_gamma(3, 2)", "alpha"), ("lkj(1)", "cor"),
])
def test_support_ok(text: str, cls: str) -> None:
    check_support(parse_prior(text), cls)


def test_priors_package_does_not_import_pymc_or_bambi() -> None:
    pkg = Path(__file__).resolve().parents[1] / "hiermodel" / "priors"
    for path in pkg.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for n in names:
                assert n.split(".")[0] not in {"pymc", "bambi", "pytensor", "arviz"}, path
