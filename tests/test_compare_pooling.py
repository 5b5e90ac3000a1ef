"""Pooling factors, flags, effect resolution and LOGO folds on constructed inputs (no MCMC)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.comparison.effects import default_effect, is_log_response, resolve_effect
from hiermodel.comparison.flags import compute_flags
from hiermodel.comparison.logo import assign_folds, summarize_logo
from hiermodel.comparison.pooling import pooling_factor
from hiermodel.formula.terms import ModelTerms


def test_pooling_factor_values_and_guards() -> None:
    u = np.array([1.0, 1.0, 1.0, 0.5, 2.0])
    h = np.array([1.0, 0.5, 0.0, 0.5, 3.0])
    p = np.array([0.0, 0.0, 0.0, 0.5, 0.0])
    out = pooling_factor(u, h, p)
    assert out[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert np.isnan(out[3])  # unpooled == pooled: nothing to pool towards
    assert out[4] == 0.0  # moved away from pooled: clipped to 0


def _table() -> pd.DataFrame:
    """Five groups, effect estimates under three variants; population effect +0.5."""
    rows = {
        # group: n, n_off, n_on, (unpooled mean, low, high), (hier mean, low, high)
        "normal": (200, 100, 100, (0.55, 0.35, 0.75), (0.52, 0.35, 0.70)),
        "tiny": (1, 0, 1, (0.2, -3.5, 3.9), (0.5, 0.0, 1.0)),
        "onecell": (50, 1, 49, (0.9, -1.0, 2.8), (0.6, 0.1, 1.1)),
        "reversed": (300, 150, 150, (-0.4, -0.6, -0.2), (-0.2, -0.4, -0.05)),
        "big_gap": (300, 150, 150, (1.6, 1.4, 1.8), (1.5, 1.3, 1.7)),
        "other": (220, 110, 110, (0.45, 0.25, 0.65), (0.47, 0.3, 0.65)),
    }
    recs = []
    for g, (n, n_off, n_on, u, h) in rows.items():
        recs.append({"group": g, "n": n, "n_off": n_off, "n_on": n_on,
                     "effect_pooled": 0.5, "effect_pooled_low": 0.45, "effect_pooled_high": 0.55,
                     "effect_unpooled": u[0], "effect_unpooled_low": u[1],
                     "effect_unpooled_high": u[2],
                     "effect_hierarchical": h[0], "effect_hierarchical_low": h[1],
                     "effect_hierarchical_high": h[2]})
    return pd.DataFrame(recs)


def test_flags_on_a_constructed_table() -> None:
    t = compute_flags(_table(), "effect", population=0.5, scale=0.4,
                      variants=["pooled", "unpooled", "hierarchical"])
    flagged = {f: set(t.loc[t[f], "group"]) for f in
               ("small_n", "sign_reversal", "extreme", "wide_interval")}
    assert flagged["small_n"] == {"tiny", "onecell"}
    assert flagged["sign_reversal"] == {"reversed"}
    # hierarchical: big_gap 2.5 SDs away; unpooled: reversed -0.4 [-0.6, -0.2] is 2.25 SDs
    # away with an interval excluding +0.5; tiny/onecell are far but their intervals are wide
    assert flagged["extreme"] == {"big_gap", "reversed"}
    assert flagged["wide_interval"] == {"tiny", "onecell"}
    row = t.set_index("group").loc["reversed"]
    assert "excludes 0" in row["reason"]
    assert row["flags"] == "sign_reversal,extreme"
    assert t.set_index("group").loc["normal", "flags"] == ""


def test_sign_reversal_needs_the_unpooled_interval_to_exclude_zero() -> None:
    t = _table()
    t.loc[t.group == "reversed", "effect_unpooled_high"] = 0.1  # interval now covers 0
    t.loc[t.group == "reversed", "effect_hierarchical"] = 0.05  # hierarchical not reversed
    out = compute_flags(t, "effect", population=0.5, scale=0.4,
                        variants=["pooled", "unpooled", "hierarchical"])
    assert not out.set_index("group").loc["reversed", "sign_reversal"]


def test_extreme_uses_unpooled_when_the_effect_does_not_vary() -> None:
    t = _table()
    t["effect_hierarchical"] = 0.5  # varying-intercept model: same effect in every group
    out = compute_flags(t, "effect", population=0.5, scale=0.4,
                        variants=["pooled", "unpooled", "hierarchical"], hier_varies=False)
    # unpooled gaps: big_gap 1.1, reversed 0.9 (> 2 x 0.4, intervals exclude 0.5)
    assert set(out.loc[out.extreme, "group"]) == {"big_gap", "reversed"}
    assert set(out.loc[out.sign_reversal, "group"]) == {"reversed"}


def test_effect_resolution() -> None:
    df = pd.DataFrame({"y": np.arange(8.0), "h": [True, False] * 4, "x": np.arange(8.0),
                       "f": list("abcdabcd"), "g": list("aabbccdd")})
    terms = hm.translate("y ~ h + x + f + (1 + h|g)", df)
    spec = resolve_effect(terms, df, "g", None)
    assert (spec.variable, spec.kind, spec.off, spec.on) == ("h", "binary", False, True)
    assert spec.label == "h: TRUE vs FALSE"
    assert resolve_effect(terms, df, "g", "hTRUE").on is True
    num = resolve_effect(terms, df, "g", "x")
    assert num.kind == "numeric" and num.on - num.off == pytest.approx(1.0)
    lvl = resolve_effect(terms, df, "g", "f[c]")
    assert (lvl.off, lvl.on, lvl.kind) == ("a", "c", "categorical")
    assert resolve_effect(terms, df, "g", "1").variable is None
    with pytest.raises(hm.CompareError, match="levels"):
        resolve_effect(terms, df, "g", "f")
    with pytest.raises(hm.CompareError, match="not a predictor"):
        resolve_effect(terms, df, "g", "nope")


def test_log_response_detection() -> None:
    df = pd.DataFrame({"y": [1.0, 2.0], "log_y": [0.0, 0.7], "g": ["a", "b"]})
    assert is_log_response(hm.translate("log(y + 0.1) ~ 1 + (1|g)", df))
    assert is_log_response(hm.translate("log_y ~ 1 + (1|g)", df))
    assert not is_log_response(hm.translate("y ~ 1 + (1|g)", df))


def test_folds_exact_and_grouped_kfold() -> None:
    sizes = pd.Series({f"g{i}": n for i, n in enumerate([50, 40, 30, 20, 10, 5, 5])})
    folds, exact = assign_folds(sizes, max_groups=10, mode="auto", seed=1)
    assert exact and folds == [[g] for g in sizes.index]
    # more groups than max_groups: grouped K-fold, K = folds (default 5, at most the groups)
    folds, exact = assign_folds(sizes, max_groups=3, mode="auto", seed=1)
    assert not exact and len(folds) == 5
    folds, exact = assign_folds(sizes, max_groups=3, mode="auto", seed=1, folds=3)
    assert not exact and len(folds) == 3
    assert sorted(g for f in folds for g in f) == sorted(sizes.index)
    loads = sorted(sum(sizes[g] for g in f) for f in folds)
    assert loads[-1] - loads[0] <= 10  # balanced by rows
    assert assign_folds(sizes, 3, "kfold", seed=1, folds=3) == \
        assign_folds(sizes, 3, "kfold", seed=1, folds=3)
    assert len(assign_folds(sizes, 3, "kfold", folds=20)[0]) == 7  # at most one per group
    folds, exact = assign_folds(sizes, max_groups=3, mode="exact")
    assert exact and len(folds) == 7
    with pytest.raises(hm.CompareError):
        assign_folds(sizes, 3, mode="sometimes")
    with pytest.raises(hm.CompareError, match="logo_folds"):
        assign_folds(sizes, 3, mode="kfold", folds=1)


def test_logo_summary_totals_and_paired_se() -> None:
    groups = pd.DataFrame({
        "group": ["a", "b", "c"] * 2,
        "variant": ["pooled"] * 3 + ["hierarchical"] * 3,
        "n": [10, 20, 30] * 2,
        "elpd_joint": [-10.0, -25.0, -30.0, -9.0, -22.0, -29.0],
        "elpd_pointwise": [-9.0, -24.0, -29.0, -8.5, -21.0, -28.0],
    })
    s = summarize_logo(groups)
    assert list(s.index) == ["hierarchical", "pooled"]
    assert s.loc["hierarchical", "elpd_logo"] == pytest.approx(-60.0)
    assert s.loc["pooled", "elpd_diff"] == pytest.approx(5.0)
    diff = np.array([1.0, 3.0, 1.0])
    assert s.loc["pooled", "dse"] == pytest.approx(np.sqrt(3 * np.var(diff)))
    assert s.loc["pooled", "elpd_per_obs"] == pytest.approx(-65.0 / 60)


def test_default_effect_is_something_that_varies_by_group() -> None:
    def terms(f: str) -> ModelTerms:
        return hm.translate(f)

    h = terms("y ~ h + x + (1 + x|g)")
    assert default_effect(h, "g", [h]) == "x"
    h = terms("y ~ h + (1|g)")
    assert default_effect(h, "g", [h, terms("y ~ h"), terms("y ~ 0 + g + h")]) is None
    assert default_effect(h, "g", [h, terms("y ~ 0 + g:h")]) == "h"
    # the spec file's cell-means variant writes the effect as factor(h): same data column
    assert default_effect(h, "g", [h, terms("y ~ 0 + g:factor(h)")]) == "h"
    # a numeric grouping column wrapped in factor() is still the group
    assert default_effect(h, "g", [h, terms("y ~ 0 + factor(g):h")]) == "h"
    assert default_effect(h, "g", [h, terms("y ~ 0 + x:h")]) is None  # x is not the group
