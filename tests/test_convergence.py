"""The vectorised R-hat / ESS / HDI (posterior/convergence.py, posterior/stats.py) give ArviZ's
numbers: the convergence gate and every summary table rely on them."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

from hiermodel.posterior.convergence import rhat_ess
from hiermodel.posterior.stats import summarize


def _draws(chains: int = 4, draws: int = 400, seed: int = 0) -> np.ndarray:
    """Awkward columns: autocorrelated, a random walk (R-hat far above 1), ties, a 0/1
    column, a constant, a NaN draw, and plain noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(chains, draws, 12)).cumsum(axis=1) * 0.05 + rng.normal(
        size=(chains, draws, 12))
    x[..., 0] = np.round(x[..., 0])
    x[..., 1] = rng.integers(0, 2, size=(chains, draws))
    x[..., 2] = 1.5
    x[..., 3] = np.cumsum(rng.normal(size=(chains, draws)), axis=1)
    x[..., 4] = np.where(rng.random((chains, draws)) < 0.9, 0.0, rng.normal(size=(chains, draws)))
    x[0, draws // 2, 5] = np.nan
    x[..., 6] = np.arange(chains)[:, None] + 0.01 * rng.normal(size=(chains, draws))
    return x


def _arviz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ds = xr.Dataset({"v": (("chain", "draw", "p"), x)})
    return (az.rhat(ds)["v"].values, az.ess(ds, method="bulk")["v"].values,
            az.ess(ds, method="tail")["v"].values)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("chains,draws", [(4, 400), (1, 400), (2, 7), (3, 3), (4, 401)])
def test_rhat_and_ess_equal_arviz(chains: int, draws: int) -> None:
    """Exact same estimators (to rounding): rank-normalised split R-hat, bulk and tail ESS,
    including NaN where ArviZ gives NaN (one chain for R-hat, a NaN draw, < 4 draws)."""
    x = _draws(chains, draws)
    for got, want in zip(rhat_ess(x), _arviz(x), strict=True):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-10)
    if chains == 4 and draws == 400:
        r, bulk, _ = rhat_ess(x)
        assert r[3] > 1.1 and r[6] > 2  # the random walk and the separated chains are flagged
        assert bulk[2] == chains * draws  # a constant column: ArviZ's convention


def test_rhat_and_ess_in_blocks_equal_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import hiermodel.posterior.convergence as conv

    x = _draws()
    whole = rhat_ess(x)
    monkeypatch.setattr(conv, "BLOCK", 5)
    for a, b in zip(whole, rhat_ess(x), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_summaries_equal_arviz_column_by_column() -> None:
    x = _draws()
    table = summarize(x, prob=0.9)
    for j in range(x.shape[2]):
        col = x[:, :, j]
        flat = col.reshape(-1)
        row = table.iloc[j]
        np.testing.assert_allclose(row["mean"], flat.mean())
        if not (np.all(np.isfinite(flat)) and np.ptp(flat) > 0):
            assert np.isnan(row["r_hat"]) and np.isnan(row["ess_bulk"])
            assert row["hdi_low"] == row["hdi_high"] == flat[0]
            continue
        low, high = az.hdi(flat, hdi_prob=0.9)
        assert (row["hdi_low"], row["hdi_high"]) == (low, high)
        np.testing.assert_allclose(row["r_hat"], float(az.rhat(col)), rtol=1e-10)
        np.testing.assert_allclose(row["ess_bulk"], float(az.ess(col, method="bulk")),
                                   rtol=1e-10)
