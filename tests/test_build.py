"""Builds tier: models assemble, log-p and gradients are finite and match references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from tests.helpers import logp_and_grad, point, random_point

pytestmark = pytest.mark.builds


def _free(m: hm.Model) -> set[str]:
    return {rv.name for rv in m.pymc_model.free_RVs}


def test_correlated_block_has_lkj_and_independent_has_none(sleepstudy: pd.DataFrame) -> None:
    corr = hm.model("Reaction ~ Days + (Days|Subject)", sleepstudy)
    indep = hm.model("Reaction ~ Days + (Days||Subject)", sleepstudy)
    assert "cor_Subject" in corr.pymc_model.named_vars
    assert any(name.startswith("lkj_Subject") for name in _free(corr))
    assert "cor_Subject" not in indep.pymc_model.named_vars
    assert not any(name.startswith("lkj_") for name in _free(indep))
    assert corr.pymc_model.named_vars_to_dims["cor_Subject"] == ("Subject__cor",)
    assert list(corr.pymc_model.coords["Subject__cor"]) == ["Intercept__Days"]
    assert corr.info.correlated_groups == ["Subject"]


def test_separate_blocks_on_same_factor_stay_independent(sleepstudy: pd.DataFrame) -> None:
    m = hm.model("Reaction ~ Days + (1|Subject) + (0 + Days|Subject)", sleepstudy)
    assert "cor_Subject" not in m.pymc_model.named_vars
    assert list(m.pymc_model.coords["Subject__term"]) == ["Intercept", "Days"]


def test_three_term_block_builds_with_finite_logp_and_grad(sleepstudy: pd.DataFrame) -> None:
    df = sleepstudy.assign(Days2=sleepstudy.Days**2 / 10)
    m = hm.model("Reaction ~ Days + Days2 + (Days + Days2|Subject)", df)
    assert len(m.pymc_model.coords["Subject__cor"]) == 3
    logp, grad = logp_and_grad(m.pymc_model, random_point(m.pymc_model))
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad))


def test_categorical_slope_block_expands_columns(sleepstudy: pd.DataFrame) -> None:
    df = sleepstudy.assign(phase=np.where(sleepstudy.Days < 3, "early",
                                          np.where(sleepstudy.Days < 7, "mid", "late")))
    m = hm.model("Reaction ~ phase + (phase|Subject)", df)
    assert list(m.pymc_model.coords["Subject__term"]) == ["Intercept", "phaselate", "phasemid"]
    assert len(m.pymc_model.coords["Subject__cor"]) == 3
    # lme4: (0 + f | g) estimates one effect per level (full dummy coding)
    m0 = hm.model("Reaction ~ phase + (0 + phase|Subject)", df)
    assert list(m0.pymc_model.coords["Subject__term"]) == ["phaseearly", "phaselate", "phasemid"]


def test_graph_matches_bambi_logp_for_independent_terms(sleepstudy: pd.DataFrame) -> None:
    """With Bambi's own priors, our graph's log-p equals Bambi's at the same point."""
    m = hm.model("Reaction ~ Days + (Days||Subject)", sleepstudy, priors="bambi",
                 parametrization="noncentered")
    bm = m.bambi_model
    bm.build()
    ours = random_point(m.pymc_model, seed=3)
    bvals = {
        "Intercept": ours["Intercept_c"],
        "Days": ours["b"][0],
        "sigma": ours["sigma"],
        "1|Subject_sigma": ours["sd_Subject"][0],
        "Days|Subject_sigma": ours["sd_Subject"][1],
        "1|Subject_offset": ours["z_Subject_1"][:, 0],
        "Days|Subject_offset": ours["z_Subject_2"][:, 0],
    }
    ours_logp, _ = logp_and_grad(m.pymc_model, ours)
    bambi_logp = float(bm.backend.model.compile_logp()(point(bm.backend.model, bvals)))
    assert ours_logp == pytest.approx(bambi_logp, rel=1e-9)


