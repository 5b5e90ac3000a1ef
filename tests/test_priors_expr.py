"""The whitelisting arithmetic evaluator used by prior templates."""

from __future__ import annotations

import math

import pytest

from hiermodel.errors import PriorError
from hiermodel.priors.expr import Expr, evaluate

ENV = {"sd_y": 56.2, "sd_x": 2.87, "mean_y": 298.5, "typical": 10.0, "spread": 3.0}

VALUES = [
    ("2.5 * sd_y / sd_x", 2.5 * 56.2 / 2.87),
    ("mean_y", 298.5),
    ("-sd_x + +1", -2.87 + 1),
    ("(1 + 2) * 3 - 4 / 8", 8.5),
    ("2 ** 3 ** 2", 512.0),
    ("round(log(typical), 1)", 2.3),
    ("round(log(spread), 1)", 1.1),
    ("round(2.567)", 3.0),
    ("log(8, 2)", 3.0),
    ("log10(1000)", 3.0),
    ("exp(0)", 1.0),
    ("sqrt(16)", 4.0),
    ("abs(-2)", 2.0),
    ("min(sd_y, 10, 3)", 3.0),
    ("max(1, sd_x)", 2.87),
    ("1e-3", 0.001),
    (7, 7.0),
    (0.5, 0.5),
]


@pytest.mark.parametrize(("text", "value"), VALUES)
def test_evaluate(text: str | float, value: float) -> None:
    assert evaluate(text, ENV) == value


def test_round_reproduces_the_talk_exactly() -> None:
    assert evaluate("round(log(10), 1)") == 2.3
    assert evaluate("round(log(3), 1)") == 1.1


def test_compile_reports_names_and_is_reusable() -> None:
    e = Expr.compile("2.5 * sd_y / sd_x")
    assert e.names == frozenset({"sd_y", "sd_x"})
    assert e.evaluate({"sd_y": 1.0, "sd_x": 2.0}) == 1.25
    assert e.evaluate({"sd_y": 2.0, "sd_x": 1.0}) == 5.0
    assert Expr.compile(3).is_number and not e.is_number


_ALLOWED = ("expressions may use numbers, names, + - * / ** ( ) and the functions log(), "
            "log10(), exp(), sqrt(), abs(), round(), min(), max()")

REJECTED = [
    ("sd_y.__class__", f"w: 'sd_y.__class__': attribute access ('.') is not allowed; {_ALLOWED}"),
    ("().__class__.__bases__",
     f"w: '().__class__.__bases__': attribute access ('.') is not allowed; {_ALLOWED}"),
    ("math.pi", f"w: 'math.pi': attribute access ('.') is not allowed; {_ALLOWED}"),
    ("__import__('os')",
     "w: '__import__('os')': function '__import__' is not allowed; allowed functions: log, "
     "log10, exp, sqrt, abs, round, min, max"),
    ("open('x')",
     "w: 'open('x')': function 'open' is not allowed; allowed functions: log, log10, exp, sqrt, "
     "abs, round, min, max"),
    ("lg(2)",
     "w: 'lg(2)': function 'lg' is not allowed; did you mean 'log'? allowed functions: log, "
     "log10, exp, sqrt, abs, round, min, max"),
    ("(lambda: 1)()", f"w: '(lambda: 1)()': calling anything but a plain function name is not "
                      f"allowed; {_ALLOWED}"),
    ("lambda: 1", f"w: 'lambda: 1': a lambda is not allowed; {_ALLOWED}"),
    ("sd_y[0]", f"w: 'sd_y[0]': indexing ('[...]') is not allowed; {_ALLOWED}"),
    ("sd_y > 1", f"w: 'sd_y > 1': a comparison is not allowed; {_ALLOWED}"),
    ("1 if sd_y else 2", f"w: '1 if sd_y else 2': 'if ... else' is not allowed; {_ALLOWED}"),
    ("'abc'", f"w: ''abc'': the constant 'abc' is not allowed; {_ALLOWED}"),
    ("True", f"w: 'True': the constant True is not allowed; {_ALLOWED}"),
    ("7 // 2", f"w: '7 // 2': the operator FloorDiv is not allowed; {_ALLOWED}"),
    ("7 % 2", f"w: '7 % 2': the operator Mod is not allowed; {_ALLOWED}"),
    ("~1", f"w: '~1': the operator Invert is not allowed; {_ALLOWED}"),
    ("[1, 2]", f"w: '[1, 2]': a list is not allowed; {_ALLOWED}"),
    ("round(sd_y, ndigits=1)",
     f"w: 'round(sd_y, ndigits=1)': a keyword argument in round() is not allowed; {_ALLOWED}"),
    ("exp(1, 2)", "w: 'exp(1, 2)': exp() takes 1 argument(s), got 2"),
    ("min(1)", "w: 'min(1)': min() takes 2 or more argument(s), got 1"),
    ("round()", "w: 'round()': round() takes 1 to 2 argument(s), got 0"),
    ("2 *", "w: cannot parse expression '2 *': invalid syntax"),
    ("", "w: empty expression"),
]


@pytest.mark.parametrize(("text", "message"), REJECTED)
def test_rejected_at_compile_time(text: str, message: str) -> None:
    with pytest.raises(PriorError) as err:
        Expr.compile(text, "w")
    assert str(err.value) == message


EVAL_ERRORS = [
    ("sd_z", "w: unknown name 'sd_z' in 'sd_z'; did you mean 'sd_y' or 'sd_x'? valid names: "
             "mean_y, sd_x, sd_y, spread, typical"),
    ("2 * nothing_like_it", "w: unknown name 'nothing_like_it' in '2 * nothing_like_it'; valid "
                            "names: mean_y, sd_x, sd_y, spread, typical"),
    ("log", "w: 'log': 'log' is a function; call it as log(...)"),
    ("1 / (sd_y - sd_y)",
     "w: '1 / (sd_y - sd_y)' could not be evaluated (with sd_y=56.2): float division by zero"),
    ("log(0)", "w: 'log(0)' could not be evaluated: math domain error"),
    ("sqrt(-sd_x)", "w: 'sqrt(-sd_x)' could not be evaluated (with sd_x=2.87): math domain error"),
    ("10 ** 10 ** 10", "w: '10 ** 10 ** 10' could not be evaluated: the result is too large"),
    ("exp(1000)", "w: 'exp(1000)' could not be evaluated: the result is too large"),
    ("(-8) ** (1 / 3)", "w: '(-8) ** (1 / 3)' could not be evaluated: a negative number to a "
                        "fractional power is not a real number"),
    ("round(typical, 0.5)", "w: 'round(typical, 0.5)' could not be evaluated (with typical=10): "
                            "round() digits must be a whole number, got 0.5"),
    ("1e308 * 10", "w: '1e308 * 10' evaluates to inf, not a finite number"),
]


@pytest.mark.parametrize(("text", "message"), EVAL_ERRORS)
def test_errors_at_evaluation(text: str, message: str) -> None:
    with pytest.raises(PriorError) as err:
        evaluate(text, ENV, "w")
    assert str(err.value) == message


def test_no_builtins_reachable() -> None:
    # names are only ever looked up in the mapping given, never in Python's namespaces
    for name in ("print", "globals", "__builtins__", "math", "os"):
        with pytest.raises(PriorError, match=f"unknown name '{name}'"):
            evaluate(name, {})
    assert math.isfinite(evaluate("exp(log(2))"))
