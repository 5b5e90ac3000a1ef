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
from hiermodel.comparison import Comparison, compare

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
    hybrid cell for the unpooled model (a logical is a factor, as in R: 60 cell means)."""
    return compare("log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)", data,
                   variants={"unpooled": "log(maize_yield + 0.1) ~ 0 + county:used_hybrid_seeds"},
                   seed=4, draws=300, tune=300, chains=2, logo=False)


def _cell_means(data: pd.DataFrame) -> pd.DataFrame:
    """Raw mean log yield per county and hybrid cell, their difference and the cell sizes."""
    d = data.assign(ly=np.log(data["maize_yield"] + 0.1))
    m = d.groupby(["county", "used_hybrid_seeds"], observed=True)["ly"].agg(["mean", "size"])
    out = m["mean"].unstack()
    out["diff"] = out[True] - out[False]
    out["n_off"] = m["size"].unstack()[False]
    out.index = out.index.astype(str)
    return out


def test_pooled_unpooled_hierarchical_estimates_match_the_data(result: Comparison,
                                                                data: pd.DataFrame) -> None:
    """Pooled = the overall mean difference; unpooled = each county's own mean difference;
    hierarchical = in between, pulled toward the pooled value the most for small cells."""
    ly = np.log(data["maize_yield"] + 0.1)
    hyb = data["used_hybrid_seeds"].to_numpy()
    overall = ly[hyb].mean() - ly[~hyb].mean()
    t = result.tables["groups"].set_index("group")
    assert t["effect_pooled"].iloc[0] == pytest.approx(overall, abs=0.01)
    raw = _cell_means(data).reindex(t.index)
    big = raw["n_off"] >= 20
    np.testing.assert_allclose(t.loc[big, "effect_unpooled"], raw.loc[big, "diff"], atol=0.03)
    # shrinkage toward the hierarchical population effect (~ the pooled one here)
    u, h, m = (t[f"effect_{v}"].to_numpy()
               for v in ("unpooled", "hierarchical", "hierarchical_population"))
    assert m == pytest.approx(t["effect_pooled"].to_numpy(), abs=0.1)
    between = (np.minimum(u, m) - 0.02 <= h) & (h <= np.maximum(u, m) + 0.02)
    assert between.mean() >= 0.9, t.index[~between].tolist()
    pf = t["pooling_effect"]
    assert ((pf >= 0) & (pf <= 1)).all()
    # smaller cells are pooled more: rank correlation of cell size and pooling factor < 0
    n_small = np.minimum(t["n_off"], t["n_on"])
    assert n_small.rank().corr(pf.rank()) < -0.3
    assert pf["Nyandarua"] > pf.median()


def test_talk_report_says_what_partial_pooling_buys(talk: Comparison) -> None:
    text = str(talk)
    head = text.split("Variants:")[0]
    assert "What partial pooling buys:" in head
    loo = talk.tables["loo"]
    assert list(loo["elpd_loo"]) == sorted(loo["elpd_loo"], reverse=True)
    assert loo.index[-1] == "pooled"  # ignoring the counties costs the most
    assert f"{loo.index[0]} is best" in head
    # a common hybrid effect: pooling acts on the county means, and the report says so
    assert talk.pooling_quantity == "mean"
    assert "one common used_hybrid_seeds effect" in head
    assert "Pooling of the group mean" in head
    assert "Nyandarua (n=" in head and "1 FALSE" in head  # its single non-hybrid row
    assert "Machakos" in head and "Tharaka-Nithi" in head


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
    # the common effect is fully pooled by construction
    assert (t["pooling_effect"] == 1.0).all()
    assert talk.tables["variants"].set_index("variant").loc["unpooled", "n_coef"] == 60