@pytest.mark.parametrize("family", ["gaussian", "bernoulli", "poisson"])
def test_compressed_logp_equals_full_logp(maize_small: pd.DataFrame, family: str) -> None:
    df = maize_small.assign(
        log_y=np.log(maize_small.maize_yield + 0.1),
        good=(maize_small.maize_yield > 12).astype(int),
        bags=np.round(maize_small.maize_yield).astype(int),
    )
    response = {"gaussian": "log_y", "bernoulli": "good", "poisson": "bags"}[family]
    formula = f"{response} ~ used_hybrid_seeds + (1|county)"
    full = hm.model(formula, df, family=family, compress=False, parametrization="noncentered")
    comp = hm.model(formula, df, family=family, compress=True, parametrization="noncentered")
    assert comp.info.cells is not None
    assert comp.info.cells.n_cells <= 60
    values = random_point(full.pymc_model, seed=5)
    lp_full, g_full = logp_and_grad(full.pymc_model, values)
    lp_comp, g_comp = logp_and_grad(comp.pymc_model, values)
    assert lp_comp == pytest.approx(lp_full, rel=1e-10, abs=1e-6)
    np.testing.assert_allclose(g_comp, g_full, rtol=1e-8, atol=1e-8)


def test_cell_keys_equal_numpy_unique_rows_in_order() -> None:
    """The fast cell keys (rows compared as bytes) are np.unique(axis=0)'s: the same
    representative rows and inverse in the same lexicographic order, -0.0 equal to 0.0."""
    from hiermodel.families.cells import cell_keys

    rng = np.random.default_rng(1)
    for _ in range(100):
        n, k = int(rng.integers(1, 300)), int(rng.integers(0, 5))
        x = rng.integers(-2, 3, (n, k)) * rng.choice([1.0, -1.0, 0.5])
        x[rng.random((n, k)) < 0.2] = -0.0
        cols = [x, rng.integers(0, 3, n)]
        stacked = np.column_stack([x, cols[1].astype(float)])
        _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
        got_first, got_inverse = cell_keys(cols)
        assert np.array_equal(got_first, first)
        assert np.array_equal(got_inverse, inverse.reshape(-1))
    assert [a.tolist() for a in cell_keys([np.zeros((4, 0))])] == [[0], [0, 0, 0, 0]]


def test_binomial_cbind_compression_matches_full(toy: pd.DataFrame) -> None:
    df = toy.assign(hi=(toy.x > 0).astype(int))
    f = "cbind(succ, fail) ~ hi + (1|g)"
    full = hm.model(f, df, family="binomial", compress=False)
    comp = hm.model(f, df, family="binomial", compress=True)
    values = random_point(full.pymc_model, seed=2)
    assert logp_and_grad(comp.pymc_model, values)[0] == pytest.approx(
        logp_and_grad(full.pymc_model, values)[0], rel=1e-10)


def test_poisson_offset_compression_sums_exposure(toy: pd.DataFrame) -> None:
    df = toy.assign(hi=(toy.x > 0).astype(int))
    f = "count ~ hi + offset(log(t)) + (1|g)"
    full = hm.model(f, df, family="poisson", compress=False)
    comp = hm.model(f, df, family="poisson", compress=True)
    assert comp.info.cells is not None and comp.info.cells.n_cells == 16
    values = random_point(full.pymc_model, seed=4)
    assert logp_and_grad(comp.pymc_model, values)[0] == pytest.approx(
        logp_and_grad(full.pymc_model, values)[0], rel=1e-10)


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("y ~ x + (x|g)", "gaussian"),
        ("y ~ x + (1|g)", "t"),
        ("yes ~ x + (x|g)", "bernoulli"),
        ("answer ~ x + (1|g)", "binomial"),
        ("cbind(succ, fail) ~ x + (x|g)", "binomial"),
        ("count ~ x + offset(log(t)) + (1|g)", "poisson"),
        ("count ~ x + (1|g)", "negativebinomial"),
        ("pos ~ x + (1|g)", "Gamma"),
        ("prop ~ x + (1|g)", "beta"),
    ],
)
def test_every_family_builds_with_finite_logp_and_gradient(
    toy: pd.DataFrame, formula: str, family: str
) -> None:
    m = hm.model(formula, toy, family=family, compress=False)
    logp, grad = logp_and_grad(m.pymc_model, random_point(m.pymc_model, seed=1))
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad))


