"""Real fits of the count, ordinal and continuous families.

Parity (slow tier) with glmmTMB 1.1.5 and ordinal::clmm references (../shared/data/README.md):
fixed effects, thresholds and auxiliary coefficients within max(0.5 posterior SD, 2 %) of the
reference; the group SD's 95 % interval contains the reference and its median is within 35 %;
the NB shape ``alpha`` within 35 %.

Simulation recovery (slow tier): data drawn from each family with known parameters, fitted
with hiermodel's default priors; every population-level parameter, the group SD and the
family's auxiliary parameters must lie within 4.5 posterior SD of the truth. For a calibrated
posterior the z-score is roughly standard normal, so one parameter fails with probability
~7e-6 and a whole family case (<= 6 parameters) with < 5e-5; seeds are fixed (PyMC backend,
whose draws are reproducible), so a given checkout always gives the same verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import hiermodel as hm
from hiermodel.posterior.fitted import Fit

pytestmark = [pytest.mark.fit, pytest.mark.slow]

DEFAULT = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1}
OWLS = ("SiblingNegotiation ~ FoodTreatment + SexParent + offset(log(BroodSize)) + (1|Nest)")


def _close(fit_row: pd.Series, reference: float, name: str) -> None:
    tol = max(0.5 * fit_row["sd"], 0.02 * abs(reference))
    assert abs(fit_row["mean"] - reference) < tol, (name, fit_row["mean"], reference, tol)


def _check_fixef(fit: Fit, reference: dict[str, float]) -> None:
    fe = fit.fixef()
    assert list(fe.index) == list(reference)
    for term, value in reference.items():
        _close(fe.loc[term], value, term)


def _check_group_sd(fit: Fit, group: str, reference: float) -> None:
    vc = fit.varcorr()
    row = vc[(vc.grp == group) & (vc.var1 == "(Intercept)")].iloc[0]
    assert row["hdi_low"] < reference < row["hdi_high"], (row.to_dict(), reference)
    assert abs(row["median"] / reference - 1) < 0.35, (row["median"], reference)


@pytest.fixture(scope="module")
def owls() -> pd.DataFrame:
    return hm.datasets.owls()


def test_owls_negative_binomial_matches_glmmtmb(owls: pd.DataFrame) -> None:
    fit = hm.fit(OWLS, owls, family="negativebinomial", **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 0.6627, "FoodTreatmentSatiated": -0.6732,
                       "SexParentMale": 0.0490})
    _check_group_sd(fit, "Nest", 0.35124)
    alpha = fit.auxiliary().loc["alpha"]
    assert abs(alpha["mean"] / 0.8406 - 1) < 0.35, alpha
    assert fit.diagnostics()["divergences"] == 0


def test_owls_zero_inflated_poisson_matches_glmmtmb(owls: pd.DataFrame) -> None:
    fit = hm.fit(OWLS, owls, family="zero_inflated_poisson", **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 0.8461, "FoodTreatmentSatiated": -0.2077,
                       "SexParentMale": -0.0417})
    _check_group_sd(fit, "Nest", 0.35269)
    # glmmTMB's zi (Intercept) is on the logit scale; compare there
    logit_zi = special.logit(fit.draws("zi").ravel())
    row = pd.Series({"mean": logit_zi.mean(), "sd": logit_zi.std()})
    _close(row, -1.0526, "zi (Intercept)")
    summary = str(fit.summary())
    assert "Family-specific parameters:" in summary and "\n zi " in summary


def test_radon_sigma_formula_matches_lme4_dispersion_model(radon: pd.DataFrame) -> None:
    """glmmTMB's dispformula is log(sigma^2); the README's "log sigma" column halves it."""
    fit = hm.fit("log_radon ~ floor + (1|county)", radon, sigma="~ floor", **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 1.4937, "floor": -0.6686,
                       "sigma_(Intercept)": -0.3921, "sigma_floor": 0.3248})
    _check_group_sd(fit, "county", 0.32733)
    assert "Residual" not in set(fit.varcorr().grp)  # sigma varies by row: no single value
    assert "Fixed effects of sigma (log link):" in str(fit.summary())


def test_soup_cumulative_logit_matches_clmm() -> None:
    fit = hm.fit("SURENESS ~ PROD + (1|RESP)", hm.datasets.soup(), family="cumulative",
                 **DEFAULT)
    thresholds = {"1|2": -1.4768, "2|3": -0.4547, "3|4": -0.1174, "4|5": 0.1474, "5|6": 0.8519}
    _check_fixef(fit, {**thresholds, "PRODTest": 1.2055})
    pd.testing.assert_frame_equal(fit.thresholds(), fit.fixef().loc[list(thresholds)])
    _check_group_sd(fit, "RESP", 0.55816)
    summary = str(fit.summary())
    fixed_part = summary.split("Fixed effects:")[1].split("Threshold coefficients:")
    assert len(fixed_part) == 2 and "PRODTest" in fixed_part[0] and "(Intercept)" not in \
        fixed_part[0] and "\n 1|2 " in fixed_part[1]


# -- simulation recovery ---------------------------------------------------------------------

N_GROUPS, PER_GROUP = 30, 40
TRUE = {"(Intercept)": 0.4, "x": 0.6, "sd": 0.5}


def _simulated(family: str, aux: dict[str, float], seed: int,
               thresholds: list[float] | None = None, link: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    x = rng.normal(size=g.size)
    u = rng.normal(0.0, TRUE["sd"], N_GROUPS)[g]
    icpt = 0.0 if thresholds is not None else TRUE["(Intercept)"]
    eta = icpt + TRUE["x"] * x + u
    fam = hm.get_family(family, link)
    draw_aux = {k: np.asarray(v, dtype=float).reshape(1, -1) for k, v in aux.items()}
    if thresholds is not None:
        draw_aux["threshold"] = np.asarray(thresholds).reshape(1, -1)
    y = fam.simulate(rng, eta[None, :], draw_aux)[0]
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:02d}" for i in g]})


RECOVERY = [
    ("t", {"sigma": 0.8, "nu": 4.0}),
    ("lognormal", {"sigma": 0.6}),
    ("gamma", {"alpha": 3.0}),
    ("beta", {"phi": 12.0}),
    ("negativebinomial", {"alpha": 2.0}),
    ("zero_inflated_poisson", {"zi": 0.3}),
    ("zero_inflated_negativebinomial", {"alpha": 3.0, "zi": 0.25}),
    ("hurdle_poisson", {"hu": 0.35}),
    ("hurdle_negativebinomial", {"alpha": 2.5, "hu": 0.3}),
]


def _z(row: pd.Series, truth: float) -> float:
    return float(abs(row["mean"] - truth) / row["sd"])


@pytest.mark.parametrize(("family", "aux"), RECOVERY, ids=[f for f, _ in RECOVERY])
def test_simulation_recovery(family: str, aux: dict[str, float]) -> None:
    df = _simulated(family, aux, seed=7)
    # remedy=True: a fit that fails the convergence gate is refitted once with its advice, as a
    # user would (the gamma case mixes slowly non-centered: R-hat 1.055 on one machine, under
    # 1.05 on another with the same seed)
    fit = hm.fit("y ~ x + (1|g)", df, family=family, draws=500, tune=700, chains=4, seed=3,
                 remedy=True)
    fe = fit.fixef()
    for term in ("(Intercept)", "x"):
        assert _z(fe.loc[term], TRUE[term]) < 4.5, (term, fe.loc[term].to_dict())
    vc = fit.varcorr()
    sd = vc[(vc.grp == "g") & (vc.var1 == "(Intercept)")].iloc[0]
    assert _z(sd, TRUE["sd"]) < 4.5, sd.to_dict()
    table = fit.auxiliary()
    assert list(table.index) == list(hm.get_family(family).aux)
    for name, truth in aux.items():
        assert _z(table.loc[name], truth) < 4.5, (name, table.loc[name].to_dict())
    assert fit.diagnostics()["max_rhat"] < 1.05


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_cumulative_recovery(link: str) -> None:
    cuts = [-1.0, 0.2, 1.1]
    df = _simulated("cumulative", {}, seed=8, thresholds=cuts, link=link)
    df["y"] = df["y"].astype(int)  # integer ratings 1..4
    fit = hm.fit("y ~ x + (1|g)", df, family="cumulative", link=link, draws=500, tune=700,
                 chains=4, seed=3)
    fe = fit.fixef()
    assert list(fe.index) == ["1|2", "2|3", "3|4", "x"]
    for name, truth in zip(["1|2", "2|3", "3|4", "x"], [*cuts, TRUE["x"]], strict=True):
        assert _z(fe.loc[name], truth) < 4.5, (name, fe.loc[name].to_dict())
    vc = fit.varcorr()
    sd = vc[(vc.grp == "g") & (vc.var1 == "(Intercept)")].iloc[0]
    assert _z(sd, TRUE["sd"]) < 4.5, sd.to_dict()
