"""Real fits against lme4's reference estimates (../shared/data/README.md, lme4 1.1-31, REML).

Fixed effects must land within 0.5 posterior SD of lme4, group SDs within 20 %, the residual SD
within 10 %, and lme4's correlation inside the posterior interval (issues 2 and 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.posterior.fitted import Fit

pytestmark = [pytest.mark.fit, pytest.mark.slow]

DEFAULT = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1}


def _check_fixef(fit: Fit, lme4: dict[str, float]) -> None:
    fe = fit.fixef()
    assert list(fe.index) == list(lme4)
    for term, value in lme4.items():
        row = fe.loc[term]
        assert abs(row["mean"] - value) < 0.5 * row["sd"], (term, row["mean"], value, row["sd"])


def _sd(vc: pd.DataFrame, grp: str, var1: str) -> pd.Series:
    rows = vc[(vc.grp == grp) & (vc.var1 == var1) & (vc.var2 == "")]
    assert len(rows) == 1, vc
    return rows.iloc[0]


def _check_sds(fit: Fit, group: str, lme4: dict[str, float], resid: float) -> None:
    vc = fit.varcorr()
    for term, value in lme4.items():
        est = _sd(vc, group, term)["mean"]
        assert abs(est / value - 1) < 0.20, (term, est, value)
    est = _sd(vc, "Residual", "")["mean"]
    assert abs(est / resid - 1) < 0.10, ("Residual", est, resid)


@pytest.fixture(scope="module")
def sleep_corr(sleepstudy: pd.DataFrame) -> Fit:
    return hm.fit("Reaction ~ Days + (Days|Subject)", data=sleepstudy, **DEFAULT)


def test_sleepstudy_correlated_matches_lme4(sleep_corr: Fit) -> None:
    _check_fixef(sleep_corr, {"(Intercept)": 251.4051, "Days": 10.4673})
    _check_sds(sleep_corr, "Subject", {"(Intercept)": 24.7407, "Days": 5.9221}, 25.5918)
    vc = sleep_corr.varcorr()
    cor = vc[(vc.var1 == "(Intercept)") & (vc.var2 == "Days")].iloc[0]
    assert cor["hdi_low"] < 0.066 < cor["hdi_high"]
    diag = sleep_corr.diagnostics()
    assert diag["divergences"] == 0
    assert diag["max_rhat"] < 1.01


def test_sleepstudy_correlated_accessors(sleep_corr: Fit,
                                         sleepstudy: pd.DataFrame) -> None:
    text = str(sleep_corr.summary())
    assert "Corr" in text and "Subject" in text and "Number of obs: 180" in text
    ranef = sleep_corr.ranef("Subject")
    assert len(ranef) == 18 * 2 and set(ranef.term) == {"(Intercept)", "Days"}
    coef = sleep_corr.coef("Subject")
    # coef = fixef + ranef, level by level (posterior means are linear)
    fe = sleep_corr.fixef()["mean"]
    merged = coef.merge(ranef, on=["grp", "level", "term"], suffixes=("_coef", "_ranef"))
    expect = merged.term.map(fe) + merged.mean_ranef
    assert np.allclose(merged.mean_coef, expect, atol=1e-6 * 250)
    # readable InferenceData: group levels are coordinates, ArviZ summary works directly
    post = sleep_corr.idata.posterior
    assert list(post["r_Subject"].dims) == ["chain", "draw", "Subject", "Subject__term"]
    assert "308" in post["r_Subject"].coords["Subject"].values
    import arviz as az

    table = az.summary(sleep_corr.idata, var_names=["cor_Subject"])
    assert "cor_Subject[Intercept__Days]" in table.index
    # predict: new subjects drawn from the fitted covariance vs set to zero (lme4's default)
    new = pd.DataFrame({"Days": [0.0, 9.0], "Subject": ["new", "new"]})
    zero = sleep_corr.predict(new, allow_new_levels=True, new_levels="zero", kind="mean")
    drawn = sleep_corr.predict(new, allow_new_levels=True, new_levels="sample", kind="mean", seed=2)
    assert np.allclose(zero["mean"], [fe["(Intercept)"], fe["(Intercept)"] + 9 * fe["Days"]],
                       rtol=1e-3)
    assert (drawn["sd"] > 2 * zero["sd"]).all()  # between-subject spread added


def test_sleepstudy_independent_matches_lme4(sleepstudy: pd.DataFrame) -> None:
    fit = hm.fit("Reaction ~ Days + (Days||Subject)", data=sleepstudy, **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 251.4051, "Days": 10.4673})
    _check_sds(fit, "Subject", {"(Intercept)": 25.0513, "Days": 5.9882}, 25.5653)
    vc = fit.varcorr()
    assert (vc.var2 == "").all()  # no correlation parameter
    assert "cor_Subject" not in fit.idata.posterior


def test_sleepstudy_intercept_matches_lme4(sleepstudy: pd.DataFrame) -> None:
    fit = hm.fit("Reaction ~ Days + (1|Subject)", data=sleepstudy, **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 251.4051, "Days": 10.4673})
    _check_sds(fit, "Subject", {"(Intercept)": 37.124}, 30.991)


def test_radon_intercept_matches_lme4(radon: pd.DataFrame) -> None:
    fit = hm.fit("log_radon ~ floor + (1|county)", data=radon, **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 1.4924, "floor": -0.6629})
    _check_sds(fit, "county", {"(Intercept)": 0.31541}, 0.72578)


def test_radon_correlated_matches_lme4(radon: pd.DataFrame) -> None:
    fit = hm.fit("log_radon ~ floor + log_uranium + (floor|county)", data=radon, **DEFAULT)
    _check_fixef(fit, {"(Intercept)": 1.4935, "floor": -0.6152, "log_uranium": 0.7449})
    _check_sds(fit, "county", {"(Intercept)": 0.12204, "floor": 0.34225}, 0.71878)
    vc = fit.varcorr()
    cor = vc[(vc.var1 == "(Intercept)") & (vc.var2 == "floor")].iloc[0]
    assert cor["hdi_low"] < 0.204 < cor["hdi_high"]
    assert fit.diagnostics()["divergences"] == 0
