"""hm.loo / hm.loo_compare on FIXED posteriors with a planted log-likelihood (no MCMC)."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.comparison.model_compare import fold_ids
from hiermodel.posterior.fitted import Fit


def _planted(seed: int, shift: float) -> Fit:
    rng = np.random.default_rng(seed)
    ll = rng.normal(-1.0 - shift, 0.3, size=(2, 300, 40))
    idata = az.from_dict(posterior={"mu": rng.normal(size=(2, 300))},
                         log_likelihood={"y": ll})
    return Fit(None, idata, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["stacking", "pseudo-BMA", "BB-pseudo-BMA"])
def test_loo_compare_equals_az_compare(method: str) -> None:
    fits = {"a": _planted(1, 0.0), "b": _planted(2, 0.2), "c": _planted(3, 0.5)}
    ours = hm.loo_compare(fits, method=method, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.compare({k: f.idata for k, f in fits.items()}, ic="loo", method=method,
                         seed=4)
    assert list(ours.index) == list(ref.index) == ["a", "b", "c"]
    for col in ["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse"]:
        np.testing.assert_allclose(ours[col].astype(float), ref[col].astype(float),
                                   rtol=1e-9, atol=1e-12, err_msg=col)
    assert {"n_k_high", "max_k"} <= set(ours.columns)


def test_loo_of_planted_fit_equals_az_loo() -> None:
    fit = _planted(5, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.loo(fit.idata, pointwise=True)
    ours = hm.loo(fit)
    assert ours["elpd_loo"] == pytest.approx(ref["elpd_loo"], rel=1e-12)
    np.testing.assert_allclose(ours["loo_i"].values, ref["loo_i"].values)


def test_loo_compare_refuses_different_data_and_one_fit() -> None:
    with pytest.raises(hm.CompareError, match="at least two"):
        hm.loo_compare({"a": _planted(1, 0.0)})


def test_fold_ids_random_stratified_grouped() -> None:
    labels = np.repeat(np.array(list("abcdef")), [5, 5, 5, 5, 10, 10])
    rnd = fold_ids(labels.size, 4, None, None, seed=1)
    assert sorted(np.bincount(rnd)) == [10, 10, 10, 10]
    strat = fold_ids(labels.size, 5, labels, "stratified", seed=1)
    for lv in "abcdef":  # every level spread evenly over the folds
        counts = np.bincount(strat[labels == lv], minlength=5)
        assert counts.max() - counts.min() <= 1
    grouped = fold_ids(labels.size, 3, labels, None, seed=1)
    for lv in "abcdef":  # whole levels held out together
        assert len(set(grouped[labels == lv])) == 1
    assert len(set(grouped)) == 3
    sizes = pd.Series(grouped).value_counts()
    assert sizes.max() - sizes.min() <= 10


@pytest.mark.fit
def test_reloo_replaces_the_high_k_point_by_the_exact_refit() -> None:
    from scipy.special import logsumexp

    from hiermodel.comparison.model_compare import held_out_loglik, reloo_elpd
    from hiermodel.posterior.refit import refit_on

    rng = np.random.default_rng(7)
    df = pd.DataFrame({"x": rng.normal(size=30)})
    df["y"] = 1 + 0.5 * df.x + rng.normal(0, 0.5, 30)
    df.loc[0, "y"] += 8.0  # the planted outlier
    fit = hm.fit("y ~ x", df, draws=150, tune=150, chains=2, seed=1)
    psis_loo = hm.loo(fit)
    k = psis_loo["pareto_k"].values
    assert int(np.argmax(k)) == 0
    out = reloo_elpd(fit, psis_loo, k_threshold=float(np.sort(k)[-2]))  # only the outlier
    assert out.attrs["reloo"] == [0]
    exact = refit_on(fit, df.iloc[1:])
    ll = held_out_loglik(exact, df.iloc[[0]], fit.model.design.y[[0]], None, None)
    assert out["loo_i"].values[0] == pytest.approx(logsumexp(ll[:, 0]) - np.log(ll.shape[0]),
                                                   rel=1e-12)
    np.testing.assert_array_equal(out["loo_i"].values[1:], psis_loo["loo_i"].values[1:])
    assert out["elpd_loo"] == pytest.approx(out["loo_i"].values.sum())
