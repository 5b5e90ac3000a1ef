"""predictions / comparisons / slopes on FIXED posteriors (no MCMC) equal the same averages
computed by hand from the draws; their figures render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.posterior.interpret import comparisons, predictions, reference_values
from tests.helpers import fixed_fit

Q = (0.025, 0.975)


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    d = hm.datasets.sleepstudy()
    d["Sex"] = np.where(d.Subject.cat.codes % 2 == 0, "F", "M")
    return d


@pytest.fixture(scope="module")
def fit(sleep: pd.DataFrame) -> hm.Fit:
    return fixed_fit(hm.model("Reaction ~ Days * Sex + (Days|Subject)", sleep), seed=3)


def _draws(fit: hm.Fit) -> dict[str, np.ndarray]:
    post = fit.idata.posterior
    flat = {v: np.asarray(post[v].values).reshape(-1, *post[v].shape[2:]) for v in post}
    levels = [str(x) for x in post["Subject"].values]
    return {**flat, "levels": np.asarray(levels)}


def _mu(d: dict[str, np.ndarray], days: np.ndarray, male: np.ndarray, subj: np.ndarray,
        groups: bool = True) -> np.ndarray:
    """Hand-written linear predictor (draws, rows) of Reaction ~ Days * Sex + (Days|Subject)."""
    b = d["b"]  # columns Days, SexM, Days:SexM
    mu = (d["Intercept"][:, None] + b[:, [0]] * days + b[:, [1]] * male
          + b[:, [2]] * days * male)
    if groups:
        j = np.array([list(d["levels"]).index(s) for s in subj])
        mu = mu + d["r_Subject"][:, j, 0] + d["r_Subject"][:, j, 1] * days
    return mu


def _check(frame_row: pd.Series, draws: np.ndarray) -> None:
    assert frame_row["estimate"] == pytest.approx(draws.mean(), rel=1e-10)
    lo, hi = np.quantile(draws, Q)
    assert frame_row["lower"] == pytest.approx(lo, rel=1e-10)
    assert frame_row["upper"] == pytest.approx(hi, rel=1e-10)


def test_averaged_predictions_equal_the_counterfactual_mean_by_group(
        fit: hm.Fit, sleep: pd.DataFrame) -> None:
    res = fit.predictions(conditional={"Days": [0, 3, 7]}, by="Sex", average=True)
    d = _draws(fit)
    male = (sleep.Sex == "M").to_numpy(float)
    subj = sleep.Subject.astype(str).to_numpy()
    assert list(res.frame.columns) == ["Days", "Sex", "estimate", "lower", "upper"]
    assert len(res.frame) == 6
    for _, row in res.frame.iterrows():
        rows = (sleep.Sex == row["Sex"]).to_numpy()
        mu = _mu(d, np.full(rows.sum(), float(row["Days"])), male[rows], subj[rows])
        _check(row, mu.mean(axis=1))
        np.testing.assert_allclose(res.draws[:, _], mu.mean(axis=1), rtol=1e-10)


def test_reference_predictions_hold_others_at_mean_and_mode(fit: hm.Fit,
                                                            sleep: pd.DataFrame) -> None:
    ref = reference_values(sleep, ["Days", "Sex", "Subject"])
    # 9 subjects of each sex and 10 rows per subject: the modes are the first in sort order
    assert ref == {"Days": 4.5, "Sex": "F", "Subject": "308"}
    d = _draws(fit)
    pop = fit.predictions(conditional={"Days": [0, 5]}, re_form="~0")
    cond = fit.predictions(conditional={"Days": [0, 5]})
    for i, days in enumerate([0.0, 5.0]):
        one = np.array([days])
        _check(pop.frame.iloc[i], _mu(d, one, np.zeros(1), np.array(["308"]), False)[:, 0])
        _check(cond.frame.iloc[i], _mu(d, one, np.zeros(1), np.array(["308"]))[:, 0])
    overall = fit.predictions(re_form="~0")  # nothing named: one row at the reference
    _check(overall.frame.iloc[0], _mu(d, np.array([4.5]), np.zeros(1), np.array(["308"]),
                                      False)[:, 0])


def test_comparisons_difference_and_ratio_average_over_rows(fit: hm.Fit,
                                                           sleep: pd.DataFrame) -> None:
    d = _draws(fit)
    days = sleep.Days.to_numpy(float)
    subj = sleep.Subject.astype(str).to_numpy()
    lo = _mu(d, days, np.zeros(len(days)), subj)
    hi = _mu(d, days, np.ones(len(days)), subj)
    diff = fit.comparisons(contrast={"Sex": ["F", "M"]}, average=True)
    assert diff.frame[["term", "contrast"]].values.tolist() == [["Sex", "M - F"]]
    _check(diff.frame.iloc[0], (hi - lo).mean(axis=1))
    np.testing.assert_allclose(diff.draws[:, 0], (d["b"][:, 1:2] + d["b"][:, 2:3] * days)
                               .mean(axis=1), rtol=1e-9)
    ratio = fit.comparisons(contrast={"Sex": ["F", "M"]}, comparison="ratio", average=True)
    assert ratio.frame["contrast"].tolist() == ["M / F"]
    _check(ratio.frame.iloc[0], (hi / lo).mean(axis=1))
    by = fit.comparisons(contrast="Days", by="Sex", average=True)  # centred +1 per row
    for _, row in by.frame.iterrows():
        rows = (sleep.Sex == row["Sex"]).to_numpy()
        m = float(row["Sex"] == "M")
        step = _mu(d, days[rows] + 0.5, np.full(rows.sum(), m), subj[rows]) - _mu(
            d, days[rows] - 0.5, np.full(rows.sum(), m), subj[rows])
        _check(row, step.mean(axis=1))


def test_slopes_equal_the_analytic_derivative(fit: hm.Fit, sleep: pd.DataFrame) -> None:
    d = _draws(fit)
    male = (sleep.Sex == "M").to_numpy(float)
    j = [list(d["levels"]).index(s) for s in sleep.Subject.astype(str)]
    exact = (d["b"][:, [0]] + d["b"][:, [2]] * male + d["r_Subject"][:, j, 1]).mean(axis=1)
    res = fit.slopes("Days", average=True)
    assert res.note.startswith("eps = 0.0009")  # 1e-4 x the range of Days (0..9)
    # a centred difference of a linear function: exact up to rounding (values ~ 1e2, step 1e-3)
    np.testing.assert_allclose(res.draws[:, 0], exact, rtol=1e-6)
    at = fit.slopes("Days", conditional={"Sex": ["F", "M"]}, re_form="~0", eps=0.5)
    np.testing.assert_allclose(at.draws, d["b"][:, [0, 0]] + d["b"][:, [2]] * [0, 1],
                               rtol=1e-9)


def test_response_and_link_scale_of_a_poisson_model(toy: pd.DataFrame) -> None:
    model = hm.model("count ~ x + h + (1|g)", toy, family="poisson")
    pois = fixed_fit(model, seed=5, b_mean=0.5, b_sd=0.1)
    link = predictions(pois, conditional={"x": [-1.0, 0.0, 1.0]}, kind="link")
    resp = predictions(pois, conditional={"x": [-1.0, 0.0, 1.0]}, kind="response")
    np.testing.assert_allclose(resp.draws, np.exp(link.draws), rtol=1e-12)
    # averaged slope on the response scale: mean over rows of exp(eta_i) * b_x
    post = pois.idata.posterior
    flat = {v: np.asarray(post[v].values).reshape(-1, *post[v].shape[2:]) for v in post}
    hx = pd.get_dummies(toy.h)[["b", "c"]].to_numpy(float)
    j = [list(post["g"].values).index(s) for s in toy.g]
    eta = (flat["Intercept"][:, None] + flat["b"][:, [0]] * toy.x.to_numpy()
           + flat["b"][:, 1:] @ hx.T + flat["r_g"][:, j, 0])
    slope = comparisons(pois, "x", slope=True, average=True)
    np.testing.assert_allclose(slope.draws[:, 0], (np.exp(eta) * flat["b"][:, [0]]).mean(1),
                               rtol=1e-5)
    ratio = comparisons(pois, {"h": ["a", "c"]}, comparison="ratio", re_form="~0")
    np.testing.assert_allclose(ratio.draws[:, 0], np.exp(flat["b"][:, 2]), rtol=1e-10)


def test_unseen_levels_behave_as_predict(fit: hm.Fit, sleep: pd.DataFrame) -> None:
    with pytest.raises(hm.DataError, match="allow_new_levels"):
        fit.predictions(conditional={"Subject": ["new"], "Days": [2.0]})
    res = fit.predictions(conditional={"Subject": ["new"], "Days": [2.0, 7.0]},
                          allow_new_levels=True, seed=4)
    ref = fit.predict(pd.DataFrame({"Days": [2.0, 7.0], "Sex": ["F", "F"],
                                    "Subject": ["new", "new"]}),
                      allow_new_levels=True, summary=False, seed=4)
    np.testing.assert_allclose(res.draws, ref, rtol=1e-12)  # one new subject, both days


def test_bad_arguments_are_located_errors(fit: hm.Fit) -> None:
    with pytest.raises(hm.DataError, match="did you mean 'Days'"):
        fit.predictions(conditional={"Dayz": [1]})
    with pytest.raises(hm.DataError, match="not numeric"):
        fit.slopes("Sex")
    with pytest.raises(hm.DataError, match="comparison must be"):
        fit.comparisons("Sex", comparison="odds")
    with pytest.raises(hm.DataError, match="kind must be"):
        fit.predictions(kind="mean")
    with pytest.raises(hm.DataError, match="not a predictor"):
        fit.predictions(conditional=["Reaction"])


def test_figures_render(fit: hm.Fit, tmp_path: Path) -> None:
    figures = {
        "curve": fit.predictions(conditional=["Days", "Sex"], re_form="~0"),
        "points": fit.predictions(conditional=["Sex"], average=True),
        "contrast": fit.comparisons({"Sex": ["F", "M"]}, conditional={"Days": [0, 4, 8]}),
        "slopes": fit.slopes("Days", by="Sex", average=True),
        "effects": fit.conditional_effects(),
    }
    assert set(figures["effects"].effects) == {"Days", "Sex"}
    for name, res in figures.items():
        path = res.save(tmp_path / f"{name}.png")
        assert path.stat().st_size > 2000, name


def test_a_variable_named_twice_is_refused(fit: hm.Fit) -> None:
    with pytest.raises(hm.DataError, match="named twice"):
        fit.predictions(conditional=["Sex"], by="Sex", average=True)
    with pytest.raises(hm.DataError, match="is the contrast"):
        fit.comparisons({"Sex": ["F", "M"]}, by="Sex")
