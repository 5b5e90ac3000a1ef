"""The formula front end: lme4 syntax -> lme4 meaning, as a table of formula -> Bambi formula.

Each row is one thing an lme4 user writes and the model hiermodel must build for it.
"""

from __future__ import annotations

import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.formula import deparse, evaluate_variable, parse, parse_expression, translate

TRANSLATIONS = [
    # (formula, bambi formula)
    ("y ~ x", "y ~ 1 + x"),
    ("y ~ 1", "y ~ 1"),
    ("y ~ 0 + x", "y ~ 0 + x"),
    ("y ~ x - 1", "y ~ 0 + x"),
    ("y ~ -1 + x", "y ~ 0 + x"),
    ("y ~ x + 0", "y ~ 0 + x"),
    ("y ~ x*z", "y ~ 1 + x + z + x:z"),
    ("y ~ x:z + x", "y ~ 1 + x + x:z"),  # main effects first, like R
    ("y ~ (a + b + c)^2", "y ~ 1 + a + b + c + a:b + a:c + b:c"),
    ("y ~ (a + b + c)^2 - b:a", "y ~ 1 + a + b + c + a:c + b:c"),  # a:b is b:a
    ("y ~ a*b*c - a:b:c", "y ~ 1 + a + b + c + a:b + a:c + b:c"),
    ("y ~ a/b", "y ~ 1 + a + a:b"),
    ("y ~ (a + b)/c", "y ~ 1 + a + b + a:b:c"),
    ("y ~ b %in% a", "y ~ 1 + b:a"),
    ("y ~ x + x", "y ~ 1 + x"),
    ("y ~ log(x + 1)", "y ~ 1 + hm_log_x_1"),
    ("log(y) ~ x", "hm_log_y ~ 1 + x"),
    ("y ~ I(x^2) + x", "y ~ 1 + hm_I_x_2 + x"),
    ("y ~ factor(a)", "y ~ 1 + hm_factor_a"),
    ("y ~ scale(x)", "y ~ 1 + hm_scale_x"),
    ("y ~ `my col`", "y ~ 1 + hm_my_col"),
    # group-level terms: lme4 meaning
    ("y ~ x + (1|g)", "y ~ 1 + x + (1|g)"),
    ("y ~ x + (x|g)", "y ~ 1 + x + (x|g)"),
    ("y ~ x + (1 + x|g)", "y ~ 1 + x + (x|g)"),
    ("y ~ x + (x||g)", "y ~ 1 + x + (1|g) + (0 + x|g)"),
    ("y ~ x + (x + z||g)", "y ~ 1 + x + (1|g) + (0 + x|g) + (0 + z|g)"),
    ("y ~ x + (0 + x|g)", "y ~ 1 + x + (0 + x|g)"),
    ("y ~ x + (x - 1|g)", "y ~ 1 + x + (0 + x|g)"),
    ("y ~ x + (1|g) + (0 + x|g)", "y ~ 1 + x + (1|g) + (0 + x|g)"),
    ("y ~ (1|a/b)", "y ~ 1 + (1|a) + (1|a:b)"),
    ("y ~ (1|a/b/c)", "y ~ 1 + (1|a) + (1|a:b) + (1|a:b:c)"),
    ("y ~ (x|a/b)", "y ~ 1 + (x|a) + (x|a:b)"),
    ("y ~ (1|a:b)", "y ~ 1 + (1|a:b)"),
    ("y ~ (1|b %in% a)", "y ~ 1 + (1|a:b)"),
    ("y ~ (x*z|g)", "y ~ 1 + (x + z + x:z|g)"),
    ("y ~ (1|g) + (1|h)", "y ~ 1 + (1|g) + (1|h)"),
    ("cbind(s, f) ~ x + (1|g)", "p(s, hm_trials_s) ~ 1 + x + (1|g)"),
    ("n ~ x + offset(log(t))", "n ~ 1 + x"),  # the offset is added by the build stage
]


@pytest.mark.parametrize(("formula", "bambi"), TRANSLATIONS)
def test_translation(formula: str, bambi: str) -> None:
    assert translate(formula).bambi_formula == bambi


