"""hm.compare end to end on constructed data where the answer is known (tiny fits).

Six groups with a common positive effect of ``x`` except ``rev`` (a clearly reversed effect),
plus ``solo`` with a single observation. Checks the flags, the per-group table, the LOGO
densities against a direct computation from the refits' posterior/prior draws, the report text,
``write`` and the progress messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from hiermodel.backend.sampling import prior_draws
from hiermodel.comparison import Comparison, compare
from hiermodel.comparison.variants import group_x_columns
from hiermodel.posterior.prediction import linear_predictor

pytestmark = pytest.mark.fit

EFFECTS = {"g1": 0.8, "g2": 0.9, "g3": 0.7, "g4": 0.8, "rev": -0.9, "solo": 0.8}
INTERCEPTS = {"g1": 1.0, "g2": 1.3, "g3": 0.8, "g4": 1.1, "rev": 1.0, "solo": 1.2}


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    rows = []
    for g in EFFECTS:
        n = 1 if g == "solo" else 40
        x = np.tile([False, True], n)[:n] if n > 1 else np.array([True])
        y = INTERCEPTS[g] + EFFECTS[g] * x + rng.normal(0, 0.4, n)
        rows.append(pd.DataFrame({"y": y, "x": x, "g": g}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def messages() -> list[str]:
    return []


@pytest.fixture(scope="module")
def result(messages: list[str]) -> Comparison:
    return compare("y ~ x + (1 + x | g)", _data(), draws=150, tune=200, chains=2, seed=7,
                   logo="kfold", logo_folds=2, logo_draws=100, logo_tune=150,
                   progress=messages.append, keep_logo_fits=True,
                   fit_options={"parametrization": "noncentered"})


def test_variants_and_progress(result: Comparison, messages: list[str]) -> None:
    assert result.formulas == {"pooled": "y ~ x", "unpooled": "y ~ 0 + g + g:x",
                               "hierarchical": "y ~ x + (1 + x | g)"}
    assert result.kinds == {"pooled": "pooled", "unpooled": "unpooled",
                            "hierarchical": "hierarchical"}
    fitting = [m for m in messages if m.startswith("fitting ")]
    assert fitting == ["fitting pooled (1/3): y ~ x", "fitting unpooled (2/3): y ~ 0 + g + g:x",
                       "fitting hierarchical (3/3): y ~ x + (1 + x | g)"]
    assert any(m.startswith("leave-one-group-out: grouped 2-fold CV over 6 groups of 'g': "
                            "6 refits") for m in messages)
    assert any(m.startswith("leave-one-group-out: refitting") for m in messages)
    # every fit and refit reports its time, and the time left while steps remain
    assert [m.split(":")[0] for m in messages if m.startswith("fit ")] == \
        ["fit 1/3 done", "fit 2/3 done", "fit 3/3 done"]
    logo_done = [m for m in messages if m.startswith("LOGO ")]
    assert [m.split(":")[0] for m in logo_done] == [f"LOGO {i}/6 done" for i in range(1, 7)]
    assert all(" left)" in m for m in logo_done[:-1]) and " left)" not in logo_done[-1]
    assert messages[-1].startswith("done in")


def test_progress_true_prints_each_model(capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True prints which of the three models is being fitted (tiny, no LOGO)."""
    compare("y ~ x + (1 | g)", _data(), draws=60, tune=60, chains=1, seed=1, logo=False,
            progress=True)
    out = capsys.readouterr().out
    for i, name in enumerate(("pooled", "unpooled", "hierarchical"), start=1):
        assert f"hiermodel compare: fitting {name} ({i}/3): " in out


def test_known_flags(result: Comparison) -> None:
    t = result.tables["groups"].set_index("group")
    assert result.flags("small_n") == ["solo"]
    assert "rev" in result.flags("sign_reversal")
    assert t.loc["rev", "effect_unpooled"] < 0 < t.loc["g1", "effect_unpooled"]
    assert t.loc["rev", "effect_unpooled_high"] < 0
    assert "solo" not in result.flags("sign_reversal")
    for g in ("g1", "g2", "g3", "g4"):
        assert "sign_reversal" not in t.loc[g, "flags"]
        assert "small_n" not in t.loc[g, "flags"]
    assert t.loc["solo", "n"] == 1
    assert "solo" in result.flags("wide_interval")


