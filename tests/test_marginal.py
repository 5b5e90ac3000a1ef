"""Exact marginalisation of gaussian group effects (backend/marginal.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import hiermodel as hm
from tests.mcse import z_limit, z_scores


def _data(seed: int = 3, groups: int = 7) -> tuple:
    rng = np.random.default_rng(seed)
    import pandas as pd

    g = rng.integers(0, groups, 120)
    x = rng.normal(size=120)
    w = rng.normal(size=120)
    y = 1.0 + 0.5 * x - 0.3 * w + rng.normal(size=groups)[g] + 0.4 * rng.normal(size=groups)[g] * x
    y = y + rng.normal(scale=0.7, size=120)
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": [f"L{i}" for i in g]})


@pytest.mark.builds
@pytest.mark.parametrize("formula", ["y ~ x + w + (1|g)", "y ~ x + (x|g)", "y ~ x + (x||g)",
                                     "y ~ 0 + x + (1 + w|g)"])
def test_marginal_logp_equals_the_multivariate_normal_density(formula: str) -> None:
    """Exact identity: the unrolled Woodbury / determinant-lemma density equals scipy's
    multivariate normal of each level's rows with covariance sigma^2 I + Z Sigma Z'."""
    import pytensor.tensor as pt

    from hiermodel.backend.marginal import marginal_logp

    df = _data()
    m = hm.model(formula, df, marginalize=True)
    st = m.info.marginal
    assert st is not None
    rng = np.random.default_rng(0)
    q, p1 = len(st.terms), st.WW.shape[0]
    for _ in range(3):
        theta = rng.normal(size=p1)
        A = rng.normal(size=(q, q))
        L = np.linalg.cholesky(A @ A.T + 0.5 * np.eye(q))
        sigma = float(rng.uniform(0.5, 2.0))
        got = marginal_logp(st, pt.as_tensor_variable(theta), pt.as_tensor_variable(L),
                            pt.as_tensor_variable(sigma)).eval()
        design = m.design
        Z = np.concatenate([b.Z for b in design.blocks], axis=1)
        cols = [np.ones(len(df))] if design.has_intercept else []
        W = np.column_stack(cols + [design.X[:, j] - m.info.x_mean[j]
                                    for j in range(design.X.shape[1])])
        idx = design.blocks[0].index
        want = 0.0
        for j in range(len(st.levels)):
            rows = idx == j
            Zj = Z[rows]
            cov = sigma**2 * np.eye(rows.sum()) + Zj @ (L @ L.T) @ Zj.T
            want += stats.multivariate_normal(W[rows] @ theta, cov).logpdf(design.y[rows])
        assert got == pytest.approx(want, rel=1e-10, abs=1e-8)


def _crossed(seed: int = 5, n: int = 160) -> tuple:
    import pandas as pd

    rng = np.random.default_rng(seed)
    g, h = rng.integers(0, 9, n), rng.integers(0, 5, n)
    x = rng.normal(size=n)
    y = (1.0 + 0.5 * x + rng.normal(size=9)[g] + 0.3 * rng.normal(size=9)[g] * x
         + 0.6 * rng.normal(size=5)[h] + rng.normal(scale=0.7, size=n))
    return pd.DataFrame({"y": y, "x": x, "g": [f"G{i}" for i in g], "h": [f"H{i}" for i in h]})


@pytest.mark.builds
@pytest.mark.parametrize("formula", ["y ~ x + (1|g) + (1|h)", "y ~ x + (1|h) + (x|g)",
                                     "y ~ x + (x||g) + (1|h)"])
def test_crossed_marginal_density_is_the_multivariate_normal_of_the_rows(formula: str) -> None:
    """Crossed designs integrate out the factor with the most effects (g: 9 levels, or 18
    effects with a slope); given the other factor's effects, the row-wise density equals
    scipy's multivariate normal of each g level's rows, covariance sigma^2 I + Z Sigma Z'."""
    import pytensor.tensor as pt

    from hiermodel.backend.marginal import marginal_logp_rows

    df = _crossed()
    m = hm.model(formula, df, marginalize=True)
    st = m.info.marginal
    assert st is not None and st.group == "g" and [o.name for o in st.others] == ["r_h"]
    assert m.info.parametrization["g"] == "marginalized"
    assert m.info.parametrization["h"] != "marginalized"
    assert "z_g" not in {v.name for v in m.pymc_model.free_RVs}
    rng = np.random.default_rng(1)
    q = len(st.terms)
    Z = st.Z
    assert Z is not None and st.index is not None
    for _ in range(3):
        e = rng.normal(size=len(df))
        A = rng.normal(size=(q, q))
        L = np.linalg.cholesky(A @ A.T + 0.5 * np.eye(q))
        sigma = float(rng.uniform(0.5, 2.0))
        got = marginal_logp_rows(st, pt.as_tensor_variable(e), pt.as_tensor_variable(L),
                                 pt.as_tensor_variable(sigma)).eval()
        want = 0.0
        for j in range(len(st.levels)):
            rows = st.index == j
            cov = sigma**2 * np.eye(rows.sum()) + Z[rows] @ (L @ L.T) @ Z[rows].T
            want += stats.multivariate_normal(np.zeros(rows.sum()), cov).logpdf(e[rows])
        assert got == pytest.approx(want, rel=1e-10, abs=1e-8)


