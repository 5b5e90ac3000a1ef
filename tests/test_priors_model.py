"""Priors as they end up in the built PyMC model (issue 4).

The talk's three models, written as one-line formulas with the ``maize_talk`` template, must
carry exactly the talk's priors — read back from the PyMC graph, not from our own table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm

pytestmark = pytest.mark.builds

Y = "log(maize_yield + 0.1)"


def _dist(model, name: str) -> tuple[str, list[np.ndarray]]:
    """(PyMC distribution name, evaluated parameters) of a free RV in the built graph."""
    rv = model.pymc_model[name]
    op = rv.owner.op
    params = [np.asarray(p.eval()) for p in op.dist_params(rv.owner)]
    return op._print_name[0] if hasattr(op, "_print_name") else op.name, params


@pytest.fixture(scope="module")
def maize() -> pd.DataFrame:
    return hm.datasets.maize_yield(n=3000, seed=1)


def test_talk_pooled_model_has_talks_priors(maize: pd.DataFrame) -> None:
    # talk: a ~ Normal(2.3, 1.1, dims="Hybrid_seeds"); sigma ~ HalfCauchy(1)
    m = hm.model(f"{Y} ~ 0 + used_hybrid_seeds", maize, priors="maize_talk",
                 center_predictors=False)
    assert m.design.x_names == ["used_hybrid_seedsFALSE", "used_hybrid_seedsTRUE"]
    name, (mu, sigma) = _dist(m, "b")
    assert name == "Normal" and np.allclose(mu, 2.3) and np.allclose(sigma, 1.1)
    assert mu.size == 2 or mu.ndim == 0
    name, params = _dist(m, "sigma")
    beta = params[-1]
    assert name == "HalfCauchy" and np.allclose(beta, 1.0)
    assert {v.name for v in m.pymc_model.free_RVs} == {"b", "sigma"}


def test_talk_unpooled_model_has_talks_priors(maize: pd.DataFrame) -> None:
    # talk: a ~ Normal(2.3, 1.1, dims=("County", "Hybrid_seeds")); sigma ~ HalfCauchy(1)
    m = hm.model(f"{Y} ~ 0 + county:used_hybrid_seeds", maize, priors="maize_talk",
                 center_predictors=False)
    assert len(m.design.x_names) == 30 * 2
    name, (mu, sigma) = _dist(m, "b")
    assert name == "Normal" and np.allclose(mu, 2.3) and np.allclose(sigma, 1.1)
    name, params = _dist(m, "sigma")
    beta = params[-1]
    assert name == "HalfCauchy" and np.allclose(beta, 1.0)


def test_talk_hierarchical_model_has_talks_priors(maize: pd.DataFrame) -> None:
    # talk: ic_mu ~ Normal(2, 1); ic_sigma ~ HalfCauchy(1); county_intercept ~ Normal(ic_mu,
    # ic_sigma); b ~ Normal(2, 1); sigma ~ HalfCauchy(1)
    priors = hm.PriorSpec("maize_talk", [hm.set_prior("normal(2, 1)", "Intercept"),
                                         hm.set_prior("normal(2, 1)", "b")])
    m = hm.model(f"{Y} ~ used_hybrid_seeds + (1|county)", maize, priors=priors,
                 center_predictors=False)
    assert _dist(m, "Intercept")[0] == "Normal"
    assert np.allclose(_dist(m, "Intercept")[1], [2.0, 1.0])
    name, (mu, sigma) = _dist(m, "b")
    assert name == "Normal" and np.allclose(mu, 2.0) and np.allclose(sigma, 1.0)
    name, params = _dist(m, "sd_county")
    beta = params[-1]
    assert name == "HalfCauchy" and np.allclose(beta, 1.0)
    name, params = _dist(m, "sigma")
    beta = params[-1]
    assert name == "HalfCauchy" and np.allclose(beta, 1.0)
    table = m.prior_summary().to_frame()
    assert set(table.source) == {"override", "template:maize_talk"}


def test_unmatched_override_fails_before_sampling_and_lists_slots(
    sleepstudy: pd.DataFrame,
) -> None:
    with pytest.raises(hm.PriorError) as info:
        hm.model("Reaction ~ Days + (Days|Subject)", sleepstudy,
                 priors=[hm.set_prior("normal(0, 5)", "b", term="Dayz")])
    message = str(info.value)
    assert message.startswith(
        "prior override (class='b', term='Dayz') matches no parameter; did you mean term 'Days'?"
    )
    assert "available slots: Intercept; b: Days; sd: Intercept|Subject, Days|Subject" in message


def test_correlated_block_gets_template_sds_and_lkj(sleepstudy: pd.DataFrame) -> None:
    m = hm.model("Reaction ~ Days + (Days|Subject)", sleepstudy, priors="maize_talk")
    rv = m.pymc_model["lkj_Subject"]
    assert "lkjcholeskycov" in (type(rv.owner.op).__name__ + str(rv.owner.op)).lower()
    table = m.prior_summary().to_frame()
    cor = table[table["class"] == "cor"]
    assert cor["prior"].tolist() == ["LKJ(eta=2)"]


def test_prior_predictive_shows_template_scale(sleepstudy: pd.DataFrame) -> None:
    """The data-scaled default covers the observed response; the talk's log-yield template,
    applied to reaction times in ms, visibly does not — which is what the check is for."""
    import matplotlib

    matplotlib.use("Agg")
    good = hm.prior_predictive("Reaction ~ Days + (1|Subject)", sleepstudy, draws=100, seed=1)
    assert good.y_draws.shape == (100, 180)
    table = good.summary()
    assert table.loc["q05", "prior_predictive"] < table.loc["q50", "observed"]
    assert table.loc["q95", "prior_predictive"] > table.loc["q50", "observed"]
    bad = hm.prior_predictive("Reaction ~ Days + (1|Subject)", sleepstudy,
                              priors="maize_talk", draws=100, seed=1)
    # Normal(2.3, 1.1) intercept on a ~300 ms response: the median simulated reaction time is
    # far below every observed one.
    assert bad.summary().loc["q50", "prior_predictive"] < sleepstudy.Reaction.min()
    fig = good.plot()
    assert fig.axes[0].get_xlabel() == "Reaction"
    assert "observed" in str(good)
