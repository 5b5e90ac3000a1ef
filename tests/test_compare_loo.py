"""Chunked PSIS-LOO equals ArviZ's az.loo on the full log-likelihood matrix, per observation.

Also: the vectorized Pareto smoothing equals az.psislw row by row (no MCMC), and computing
identical observations once (same compressed cell and response) changes nothing.
"""

from __future__ import annotations

import importlib
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hiermodel.comparison.loo import compare_loo, distinct_rows, loo, psis
from hiermodel.errors import DataError
from hiermodel.models import model
from hiermodel.posterior.fitted import Fit
from hiermodel.posterior.loglik import chunk_rows, log_likelihood

loo_mod = importlib.import_module("hiermodel.comparison.loo")


@pytest.mark.parametrize(("draws", "chunk", "rows"), [
    (4000, None, 1000),      # 32 MB budget: 1,000 rows x 4,000 draws x 8 bytes
    (500, None, 8000),
    (10**7, None, 100),      # never fewer than 100 rows per chunk
    (4000, 17, 17),          # an explicit chunk wins
])
def test_chunk_rows_follow_a_byte_budget(draws: int, chunk: int | None, rows: int) -> None:
    assert chunk_rows(draws, chunk) == rows


def test_chunk_rows_rejects_empty_chunks() -> None:
    with pytest.raises(DataError, match=r"chunk must be >= 1 row \(got 0\)"):
        chunk_rows(1000, 0)

FAST = {"draws": 150, "tune": 200, "chains": 2, "seed": 5}


def _fit(formula: str, data: pd.DataFrame) -> Fit:
    return model(formula, data).fit(**FAST)


@pytest.mark.parametrize(("draws", "reff"), [(1000, 0.8), (400, 1.0), (3000, 0.35), (40, 1.0),
                                            (12, 1.0)])
def test_vectorized_psis_equals_arviz(draws: int, reff: float) -> None:
    rng = np.random.default_rng(draws)
    lr = rng.standard_t(3, size=(60, draws)) * rng.uniform(0.1, 4, size=(60, 1))
    lr[0] = 0.0  # constant: no tail to fit
    lr[1] = np.round(lr[1])  # ties at the cutoff: ArviZ's own path
    lr[2, :5] = 60.0  # a few huge ratios: k > 0.7
    lr[3] = np.where(rng.random(draws) < 0.5, -2000.0, 0.0)  # underflow below the cutoff
    lw, k = psis(lr, reff)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_lw, ref_k = az.psislw(lr, reff)
    finite = np.isfinite(ref_k)
    np.testing.assert_array_equal(np.isfinite(k), finite)
    np.testing.assert_allclose(k[finite], ref_k[finite], rtol=1e-10, atol=1e-12)
    # the LOO term of every row (which draw of a tie gets which smoothed weight is immaterial)
    lp = -lr
    ours = np.logaddexp.reduce(lw + lp, axis=1)
    ref = np.logaddexp.reduce(ref_lw + lp, axis=1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)
    if finite.any():  # with 12 draws every tail is too short to fit (k = inf, like ArviZ)
        assert int(np.argmax(np.where(finite, k, -np.inf))) == 2


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


@pytest.mark.fit
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


@pytest.mark.fit
def test_loo_is_per_observation_even_when_the_fit_is_compressed(fit: Fit,
                                                                cells: pd.DataFrame) -> None:
    info = fit.model.info
    if getattr(info, "cells", None) is None:
        pytest.skip("the build stage did not compress this fit")
    assert info.cells.n_cells == 8 < len(cells)
    assert loo(fit)["n_data_points"] == len(cells)


@pytest.mark.fit
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


@pytest.mark.fit
def test_identical_observations_are_computed_once_with_the_same_result() -> None:
    """Discrete responses (like bags of maize) repeat within a cell: each distinct (cell, y)
    pair is smoothed once and its LOO term copied to every row that has it."""
    rng = np.random.default_rng(8)
    g = np.repeat(["a", "b", "c"], 60)
    x = np.tile([False, True], 90)
    y = np.round(2 * (1.0 + 0.5 * x + rng.normal(0, 0.5, g.size))) / 2  # halves: many repeats
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    f = _fit("y ~ x + (1|g)", data)
    assert f.model.info.cells is not None
    first, codes = distinct_rows(f)
    assert len(first) < len(data) / 3
    assert (y[first][codes] == y).all()  # every row maps to a representative with its y
    ours = loo(f, chunk=7)
    assert ours.attrs["distinct_rows"] == len(first)
    ref = _direct(f)
    assert ours["n_data_points"] == len(data)
    for key in ("elpd_loo", "se", "p_loo"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-9), key
    np.testing.assert_allclose(ours["loo_i"].values, ref["loo_i"].values, rtol=1e-9)
    np.testing.assert_allclose(ours["pareto_k"].values, ref["pareto_k"].values, rtol=1e-9)
    full = loo(f, dedupe=False)
    np.testing.assert_allclose(full["loo_i"].values, ours["loo_i"].values, rtol=1e-12)