def test_auto_parametrization_follows_information_per_level(
    sleepstudy: pd.DataFrame, maize_small: pd.DataFrame
) -> None:
    df = maize_small.assign(log_y=np.log(maize_small.maize_yield + 0.1))
    big = hm.model("log_y ~ used_hybrid_seeds + (1|county)", df)
    assert big.info.parametrization["county"] == "centered"
    # 85 counties, median 5 houses each, small between-county variance: non-centered
    radon = hm.datasets.radon()
    small = hm.model("log_radon ~ floor + (1|county)", radon)
    assert small.info.parametrization["county"] == "noncentered"
    forced = hm.model("log_radon ~ floor + (1|county)", radon, parametrization="centered")
    assert forced.info.parametrization["county"] == "centered"
    assert forced.info.parametrization_reason["county"] == (
        "requested; level intercepts centered on (Intercept)"
    )
    # correlated blocks stay non-centered in auto mode, however much data
    slopes = hm.model("log_y ~ used_hybrid_seeds + (used_hybrid_seeds|county)", df)
    assert slopes.info.parametrization["county"] == "noncentered"


def test_the_centered_factor_with_fewest_levels_is_centered_on_the_intercept() -> None:
    """Two centered crossed factors: only one can be centered on the intercept, and it is the
    one with fewer levels, whatever the formula order (its effects' mean is the one its prior
    pins least); the other's effects have mean zero."""
    rng = np.random.default_rng(4)
    n = 400
    many, few = rng.integers(0, 40, n), rng.integers(0, 4, n)
    df = pd.DataFrame({"y": rng.normal(size=40)[many] + rng.normal(size=4)[few]
                       + rng.normal(size=n),
                       "many": [f"m{i}" for i in many], "few": [f"f{i}" for i in few]})
    note = "; level intercepts centered on (Intercept)"
    for formula in ["y ~ (1|many) + (1|few)", "y ~ (1|few) + (1|many)"]:
        m = hm.model(formula, df, parametrization="centered")
        assert m.info.parametrization_reason["few"] == "requested" + note
        assert m.info.parametrization_reason["many"] == "requested"
        free = {v.name for v in m.pymc_model.free_RVs}
        assert {"a_few", "r_many"} <= free and "a_many" not in free


STANDIN_FORMULAS = [
    "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)",
    "log(maize_yield + 0.1) ~ used_hybrid_seeds + (used_hybrid_seeds|county) + (1|season)",
    "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county/season)",
    # county also in a population-level term: Bambi keeps the real county column and only
    # season gets a stand-in
    "log(maize_yield + 0.1) ~ 0 + county + (1|county:season)",
]


