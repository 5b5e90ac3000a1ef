"""The talk's analysis on its synthetic stand-in data: pooled vs unpooled vs hierarchical.

Findings to reproduce: Machakos does worse with hybrid seed (sign reversal), Tharaka-Nithi has a
very large hybrid gap (extreme), Nyandarua has a single non-hybrid row (small_n), and the
hierarchical hybrid effect is about 0.44 (1.55x the yield).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.compare import Comparison, compare

pytestmark = [pytest.mark.fit, pytest.mark.slow]

FORMULA = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 + used_hybrid_seeds | county)"
N = 30_000
SETTINGS = {"draws": 300, "tune": 300, "chains": 2, "logo": False,
            "fit_options": {"parametrization": "noncentered"}}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return hm.datasets.maize_yield(seed=0, n=N)


@pytest.fixture(scope="module")
def result(data: pd.DataFrame) -> Comparison:
    """Varying intercept and hybrid effect by county; derived variants."""
    return compare(FORMULA, data, seed=3, **SETTINGS)


@pytest.fixture(scope="module")
def talk(data: pd.DataFrame) -> Comparison:
    """The talk's models: varying intercept, common hybrid effect; one parameter per county x
    hybrid cell for the unpooled model."""
    return compare("log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)", data,
                   variants={"unpooled": "log(maize_yield + 0.1) ~ 0 + county:used_hybrid_seeds"},
                   effect="used_hybrid_seeds", seed=4, **SETTINGS)


def test_talk_findings_are_flagged(result: Comparison) -> None:
    t = result.tables["groups"].set_index("group")
    assert "Machakos" in result.flags("sign_reversal")
    assert t.loc["Machakos", "effect_unpooled_high"] < 0
    assert t.loc["Machakos", "effect_hierarchical"] < 0
    assert "Tharaka-Nithi" in result.flags("extreme")
    assert t.loc["Tharaka-Nithi", "effect_hierarchical"] == t["effect_hierarchical"].max()
    assert "Nyandarua" in result.flags("small_n")
    assert t.loc["Nyandarua", "n_off"] == 1
    # only a handful of counties carry a sign reversal
    assert len(result.flags("sign_reversal")) <= 3


def test_hierarchical_hybrid_effect_recovered(result: Comparison) -> None:
    pop = result.tables["population"].set_index(["variant", "quantity"])
    h = pop.loc[("hierarchical", "effect")]
    assert h["median"] == pytest.approx(0.44, abs=0.08)
    assert h["low"] < 0.44 < h["high"]
    o = result.tables["original_scale"].set_index("variant")
    assert o.loc["hierarchical", "ratio"] == pytest.approx(np.exp(0.44), abs=0.13)
    assert "exp(effect)" in str(result)


def test_true_county_effects_are_tracked(result: Comparison, data: pd.DataFrame) -> None:
    truth = data.attrs["generating_parameters"]
    hybrid = truth["county_hybrid_effects"]
    t = result.tables["groups"].set_index("group")
    est = t["effect_hierarchical"]
    true = np.array([hybrid[c] for c in est.index])
    # partial pooling is closer to the truth than no pooling, on average
    err_h = np.mean((est.to_numpy() - true) ** 2)
    err_u = np.mean((t["effect_unpooled"].to_numpy() - true) ** 2)
    assert err_h < err_u


def test_loo_prefers_group_structure(result: Comparison) -> None:
    loo = result.tables["loo"]
    assert loo.index[-1] == "pooled"
    assert loo.loc["pooled", "elpd_diff"] > 4 * loo.loc["pooled", "dse"]


def test_talk_models(talk: Comparison) -> None:
    assert talk.kinds == {"pooled": "pooled", "unpooled": "unpooled",
                          "hierarchical": "hierarchical"}
    t = talk.tables["groups"].set_index("group")
    # a common slope: the hierarchical hybrid effect is the same in every county, ~0.44
    assert t["effect_hierarchical"].std() < 1e-8
    pop = talk.tables["population"].set_index(["variant", "quantity"])
    assert pop.loc[("hierarchical", "effect"), "median"] == pytest.approx(0.44, abs=0.05)
    o = talk.tables["original_scale"].set_index("variant")
    assert o.loc["hierarchical", "ratio"] == pytest.approx(1.55, abs=0.08)
    # the unpooled cell model still shows the talk's findings
    assert "Machakos" in talk.flags("sign_reversal")
    assert "Tharaka-Nithi" in talk.flags("extreme")
    assert "Nyandarua" in talk.flags("small_n")
    assert t.loc["Tharaka-Nithi", "effect_unpooled"] == t["effect_unpooled"].max()
    # intercepts: the hierarchical estimate moves toward the pooled one most for small counties
    assert t.loc["Nyandarua", "pooling_intercept"] >= t.loc["Bungoma", "pooling_intercept"]
