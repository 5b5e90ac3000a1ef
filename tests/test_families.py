"""Each family's math exists once, and agrees with the PyMC graph.

At random parameter points, the family's ``logpdf`` summed over the observations equals the
observed log-density of the PyMC model (full data and, where the family has sufficient
statistics, the compressed model), and the linear predictor that predict/LOO use equals the
graph's. The same holds for weighted models (graph log-p = sum of weight x logpdf) and for
every family's multiplicity compression. Exact identities: tolerances are floating-point
round-off only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hiermodel as hm
from hiermodel.families import ALIASES, FAMILIES, Family
from hiermodel.posterior.fitted import Fit
from hiermodel.posterior.loglik import loglik_rows
from hiermodel.posterior.prediction import auxiliary_draws, linear_predictor

N_POINTS = 3

# (family, link, formula): every family, the non-canonical links that take other code paths,
# group-level slopes (correlated and not), offsets and cbind trials.
CASES = [
    ("gaussian", None, "y ~ x + h + (x|g)"),
    ("gaussian", "log", "pos ~ x + (1|g)"),
    ("t", None, "y ~ x + (1|g) + (0 + x|h)"),
    ("bernoulli", None, "yes ~ x + (1|g)"),
    ("bernoulli", "probit", "yes ~ h + (1|g)"),
    ("binomial", None, "cbind(succ, fail) ~ x + (x||g)"),
    ("binomial", "cloglog", "cbind(succ, fail) ~ h + (1|g)"),
    ("poisson", None, "count ~ x + offset(log(t)) + (1|g)"),
    ("negativebinomial", None, "count ~ x + offset(log(t)) + (1|g)"),
    ("gamma", None, "pos ~ x + (1|g)"),
    ("beta", None, "prop ~ x + (1|g)"),
    ("lognormal", None, "pos ~ x + (1|g)"),
    ("zero_inflated_poisson", None, "zeros ~ x + offset(log(t)) + (1|g)"),
    ("zero_inflated_negativebinomial", None, "zeros ~ x + (1|g)"),
    ("hurdle_poisson", None, "zeros ~ x + (1|g)"),
    ("hurdle_negativebinomial", None, "zeros ~ x + (x|g)"),
    ("cumulative", None, "rating ~ x + (1|g)"),
    ("cumulative", "probit", "rating ~ x + h + (1|g)"),
]

# Discrete designs for compression: few distinct cells, so cells really merge rows.
COMPRESSED = [
    ("gaussian", None, "y ~ h + (1|g)"),
    ("bernoulli", None, "yes ~ h + (1|g)"),
    ("bernoulli", "probit", "yes ~ h + (1|g)"),
    ("binomial", None, "cbind(succ, fail) ~ h + (1|g)"),
    ("poisson", None, "count ~ h + offset(log(t)) + (1|g)"),
    ("poisson", None, "count ~ h + (1|g)"),
    ("lognormal", None, "pos ~ h + (1|g)"),
]

# Families without sufficient statistics (or links without them): exact compression by
# multiplicity on data with repeated rows (every toy row three times).
MULTIPLICITY = [
    ("t", None, "y ~ x + (1|g)"),
    ("gamma", None, "pos ~ h + (1|g)"),
    ("beta", None, "prop ~ x + (1|g)"),
    ("negativebinomial", None, "count ~ h + offset(log(t)) + (1|g)"),
    ("hurdle_poisson", None, "zeros ~ h + (1|g)"),
    ("gaussian", "log", "pos ~ x + (1|g)"),
    ("zero_inflated_poisson", None, "zeros ~ x + offset(log(t)) + (1|g)"),
    ("hurdle_negativebinomial", None, "zeros ~ x + (x|g)"),
    ("cumulative", None, "rating ~ x + (1|g)"),
    ("cumulative", "probit", "rating ~ x + h + (1|g)"),
]


def _random_fit(model: hm.Model, seed: int) -> Fit:
    """A Fit whose 'posterior' is N_POINTS random points of the model's parameter space
    (unconstrained values around the initial point), with every stored variable computed by
    the graph itself."""
    pm_model = model.pymc_model
    rng = np.random.default_rng(seed)
    start = pm_model.initial_point(random_seed=seed)
    names = [v.name for v in pm_model.free_RVs + pm_model.deterministics]
    # outputs in terms of the value variables (compiling an RV itself would draw from it)
    outputs = pm_model.replace_rvs_by_values([pm_model[n] for n in names])
    values_fn = pm_model.compile_fn(outputs, inputs=pm_model.value_vars,
                                    on_unused_input="ignore", point_fn=True)
    points = []
    for _ in range(N_POINTS):
        point = {k: v + rng.normal(0.0, 0.4, size=np.shape(v)) for k, v in start.items()}
        points.append(point)
    draws = [values_fn(p) for p in points]
    posterior = xr.Dataset({
        n: xr.DataArray(np.stack([np.asarray(d[i]) for d in draws])[None],
                        dims=["chain", "draw", *[f"{n}_dim_{j}" for j in
                                                 range(np.ndim(draws[0][i]))]])
        for i, n in enumerate(names)
    })
    fit = Fit(model, _Idata(posterior), {})
    fit.points = points  # type: ignore[attr-defined]
    return fit


class _Idata:
    """The part of InferenceData the accessors read."""

    def __init__(self, posterior: xr.Dataset) -> None:
        self.posterior = posterior


def _observed_logp(model: hm.Model, points: list[dict]) -> np.ndarray:
    pm_model = model.pymc_model
    fn = pm_model.compile_logp(vars=pm_model.observed_RVs + pm_model.potentials,
                               jacobian=False)
    return np.array([float(fn(p)) for p in points])


def _graph_eta(model: hm.Model, points: list[dict]) -> np.ndarray:
    pm_model = model.pymc_model
    (eta,) = pm_model.replace_rvs_by_values([model.info.eta])
    fn = pm_model.compile_fn(eta, inputs=pm_model.value_vars, on_unused_input="ignore")
    return np.stack([np.broadcast_to(fn(p), (model.info.cells.n_cells if model.info.cells
                                             else len(model.design.y),)) for p in points])


def _model(toy: pd.DataFrame, family: str, link: str | None, formula: str,
           compress: bool) -> hm.Model:
    return hm.model(formula, toy, family=family, link=link, compress=compress)


@pytest.mark.builds
@pytest.mark.parametrize(("family", "link", "formula"), CASES,
                         ids=[f"{f}-{lk or 'default'}-{i}" for i, (f, lk, _) in enumerate(CASES)])
def test_family_logpdf_and_linear_predictor_equal_the_graph(
        toy: pd.DataFrame, family: str, link: str | None, formula: str) -> None:
    model = _model(toy, family, link, formula, compress=False)
    assert not model.info.compressed
    fit = _random_fit(model, seed=3)
    rows = np.arange(len(model.design.y))
    ours = loglik_rows(fit, rows)
    assert ours.shape == (N_POINTS, rows.size) and np.all(np.isfinite(ours))
    graph = _observed_logp(model, fit.points)  # type: ignore[attr-defined]
    # PyMC's ordered probit goes through erfc-based log-CDF differences, exponentiated and
    # renormalised by Categorical: ~5e-9 relative round-off here; everything else agrees to
    # double precision.
    rtol = 1e-7 if (family, link) == ("cumulative", "probit") else 1e-9
    np.testing.assert_allclose(ours.sum(axis=1), graph, rtol=rtol, atol=1e-8)
    # the points differ, so the check is not one number repeated
    assert np.ptp(graph) > 1e-6
    np.testing.assert_allclose(linear_predictor(fit), _graph_eta(model, fit.points),  # type: ignore[attr-defined]
                               rtol=1e-10, atol=1e-10)


@pytest.mark.builds
@pytest.mark.parametrize(("family", "link", "formula"), COMPRESSED,
                         ids=[f"{f}-{lk or 'default'}-{i}"
                              for i, (f, lk, _) in enumerate(COMPRESSED)])
def test_compressed_graph_density_equals_the_family_on_every_row(
        toy: pd.DataFrame, family: str, link: str | None, formula: str) -> None:
    model = _model(toy, family, link, formula, compress=True)
    cells = model.info.cells
    assert cells is not None and cells.n_cells < len(model.design.y) / 2
    fit = _random_fit(model, seed=5)
    ours = loglik_rows(fit, np.arange(len(model.design.y))).sum(axis=1)
    np.testing.assert_allclose(ours, _observed_logp(model, fit.points),  # type: ignore[attr-defined]
                               rtol=1e-9, atol=1e-8)
    eta_rows = linear_predictor(fit)[:, cells.rows]
    if model.family.offset_as_exposure and model.design.offset is not None:
        eta_rows = eta_rows - model.design.offset[cells.rows]  # the offset sits in the exposure
    np.testing.assert_allclose(eta_rows, _graph_eta(model, fit.points),  # type: ignore[attr-defined]
                               rtol=1e-10, atol=1e-10)


def _weighted_toy(toy: pd.DataFrame) -> pd.DataFrame:
    """toy with positive weights, some zeros, some large (fixed seed)."""
    rng = np.random.default_rng(7)
    w = rng.uniform(0.2, 3.0, len(toy))
    w[::17] = 0.0
    return toy.assign(w=w)


@pytest.mark.builds
@pytest.mark.parametrize(("family", "link", "formula"), CASES,
                         ids=[f"{f}-{lk or 'default'}-{i}" for i, (f, lk, _) in enumerate(CASES)])
def test_weighted_graph_density_is_weight_times_the_family_logpdf(
        toy: pd.DataFrame, family: str, link: str | None, formula: str) -> None:
    data = _weighted_toy(toy)
    lhs, rhs = formula.split("~")
    model = hm.model(f"{lhs.strip()} | weights(w) ~{rhs}", data, family=family, link=link,
                     compress=False)
    assert model.prepared.weights is not None and not model.info.compressed
    fit = _random_fit(model, seed=4)
    design = model.design
    raw = model.family.logpdf(design.y, linear_predictor(fit), auxiliary_draws(fit),
                              design.trials)
    expected = (data["w"].to_numpy() * raw).sum(axis=1)
    rtol = 1e-7 if (family, link) == ("cumulative", "probit") else 1e-9
    graph = _observed_logp(model, fit.points)  # type: ignore[attr-defined]
    np.testing.assert_allclose(graph, expected, rtol=rtol, atol=1e-8)
    assert np.ptp(graph) > 1e-6
    # the pointwise log-likelihood LOO uses is the weighted one
    ours = loglik_rows(fit, np.arange(len(design.y)))
    np.testing.assert_allclose(ours, data["w"].to_numpy() * raw, rtol=1e-12, atol=1e-12)


@pytest.mark.builds
@pytest.mark.parametrize(("family", "link", "formula"), MULTIPLICITY,
                         ids=[f"{f}-{lk or 'default'}-{i}"
                              for i, (f, lk, _) in enumerate(MULTIPLICITY)])
def test_multiplicity_compression_keeps_the_full_data_density(
        toy: pd.DataFrame, family: str, link: str | None, formula: str) -> None:
    repeated = toy.iloc[np.tile(np.arange(len(toy)), 3)].reset_index(drop=True)
    full = hm.model(formula, repeated, family=family, link=link, compress=False)
    auto = hm.model(formula, repeated, family=family, link=link, compress="auto")
    cells = auto.info.cells
    assert cells is not None and cells.weights is not None  # auto: <= 120 cells of 360 rows
    assert cells.n_cells <= len(toy) and cells.weights.sum() == len(repeated)
    assert np.all(cells.weights % 3 == 0)  # toy rows can coincide (counts ~ h + (1|g))
    fit = _random_fit(auto, seed=6)
    points = fit.points  # type: ignore[attr-defined]
    ours = loglik_rows(fit, np.arange(len(repeated))).sum(axis=1)
    rtol = 1e-7 if (family, link) == ("cumulative", "probit") else 1e-9
    np.testing.assert_allclose(_observed_logp(auto, points), ours, rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(_observed_logp(auto, points), _observed_logp(full, points),
                               rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(linear_predictor(fit)[:, cells.rows], _graph_eta(auto, points),
                               rtol=1e-10, atol=1e-10)
    # without repeated rows there is nothing to merge: auto does not compress
    assert not hm.model(formula, toy, family=family, link=link).info.compressed


@pytest.mark.builds
@pytest.mark.parametrize(("family", "formula"), [
    ("gaussian", "y ~ h + (1|g)"), ("poisson", "count ~ h + offset(log(t)) + (1|g)"),
    ("binomial", "cbind(succ, fail) ~ h + (1|g)"), ("gamma", "pos ~ h + (1|g)")])
def test_weighted_compression_merges_rows_and_adds_their_weights(
        toy: pd.DataFrame, family: str, formula: str) -> None:
    """Weighted fits compress by multiplicity, also for the families with sufficient
    statistics; rows equal in everything but the weight share a cell (weights summed)."""
    repeated = toy.iloc[np.tile(np.arange(len(toy)), 3)].reset_index(drop=True)
    repeated["w"] = np.random.default_rng(2).integers(0, 4, len(repeated)).astype(float)
    lhs, rhs = formula.split("~")
    weighted = f"{lhs.strip()} | weights(w) ~{rhs}"
    full = hm.model(weighted, repeated, family=family, compress=False)
    packed = hm.model(weighted, repeated, family=family, compress=True)
    cells = packed.info.cells
    assert cells is not None and cells.weights is not None and cells.n_cells <= len(toy)
    np.testing.assert_allclose(cells.weights, np.bincount(cells.inverse, repeated["w"]))
    points = _random_fit(packed, seed=8).points  # type: ignore[attr-defined]
    np.testing.assert_allclose(_observed_logp(packed, points), _observed_logp(full, points),
                               rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_simulate_matches_the_family_mean(name: str) -> None:
    """Simulated responses average to the family's mean (SE-based bound: 6 SE, a false
    failure rate far below 1e-6 per case)."""
    fam = hm.get_family(name)
    rng = np.random.default_rng(1)
    eta = np.full((20_000, 2), {"identity": 1.2, "log": 0.4}.get(fam.link, 0.3))
    aux = {"sigma": np.full((20_000, 1), 0.7), "nu": np.full((20_000, 1), 5.0),
           "alpha": np.full((20_000, 1), 3.0), "phi": np.full((20_000, 1), 8.0),
           "zi": np.full((20_000, 1), 0.3), "hu": np.full((20_000, 1), 0.4),
           "threshold": np.tile([-1.0, 0.2, 1.5], (20_000, 1))}
    trials = np.array([7, 12]) if name == "binomial" else None
    y = fam.simulate(rng, eta, aux, trials)
    assert y.shape == eta.shape
    mean = fam.mean(eta[0], {k: v[:1] for k, v in aux.items()}) * (
        trials if trials is not None else 1)
    se = y.std(axis=0) / np.sqrt(y.shape[0])
    assert np.all(np.abs(y.mean(axis=0) - mean) < 6 * se)
    # the simulated values are possible under the family's own density
    for s in range(50):
        ll = fam.logpdf(y[s], eta[s:s + 1], {k: v[s:s + 1] for k, v in aux.items()}, trials)
        assert ll.shape == (1, 2) and np.all(np.isfinite(ll))


def test_registry_resolves_every_alias_to_one_class() -> None:
    for alias, name in ALIASES.items():
        fam = hm.get_family(alias)
        assert isinstance(fam, FAMILIES[name]) and isinstance(fam, Family)
        assert fam == hm.get_family(name) and fam.link == FAMILIES[name].links[0]
    assert hm.get_family("Gamma()").name == "gamma"
    assert str(hm.get_family("binomial", "probit")) == "binomial ( probit )"
    with pytest.raises(hm.FamilyError, match="link 'log' is not available for family 'beta'"):
        hm.get_family("beta", "log")


# -- the new families' plumbing, on fixed posteriors (no MCMC) ---------------------------------

@pytest.mark.builds
def test_zero_inflated_mean_prediction_and_auxiliary_table(toy: pd.DataFrame) -> None:
    model = hm.model("zeros ~ x + (1|g)", toy, family="zero_inflated_poisson")
    fit = _random_fit(model, seed=2)
    eta = fit.predict(kind="link", summary=False)
    zi = fit.draws("zi").reshape(-1, 1)
    np.testing.assert_allclose(fit.predict(kind="mean", summary=False), (1 - zi) * np.exp(eta))
    table = fit.auxiliary()
    assert list(table.index) == ["zi"]
    assert table.loc["zi", "mean"] == pytest.approx(float(zi.mean()))


@pytest.mark.builds
def test_cumulative_thresholds_predictions_and_prior_predictive(toy: pd.DataFrame) -> None:
    model = hm.model("rating ~ x + (1|g)", toy, family="cumulative")
    assert not model.design.has_intercept and model.design.thresholds == ["1|2", "2|3", "3|4"]
    assert [r.term for r in model.prior_table.rows if r.cls == "Intercept"] == ["1|2", "2|3",
                                                                                "3|4"]
    fit = _random_fit(model, seed=4)
    theta = fit.draws("threshold").reshape(N_POINTS, 3)
    assert np.all(np.diff(theta, axis=1) > 0)  # ordered at every point
    assert list(fit.fixef().index) == ["1|2", "2|3", "3|4", "x"]
    pd.testing.assert_frame_equal(fit.thresholds(), fit.fixef().iloc[:3])
    eta = fit.predict(kind="link", summary=False)
    # E[y] = sum_k k P(y = k) = 1 + sum_j P(y > j) with P(y > j) = 1 - logistic(theta_j - eta)
    expected = 1 + (1 - 1 / (1 + np.exp(-(theta[:, None, :] - eta[..., None])))).sum(-1)
    np.testing.assert_allclose(fit.predict(kind="mean", summary=False), expected)
    sim = fit.predict(kind="response", summary=False, seed=1)
    assert set(np.unique(sim)) <= {1.0, 2.0, 3.0, 4.0}
    prior = model.prior_predictive(draws=40, seed=1)
    assert set(np.unique(prior.y_draws)) <= {1, 2, 3, 4}  # categories 1..K, as the data


@pytest.mark.builds
def test_ordinal_response_errors(toy: pd.DataFrame) -> None:
    one = toy.assign(rating=3)
    with pytest.raises(hm.FamilyError, match=r"at least two observed levels, but 'rating' has "
                                             r"1 \(\['3'\]\)"):
        hm.model("rating ~ x", one, family="cumulative")
    unordered = toy.assign(rating=pd.Categorical(toy.rating.astype(str)))
    with pytest.raises(hm.FamilyError, match="unordered Categorical; make it ordered"):
        hm.model("rating ~ x", unordered, family="cumulative")
    with pytest.raises(hm.FamilyError, match=r"needs an ordered response .* dtype object"):
        hm.model("answer ~ x", toy, family="cumulative")
    with pytest.raises(hm.FamilyError, match="must keep its intercept: remove '0 \\+'"):
        hm.model("rating ~ 0 + x", toy, family="cumulative")
    fit = _random_fit(hm.model("y ~ x + (1|g)", toy), seed=1)
    with pytest.raises(hm.DataError, match="family 'gaussian' has no thresholds; thresholds"):
        fit.thresholds()


def test_zero_probability_priors_need_the_unit_interval(toy: pd.DataFrame) -> None:
    with pytest.raises(hm.PriorError, match=r"class 'zi' \(the zero-inflation probability, a "
                                            r"probability between 0 and 1\); use "
                                            r"Beta\(alpha=1, beta=1\)"):
        hm.model("zeros ~ x", toy, family="zero_inflated_poisson",
                 priors=[hm.set_prior("normal(0, 1)", "zi")])


# -- distributional sub-models ------------------------------------------------------------------

AUX_CASES = [
    ("gaussian", "y ~ x + (1|g)", {"sigma": "~ x + (1|g)"}),
    ("t", "y ~ x + (1|g)", {"sigma": "~ h", "nu": "~ 1"}),
    ("negativebinomial", "count ~ x + (1|g)", {"alpha": "~ x"}),
    ("zero_inflated_poisson", "zeros ~ x + (1|g)", {"zi": "~ z + (1|g)"}),
    ("hurdle_negativebinomial", "zeros ~ x", {"hu": "~ z", "alpha": "~ h"}),
    ("beta", "prop ~ x", {"phi": "~ x + (x|g)"}),
]


@pytest.mark.builds
@pytest.mark.parametrize(("family", "formula", "aux"), AUX_CASES,
                         ids=[f for f, _, _ in AUX_CASES])
def test_distributional_logpdf_equals_the_graph(toy: pd.DataFrame, family: str, formula: str,
                                                aux: dict[str, str]) -> None:
    """With per-row auxiliary parameters from their own formulas, the numpy log-likelihood
    (LOO's) still equals the graph's density at random points."""
    model = hm.model(formula, toy, family=family, **aux)
    assert not model.info.compressed and set(model.design.components) == set(aux)
    fit = _random_fit(model, seed=6)
    ours = loglik_rows(fit, np.arange(len(model.design.y)))
    graph = _observed_logp(model, fit.points)  # type: ignore[attr-defined]
    np.testing.assert_allclose(ours.sum(axis=1), graph, rtol=1e-9, atol=1e-8)
    assert np.ptp(graph) > 1e-6
    names = list(fit.fixef().index)
    for c in aux:
        assert f"{c}_(Intercept)" in names
        assert c not in fit.auxiliary().index


@pytest.mark.builds
def test_distributional_models_compress_by_multiplicity(toy: pd.DataFrame) -> None:
    """Rows with equal inputs of every formula and equal responses merge exactly, also when
    sigma has its own formula (sufficient statistics with one sigma would not apply)."""
    data = toy.assign(y=np.round(toy.y, 0))
    full = hm.model("y ~ h + (1|g)", data, sigma="~ h", compress=False)
    packed = hm.model("y ~ h + (1|g)", data, sigma="~ h", compress=True)
    cells = packed.info.cells
    assert cells is not None and cells.n_cells == 62 < len(data)  # 120 rows, 62 distinct
    point = full.pymc_model.initial_point()
    for key in point:
        point[key] = point[key] + 0.3
    lp_full = full.pymc_model.compile_logp()(point)
    lp_packed = packed.pymc_model.compile_logp()(point)
    np.testing.assert_allclose(lp_packed, lp_full, rtol=1e-10)


@pytest.mark.builds
def test_distributional_predictions_use_the_rows_own_parameters(toy: pd.DataFrame) -> None:
    model = hm.model("zeros ~ x + (1|g)", toy, family="zero_inflated_poisson", zi="~ z")
    assert [r.term for r in model.prior_table.rows if r.term.startswith("zi_")] == [
        "zi_(Intercept)", "zi_z"]
    fit = _random_fit(model, seed=2)
    eta = fit.predict(kind="link", summary=False)
    a, b = fit.draws("Intercept_zi").reshape(-1, 1), fit.draws("b_zi").reshape(-1, 1)
    zi = 1 / (1 + np.exp(-(a + b * toy.z.to_numpy()[None, :])))
    np.testing.assert_allclose(fit.predict(kind="mean", summary=False), (1 - zi) * np.exp(eta))
    new = toy.iloc[:5]  # new data: the zi formula's own predictors are evaluated on it
    np.testing.assert_allclose(fit.predict(new, kind="mean", summary=False),
                               ((1 - zi) * np.exp(eta))[:, :5])
    assert "zi_z" in fit.fixef().index and fit.auxiliary().empty
    assert model.design.components["zi"].formula == "zi ~ z"


def test_distributional_formula_errors(toy: pd.DataFrame) -> None:
    with pytest.raises(hm.FormulaError, match=r"the formula for 'zi' has a response \('zeros'\); "
                                              r"write it one-sided \('~ x'\)"):
        hm.model("zeros ~ x", toy, family="zero_inflated_poisson", zi="zeros ~ x")
    with pytest.raises(hm.FormulaError, match=r"family 'poisson' has no auxiliary parameter "
                                              r"'zi' \('zi' belongs to other families\); "
                                              r"parameters that can have a formula: \(none\)"):
        hm.model("count ~ x", toy, family="poisson", zi="~ x")
    with pytest.raises(hm.FormulaError, match=r"no auxiliary parameter 'sgima' \(did you mean "
                                              r"'sigma'\?\)"):
        hm.model(["y ~ x", "sgima ~ x"], toy)
    with pytest.raises(TypeError, match=r"fit\(\) got an unexpected keyword argument 'draw'; "
                                        r"did you mean 'draws'\?"):
        hm.fit("y ~ x", toy, draw=10)
    with pytest.raises(hm.FormulaError, match="two formulas for 'sigma'"):
        hm.model(["y ~ x", "sigma ~ x"], toy, sigma="~ h")