@pytest.mark.parametrize("formula", STANDIN_FORMULAS)
def test_large_group_design_skips_dense_indicators_with_identical_result(
    maize_small: pd.DataFrame, formula: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above DENSE_GROUP_CELLS Bambi sees stand-in grouping factors; the design, the automatic
    priors and the graph's log-p must be exactly those of the dense path."""
    from hiermodel.backend import design as design_mod

    exact = hm.model(formula, maize_small, priors="bambi")
    monkeypatch.setattr(design_mod, "DENSE_GROUP_CELLS", 0)
    lean = hm.model(formula, maize_small, priors="bambi")
    assert exact.design.bambi_model is not None
    assert lean.design.bambi_model is None  # built with stand-ins
    a, b = exact.design, lean.design
    np.testing.assert_array_equal(a.X, b.X)
    assert a.auto_priors == b.auto_priors
    assert [(x.group, x.levels, x.terms) for x in a.blocks] == \
        [(x.group, x.levels, x.terms) for x in b.blocks]
    for x, y in zip(a.blocks, b.blocks, strict=True):
        np.testing.assert_array_equal(x.index, y.index)
        np.testing.assert_array_equal(x.Z, y.Z)
    values = random_point(exact.pymc_model, seed=2)
    assert logp_and_grad(lean.pymc_model, values)[0] == pytest.approx(
        logp_and_grad(exact.pymc_model, values)[0], rel=1e-12)
    # the public Bambi model is still the real one, built on first access
    assert len(lean.bambi_model.components["mu"].design.group.terms) == \
        len(exact.bambi_model.components["mu"].design.group.terms)
    assert lean.design.bambi_model is not None


def test_bambi_template_takes_each_column_of_a_multi_column_term(
    maize_small: pd.DataFrame,
) -> None:
    """Bambi scales `0 + county` with one sigma per level; priors='bambi' must use each."""
    m = hm.model("log(maize_yield + 0.1) ~ 0 + county + (1|season)", maize_small,
                 priors="bambi")
    sigmas = np.asarray(m.bambi_model.components["mu"].terms["county"].prior.args["sigma"])
    assert len(set(np.round(sigmas, 3))) > 1
    ours = [m.prior_table.get("b", name).kwargs["sigma"] for name in m.design.x_names]
    np.testing.assert_allclose(ours, sigmas)
    assert {r.source for r in m.prior_table.rows if r.cls == "b"} == {"auto"}


def test_auto_backend_is_nutpie_unless_missing(sleepstudy: pd.DataFrame,
                                               maize_small: pd.DataFrame,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """backend='auto': nutpie (compile cached per model) for every model, PyMC without it."""
    import importlib.util

    from hiermodel.backend.sampling import AUTO_REASON, resolve_backend

    small = hm.model("Reaction ~ Days + (Days|Subject)", sleepstudy)
    assert resolve_backend(small, "auto") == ("nutpie", AUTO_REASON)
    formula = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)"
    compressed = hm.model(formula, maize_small)
    assert compressed.info.cells is not None and compressed.info.cells.n_cells <= 60
    assert resolve_backend(compressed, "auto") == ("nutpie", AUTO_REASON)
    full = hm.model(formula, maize_small, compress=False)
    assert resolve_backend(full, "pymc") == ("pymc", "requested")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nutpie" else real(name, *a))
    assert resolve_backend(full, "auto") == ("pymc", "auto: nutpie not installed")
    with pytest.raises(hm.errors.FitError, match=r"^backend 'nutpie' needs the package 'nutpie'"):
        resolve_backend(full, "nutpie")


def test_unknown_backend_is_a_fit_error(sleepstudy: pd.DataFrame) -> None:
    m = hm.model("Reaction ~ Days + (1|Subject)", sleepstudy)
    with pytest.raises(hm.errors.FitError) as info:
        m.fit(backend="nutpi")
    assert str(info.value) == "unknown backend 'nutpi'; did you mean 'nutpie'?"
    with pytest.raises(hm.errors.FitError) as info:
        m.fit(backend="stan")
    assert str(info.value) == ("unknown backend 'stan'; choose one of: auto, pymc, nutpie, "
                               "numpyro, blackjax")


def test_correlated_block_centering_rule(maize_small: pd.DataFrame) -> None:
    """Correlated blocks are centered (on the population values) only when every level is
    well informed about every term."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 20)
    x = rng.normal(size=g.size)
    trials = np.full(g.size, 30)
    succ = rng.binomial(trials, 0.4)
    df = pd.DataFrame({"s": succ, "f": trials - succ, "x": x, "g": [f"g{i}" for i in g]})
    m = hm.model("cbind(s, f) ~ x + (x|g)", df, family="binomial")
    assert m.info.parametrization["g"] == "centered"
    assert m.info.parametrization_reason["g"] == (
        "correlated block, median 600 trials/level (centered at ≥ 200); level coefficients "
        "centered on the population values")
    assert "a_g" in _free(m) and not any(n.startswith("z_g") for n in _free(m))
    logp, grad = logp_and_grad(m.pymc_model, random_point(m.pymc_model))
    assert np.isfinite(logp) and np.all(np.isfinite(grad))
    # Nyandarua-like levels (a handful of rows in one arm) keep the block non-centered
    df2 = maize_small.assign(log_y=np.log(maize_small.maize_yield + 0.1))
    m2 = hm.model("log_y ~ used_hybrid_seeds + (used_hybrid_seeds|county)", df2)
    assert m2.info.parametrization["county"] == "noncentered"
    assert "least-informed level/term has information" in m2.info.parametrization_reason["county"]
    # slopes that are not population-level terms: nothing to center them on
    m3 = hm.model("cbind(s, f) ~ 1 + (x|g)", df, family="binomial")
    assert m3.info.parametrization_reason["g"].endswith("cannot be centered on population values")


def test_correlated_block_deterministics_and_likelihood_equal_numpy(
        sleepstudy: pd.DataFrame) -> None:
    """(Days|Subject), non-centered: sd, cor and r from the LKJ factor and the likelihood of
    the gathered level effects equal a NumPy computation at a random point (the graph gathers
    through flat one-dimensional indices, which must address the right level and column)."""
    m = hm.model("Reaction ~ Days + (Days|Subject)", sleepstudy,
                 parametrization="noncentered")
    pmm = m.pymc_model
    vals = random_point(pmm, seed=5)
    L = np.zeros((2, 2))
    L[np.tril_indices(2)] = vals["lkj_Subject"]
    sd = np.sqrt((L**2).sum(axis=1))
    cor = (L / sd[:, None]) @ (L / sd[:, None]).T
    r = vals["z_Subject"] @ L.T
    outs = pmm.replace_rvs_by_values([pmm["sd_Subject"], pmm["cor_Subject"], pmm["r_Subject"]])
    got = pmm.compile_fn(outs, inputs=pmm.value_vars, on_unused_input="ignore")(point(pmm, vals))
    np.testing.assert_allclose(got[0], sd, rtol=1e-12)
    np.testing.assert_allclose(got[1], [cor[1, 0]], rtol=1e-12)
    np.testing.assert_allclose(got[2], r, rtol=1e-12)
    levels = list(pmm.coords["Subject"])
    j = np.array([levels.index(s) for s in sleepstudy["Subject"].astype(str)])
    days = sleepstudy["Days"].to_numpy(float)
    eta = (vals["Intercept_c"] + vals["b"][0] * (days - m.info.x_mean[0])
           + r[j, 0] + r[j, 1] * days)
    resid = (sleepstudy["Reaction"].to_numpy(float) - eta) / vals["sigma"]
    expected = float(np.sum(-0.5 * resid**2 - np.log(vals["sigma"]) - 0.5 * np.log(2 * np.pi)))
    loglik = pmm.compile_logp(vars=pmm.observed_RVs)
    assert float(loglik(point(pmm, vals))) == pytest.approx(expected, rel=1e-10)


def test_factors_named_like_posterior_variables_keep_those_variables() -> None:
    """A factor called ``b`` (or ``sigma``) used to name its levels dimension ``b``; xarray
    cannot hold a dimension and a variable of one name, and the posterior silently lost the
    population coefficients. Those factors' levels dimension is ``<g>__level``."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60),
                       "b": np.repeat(list("pqrstu"), 10), "sigma": np.tile(list("mn"), 30),
                       "county": np.tile(list("abc"), 20)})
    m = hm.model("y ~ x + (1|b) + (1|sigma) + (1|county)", df)
    dims = m.pymc_model.named_vars_to_dims
    assert dims["r_b"] == ("b__level", "b__term")
    assert dims["r_sigma"] == ("sigma__level", "sigma__term")
    assert dims["r_county"] == ("county", "county__term")  # ordinary names are unchanged
    assert dims["b"] == ("coef",)
    assert list(m.pymc_model.coords["b__level"]) == list("pqrstu")


