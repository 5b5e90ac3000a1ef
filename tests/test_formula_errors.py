"""Every formula error says where (a caret under the token) and how to fix it: full messages."""

from __future__ import annotations

import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.formula import translate

COLUMNS = ["Reaction", "Days", "Subject", "y", "x", "z", "g", "h", "county"]

# (formula, full error message: message line, the formula, the caret line)
ERRORS = [
    ("Reaction ~ Dayz + (1|Subject)",
     "no column 'Dayz'; did you mean 'Days'?\n"
     "  Reaction ~ Dayz + (1|Subject)\n"
     "             ^^^^"),
    ("y ~ x + (1|countyy)",
     "no column 'countyy'; did you mean 'county'?\n"
     "  y ~ x + (1|countyy)\n"
     "             ^^^^^^^"),
    ("y ~ x +",
     "expected an expression after '+'\n"
     "  y ~ x +\n"
     "        ^"),
    ("y ~ (x|g",
     "'(' is never closed; add ')'\n"
     "  y ~ (x|g\n"
     "      ^"),
    ("y ~ x)",
     "unmatched ')'\n"
     "  y ~ x)\n"
     "       ^"),
    ("y ~ 1|g",
     "group-level terms need parentheses: (1 | g)\n"
     "  y ~ 1|g\n"
     "      ^^^"),
    ("y ~ x + (1|g+h)",
     "a grouping factor must be one factor; write one term per factor, e.g. (1|a) + (1|b)\n"
     "  y ~ x + (1|g+h)\n"
     "             ^^^"),
    ("y x",
     "unexpected 'x'; join terms with '+' (or ':' for an interaction)\n"
     "  y x\n"
     "    ^"),
    ("y ~ x ~ z",
     "a formula has only one '~'\n"
     "  y ~ x ~ z\n"
     "        ^"),
    ("~ x",
     "formula has no response; write it as 'response ~ predictors'\n"
     "  ~ x\n"
     "  ^"),
    ("y",
     "formula has no '~'; write it as 'response ~ predictors', e.g. 'y ~ 1'\n"
     "  y\n"
     "   ^"),
    ("",
     "formula is empty; write it as 'response ~ predictors', e.g. 'y ~ x + (1|g)'"),
    ("y ~ logg(x)",
     "unknown function 'logg'; did you mean 'log' or 'log2' or 'log1p'? Supported: I, abs, "
     "as.factor, as.numeric, bs, exp, factor, log, log10, log1p, log2, ns, poly, scale, sqrt\n"
     "  y ~ logg(x)\n"
     "      ^^^^^^^"),
    ("y ~ s(x)",
     "s() smooths are not supported (that is mgcv syntax); use ns(x, df = 4) or bs(x, df = 5) "
     "for a regression spline\n"
     "  y ~ s(x)\n"
     "      ^^^^"),
    ("y ~ 2 + x",
     "a number in a formula must be 0 or 1 (intercept), got 2; use I(2 * x) for arithmetic\n"
     "  y ~ 2 + x\n"
     "      ^"),
    ("y ~ (x|g) + (1|g)",
     "'(Intercept)' varies by 'g' twice; each term may appear in one group-level block per "
     "grouping factor\n"
     "  y ~ (x|g) + (1|g)\n"
     "              ^^^^^"),
    ("y ~ x + cbind(z, h)",
     "cbind() belongs on the left of '~' (a binomial response: cbind(successes, failures))\n"
     "  y ~ x + cbind(z, h)\n"
     "          ^^^^^^^^^^^"),
    ("cbind(y) ~ x",
     "cbind() takes 2 arguments (successes, failures), got 1\n"
     "  cbind(y) ~ x\n"
     "  ^^^^^^^^"),
    ('y ~ "x"',
     "unexpected character '\"'; quote column names with backquotes: `my column`\n"
     '  y ~ "x"\n'
     "      ^"),
    ("y ~ x %% z",
     "operator '%%' is not supported in formulas; use ':' or %in% for nesting\n"
     "  y ~ x %% z\n"
     "        ^^"),
    ("y ~ x:(1|g)",
     "a group-level term cannot be part of ':'; add it with '+'\n"
     "  y ~ x:(1|g)\n"
     "        ^^^^^"),
    ("y ~ (1|x + 1)",
     "a grouping factor must be one factor; write one term per factor, e.g. (1|a) + (1|b)\n"
     "  y ~ (1|x + 1)\n"
     "         ^^^^^"),
    ("y ~ (0|g)",
     "this group-level term has no terms (0 and nothing else)\n"
     "  y ~ (0|g)\n"
     "       ^"),
    ("y ~ y + x",
     "the response 'y' is also a predictor; remove it from the right of '~'\n"
     "  y ~ y + x\n"
     "      ^"),
    ("y ~ x + (1|log(g))",
     "'log(g)' cannot be a grouping factor; use a column name (or a:b, a/b)\n"
     "  y ~ x + (1|log(g))\n"
     "             ^^^^^^"),
    ("y ~ (x^z)",
     "'^' in a formula means interactions up to an order, e.g. (a + b + c)^2; for a power of "
     "a variable write I(x^2)\n"
     "  y ~ (x^z)\n"
     "         ^"),
]


@pytest.mark.parametrize(("formula", "message"), ERRORS)
def test_formula_error_messages(formula: str, message: str) -> None:
    with pytest.raises(hm.FormulaError) as info:
        translate(formula, columns=COLUMNS)
    assert str(info.value) == message


def test_formula_error_is_a_hiermodel_error_with_position() -> None:
    with pytest.raises(hm.HiermodelError) as info:
        hm.translate("Reaction ~ Dayz", pd.DataFrame(columns=["Reaction", "Days"]))
    err = info.value
    assert isinstance(err, hm.FormulaError)
    assert (err.position, err.length) == (11, 4)


def test_fit_reports_unknown_column_before_sampling(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(hm.FormulaError, match="no column 'Subjekt'; did you mean 'Subject'"):
        hm.fit("Reaction ~ Days + (Days|Subjekt)", data=sleepstudy)


def test_missing_column_in_new_data_is_a_data_error() -> None:
    from hiermodel.formula import evaluate_variable

    var = translate("y ~ log(x)").variables["log(x)"]
    with pytest.raises(hm.DataError) as info:
        evaluate_variable(var, pd.DataFrame({"xx": [1.0]}), {})
    assert str(info.value) == "no column 'x' in the data; did you mean 'xx'?"


def test_numeric_function_on_text_is_a_data_error() -> None:
    from hiermodel.formula import evaluate_variable

    var = translate("y ~ log(g)").variables["log(g)"]
    with pytest.raises(hm.DataError) as info:
        evaluate_variable(var, pd.DataFrame({"g": ["a", "b"]}), {})
    assert str(info.value) == "log() needs numbers, but 'g' is object (e.g. 'a')"
