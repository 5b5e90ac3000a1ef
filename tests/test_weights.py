"""Observation weights (brms semantics: each row's log-likelihood times its weight).

Builds tier: a model with integer weights has the log-density of the data with rows repeated
``w`` times; ``weights=`` and ``y | weights(w)`` build the same model; LOO and
leave-one-group-out score the weighted pointwise log-likelihood. Errors say where and how to
fix. One slow fit compares a weighted fit with the fit of the repeated data.
(Graph log-p = sum(w x logpdf) for every family is in tests/test_families.py.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import test_families
import xarray as xr
from scipy.special import logsumexp
from test_families import _observed_logp, _random_fit
from test_spec import MINIMAL, spec_error, write

import hiermodel as hm
from hiermodel.comparison.logo import NewGroupPredictor, held_out_density
from hiermodel.comparison.loo import distinct_rows, loo
from hiermodel.comparison.variants import derive_variants
from hiermodel.posterior.loglik import log_likelihood
from hiermodel.posterior.prediction import auxiliary_draws, linear_predictor
from hiermodel.spec import load_spec
from tests.mcse import z_limit, z_scores

# Like-for-like graphs: the same value variables whatever the row counts (no predictor
# centering, whose column means differ between weighted and repeated data; one
# parametrization).
SAME_GRAPH = {"center_predictors": False, "parametrization": "noncentered",
              "compress": False}


def _integer_weights(toy: pd.DataFrame) -> pd.DataFrame:
    """Weights 0..3 (a zero in some rows; every group keeps rows)."""
    w = np.random.default_rng(11).integers(1, 4, len(toy)).astype(float)
    w[::13] = 0.0
    return toy.assign(w=w)


def _repeated(data: pd.DataFrame) -> pd.DataFrame:
    return data.loc[data.index.repeat(data["w"].astype(int))].reset_index(drop=True)


@pytest.mark.builds
@pytest.mark.parametrize(("family", "formula"), [
    ("gaussian", "y ~ x + (x|g)"),
    ("bernoulli", "yes ~ x + (1|g)"),
    ("binomial", "cbind(succ, fail) ~ x + (1|g)"),
    ("negativebinomial", "count ~ x + offset(log(t)) + (1|g)"),
    ("beta", "prop ~ x + (1|g)"),
    ("cumulative", "rating ~ x + (1|g)"),
])
def test_integer_weights_equal_repeated_rows(toy: pd.DataFrame, family: str,
                                             formula: str) -> None:
    data = _integer_weights(toy)
    weighted = hm.model(formula, data, family=family, weights="w", **SAME_GRAPH)
    repeated = hm.model(formula, _repeated(data), family=family, **SAME_GRAPH)
    assert len(repeated.design.y) == data["w"].sum()
    points = _random_fit(weighted, seed=2).points  # type: ignore[attr-defined]
    rtol = 1e-9
    np.testing.assert_allclose(_observed_logp(weighted, points),
                               _observed_logp(repeated, points), rtol=rtol, atol=1e-8)
    # compressed, the repeated data give the same density again
    packed = hm.model(formula, _repeated(data), family=family,
                      **{**SAME_GRAPH, "compress": True})
    assert packed.info.cells is not None and packed.info.cells.n_cells <= len(data)
    np.testing.assert_allclose(_observed_logp(packed, points),
                               _observed_logp(repeated, points), rtol=rtol, atol=1e-8)


@pytest.mark.builds
def test_keyword_and_formula_weights_build_the_same_model(toy: pd.DataFrame) -> None:
    data = _integer_weights(toy)
    by_keyword = hm.model("y ~ x + (1|g)", data, weights="w")
    by_formula = hm.model("y | weights(w) ~ x + (1|g)", data)
    assert by_keyword.formula == by_formula.formula == "y | weights(w) ~ x + (1|g)"
    np.testing.assert_array_equal(by_keyword.prepared.weights, data["w"].to_numpy())
    points = _random_fit(by_formula, seed=1).points  # type: ignore[attr-defined]
    np.testing.assert_allclose(_observed_logp(by_keyword, points),
                               _observed_logp(by_formula, points), rtol=1e-12)
    assert "weights:   w" in str(by_formula.terms)
    # the weights column is not a predictor: '.' leaves it out
    dotted = hm.translate("y | weights(w) ~ .", data[["y", "x", "w"]])
    assert [t.name for t in dotted.fixed] == ["x"]


@pytest.mark.builds
def test_prior_predictive_of_a_weighted_model_ignores_the_weights(toy: pd.DataFrame) -> None:
    data = _integer_weights(toy)
    pp = hm.model("y ~ x + (1|g)", data, weights="w").prior_predictive(draws=20, seed=1)
    assert pp.y_draws.shape == (20, len(data))


@pytest.mark.builds
def test_weighted_rows_with_a_weight_as_a_predictor(toy: pd.DataFrame) -> None:
    """A weights column may also be a predictor; it is then both."""
    data = toy.assign(w=np.abs(toy["x"]) + 0.5)
    m = hm.model("y | weights(w) ~ w + (1|g)", data)
    assert m.design.x_names == ["w"] and m.prepared.weights is not None


# -- LOO and leave-one-group-out --------------------------------------------------------------

def _many_draws(model: hm.Model, monkeypatch: pytest.MonkeyPatch, n: int = 400) -> object:
    monkeypatch.setattr(test_families, "N_POINTS", n)
    return _random_fit(model, seed=9)


@pytest.mark.builds
def test_loo_uses_the_weighted_pointwise_loglik(toy: pd.DataFrame,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """PSIS-LOO of a weighted fit is az.loo of w_i * log p(y_i | theta_s), on a fixed
    'posterior' (random points); rows equal in everything but the weight are not merged."""
    data = toy.iloc[np.tile(np.arange(len(toy)), 2)].reset_index(drop=True)
    data["w"] = np.random.default_rng(4).uniform(0.0, 2.0, len(data))
    model = hm.model("count | weights(w) ~ h + (1|g)", data, family="poisson", compress=True)
    assert model.info.cells is not None and model.info.cells.weights is not None
    fit = _many_draws(model, monkeypatch)
    design = model.design
    raw = model.family.logpdf(design.y, linear_predictor(fit), auxiliary_draws(fit))
    weighted = data["w"].to_numpy() * raw
    np.testing.assert_allclose(log_likelihood(fit).reshape(raw.shape), weighted, rtol=1e-12)
    first, _ = distinct_rows(fit)
    assert first.size == len(data)  # every weight differs: nothing is deduplicated
    ours = loo(fit, reff=1.0)

    def az_loo(ll: np.ndarray) -> az.ELPDData:
        idata = az.InferenceData(posterior=fit.idata.posterior, log_likelihood=xr.Dataset(
            {"y": (("chain", "draw", "obs"), ll[None])}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return az.loo(idata, pointwise=True, reff=1.0)

    ref, unweighted = az_loo(weighted), az_loo(raw)
    np.testing.assert_allclose(ours["loo_i"].values, ref["loo_i"].values, rtol=1e-9)
    assert ours["elpd_loo"] == pytest.approx(ref["elpd_loo"], rel=1e-9)
    assert abs(ours["elpd_loo"] - unweighted["elpd_loo"]) > 1.0  # the weights matter
    # equal weights on the repeated rows: each pair is smoothed once, same result
    data["w"] = np.tile(data["w"].to_numpy()[:len(toy)], 2)
    paired = hm.model("count | weights(w) ~ h + (1|g)", data, family="poisson", compress=True)
    paired_fit = _many_draws(paired, monkeypatch)
    assert distinct_rows(paired_fit)[0].size <= len(toy)
    same = loo(paired_fit, reff=1.0)
    full = loo(paired_fit, reff=1.0, dedupe=False)
    np.testing.assert_allclose(same["loo_i"].values, full["loo_i"].values, rtol=1e-12)


def test_compare_variants_keep_the_weights() -> None:
    variants = derive_variants("y | weights(w) ~ x + (1|g)")
    assert variants["pooled"] == "y | weights(w) ~ x"
    assert variants["unpooled"].startswith("y | weights(w) ~ ")


@pytest.mark.builds
def test_logo_scores_held_out_rows_with_their_weights(toy: pd.DataFrame,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = toy.assign(w=np.random.default_rng(5).uniform(0.0, 2.0, len(toy)))
    model = hm.model("y | weights(w) ~ x", data)
    fit = _many_draws(model, monkeypatch, n=50)
    predictor = NewGroupPredictor(fit, ("g",), data, seed=0)
    rows = data.iloc[:15]
    w = rows["w"].to_numpy()
    got = held_out_density(predictor, rows, rows["y"].to_numpy(), None, 0, weights=w)
    ll = w * model.family.logpdf(rows["y"].to_numpy(), linear_predictor(fit, rows),
                                 auxiliary_draws(fit))
    s = ll.shape[0]
    assert got["elpd_joint"] == pytest.approx(logsumexp(ll.sum(axis=1)) - np.log(s), rel=1e-10)
    assert got["elpd_pointwise"] == pytest.approx(
        float(np.sum(logsumexp(ll, axis=0) - np.log(s))), rel=1e-10)


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    (-1.5, r"weights 'w' are negative in 1 of 120 rows \(row label \(value\): 7 \(-1\.5\)\); "
           r"weights must be >= 0: fix or drop those rows"),
    (np.inf, r"weights 'w' are not finite in 1 of 120 rows \(row label \(value\): 7 \(inf\)\);"
             r" weights must be finite numbers >= 0: fix or drop those rows"),
])
def test_invalid_weight_values_name_the_rows(toy: pd.DataFrame, value: float,
                                             message: str) -> None:
    data = toy.assign(w=1.0)
    data.loc[7, "w"] = value
    with pytest.raises(hm.DataError, match=message):
        hm.model("y | weights(w) ~ x + (1|g)", data)


def test_missing_weights_follow_the_dropna_rules(toy: pd.DataFrame) -> None:
    data = toy.assign(w=1.0)
    data.loc[[3, 8], "w"] = np.nan
    with pytest.raises(hm.DataError, match=r"missing values in columns the model uses: 'w' "
                                           r"\(2 rows\); remove those rows or pass dropna=True"):
        hm.model("y ~ x + (1|g)", data, weights="w")
    m = hm.model("y ~ x + (1|g)", data, weights="w", dropna=True)
    assert m.prepared.n == len(data) - 2 and m.prepared.weights is not None
    assert m.prepared.weights.shape == (len(data) - 2,)


def test_all_zero_and_non_numeric_weights(toy: pd.DataFrame) -> None:
    with pytest.raises(hm.DataError, match=r"weights 'w' are 0 in all 120 rows, so no row "
                                           r"informs the model; at least one row needs a "
                                           r"positive weight"):
        hm.model("y | weights(w) ~ x", toy.assign(w=0.0))
    with pytest.raises(hm.DataError, match=r"weights 'w' must be numbers, but the column has "
                                           r"dtype object; convert it with pd.to_numeric"):
        hm.model("y | weights(w) ~ x", toy.assign(w="1"))


def test_weights_column_missing_says_did_you_mean(toy: pd.DataFrame) -> None:
    data = toy.assign(wt=1.0)
    with pytest.raises(hm.DataError, match=r"weights='w': the data have no column 'w'; did you "
                                           r"mean 'wt'\? Pass the name of a column"):
        hm.model("y ~ x", data, weights="w")
    with pytest.raises(hm.FormulaError, match=r"no column 'wts'; did you mean 'wt'\?") as info:
        hm.model("y | weights(wts) ~ x", data)
    assert "^^^" in str(info.value)  # a caret under the name
    with pytest.raises(hm.DataError, match="weights must be the name of a data column"):
        hm.model("y ~ x", data, weights=data["wt"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("formula", "message"), [
    ("y | weight(w) ~ x", r"unknown addition term 'weight\(\)' after '\|' on the left of '~'; "
                          r"did you mean 'weights'\?"),
    ("y | w ~ x", r"after '\|' on the left of '~' hiermodel expects weights\(...\), got 'w'; "
                  r"write weights\(w\)"),
    ("y | trials(w) ~ x", r"the brms addition term trials\(\) is not supported \(write a "
                          r"binomial response as cbind"),
    ("y | weights(w, x) ~ x", r"weights\(\) takes 1 argument"),
    ("y | weights(w) | weights(x) ~ x", r"the left of '~' takes one addition term"),
])
def test_formula_weights_syntax_errors(toy: pd.DataFrame, formula: str, message: str) -> None:
    with pytest.raises(hm.FormulaError, match=message) as info:
        hm.model(formula, toy.assign(w=1.0))
    assert "^" in str(info.value)


def test_weights_given_twice(toy: pd.DataFrame) -> None:
    with pytest.raises(hm.FormulaError, match=r"weights are given twice: in the formula "
                                              r"\(weights\(w\)\) and as weights='w'; keep one"):
        hm.model("y | weights(w) ~ x", toy.assign(w=1.0), weights="w")


# -- spec files ---------------------------------------------------------------------------------

WEIGHTED_SPEC = """\
[data]
dataset = "sleepstudy"
derive.w = "1 + Days"