def _funnel_schools(n_schools: int, rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_schools), rows)
    y = rng.normal(0, 0.3, n_schools)[g] + rng.normal(0, 5, g.size)
    return pd.DataFrame({"y": y, "school": [f"s{i:02d}" for i in g]})


def test_auto_target_accept_is_0_8_unless_a_noncentered_factor_has_few_levels(
        sleepstudy: pd.DataFrame) -> None:
    from hiermodel.backend.sampling import resolve_target_accept
    from hiermodel.errors import FitError

    few = hm.model("y ~ 1 + (1|school)", _funnel_schools(8, 2))  # eight schools: a funnel
    assert few.info.parametrization == {"school": "noncentered"}
    value, reason = resolve_target_accept(few, "auto")
    assert value == 0.9 and "school" in reason and "< 20 levels" in reason
    many = hm.model("y ~ 1 + (1|school)", _funnel_schools(30, 2))
    assert many.info.parametrization == {"school": "noncentered"}
    assert resolve_target_accept(many, "auto") == (0.8, "auto: 0.8")
    # centered factors are not a funnel's neck, however few their levels
    centered = hm.model("Reaction ~ Days + (1|Subject)", sleepstudy)
    assert centered.info.parametrization == {"Subject": "centered"}
    assert resolve_target_accept(centered, "auto")[0] == 0.8
    assert resolve_target_accept(few, 0.95) == (0.95, "requested")
    for bad in (1.5, 0.0, "high", True):
        with pytest.raises(FitError, match="target_accept must be 'auto' or a number"):
            resolve_target_accept(few, bad)