@pytest.mark.fit
def test_crossed_marginalised_posterior_matches_the_joint_sampler() -> None:
    """Crossed (1|g) + (1|h): g integrated out, h sampled jointly, g's effects drawn from
    their conditional given each draw of h's. Every population parameter, SD and group
    effect's posterior mean agrees with the joint sampler's within the Bonferroni bound of
    tests/mcse.py over the 20 quantities (false-failure rate < 1/1000; seeded)."""
    df = _crossed()
    kw = {"draws": 1000, "tune": 1000, "chains": 2, "seed": 7, "target_accept": 0.95}
    joint = hm.fit("y ~ x + (1|g) + (1|h)", df, **kw)
    marg = hm.fit("y ~ x + (1|g) + (1|h)", df, marginalize=True, **kw)
    assert marg.model.info.parametrization["g"] == "marginalized"
    names = ["Intercept", "b", "sigma", "sd_g", "sd_h", "r_g", "r_h"]
    z = {name: z_scores(joint.idata.posterior[name].values, marg.idata.posterior[name].values)
         for name in names}
    k = sum(v.size for v in z.values())
    assert k == 3 + 2 + 9 + 5
    limit = z_limit(k)
    assert all(np.all(v < limit) for v in z.values()), (limit, z)
    # the drawn g effects are not the prior: they carry the data (ranef agrees in sign)
    assert np.corrcoef(joint.ranef()["mean"], marg.ranef()["mean"])[0, 1] > 0.99


def test_models_that_do_not_integrate_out_say_why() -> None:
    df = _data()
    with pytest.raises(hm.BuildError, match="no group-level terms"):
        hm.model("y ~ x", df, marginalize=True)
    df["k"] = (df["y"] > 1).astype(int)
    with pytest.raises(hm.BuildError, match="gaussian"):
        hm.model("k ~ x + (1|g)", df, family="bernoulli", marginalize=True)
    # "auto" falls back to the joint sampler silently
    m = hm.model("k ~ x + (1|g)", df, family="bernoulli", marginalize="auto")
    assert m.info.marginal is None


@pytest.mark.fit
def test_marginalised_posterior_matches_the_joint_sampler() -> None:
    """Same posterior, two samplers: every population parameter, SD, correlation and group
    effect's posterior mean agrees within Monte Carlo error — the Bonferroni bound of
    tests/mcse.py over all 42 quantities (4.65 combined MCSEs; false-failure rate < 1/1000
    for the whole test). Seeded, PyMC backend: the verdict is the same on every run."""

    df = hm.datasets.sleepstudy()
    kw = {"draws": 1000, "tune": 1000, "chains": 2, "seed": 11, "backend": "pymc"}
    joint = hm.fit("Reaction ~ Days + (Days|Subject)", df, **kw)
    marg = hm.fit("Reaction ~ Days + (Days|Subject)", df, marginalize=True, **kw)
    assert marg.model.info.marginal is not None
    assert "z_Subject" not in marg.idata.posterior
    names = ["Intercept", "b", "sigma", "sd_Subject", "cor_Subject", "r_Subject"]
    z = {name: z_scores(joint.idata.posterior[name].values, marg.idata.posterior[name].values)
         for name in names}
    k = sum(v.size for v in z.values())
    assert k == 1 + 1 + 1 + 2 + 1 + 18 * 2  # Intercept, Days, sigma, 2 SDs, 1 correlation, r
    limit = z_limit(k)
    assert all(np.all(v < limit) for v in z.values()), (limit, z)
    # the marginal sampler mixes better on the population parameters
    assert marg.diagnostics()["min_ess_bulk"] > joint.diagnostics()["min_ess_bulk"]
    assert list(marg.ranef().columns) == list(joint.ranef().columns)


@pytest.mark.builds
def test_the_default_integrates_out_a_factor_with_a_thousand_effects() -> None:
    """marginalize="auto" (the default): 1,200 levels of (1|g) integrate out (3,000 levels:
    2.8 vs 21.3 s and 5x the ESS, docs/performance.md); 100 levels, or 500 levels of one term,
    stay joint; (x|g) with 500 levels has 1,000 effects and integrates out."""
    import pandas as pd

    rng = np.random.default_rng(4)

    def data(levels: int) -> pd.DataFrame:
        g = np.repeat(np.arange(levels), 5)
        x = rng.normal(size=g.size)
        return pd.DataFrame({"y": 1 + x + rng.normal(0, 0.5, levels)[g]
                             + rng.normal(0, 1, g.size), "x": x, "g": g.astype(str)})

    big = hm.model("y ~ x + (1|g)", data(1200))
    assert big.info.marginal is not None and big.info.parametrization == {"g": "marginalized"}
    assert hm.model("y ~ x + (1|g)", data(100)).info.marginal is None
    assert hm.model("y ~ x + (1|g)", data(500)).info.marginal is None
    assert hm.model("y ~ x + (x|g)", data(500)).info.marginal is not None
    assert hm.model("y ~ x + (1|g)", data(1200), marginalize=False).info.marginal is None
