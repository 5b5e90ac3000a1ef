"""bayes_R2 / loo_R2 on FIXED posteriors (no MCMC) equal the formulas applied to the draws."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import hiermodel as hm
from tests.helpers import fixed_fit


@pytest.fixture(scope="module")
def fit() -> hm.Fit:
    d = hm.datasets.sleepstudy()
    model = hm.model("Reaction ~ Days + (Days|Subject)", d)
    f = fixed_fit(model, seed=8)
    post = f.idata.posterior  # put the made-up posterior on the data's scale
    post["Intercept"] = 240 + 5 * post["Intercept"]
    post["b"] = post["b"] * 2
    post["r_Subject"] = post["r_Subject"] * 20
    post["sigma"] = post["sigma"] * 25
    return f


def _mu(fit: hm.Fit, groups: bool) -> np.ndarray:
    post = fit.idata.posterior
    flat = {v: np.asarray(post[v].values).reshape(-1, *post[v].shape[2:]) for v in post}
    data = hm.datasets.sleepstudy()
    days = data.Days.to_numpy(float)
    mu = flat["Intercept"][:, None] + flat["b"][:, [0]] * days
    if groups:
        j = [list(post["Subject"].values).index(s) for s in data.Subject.astype(str)]
        mu = mu + flat["r_Subject"][:, j, 0] + flat["r_Subject"][:, j, 1] * days
    return mu


def test_bayes_r2_is_the_formula_on_the_draws(fit: hm.Fit) -> None:
    y = hm.datasets.sleepstudy().Reaction.to_numpy()
    for re_form, groups, label in [(None, True, "conditional"), ("~0", False, "marginal")]:
        mu = _mu(fit, groups)
        var_mu = mu.var(axis=1, ddof=1)
        expected = var_mu / (var_mu + (y - mu).var(axis=1, ddof=1))
        np.testing.assert_allclose(fit.bayes_R2(re_form=re_form, summary=False), expected,
                                   rtol=1e-10)
        table = fit.bayes_R2(re_form=re_form)
        assert list(table.index) == [label]
        assert list(table.columns) == ["Estimate", "Est.Error", "Q2.5", "Q97.5"]
        assert table["Estimate"].iloc[0] == pytest.approx(expected.mean())
        assert table["Q97.5"].iloc[0] == pytest.approx(np.quantile(expected, 0.975))
        sigma2 = np.asarray(fit.idata.posterior["sigma"].values).reshape(-1) ** 2
        np.testing.assert_allclose(fit.bayes_R2(re_form=re_form, summary=False,
                                                residual="sigma"),
                                   var_mu / (var_mu + sigma2), rtol=1e-10)


def test_loo_r2_is_rstanarms_algorithm_with_arviz_weights(fit: hm.Fit) -> None:
    y = hm.datasets.sleepstudy().Reaction.to_numpy()
    mu = _mu(fit, True)
    sigma = np.asarray(fit.idata.posterior["sigma"].values).reshape(-1)
    ll = norm.logpdf(y[None, :], mu, sigma[:, None])  # (draws, n)
    post = fit.idata.posterior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = az.ess(post, method="mean")
        reff = np.nanmean(np.hstack([np.ravel(ess[v].values) for v in ess.data_vars])) / (
            post.sizes["chain"] * post.sizes["draw"])
        lw, _ = az.psislw(-ll.T, reff)
    e = np.sum(np.exp(np.asarray(lw)) * mu.T, axis=1) - y
    n = y.size
    w = np.random.default_rng(9).dirichlet(np.ones(n), size=500)
    var_y = (w @ y**2 - (w @ y) ** 2) * n / (n - 1)
    var_e = (w @ e**2 - (w @ e) ** 2) * n / (n - 1)
    expected = np.clip(1 - var_e / var_y, -1, 1)
    from hiermodel.posterior.r2 import loo_r2

    np.testing.assert_allclose(loo_r2(fit, summary=False, draws=500, seed=9), expected,
                               rtol=1e-8)
    table = fit.loo_R2(seed=9)
    assert list(table.index) == ["loo"]


def test_sigma_residual_is_for_gaussian_models(toy: pd.DataFrame) -> None:
    pois = fixed_fit(hm.model("count ~ x + (1|g)", toy, family="poisson"), seed=1,
                     b_mean=0.5, b_sd=0.1)
    with pytest.raises(hm.DataError, match="residual='residuals'"):
        pois.bayes_R2(residual="sigma")
    assert 0 < float(pois.bayes_R2()["Estimate"].iloc[0]) < 1