def test_group_table_shapes_and_pooling(result: Comparison) -> None:
    t = result.tables["groups"].set_index("group")
    assert sorted(t.index) == sorted(EFFECTS)
    # pooled gives one value for all groups
    assert t["effect_pooled"].nunique() == 1
    # the hierarchical estimate lies between unpooled and pooled for the reversed group
    pf = t.loc["rev", "pooling_effect"]
    assert 0.0 <= pf < 0.5
    # the single-row group is pooled strongly
    assert t.loc["solo", "pooling_intercept"] > t.loc["g1", "pooling_intercept"]
    pop = result.tables["population"].set_index(["variant", "quantity"])
    # the hierarchical variant's population effect is its population-level coefficient of x
    # (exact: the same draws), not a re-estimate
    fe = result.fits["hierarchical"].fixef()
    assert pop.loc[("hierarchical", "effect"), "median"] == pytest.approx(
        fe.loc["xTRUE", "median"], rel=1e-9)
    v = result.tables["variance"]
    icc = v[(v.component == "g") & (v.term == "(Intercept)")].iloc[0]
    assert 0 < icc["share_low"] <= icc["share"] <= icc["share_high"] < 1


def test_loo_table(result: Comparison) -> None:
    t = result.tables["loo"]
    assert set(t.index) == {"pooled", "unpooled", "hierarchical"}
    assert t["weight"].sum() == pytest.approx(1.0)
    assert (t["n_k_high"] >= 0).all()
    assert result.loo["hierarchical"]["n_data_points"] == len(_data())
    assert result.pointwise.shape[0] == len(_data())


def test_logo_density_matches_direct_computation(result: Comparison) -> None:
    logo = result.logo
    assert logo is not None and not logo.exact and len(logo.folds) == 2
    groups = logo.groups
    assert set(groups.group) == set(EFFECTS)
    assert len(groups) == 3 * len(EFFECTS)
    data = _data()
    for (fold, name), fit in logo.fits.items():
        for g in logo.folds[fold]:
            rec = groups[(groups.group == g) & (groups.variant == name)].iloc[0]
            rows = data[data.g == g]
            y = rows["y"].to_numpy()
            post = fit.idata.posterior.stack(s=("chain", "draw"))
            sigma = post["sigma"].values
            s = sigma.size
            x = rows["x"].to_numpy(float)
            if name == "pooled":
                b = post["b"].values.reshape(-1, s)  # (coef, draws)
                mu = post["Intercept"].values[:, None] + b[0][:, None] * x[None, :]
            elif name == "unpooled":
                # the new group's coefficients come from their prior: those of the training
                # level that stands in for it (the first training row's group); one prior
                # sampling call per fold, one block of draws per held-out group
                proxy = str(data[~data.g.isin(logo.folds[fold])].iloc[0]["g"])
                recipes = fit.model.design.x_recipes
                ci = next(j for j, r in enumerate(recipes) if r == (("g", proxy),))
                cs = next(j for j, r in enumerate(recipes) if len(r) == 2 and r[0] == ("g", proxy))
                assert set(group_x_columns(fit.model, ("g",))) >= {ci, cs}
                held = len(logo.folds[fold])
                bp = prior_draws(fit.pymc_model, "b", s * held, int(rec["prior_seed"]))
                bp = bp.reshape(held, s, -1)[int(rec["prior_block"])]
                mu = bp[:, [ci]] + bp[:, [cs]] * x[None, :]
            else:
                mu = linear_predictor(fit, rows, allow_new_levels=True, seed=int(rec["seed"]))
            ll = stats.norm.logpdf(y[None, :], mu, sigma[:, None])
            joint = logsumexp(ll.sum(axis=1)) - np.log(s)
            pointwise = np.sum(logsumexp(ll, axis=0) - np.log(s))
            assert rec["elpd_joint"] == pytest.approx(joint, rel=1e-8), (name, g)
            assert rec["elpd_pointwise"] == pytest.approx(pointwise, rel=1e-8), (name, g)
            assert rec["n"] == len(rows)
    summary = result.tables["logo"]
    for v in ("pooled", "unpooled", "hierarchical"):
        assert summary.loc[v, "elpd_logo"] == pytest.approx(
            groups.loc[groups.variant == v, "elpd_joint"].sum())
    # the unpooled model knows nothing about a new group (prior draws): for every ordinary
    # group its held-out density is below the hierarchical model's
    per_obs = groups.pivot(index="group", columns="variant", values="elpd_pointwise_per_obs")
    for g in ("g1", "g2", "g3", "g4"):
        assert per_obs.loc[g, "unpooled"] < per_obs.loc[g, "hierarchical"], g


def test_report_text_and_write(result: Comparison, tmp_path: Path) -> None:
    text = str(result)
    for needle in ("PSIS-LOO", "Leave-one-group-out", "Variance partition", "solo", "rev",
                   "sign_reversal", "small_n", "Why flagged"):
        assert needle in text, needle
    written = result.write(tmp_path)
    names = {p.name for p in written}
    for f in ("loo.csv", "groups.csv", "pooling.csv", "estimates.csv", "logo.csv",
              "variance.csv", "comparison.json", "report.txt", "report.md",
              "estimates_effect.png", "shrinkage.png", "group_means.png", "loo.png"):
        assert f in names, f
    summary = json.loads((tmp_path / "comparison.json").read_text())
    assert {r["group"] for r in summary["flagged"]} >= {"solo", "rev"}
    assert summary["summary"] == result.summary_lines()
    assert pd.read_csv(tmp_path / "groups.csv").shape[0] == len(EFFECTS)
    md = (tmp_path / "report.md").read_text()
    assert "## What partial pooling buys" in md and "![" in md and "(shrinkage.png)" in md
    assert "## Predictive performance" in md and "| variant | elpd_loo |" in md
    assert set(result.figures) >= {"estimates_effect", "estimates_mean", "estimates_intercept",
                                   "shrinkage", "group_means", "loo"}


