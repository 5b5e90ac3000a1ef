"""``Fit.predict`` on fixed posteriors: hand-built draws (no MCMC) against hand computations.

Plumbing (``kind="link"`` / ``"mean"``, ``summary=``, ``re_form``, new levels, offsets, trials)
is compared with the linear predictor and inverse links computed here from the same draws, to
floating-point precision. Simulation (``kind="response"``) is checked per family against the
response distribution written out by hand with SciPy (brms's parametrizations): a
Kolmogorov-Smirnov test for continuous families and a chi-square test of the category counts
for discrete ones, each at p > 5e-5. Seeds are fixed, so every run gives the same verdict; for
a correct implementation the chance that the fixed seeds land in a failing region is at most
18 tests (5 continuous families, 8 discrete ones, binomial once for each of its 5 rows) x 5e-5 =
9e-4 (< 1 in 1,000).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special, stats

import hiermodel as hm
from hiermodel.errors import DataError
from hiermodel.posterior.fitted import Fit

S = 4  # draws of the plumbing posteriors
P_MIN = 5e-5  # per-family significance level of the simulation checks (see the docstring)


def fixed_fit(model: hm.Model, values: dict[str, Any]) -> Fit:
    """A Fit whose posterior is ``values`` (arrays of shape (draws, ...)), one chain."""
    posterior = xr.Dataset({
        name: xr.DataArray(np.asarray(v, dtype=float)[None],
                           dims=["chain", "draw", *[f"{name}_dim_{j}" for j in
                                                    range(np.ndim(v) - 1)]])
        for name, v in values.items()
    })
    import arviz as az

    return Fit(model, az.InferenceData(posterior=posterior), {})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 30
    x = rng.normal(size=n)
    trials = rng.integers(3, 9, size=n)
    return pd.DataFrame({
        "y": rng.normal(size=n), "x": x, "g": np.repeat(["a", "b", "c"], n // 3),
        "h": np.tile(["u", "v"], n // 2), "t": rng.uniform(0.5, 2.0, n),
        "count": rng.poisson(2.0, n), "succ": rng.binomial(trials, 0.4),
    }).assign(fail=lambda d: trials - d["succ"])


@pytest.fixture(scope="module")
def gaussian(data: pd.DataFrame) -> Fit:
    """y ~ x + h + (1 + x | g): four fixed draws of every parameter predict() reads."""
    model = hm.model("y ~ x + h + (1 + x | g)", data)
    assert model.design.x_names == ["x", "hv"]
    rng = np.random.default_rng(1)
    return fixed_fit(model, {
        "Intercept": [1.0, 2.0, -1.0, 0.5],
        "b": rng.normal(size=(S, 2)),
        "r_g": rng.normal(size=(S, 3, 2)),
        "sd_g": rng.uniform(0.5, 2.0, size=(S, 2)),
        "cor_g": rng.uniform(-0.5, 0.5, size=(S, 1)),
        "sigma": [0.5, 1.0, 1.5, 2.0],
    })


def _hand_eta(fit: Fit, frame: pd.DataFrame, groups: bool = True) -> np.ndarray:
    """Intercept + b_x x + b_hv [h == v] (+ r_g0 + r_g1 x), per draw and row."""
    post = fit.idata.posterior
    a, b, r = (np.asarray(post[n].values[0]) for n in ("Intercept", "b", "r_g"))
    x = frame["x"].to_numpy()
    hv = (frame["h"] == "v").to_numpy(dtype=float)
    eta = a[:, None] + b[:, [0]] * x + b[:, [1]] * hv
    if groups:
        gi = frame["g"].map({"a": 0, "b": 1, "c": 2}).to_numpy()
        eta = eta + r[:, gi, 0] + r[:, gi, 1] * x
    return eta


def test_link_and_mean_on_training_and_new_data(gaussian: Fit, data: pd.DataFrame) -> None:
    expected = _hand_eta(gaussian, data)
    np.testing.assert_allclose(gaussian.predict(kind="link", summary=False), expected,
                               rtol=1e-12, atol=1e-12)
    # identity link: the mean is the linear predictor
    np.testing.assert_allclose(gaussian.predict(kind="mean", summary=False), expected,
                               rtol=1e-12, atol=1e-12)
    new = data.iloc[[3, 17, 25, 0]].reset_index(drop=True)
    np.testing.assert_allclose(gaussian.predict(new, kind="link", summary=False),
                               _hand_eta(gaussian, new), rtol=1e-12, atol=1e-12)
    # only the predictors are needed: no response column in newdata
    np.testing.assert_allclose(gaussian.predict(new.drop(columns="y"), kind="link",
                                                summary=False),
                               _hand_eta(gaussian, new), rtol=1e-12, atol=1e-12)
    # re_form="~0" (and NA): population level only
    for re_form in ("~0", pd.NA, "NA"):
        np.testing.assert_allclose(
            gaussian.predict(new, re_form=re_form, kind="link", summary=False),
            _hand_eta(gaussian, new, groups=False), rtol=1e-12, atol=1e-12)


def test_summary_columns_are_the_draws_summaries(gaussian: Fit, data: pd.DataFrame) -> None:
    new = data.iloc[[4, 9, 21]].set_index(pd.Index(["p", "q", "r"]))
    draws = gaussian.predict(new, kind="mean", summary=False)
    table = gaussian.predict(new, kind="mean", prob=0.5)
    assert list(table.columns) == ["mean", "median", "sd", "hdi_low", "hdi_high"]
    assert list(table.index) == ["p", "q", "r"]
    np.testing.assert_allclose(table["mean"], draws.mean(0), rtol=1e-12)
    np.testing.assert_allclose(table["median"], np.median(draws, 0), rtol=1e-12)
    np.testing.assert_allclose(table["sd"], draws.std(0, ddof=1), rtol=1e-12)
    # the 50 % HDI of 4 draws: the narrowest interval [s_j, s_j+m] of the sorted draws with
    # m = floor(0.5 * 4) = 2 (ArviZ's definition)
    for i in range(3):
        s = np.sort(draws[:, i])
        j = int(np.argmin(s[2:] - s[:2]))
        assert (table["hdi_low"].iloc[i], table["hdi_high"].iloc[i]) == (s[j], s[j + 2])


def test_new_levels(gaussian: Fit, data: pd.DataFrame) -> None:
    new = pd.DataFrame({"x": [0.5, -1.0, 2.0], "h": ["u", "v", "u"], "g": ["zz", "zz", "a"]})
    with pytest.raises(DataError) as info:
        gaussian.predict(new)
    assert str(info.value) == (
        "newdata has 1 level(s) of 'g' not seen in fitting (e.g. ['zz']); pass "
        "allow_new_levels=True to predict them from the fitted group-level distribution, or "
        "re_form='~0'")
    population = _hand_eta(gaussian, new, groups=False)
    # new_levels="zero" (lme4): no deviation for the new level; known levels keep theirs
    zero = gaussian.predict(new, allow_new_levels=True, new_levels="zero", kind="link",
                            summary=False)
    np.testing.assert_allclose(zero[:, :2], population[:, :2], rtol=1e-12)
    np.testing.assert_allclose(zero[:, 2], _hand_eta(gaussian, new.iloc[[2]])[:, 0], rtol=1e-12)
    # re_form="~0" needs no allow_new_levels
    np.testing.assert_allclose(gaussian.predict(new, re_form="~0", kind="link", summary=False),
                               population, rtol=1e-12)
    # new_levels="sample": one fresh (intercept, slope) pair per draw, shared by the level's rows
    drawn = gaussian.predict(new, allow_new_levels=True, kind="link", summary=False, seed=3)
    again = gaussian.predict(new, allow_new_levels=True, kind="link", summary=False, seed=3)
    np.testing.assert_array_equal(drawn, again)
    dev = drawn[:, :2] - population[:, :2]
    x = new["x"].to_numpy()[:2]
    slope = (dev[:, 0] - dev[:, 1]) / (x[0] - x[1])  # u0 + u1 x, solved per draw
    intercept = dev[:, 0] - slope * x[0]
    assert np.all(np.abs(intercept) > 0) and np.all(np.abs(slope) > 0)
    np.testing.assert_allclose(drawn[:, 2], zero[:, 2], rtol=1e-12)  # known level unchanged
    with pytest.raises(DataError, match=r"^new_levels must be 'sample' or 'zero'"):
        gaussian.predict(new, allow_new_levels=True, new_levels="mean")


def test_new_level_draws_follow_the_fitted_sd(data: pd.DataFrame) -> None:
    """4,000 draws with sd_g = 2: the new level's deviations have SD 2. The sample SD of n
    normal draws has relative SE 1/sqrt(2 n) = 0.0112; the bound 4.5 SE fails a correct
    implementation with probability 7e-6 (and the seed is fixed)."""
    model = hm.model("y ~ 1 + (1 | g)", data)
    n = 4000
    fit = fixed_fit(model, {"Intercept": np.zeros(n), "r_g": np.zeros((n, 3, 1)),
                            "sd_g": np.full((n, 1), 2.0), "sigma": np.ones(n)})
    eta = fit.predict(pd.DataFrame({"g": ["new"]}), allow_new_levels=True, kind="link",
                      summary=False, seed=11)[:, 0]
    assert abs(eta.std(ddof=1) / 2.0 - 1) < 4.5 / np.sqrt(2 * n)
    assert abs(eta.mean()) < 4.5 * 2.0 / np.sqrt(n)


def test_newdata_errors(gaussian: Fit, data: pd.DataFrame) -> None:
    new = data.iloc[:2]
    with pytest.raises(DataError) as info:
        gaussian.predict(new.rename(columns={"x": "xx"}))
    assert str(info.value) == "newdata has no column 'x' (needed for 'x'); did you mean 'xx'?"
    with pytest.raises(DataError, match=r"^newdata has missing values in 'x' \(1 rows\)"):
        gaussian.predict(new.assign(x=[np.nan, 1.0]))
    with pytest.raises(DataError) as info:
        gaussian.predict(new.assign(h=["u", "w"]))
    assert str(info.value) == ("newdata has levels of 'h' not seen in fitting: ['w']; known "
                               "levels: ['u', 'v']")
    with pytest.raises(DataError, match=r"^kind must be one of link, mean, response \(got "):
        gaussian.predict(new, kind="epred")
    with pytest.raises(DataError, match=r"^re_form='~ \(1 \| g\)' is not supported"):
        gaussian.predict(new, re_form="~ (1 | g)")
    with pytest.raises(DataError, match=r"^newdata must be a pandas DataFrame, got dict"):
        gaussian.predict(new.to_dict())  # type: ignore[arg-type]


def test_binomial_mean_response_and_trials(data: pd.DataFrame) -> None:
    model = hm.model("cbind(succ, fail) ~ x", data, family="binomial")
    fit = fixed_fit(model, {"Intercept": [0.0, 1.0, -2.0, 0.3],
                            "b": [[0.5], [-1.0], [0.0], [2.0]]})
    a = np.array([0.0, 1.0, -2.0, 0.3])[:, None]
    b = np.array([0.5, -1.0, 0.0, 2.0])[:, None]
    eta = a + b * data["x"].to_numpy()
    np.testing.assert_allclose(fit.predict(kind="link", summary=False), eta, rtol=1e-12)
    # kind="mean" is the success probability (lme4), not trials x probability
    np.testing.assert_allclose(fit.predict(kind="mean", summary=False), special.expit(eta),
                               rtol=1e-12)
    sim = fit.predict(kind="response", summary=False, seed=4)
    trials = (data["succ"] + data["fail"]).to_numpy()
    assert sim.shape == eta.shape and np.all((sim >= 0) & (sim <= trials) & (sim % 1 == 0))
    np.testing.assert_array_equal(sim, fit.predict(kind="response", summary=False, seed=4))
    with pytest.raises(DataError) as info:
        fit.predict(data[["x"]], kind="response")
    assert str(info.value) == ("kind='response' for a binomial model needs the trials: newdata "
                               "has no column ['succ', 'fail']")
    # trials from newdata: all-success rows at p ~ 1, all-failure rows at p ~ 0
    new = pd.DataFrame({"x": [50.0, 50.0], "succ": [7, 0], "fail": [0, 0]})
    one = fixed_fit(model, {"Intercept": [0.0], "b": [[1.0]]})
    np.testing.assert_array_equal(one.predict(new, kind="response", summary=False, seed=1),
                                  [[7.0, 0.0]])


def test_poisson_offset_enters_link_and_mean(data: pd.DataFrame) -> None:
    model = hm.model("count ~ x + offset(log(t))", data, family="poisson")
    fit = fixed_fit(model, {"Intercept": [0.1, -0.2], "b": [[0.3], [0.7]]})
    new = pd.DataFrame({"x": [0.0, 1.0, -1.0], "t": [1.0, 2.0, 0.5]})
    eta = (np.array([0.1, -0.2])[:, None] + np.array([0.3, 0.7])[:, None] * new["x"].to_numpy()
           + np.log(new["t"].to_numpy()))
    np.testing.assert_allclose(fit.predict(new, kind="link", summary=False), eta, rtol=1e-12)
    np.testing.assert_allclose(fit.predict(new, kind="mean", summary=False), np.exp(eta),
                               rtol=1e-12)
    with pytest.raises(DataError, match=r"^newdata has no column 't' \(needed for "):
        fit.predict(new[["x"]])


# -- simulation per family --------------------------------------------------------------------

N_SIM = 4000  # posterior draws, all equal: N_SIM x 5 rows of one response distribution
ETA = 0.4  # the intercept; b = 0, so every row has this linear predictor

# family, formula, its auxiliary parameters, the response distribution by hand (scipy)
nb = stats.nbinom  # NB2 with mean mu and shape alpha: nbinom(n=alpha, p=alpha/(alpha+mu))
CONTINUOUS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("gaussian", "y ~ x", {"sigma": 0.7}, stats.norm(ETA, 0.7)),
    ("t", "y ~ x", {"sigma": 0.7, "nu": 4.0}, stats.t(4.0, ETA, 0.7)),
    ("lognormal", "pos ~ x", {"sigma": 0.6}, stats.lognorm(0.6, scale=np.exp(ETA))),
    ("gamma", "pos ~ x", {"alpha": 3.0}, stats.gamma(3.0, scale=np.exp(ETA) / 3.0)),
    ("beta", "prop ~ x", {"phi": 5.0},
     stats.beta(special.expit(ETA) * 5.0, (1 - special.expit(ETA)) * 5.0)),
]
MU = float(np.exp(ETA))
P = float(special.expit(ETA))
THETA = [-0.5, 0.3, 1.2]


def _pmf_zi(base: Any, zi: float) -> Any:
    return lambda k: zi * (k == 0) + (1 - zi) * base.pmf(k)


def _pmf_hurdle(base: Any, hu: float) -> Any:
    return lambda k: np.where(k == 0, hu, (1 - hu) * base.pmf(k) / (1 - base.pmf(0)))


def _pmf_cumulative(k: np.ndarray) -> np.ndarray:
    cdf = np.concatenate([[0.0], special.expit(np.array(THETA) - ETA), [1.0]])
    k = np.asarray(k, dtype=int)
    inside = (k >= 1) & (k <= 4)
    kk = np.clip(k, 1, 4)
    return np.where(inside, cdf[kk] - cdf[kk - 1], 0.0)


DISCRETE: list[tuple[str, str, dict[str, Any], Any]] = [
    ("binomial", "cbind(succ, fail) ~ x", {}, None),  # trials per row: pmf built in the test
    ("bernoulli", "yes ~ x", {}, stats.bernoulli(P).pmf),
    ("poisson", "count ~ x", {}, stats.poisson(MU).pmf),
    ("negativebinomial", "count ~ x", {"alpha": 2.0}, nb(2.0, 2.0 / (2.0 + MU)).pmf),
    ("zero_inflated_poisson", "count ~ x", {"zi": 0.3}, _pmf_zi(stats.poisson(MU), 0.3)),
    ("zero_inflated_negativebinomial", "count ~ x", {"alpha": 2.0, "zi": 0.3},
     _pmf_zi(nb(2.0, 2.0 / (2.0 + MU)), 0.3)),
    ("hurdle_poisson", "count ~ x", {"hu": 0.4}, _pmf_hurdle(stats.poisson(MU), 0.4)),
    ("hurdle_negativebinomial", "count ~ x", {"alpha": 2.0, "hu": 0.4},
     _pmf_hurdle(nb(2.0, 2.0 / (2.0 + MU)), 0.4)),
    ("cumulative", "rating ~ x", {"threshold": THETA}, _pmf_cumulative),
]


@pytest.fixture(scope="module")
def family_data() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 40
    return pd.DataFrame({
        "x": rng.normal(size=n), "y": rng.normal(size=n), "pos": rng.gamma(2.0, 1.0, n),
        "prop": rng.uniform(0.05, 0.95, n), "yes": np.tile([0, 1], n // 2),
        "count": rng.poisson(2.0, n), "succ": np.tile([1, 2, 3, 4], n // 4),
        "fail": np.tile([3, 2, 1, 4], n // 4), "rating": np.tile([1, 2, 3, 4], n // 4),
    })


def _simulate(family: str, formula: str, aux: dict[str, Any],
              data: pd.DataFrame) -> tuple[np.ndarray, hm.Model]:
    model = hm.model(formula, data, family=family)
    values: dict[str, Any] = {"b": np.zeros((N_SIM, 1))}
    if model.design.has_intercept:
        values["Intercept"] = np.full(N_SIM, ETA)
    # cumulative: no intercept (eta = b x = 0), so the thresholds are shifted by -ETA below
    for name, value in aux.items():
        value = np.asarray(value, dtype=float)
        if family == "cumulative":
            value = value - ETA  # P(y <= k) = F(theta_k - 0) = F(THETA_k - ETA)
        values[name] = np.broadcast_to(value, (N_SIM, *value.shape)).copy()
    fit = fixed_fit(model, values)
    new = data.iloc[:5].reset_index(drop=True)
    return fit.predict(new, kind="response", summary=False, seed=2024), model


@pytest.mark.parametrize(("family", "formula", "aux", "dist"), CONTINUOUS,
                         ids=[c[0] for c in CONTINUOUS])
def test_simulated_continuous_responses(family: str, formula: str, aux: dict[str, Any],
                                        dist: Any, family_data: pd.DataFrame) -> None:
    sim, _ = _simulate(family, formula, aux, family_data)
    assert sim.shape == (N_SIM, 5)
    p = stats.kstest(sim.ravel(), dist.cdf).pvalue
    assert p > P_MIN, (family, p)


@pytest.mark.parametrize(("family", "formula", "aux", "pmf"), DISCRETE,
                         ids=[c[0] for c in DISCRETE])
def test_simulated_discrete_responses(family: str, formula: str, aux: dict[str, Any],
                                      pmf: Any, family_data: pd.DataFrame) -> None:
    sim, _ = _simulate(family, formula, aux, family_data)
    assert sim.shape == (N_SIM, 5) and np.all(sim % 1 == 0)
    if family == "binomial":  # trials differ by row: one test per row (5 of the 18 tests)
        trials = (family_data["succ"] + family_data["fail"]).to_numpy()[:5]
        columns = [(sim[:, i], stats.binom(int(n), P).pmf) for i, n in enumerate(trials)]
    else:
        columns = [(sim.ravel(), pmf)]
    for values, column_pmf in columns:
        top = int(values.max())
        k = np.arange(top + 1)
        expected = column_pmf(k) * values.size
        observed = np.bincount(values.astype(int), minlength=top + 1).astype(float)
        # pool the upper tail (cells with expected count < 5, and everything beyond) into one
        keep = int(np.max(np.nonzero(expected >= 5)[0]))
        obs = np.append(observed[:keep], observed[keep:].sum())
        exp = np.append(expected[:keep], values.size - expected[:keep].sum())
        assert np.all(obs[exp <= 1e-12] == 0), (family, obs, exp)  # impossible values
        mask = exp > 1e-12
        chi2 = float(((obs[mask] - exp[mask]) ** 2 / exp[mask]).sum())
        p = stats.chi2.sf(chi2, int(mask.sum()) - 1)
        assert p > P_MIN, (family, p, obs, exp)
