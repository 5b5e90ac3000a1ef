"""hypothesis() on FIXED posteriors (no MCMC): probabilities are shares of draws, the
Savage-Dickey ratio matches the analytic one for a normal prior, names resolve as documented
and expressions are parsed, never evaluated as Python."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import gaussian_kde, norm

import hiermodel as hm
from hiermodel.posterior.hypothesis import (
    COLUMNS,
    parameter_names,
)
from tests.helpers import fixed_fit


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    d = hm.datasets.sleepstudy()
    d["Sex"] = np.where(d.Subject.cat.codes % 2 == 0, "F", "M")
    return d


@pytest.fixture(scope="module")
def model(sleep: pd.DataFrame) -> hm.Model:
    return hm.model("Reaction ~ Days + Sex + (Days|Subject)", sleep)


def _flat(fit: hm.Fit, name: str) -> np.ndarray:
    d = np.asarray(fit.idata.posterior[name].values)
    return d.reshape(-1, *d.shape[2:])


def test_one_sided_probabilities_are_shares_of_draws(model: hm.Model) -> None:
    fit = fixed_fit(model, seed=1)
    b, sd, r = _flat(fit, "b"), _flat(fit, "sd_Subject"), _flat(fit, "r_Subject")
    icpt = _flat(fit, "Intercept")
    cases = {
        "Days > 5": (b[:, 0] - 5, ">"),
        "SexM < 0": (b[:, 1], "<"),
        "Days - SexM > 0": (b[:, 0] - b[:, 1], ">"),
        "sd_Subject__Days > 1": (sd[:, 1] - 1, ">"),
        "r_Subject[308,Days] > 0": (r[:, 0, 1], ">"),
        "2 * b_Days / 4 + (Intercept) < -(-3)": (b[:, 0] / 2 + icpt - 3, "<"),
    }
    table = fit.hypothesis(list(cases))
    assert list(table.columns) == COLUMNS
    assert table["Hypothesis"].iloc[0] == "(Days)-(5) > 0"
    assert table["Hypothesis"].iloc[1] == "(SexM) < 0"
    for (_, row), (h, rel) in zip(table.iterrows(), cases.values(), strict=True):
        p = np.mean(h > 0) if rel == ">" else np.mean(h < 0)
        assert row["Post.Prob"] == pytest.approx(p, abs=1e-15)
        assert row["Evid.Ratio"] == (pytest.approx(p / (1 - p)) if p < 1 else np.inf)
        assert row["Estimate"] == pytest.approx(h.mean())
        assert row["Est.Error"] == pytest.approx(h.std(ddof=1))
        lo, hi = np.quantile(h, [0.05, 0.95])  # one-sided: a 90 % interval, as brms
        assert (row["CI.Lower"], row["CI.Upper"]) == (pytest.approx(lo), pytest.approx(hi))
        assert row["Star"] == ("*" if p > 0.95 else "")


def test_savage_dickey_equals_the_analytic_ratio_for_a_normal_prior(model: hm.Model) -> None:
    prior = model.prior_table.get("b", "Days")
    assert prior.dist == "Normal"
    mu, sigma = prior.kwargs["mu"], prior.kwargs["sigma"]
    # posterior of Days: N(2, 2) by construction, 40000 draws; 0 is one sd from its mean
    fit = fixed_fit(model, seed=2, chains=2, draws=20000, b_mean=2.0, b_sd=2.0)
    days = _flat(fit, "b")[:, 0]
    table = fit.hypothesis(["Days = 0", "2 * Days = 0", "Days = 5"])
    # exact: KDE of the draws over the analytic prior density
    exact = gaussian_kde(days)(0.0)[0] / norm.pdf(0.0, mu, sigma)
    assert table["Evid.Ratio"].iloc[0] == pytest.approx(exact, rel=1e-12)
    assert table["Evid.Ratio"].iloc[1] == pytest.approx(exact, rel=1e-9)  # scale-free
    assert table["Evid.Ratio"].iloc[2] == pytest.approx(
        gaussian_kde(days - 5)(0.0)[0] / norm.pdf(5.0, mu, sigma), rel=1e-12)
    er = table["Evid.Ratio"].iloc[0]
    assert table["Post.Prob"].iloc[0] == pytest.approx(er / (1 + er))
    # statistical: against the true densities. The KDE of 40000 N(2, 2) draws at 0 has a
    # relative sd of 1.6 % and negligible bias (200 seeds); 8 % is 5 sd (false failure < 1e-6)
    truth = norm.pdf(0.0, 2.0, 2.0) / norm.pdf(0.0, mu, sigma)
    assert er == pytest.approx(truth, rel=0.08)
    lo, hi = np.quantile(days, [0.025, 0.975])
    assert table["Star"].iloc[0] == ("*" if not lo <= 0 <= hi else "")


def test_prior_draws_give_the_density_of_a_combination(model: hm.Model,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import hiermodel.backend.sampling as sampling

    calls: list[list[str]] = []
    real = sampling.joint_prior_draws

    def counted(pymc_model, names, draws, seed):  # type: ignore[no-untyped-def]
        calls.append(list(names))
        return real(pymc_model, names, draws, seed)

    monkeypatch.setattr(sampling, "joint_prior_draws", counted)
    fit = fixed_fit(model, seed=3)
    s1 = model.prior_table.get("b", "Days").kwargs["sigma"]
    s2 = model.prior_table.get("b", "SexM").kwargs["sigma"]
    n = 5000
    table = fit.hypothesis(["Days - SexM = 0", "sd_Subject__Days = 1"], prior_draws=n, seed=7)
    assert calls == [["b", "sd_Subject"]]  # one forward simulation for both hypotheses
    b = _flat(fit, "b")
    prior = gaussian_kde(b[:, 0] - b[:, 1])(0.0)[0] / table["Evid.Ratio"].iloc[0]
    # independent normal priors: the difference is N(0, s1^2 + s2^2); a Gaussian KDE (Scott)
    # of n draws at the centre estimates that density smoothed by bandwidth h = sd n^-1/5,
    # with relative sd 2.6 % (400 seeds); 14 % is > 5 sd (false failure < 1e-6). Most of the
    # cost is compiling the forward graph.
    s = np.hypot(s1, s2)
    assert prior == pytest.approx(norm.pdf(0.0, 0.0, s * np.sqrt(1 + n ** -0.4)), rel=0.14)
    assert np.isfinite(table["Evid.Ratio"].iloc[1]) and table.attrs["notes"] == []


def test_improper_prior_gives_nan_with_a_note(sleep: pd.DataFrame) -> None:
    flat = hm.model("Reaction ~ Days + (1|Subject)", sleep,
                    priors=[hm.set_prior("Flat()", "b", "Days")])
    fit = fixed_fit(flat, seed=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = fit.hypothesis("Days = 0")
    assert np.isnan(table["Evid.Ratio"].iloc[0]) and np.isnan(table["Post.Prob"].iloc[0])
    assert "improper" in table.attrs["notes"][0]
    assert any("improper" in str(w.message) for w in caught)


def test_names_in_the_posterior_are_documented(model: hm.Model) -> None:
    names = parameter_names(fixed_fit(model, seed=5))
    for expected in ["Days", "b_Days", "SexM", "Intercept", "(Intercept)", "sigma",
                     "sd_Subject__Intercept", "sd_Subject__Days", "cor_Subject__Intercept__Days",
                     "r_Subject[308,Intercept]", "r_Subject[372,Days]"]:
        assert expected in names, expected


def test_unknown_names_and_code_are_refused(model: hm.Model) -> None:
    fit = fixed_fit(model, seed=6)
    with pytest.raises(hm.HypothesisError, match="did you mean 'Days'"):
        fit.hypothesis("Dayz > 0")
    with pytest.raises(hm.HypothesisError, match="unexpected"):
        fit.hypothesis("__import__('os') > 0")
    with pytest.raises(hm.HypothesisError, match="unexpected character"):
        fit.hypothesis("Days ** 2 > 0; print(1)")
    with pytest.raises(hm.HypothesisError, match="no relation"):
        fit.hypothesis("Days + 1")
    with pytest.raises(hm.HypothesisError, match="expected a name"):
        fit.hypothesis("Days > ")


def test_names_of_a_distributional_model(sleep: pd.DataFrame) -> None:
    fit = fixed_fit(hm.model("Reaction ~ Days + (1|Subject)", sleep, sigma="~ Days"), seed=7)
    names = parameter_names(fit)
    for alias in ["sigma_Days", "b_sigma_Days", "sigma_(Intercept)", "sigma_Intercept",
                  "b_sigma_Intercept", "Intercept_sigma"]:
        assert alias in names, alias
    b_sigma, icpt = _flat(fit, "b_sigma")[:, 0], _flat(fit, "Intercept_sigma")
    table = fit.hypothesis(["sigma_Days > 4", "sigma_(Intercept) + b_sigma_Days < 3"])
    assert table["Post.Prob"].tolist() == [np.mean(b_sigma > 4), np.mean(icpt + b_sigma < 3)]