def test_summary_says_what_partial_pooling_buys(result: Comparison) -> None:
    text = str(result)
    head = text.split("Variants:")[0]
    assert text.startswith("Comparison of 3 variants of  y ~ x + (1 + x | g)")
    assert "What partial pooling buys:" in head
    loo = result.tables["loo"]
    best = loo.index[0]
    assert f"(PSIS-LOO, elpd summed over {len(_data())} observations): {best} is best" in head
    for v in loo.index[1:]:  # every other variant with its elpd difference and SE
        assert f"{v} {loo.loc[v, 'elpd_diff']:.1f} ± {loo.loc[v, 'dse']:.1f} lower" in head
    assert "New groups (grouped 2-fold CV" in head
    # the effect varies by group here, so pooling is reported on it; the smallest group first
    assert result.pooling_quantity == "effect"
    assert "Pooling of the effect" in head and "solo (n=1)" in head
    assert "Largest hierarchical vs unpooled differences in the effect:" in head
    assert "Flagged groups" in head and "rev (sign_reversal" in head
    pooling = result.tables["pooling"]
    assert set(pooling["quantity"]) == {"effect", "mean", "intercept"}
    assert pooling["varies_in_hierarchical"].all()


def test_tables_are_consistent(result: Comparison) -> None:
    loo = result.tables["loo"]
    # ordered by elpd; differences are to the best; weights sum to one
    assert list(loo["elpd_loo"]) == sorted(loo["elpd_loo"], reverse=True)
    assert loo["elpd_diff"].iloc[0] == 0
    np.testing.assert_allclose(loo["elpd_diff"], loo["elpd_loo"].iloc[0] - loo["elpd_loo"])
    assert set(result.fits) == {"pooled", "unpooled", "hierarchical"}
    pf = result.tables["pooling"]["pooling_factor"].dropna()
    assert ((pf >= 0) & (pf <= 1)).all()
    est = result.tables["estimates"]
    assert set(est["variant"]) == set(result.fits)
    assert len(est) == 3 * 3 * len(EFFECTS)  # group x variant x (effect, mean, intercept)


def test_group_means_partial_pooling_on_known_data() -> None:
    """y ~ 1 + (1 | g) with groups of 1 to 128 rows: the pooled estimate is the overall mean,
    the unpooled one each group's own mean, the hierarchical one lies in between and is pulled
    toward the pooled value the more, the smaller the group."""
    rng = np.random.default_rng(5)
    sizes = [1, 2, 4, 8, 16, 32, 64, 128]
    means = rng.normal(0, 0.7, len(sizes))
    g = np.repeat([f"g{n:03d}" for n in sizes], sizes)
    y = np.repeat(means, sizes) + rng.normal(0, 1, g.size)
    data = pd.DataFrame({"y": y, "g": g})
    r = compare("y ~ 1 + (1 | g)", data, draws=250, tune=250, chains=2, seed=3, logo=False)
    assert r.formulas["unpooled"] == "y ~ 0 + g"
    assert r.pooling_quantity == "mean"
    t = r.tables["pooling"]
    t = t[t["quantity"] == "mean"].set_index("group")
    raw = data.groupby("g")["y"].mean()
    np.testing.assert_allclose(t["pooled"], y.mean(), atol=0.03)
    big = t["n"] >= 8
    np.testing.assert_allclose(t.loc[big, "unpooled"], raw[t.index[big]], atol=0.05)
    # shrinkage is toward the hierarchical population mean (here not the pooled mean, which
    # the two largest groups dominate)
    u, h, m = t["unpooled"], t["hierarchical"], t["hierarchical_population"]
    assert ((np.minimum(u, m) - 0.02 <= h) & (h <= np.maximum(u, m) + 0.02)).all()
    np.testing.assert_allclose(t["pooling_factor"], ((u - h) / (u - m)).clip(0, 1))
    pf = t["pooling_factor"]
    assert ((pf >= 0) & (pf <= 1)).all()
    assert t["n"].rank().corr(pf.rank()) < -0.5
    assert pf["g001"] > 0.5 > pf["g128"]
    loo = r.tables["loo"]
    assert list(loo["elpd_loo"]) == sorted(loo["elpd_loo"], reverse=True)
    assert "New groups: not assessed (logo=False)." in str(r)
