"""Compile once, fit many (backend/folds.py, comparison/refits.py).

Builds tier: the fold graph's log-density equals the model's (all folds kept) and the training
model's (held-out folds switched off) exactly. Fit tier: the posterior of a fold fit through the
reused compiled graph matches a fresh fit on the training rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from hiermodel.comparison.refits import held_out_groups
from hiermodel.models import model
from tests.helpers import fold_graph


def _data(n: int = 400, groups: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=groups)[g] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g],
                         "h": rng.integers(0, 2, n).astype(bool),
                         "c": rng.poisson(np.exp(0.3 * x)), "w": rng.integers(1, 4, n),
                         "s": rng.binomial(5, 0.4, n)}).assign(f=lambda d: 5 - d["s"])


def _point(graph, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in graph.initial_point().items()}


CASES = [("y ~ x + (1|g)", "gaussian", "auto", {}), ("y ~ h + (1|g)", "gaussian", True, {}),
         ("y ~ 0 + g:h", "gaussian", True, {}), ("c ~ x + (x|g)", "poisson", False, {}),
         ("c ~ h + (1|g)", "poisson", True, {}),
         ("y ~ x + (1|g)", "gaussian", False, {"weights": "w"}),
         ("y ~ h + (1|g)", "gaussian", True, {"weights": "w"}),
         ("y ~ x + (1|g)", "gaussian", False, {"sigma": "~ x"}),
         ("cbind(s, f) ~ h + (1|g)", "binomial", True, {})]


@pytest.mark.parametrize(("formula", "family", "compress", "extra"), CASES)
def test_fold_graph_keeps_the_log_density_when_every_fold_is_kept(formula, family, compress,
                                                                  extra):
    df = _data()
    m = model(formula, df, family=family, compress=compress, **extra)
    graph = fold_graph(m, df["g"].to_numpy())
    for seed in range(3):
        point = _point(m.pymc_model, seed)
        assert graph.compile_logp()(point) == pytest.approx(
            m.pymc_model.compile_logp()(point), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("compress", [True, False])
def test_fold_graph_without_groups_is_the_training_model(compress):
    """A model without group effects has the same parameters with and without the held-out
    groups, so with the training rows' predictor means the log-densities are equal at every
    point (exact)."""
    import pymc as pm

    df = _data()
    m = model("y ~ h + x", df, compress=compress, priors="maize_talk")
    graph = fold_graph(m, df["g"].to_numpy())
    held = ["g1", "g5"]
    levels = np.unique(df["g"].astype(str))
    train = df[~df["g"].isin(held)].reset_index(drop=True)
    fresh = model("y ~ h + x", train, compress=compress, priors="maize_talk")
    assert fresh.info.centered  # the fold graph takes the training rows' means as data
    with graph:
        pm.set_data({"fold_keep": (~np.isin(levels, held)).astype(float),
                     "x_mean": fresh.info.x_mean})
    for seed in range(3):
        point = _point(fresh.pymc_model, seed)
        assert graph.compile_logp()(point) == pytest.approx(
            fresh.pymc_model.compile_logp()(point), rel=1e-12)


def test_held_out_groups_are_the_groups_train_lacks():
    df = _data()
    train = df[~df["g"].isin(["g2", "g7"])].reset_index(drop=True)
    assert held_out_groups(df, df["g"].to_numpy(), ("g",), train) == ["g2", "g7"]


def test_same_model_names_what_differs():
    from hiermodel.backend.folds import same_model

    df = _data()
    train = df[~df["g"].isin(["g0"])].reset_index(drop=True)
    full = model("y ~ x + (1|g)", df, center_predictors=False)
    # weakly_informative scales its priors with the data: a fresh refit has other priors
    assert same_model(full, model("y ~ x + (1|g)", train, center_predictors=False)).startswith(
        "priors depend on the data (Intercept: ")
    assert same_model(full, model("y ~ x + (1|g)", train)) == "predictor centering differs"
    fixed = model("y ~ x + (1|g)", df, priors="maize_talk")
    assert same_model(fixed, model("y ~ x + (1|g)", train, priors="maize_talk")) is None



def _mean_and_mcse(idata, var, sel=None):
    import arviz as az

    da = idata.posterior[var]
    if sel:
        da = da.sel(sel)
    flat = da.stack(sample=("chain", "draw"))
    mean = np.atleast_1d(flat.mean("sample").values).ravel()
    mcse = np.atleast_1d(az.mcse(da.to_dataset(name=var), method="mean")[var].values)
    return mean, mcse.ravel()


@pytest.mark.fit
def test_fold_fit_through_the_reused_graph_matches_a_fresh_fit():
    """Posterior means of every parameter the fresh fit has (Intercept, b, sd, sigma and the
    training levels' r) agree within a Bonferroni limit on the combined MCSE, and the held-out
    levels' r follow their prior (mean 0). With P compared scalars, |m1 - m2| / sqrt(mcse1^2 +
    mcse2^2) > z* = Phi^-1(1 - 0.0005 / P) has probability <= 1/1000 in total when both fits
    sample the same posterior (normal approximation of the MCSE). Seeded: deterministic."""
    from hiermodel.backend.folds import FoldSampler

    df = _data()
    held = ["g1", "g5"]
    train = df[~df["g"].isin(held)].reset_index(drop=True)
    full = model("y ~ x + (1|g)", df, priors="maize_talk")
    fresh_model = model("y ~ x + (1|g)", train, priors="maize_talk")
    sampler = FoldSampler(full, df["g"].to_numpy())
    reused, _ = sampler.sample(held, fresh_model.info.x_mean, draws=500, tune=500, chains=4,
                               seed=1)
    fold_model = sampler.fold_model(fresh_model.info.x_mean)
    assert np.array_equal(fold_model.info.x_mean, fresh_model.info.x_mean)
    fresh = fresh_model.fit(draws=500, tune=500, chains=4, seed=2, backend="pymc").idata

    kept = [lv for lv in sorted(df["g"].unique()) if lv not in held]
    pairs = [_mean_and_mcse(reused, v) + _mean_and_mcse(fresh, v)
             for v in ("Intercept", "b", "sd_g", "sigma")]
    pairs.append(_mean_and_mcse(reused, "r_g", {"g": kept})
                 + _mean_and_mcse(fresh, "r_g", {"g": kept}))
    held_mean, held_mcse = _mean_and_mcse(reused, "r_g", {"g": held})
    n = sum(p[0].size for p in pairs) + held_mean.size
    limit = norm.isf(0.0005 / n)
    for m1, s1, m2, s2 in pairs:
        assert np.all(np.abs(m1 - m2) <= limit * np.sqrt(s1**2 + s2**2)), (m1, m2, s1, s2)
    assert np.all(np.abs(held_mean) <= limit * held_mcse)


@pytest.mark.fit
def test_full_data_fit_through_the_shared_graph_matches_model_fit():
    """A comparison samples each variant's full-data fit through the graph its refits share
    (comparison/refits.py, VariantSamplers.fit: every group kept). Its draws have the
    variables, dims and coords of ``Model.fit``'s, and the posterior means of every parameter
    agree with a PyMC fit of the same model within the Bonferroni-limited combined MCSE
    (1/1000 false-failure rate in total, as above). Seeded: deterministic."""
    from hiermodel.comparison.refits import VariantSamplers

    df = _data()
    full = model("y ~ x + (1|g)", df, priors="maize_talk")
    shared = VariantSamplers(df["g"].to_numpy())
    assert shared.problem(full) is None
    fit = shared.fit("hierarchical", full, seed=3, draws=500, tune=500, chains=4)
    fresh = full.fit(draws=500, tune=500, chains=4, seed=4, backend="pymc")
    assert fit.model is full and fit.sampler["backend"] == "nutpie"
    assert "refits" in fit.sampler["backend_reason"]
    assert set(fit.idata.posterior.data_vars) == set(fresh.idata.posterior.data_vars)
    for v in fresh.idata.posterior.data_vars:
        got, want = fit.idata.posterior[v], fresh.idata.posterior[v]
        assert got.dims == want.dims, v
        for d in got.dims[2:]:
            assert list(got[d].values) == list(want[d].values), (v, d)
    pairs = [_mean_and_mcse(fit.idata, v) + _mean_and_mcse(fresh.idata, v)
             for v in ("Intercept", "b", "sd_g", "sigma", "r_g")]
    limit = norm.isf(0.0005 / sum(p[0].size for p in pairs))
    for m1, s1, m2, s2 in pairs:
        assert np.all(np.abs(m1 - m2) <= limit * np.sqrt(s1**2 + s2**2)), (m1, m2, s1, s2)
    # the shared sampler is the one the refits use: no second compile
    assert list(shared.samplers) == ["hierarchical"]
    assert shared.sampler("hierarchical", full) is shared.samplers["hierarchical"]