def _crossed(ratio_b: float, n: int = 4000, seed: int = 3) -> pd.DataFrame:
    """a (400 levels, SD 0.6) crossed with b (100 levels, 40 rows each), sigma 1, slope x; b's
    true data/prior precision ratio is 40 * sd_b^2 = ratio_b."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 400, n), np.tile(np.arange(100), n // 100)
    rng.shuffle(b)
    x = rng.normal(size=n)
    y = (1 + 2.0 * x + rng.normal(0, 0.6, 400)[a]
         + rng.normal(0, np.sqrt(ratio_b / 40), 100)[b] + rng.normal(0, 1, n))
    return pd.DataFrame({"y": y, "x": x, "a": [f"a{i}" for i in a], "b": [f"b{i}" for i in b]})


def test_precision_ratio_is_conditional_on_predictors_and_crossed_factors() -> None:
    """b's true ratio is 12, where centered is several times more efficient
    (benchmarks/geometry.py: crossover between 4 and 8 for a crossed factor). A one-way ANOVA
    of y by b counts x's variance (4) and a's (0.36) as noise and estimates ~2.2; the additive
    fit recovers ~12 and centers b (threshold 6 with other factors). Over 300 data seeds the
    estimate had mean 12.14, SD 1.88, range 7.9-19.1, so (6, 24) fails < 1/1000 of seeds (3.3
    SDs below); at a true ratio of 2 it had mean 2.12, SD 0.46, max 3.9: non-centered."""
    m = hm.model("y ~ x + (1|a) + (1|b)", _crossed(12.0))
    reason = m.info.parametrization_reason["b"]
    ratio = float(reason.split("precision ≈ ")[1].split()[0].rstrip(";"))
    assert 6.0 < ratio < 24.0, reason
    assert m.info.parametrization["b"] == "centered"
    weak = hm.model("y ~ x + (1|a) + (1|b)", _crossed(2.0))
    assert weak.info.parametrization["b"] == "noncentered"


def test_a_lone_factor_is_centered_from_a_precision_ratio_of_2() -> None:
    """y ~ x + (1|g), 200 levels of 20 rows, true ratio 5: centered was 2.9-3.9x more
    efficient at 4 (benchmarks/geometry.py); the rule before session 11 (> 10) left it
    non-centered. Over 300 data seeds the estimate had mean 5.02, SD 0.64, min 3.6 (4.7 SDs
    above 2: false-failure rate < 1/10^5); at a true ratio of 0.5: mean 0.51, max 1.1."""
    def data(ratio: float, seed: int = 7) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        g = np.repeat(np.arange(200), 20)
        x = rng.normal(size=g.size)
        y = 1 + 0.5 * x + rng.normal(0, np.sqrt(ratio / 20), 200)[g] + rng.normal(0, 1, g.size)
        return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:03d}" for i in g]})

    assert hm.model("y ~ x + (1|g)", data(5.0)).info.parametrization == {"g": "centered"}
    assert hm.model("y ~ x + (1|g)", data(0.5)).info.parametrization == {"g": "noncentered"}