[model]
formula = "Reaction ~ Days + (1 | Subject)"
weights = "w"
"""


def test_spec_weights(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, WEIGHTED_SPEC))
    assert spec.model.weights == "w"
    _, built = spec.check()
    assert built.formula == "Reaction | weights(w) ~ Days + (1 | Subject)"
    np.testing.assert_array_equal(built.prepared.weights, 1 + built.prepared.frame["Days"])
    assert spec.to_dict()["model"]["weights"] == "w"
    # an unweighted spec's canonical form (and hash) has no weights key
    assert "weights" not in load_spec(write(tmp_path, MINIMAL, "y.toml")).to_dict()["model"]


@pytest.mark.parametrize(("extra", "expected"), [
    ("weights = 3\n", "x.toml: [model] weights must be a string, got 3"),
    ("weights = \"\"\n", "x.toml: [model] weights must not be empty"),
])
def test_spec_weights_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str,
                             expected: str) -> None:
    assert spec_error(tmp_path, monkeypatch, MINIMAL + extra) == expected


def test_spec_weights_given_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace("Reaction ~", "Reaction | weights(Days) ~") + "weights = \"Days\"\n"
    assert spec_error(tmp_path, monkeypatch, text) == (
        "x.toml: [model] weights = 'Days', but the formula already has weights on its left "
        "side ('Reaction | weights(Days)'); keep one of them")


@pytest.mark.parametrize(("derive", "message"), [
    ("", "x.toml: [model] weights: weights='w': the data have no column 'w'"),
    ("derive.w = \"Days - 1\"\n", "x.toml: [model] weights: weights 'w' are negative in 18 of "
                                  "180 rows"),
])
def test_spec_weights_data_errors_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              derive: str, message: str) -> None:
    text = MINIMAL.replace("[model]", derive + "\n[model]") + "weights = \"w\"\n"
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    spec = load_spec("x.toml")
    with pytest.raises(hm.SpecError) as info:
        spec.check()
    assert str(info.value).startswith(message)
    assert "fix" in str(info.value) or "Pass the name" in str(info.value)


# -- a real fit ----------------------------------------------------------------------------------

@pytest.mark.fit
@pytest.mark.slow
def test_weighted_fit_equals_the_fit_of_repeated_rows(sleepstudy: pd.DataFrame) -> None:
    """Posterior means of a weighted fit and of the repeated-rows fit agree within Monte Carlo
    error. Both fits are exact samplers of the same posterior (identical log-density, shown
    above), so |difference| / sqrt(mcse_1^2 + mcse_2^2) is ~N(0, 1); the bound is the
    Bonferroni one of tests/mcse.py for the 4 quantities (4.03, widened 10 % for the error of
    the MCSE estimates): a false failure has probability < 1/1000. Seeded, PyMC backend."""
    data = sleepstudy.assign(w=np.random.default_rng(3).integers(1, 4, len(sleepstudy)))
    priors = [hm.set_prior("normal(250, 100)", "Intercept"), hm.set_prior("normal(0, 50)", "b"),
              hm.set_prior("exponential(0.02)", "sd"),
              hm.set_prior("exponential(0.02)", "sigma")]
    kw = {"priors": priors, "center_predictors": False, "parametrization": "noncentered",
          "backend": "pymc", "draws": 1000, "tune": 1000, "chains": 2}
    weighted = hm.fit("Reaction ~ Days + (1|Subject)", data, weights="w", seed=21, **kw)
    repeated = hm.fit("Reaction ~ Days + (1|Subject)", _repeated(data), seed=22, **kw)
    assert "Weights: w (weighted fit" in str(weighted.summary())
    z = {name: z_scores(weighted.idata.posterior[name].values,
                        repeated.idata.posterior[name].values)
         for name in ("Intercept", "b", "sigma", "sd_Subject")}
    assert sum(v.size for v in z.values()) == 4
    assert all(np.all(v < z_limit(4)) for v in z.values()), z


@pytest.mark.builds
def test_predictions_need_no_weights_column(toy: pd.DataFrame) -> None:
    data = _integer_weights(toy)
    model = hm.model("y | weights(w) ~ x + (1|g)", data)
    fit = _random_fit(model, seed=2)
    new = data.drop(columns=["w", "y"]).head(4)
    np.testing.assert_allclose(fit.predict(new, kind="link", summary=False),
                               fit.predict(kind="link", summary=False)[:, :4])
    both = hm.model("y | weights(w) ~ w + (1|g)", data)  # a weight that is also a predictor
    with pytest.raises(hm.DataError, match="newdata has no column 'w'"):
        _random_fit(both, seed=2).predict(new)
