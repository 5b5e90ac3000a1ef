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

from hiermodel.compare import Comparison, compare
from hiermodel.compare.logo import prior_coefficients
from hiermodel.compare.variants import group_x_columns
from hiermodel.predict import linear_predictor

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
    return compare("y ~ x + (1 + x | g)", _data(), draws=200, tune=300, chains=2, seed=7,
                   logo="kfold", logo_max_groups=2, logo_draws=150, logo_tune=200,
                   progress=messages.append, keep_logo_fits=True,
                   fit_options={"parametrization": "noncentered"})


def test_variants_and_progress(result: Comparison, messages: list[str]) -> None:
    assert result.formulas == {"pooled": "y ~ x", "unpooled": "y ~ 0 + g + g:x",
                               "hierarchical": "y ~ x + (1 + x | g)"}
    assert result.kinds == {"pooled": "pooled", "unpooled": "unpooled",
                            "hierarchical": "hierarchical"}
    assert messages[:3] == ["fitting pooled (1/3)", "fitting unpooled (2/3)",
                            "fitting hierarchical (3/3)"]
    assert any(m.startswith("leave-one-group-out: refitting") for m in messages)


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
    assert 0.2 < pop.loc[("hierarchical", "effect"), "median"] < 1.2
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
                # level that stands in for it (the first training row's group)
                proxy = str(data[~data.g.isin(logo.folds[fold])].iloc[0]["g"])
                recipes = fit.model.design.x_recipes
                ci = next(j for j, r in enumerate(recipes) if r == (("g", proxy),))
                cs = next(j for j, r in enumerate(recipes) if len(r) == 2 and r[0] == ("g", proxy))
                assert set(group_x_columns(fit, ("g",))) >= {ci, cs}
                bp = prior_coefficients(fit, s, int(rec["seed"]))
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
    for f in ("loo.csv", "groups.csv", "logo.csv", "variance.csv", "comparison.json",
              "report.txt", "estimates_effect.png", "group_means.png", "loo.png"):
        assert f in names, f
    summary = json.loads((tmp_path / "comparison.json").read_text())
    assert {r["group"] for r in summary["flagged"]} >= {"solo", "rev"}
    assert pd.read_csv(tmp_path / "groups.csv").shape[0] == len(EFFECTS)
    assert set(result.figures) >= {"estimates_effect", "estimates_intercept", "group_means",
                                   "loo"}
