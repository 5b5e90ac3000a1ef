"""pp_check numbers equal direct computations from fixed replicated draws; figures render."""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from hiermodel.posterior.ppc import check

RNG = np.random.default_rng(11)
Y = RNG.normal(size=60)
YREP = RNG.normal(size=(200, 60)) * 1.1
LABELS = np.repeat(np.array(["a", "b", "c"]), 20)


def test_stat_per_draw_and_p_value() -> None:
    res = check("stat", Y, YREP, stat="sd")
    t = YREP.std(axis=1, ddof=1)
    np.testing.assert_allclose(res.stat_draws.iloc[:, 0], t)
    assert res.table["observed"].iloc[0] == pytest.approx(Y.std(ddof=1))
    assert res.p_value == pytest.approx(np.mean(t >= Y.std(ddof=1)))


def test_grouped_stat_is_per_level() -> None:
    res = check("stat", Y, YREP, stat="mean", labels=LABELS, group="g")
    for lv in "abc":
        m = lv == LABELS
        np.testing.assert_allclose(res.stat_draws[lv], YREP[:, m].mean(axis=1))
        assert res.p_value[lv] == pytest.approx(np.mean(YREP[:, m].mean(1) >= Y[m].mean()))


def test_hist_and_bars_counts() -> None:
    res = check("hist", Y, YREP, bins=8)
    edges = res.edges
    np.testing.assert_array_equal(res.table["observed"], np.histogram(Y, edges)[0])
    rep = np.stack([np.histogram(r, edges)[0] for r in YREP])
    np.testing.assert_allclose(res.table["rep_mean"], rep.mean(0))
    assert rep.sum(axis=1).tolist() == [60] * 200  # every replicated value is in a bin
    yc = RNG.poisson(2, 50).astype(float)
    rc = RNG.poisson(2, (100, 50)).astype(float)
    bars = check("bars", yc, rc)
    for _, row in bars.table.iterrows():
        assert row["observed"] == np.sum(yc == row["value"])
        assert row["rep_mean"] == pytest.approx(np.mean(np.sum(rc == row["value"], axis=1)))


def test_loo_pit_equals_arviz_for_continuous() -> None:
    lw = RNG.normal(size=(60, 200))
    lw -= np.logaddexp.reduce(lw, axis=1, keepdims=True)
    res = check("loo_pit", Y, YREP, log_weights=lw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.loo_pit(y=Y, y_hat=YREP.T, log_weights=lw)
    np.testing.assert_allclose(res.pit, ref, rtol=1e-9)


@pytest.mark.parametrize("kind", ["density", "ecdf", "hist", "stat", "loo_pit"])
def test_figures_render(kind: str, tmp_path: Path) -> None:
    lw = np.full((60, 200), -np.log(200))
    res = check(kind, Y, YREP, labels=LABELS if kind == "stat" else None,
                group="g" if kind == "stat" else None, log_weights=lw)
    path = res.save(tmp_path / f"{kind}.png")
    assert path.stat().st_size > 2000
