"""Variant derivation: one hierarchical formula in, pooled / unpooled / hierarchical out.

Pure Python (formula translation only; no PyMC).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.comparison.variants import derive_variants, resolve_variants

# formula, pooled, unpooled (the hierarchical variant is always the formula as written)
CASES = [
    ("y ~ x + (1|g)", "y ~ x", "y ~ 0 + g + x"),
    ("y ~ x + (1 + x|g)", "y ~ x", "y ~ 0 + g + g:x"),
    ("y ~ x + (x|g)", "y ~ x", "y ~ 0 + g + g:x"),
    ("y ~ x + (x||g)", "y ~ x", "y ~ 0 + g + g:x"),
    ("y ~ x + z + (1 + x|g)", "y ~ x + z", "y ~ 0 + g + g:x + z"),
    ("y ~ x + (0 + x|g)", "y ~ x", "y ~ g:x"),
    ("y ~ 0 + x + (1|g)", "y ~ 0 + x", "y ~ 0 + g + x"),
    ("y ~ 1 + (1|g)", "y ~ 1", "y ~ 0 + g"),
    ("y ~ (1|g) + (1|h)", "y ~ 1", "y ~ 0 + g + h"),
    ("y ~ x + (1|g) + (0 + x|g)", "y ~ x", "y ~ 0 + g + g:x"),
    ("y ~ x * z + (1 + x|g)", "y ~ x + z + x:z", "y ~ 0 + g + g:x + z + x:z"),
    ("log(y) ~ x + (1|g)", "log(y) ~ x", "log(y) ~ 0 + g + x"),
    ("cbind(s, f) ~ x + (1|g)", "cbind(s, f) ~ x", "cbind(s, f) ~ 0 + g + x"),
    (
        "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 + used_hybrid_seeds | county)",
        "log(maize_yield + 0.1) ~ used_hybrid_seeds",
        "log(maize_yield + 0.1) ~ 0 + county + county:used_hybrid_seeds",
    ),
]


@pytest.mark.parametrize(("formula", "pooled", "unpooled"), CASES)
def test_derived_formulas(formula: str, pooled: str, unpooled: str) -> None:
    out = derive_variants(formula)
    assert list(out) == ["pooled", "unpooled", "hierarchical"]
    assert out["pooled"] == pooled
    assert out["unpooled"] == unpooled
    assert out["hierarchical"] == formula


@pytest.mark.parametrize(("formula", "pooled", "unpooled"), CASES)
def test_derived_formulas_translate_back(formula: str, pooled: str, unpooled: str) -> None:
    """Every derived formula is itself valid and has no group-level term."""
    for text in (pooled, unpooled):
        terms = hm.translate(text)
        assert terms.groups == ()


def test_nested_grouping_unpools_both_levels() -> None:
    out = derive_variants("y ~ x + (1|g/h)")
    assert out["pooled"] == "y ~ x"
    assert out["unpooled"] == "y ~ 0 + g + g:h + x"


def test_numeric_grouping_column_becomes_a_factor() -> None:
    df = pd.DataFrame({"y": np.arange(6.0), "x": np.arange(6.0), "Subject": [1, 1, 2, 2, 3, 3]})
    out = derive_variants("y ~ x + (1 + x|Subject)", df)
    assert out["unpooled"] == "y ~ 0 + factor(Subject) + factor(Subject):x"
    # a string grouping column stays as written
    out = derive_variants("y ~ x + (1|g)", df.assign(g=list("aabbcc")))
    assert out["unpooled"] == "y ~ 0 + g + x"


def test_explicit_variants_replace_and_add() -> None:
    f = "log_y ~ used_hybrid_seeds + (1 | county)"
    out = resolve_variants(f, variants={"unpooled": "log_y ~ 0 + county:used_hybrid_seeds",
                                        "county_only": "log_y ~ 0 + county"})
    assert list(out) == ["pooled", "unpooled", "hierarchical", "county_only"]
    assert out["unpooled"] == "log_y ~ 0 + county:used_hybrid_seeds"
    assert out["pooled"] == "log_y ~ used_hybrid_seeds"


@pytest.mark.parametrize("variants", [
    {"bad name!": "y ~ x"},
    {"extra": "y x"},
    {"hierarchical": "y ~ x + (1|h)"},
])
def test_bad_explicit_variants_raise(variants: dict[str, str]) -> None:
    with pytest.raises(hm.CompareError):
        resolve_variants("y ~ x + (1|g)", variants=variants)


def test_formula_without_groups_is_a_compare_error() -> None:
    with pytest.raises(hm.CompareError, match="no group-level term"):
        derive_variants("y ~ x")


def test_hm_compare_survives_importing_the_stage_and_checks_arguments_first() -> None:
    import hiermodel.comparison as compare_module

    df = pd.DataFrame({"y": np.arange(6.0), "x": np.arange(6.0), "g": list("aabbcc")})
    # importing the stage package does not rebind the public function
    assert callable(hm.compare) and hm.compare is not compare_module
    with pytest.raises(hm.CompareError, match="no group-level term"):
        hm.compare("y ~ x", df)
    for kwargs, match in [({"logo": "sometimes"}, "logo must be"),
                          ({"logo_folds": 1}, "logo_folds"),
                          ({"fit_options": {"chains": 2}}, "unknown fit_options"),
                          ({"progress": "loud"}, "progress must be"),
                          ({"prob": 1.5}, "prob")]:
        with pytest.raises(hm.CompareError, match=match):
            compare_module.compare("y ~ x + (1|g)", df, **kwargs)


def test_ordinal_unpooled_variant_keeps_the_intercept() -> None:
    """Cumulative models have thresholds instead of an intercept: the unpooled variant is
    treatment-coded group effects (`g`), never the full dummy coding of `0 + g`, which the
    thresholds could not be told apart from."""
    out = derive_variants("rating ~ x + (1|g)", keep_intercept=True)
    assert out["unpooled"] == "rating ~ g + x"
    assert derive_variants("rating ~ x + (1|g)")["unpooled"] == "rating ~ 0 + g + x"