def test_correlated_and_independent_blocks() -> None:
    corr = translate("y ~ x + (x|g)").groups
    assert len(corr) == 1 and corr[0].correlated and corr[0].intercept
    assert corr[0].bambi_terms() == ("1|g", "x|g")
    indep = translate("y ~ x + (x||g)").groups
    assert [(b.intercept, [t.name for t in b.terms], b.correlated) for b in indep] == [
        (True, [], False),
        (False, ["x"], False),
    ]


def test_nested_grouping_makes_interaction_factor() -> None:
    blocks = translate("y ~ (1|school/class)").groups
    assert [b.factor for b in blocks] == [("school",), ("school", "class")]
    assert [b.group for b in blocks] == ["school", "school:class"]


def test_cbind_and_offset_are_recorded() -> None:
    t = translate("cbind(hits, misses) ~ x + offset(log(exposure)) + (1|g)")
    assert t.response.kind == "cbind"
    assert t.response.variable.name == "hits"
    assert t.response.failures is not None and t.response.failures.name == "misses"
    assert [v.name for v in t.offsets] == ["log(exposure)"]
    assert t.offsets[0].source_columns == ("exposure",)


def test_display_names_follow_r_deparse() -> None:
    t = translate("log(maize_yield+0.1) ~ I(x ^ 2) + scale( z ) + factor(g)")
    assert list(t.variables) == ["log(maize_yield + 0.1)", "I(x^2)", "scale(z)", "factor(g)"]
    assert t.variables["factor(g)"].categorical


def test_dot_expands_to_other_columns_with_a_note() -> None:
    t = translate("y ~ . + (1|g)", columns=["y", "a", "b", "g"])
    assert [term.name for term in t.fixed] == ["a", "b"]
    assert "'.' expanded to a + b" in t.notes[0]


def test_square_of_a_variable_is_flagged() -> None:
    t = translate("y ~ x^2")
    assert t.bambi_formula == "y ~ 1 + x"
    assert any("write I(x^2) for the square" in note for note in t.notes)


def test_describe_shows_blocks_and_bambi_formula() -> None:
    text = str(hm.translate("Reaction ~ Days + (Days||Subject)"))
    assert "(1 | Subject)  independent" in text
    assert "(0 + Days | Subject)  independent" in text
    assert "bambi:     Reaction ~ 1 + Days + (1|Subject) + (0 + Days|Subject)" in text
    corr = str(hm.translate("Reaction ~ Days + (Days|Subject)"))
    assert "(1 + Days | Subject)  correlated (LKJ prior on the correlation)" in corr


@pytest.mark.parametrize(
    "text",
    ["y ~ x + (1 | g)", "log(y + 0.1) ~ a:b + I(x^2)", "y ~ (x || g)", "y ~ a %in% b"],
)
def test_deparse_round_trips(text: str) -> None:
    parsed = parse(text)
    assert parsed.lhs is not None
    again = parse(f"{deparse(parsed.lhs)} ~ {deparse(parsed.rhs)}")
    assert deparse(again.rhs) == deparse(parsed.rhs)


def test_evaluate_variable_transforms() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["b", "a", "b"]})
    t = translate("y ~ log(x + 1) + I(x^2) + scale(x) + factor(g) + exp(-x)")
    state: dict = {}
    got = {name: evaluate_variable(v, df, state) for name, v in t.variables.items()
           if name != "y"}
    assert got["log(x + 1)"].round(6).tolist() == [0.693147, 1.098612, 1.386294]
    assert got["I(x^2)"].tolist() == [1.0, 4.0, 9.0]
    assert got["scale(x)"].tolist() == [-1.0, 0.0, 1.0]  # R: n-1 SD
    assert list(got["factor(g)"].cat.categories) == ["a", "b"]
    # scale() keeps its training centring for new data (predictions)
    new = pd.DataFrame({"x": [5.0], "g": ["a"]})
    assert evaluate_variable(t.variables["scale(x)"], new, state).tolist() == [3.0]


def test_parse_expression_for_derived_columns() -> None:
    assert deparse(parse_expression("log(maize_yield+0.1)")) == "log(maize_yield + 0.1)"
