"""Chunked PSIS-LOO equals ArviZ's az.loo on the full log-likelihood matrix, per observation."""

from __future__ import annotations

import importlib
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hiermodel.compare.loo import compare_loo, loo
from hiermodel.model import model
from hiermodel.pointwise import log_likelihood
from hiermodel.results import Fit

pytestmark = pytest.mark.fit

loo_mod = importlib.import_module("hiermodel.compare.loo")

FAST = {"draws": 150, "tune": 200, "chains": 2, "seed": 5}


def _fit(formula: str, data: pd.DataFrame) -> Fit:
    return model(formula, data).fit(**FAST)


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    """Few distinct (group, x) cells with many rows each: the fit is exactly compressed."""
    rng = np.random.default_rng(3)
    g = np.repeat(["a", "b", "c", "d"], 30)
    x = np.tile([False, True], 60)
    u = {"a": -0.4, "b": 0.0, "c": 0.3, "d": 0.6}
    y = 1.0 + 0.5 * x + np.array([u[k] for k in g]) + rng.normal(0, 0.4, g.size)
    y[0] += 4.0  # one influential observation: its k is high, its LOO term differs
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module")
def fit(cells: pd.DataFrame) -> Fit:
    return _fit("y ~ x + (1|g)", cells)


def _direct(fit: Fit) -> az.ELPDData:
    ll = log_likelihood(fit)
    idata = az.InferenceData(
        posterior=fit.idata.posterior,
        log_likelihood=xr.Dataset({"y": (("chain", "draw", "obs"), ll)}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(idata, pointwise=True)


def test_chunked_loo_equals_az_loo(fit: Fit, cells: pd.DataFrame,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = loo_mod.iter_loglik

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        for rows, ll in real(*args, **kwargs):
            seen.append(ll.shape[1])
            yield rows, ll

    monkeypatch.setattr(loo_mod, "iter_loglik", spy)
    ours = loo(fit, chunk=17)
    ref = _direct(fit)
    assert max(seen) <= 17 and sum(seen) == len(cells)  # bounded chunks, every row once
    assert ours["n_data_points"] == len(cells) == ref["n_data_points"]
    assert ours["n_samples"] == ref["n_samples"] == 300
    for key in ("elpd_loo", "se", "p_loo"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-9), key
    np.testing.assert_allclose(ours["loo_i"].values, ref["loo_i"].values, rtol=1e-9)
    np.testing.assert_allclose(ours["pareto_k"].values, ref["pareto_k"].values, rtol=1e-9)
    assert ours["good_k"] == pytest.approx(ref["good_k"])
    # the influential row is the worst-estimated observation
    assert int(np.argmax(ours["pareto_k"].values)) == 0


def test_loo_is_per_observation_even_when_the_fit_is_compressed(fit: Fit,
                                                                cells: pd.DataFrame) -> None:
    info = fit.model.info
    if getattr(info, "cells", None) is None:
        pytest.skip("the build stage did not compress this fit")
    assert info.cells.n_cells == 8 < len(cells)
    assert loo(fit)["n_data_points"] == len(cells)


def test_compare_table_matches_az_compare(fit: Fit, cells: pd.DataFrame) -> None:
    pooled = _fit("y ~ x", cells)
    ours = {"hierarchical": loo(fit, chunk=50), "pooled": loo(pooled, chunk=50)}
    table = compare_loo(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.compare({"hierarchical": _direct(fit), "pooled": _direct(pooled)})
    for v in ("hierarchical", "pooled"):
        for col in ("elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight"):
            assert table.loc[v, col] == pytest.approx(ref.loc[v, col], rel=1e-6, abs=1e-9)
    assert table.index[0] == "hierarchical"
    assert table.loc["hierarchical", "n_k_high"] == int(
        np.sum(ours["hierarchical"]["pareto_k"].values > 0.7))
