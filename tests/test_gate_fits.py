"""The convergence gate on real fits: known-bad fits flagged with advice, a known-good fit passes.

Every fit is seeded (PyMC's draws are then reproducible), so each verdict is the same on every
run; the cases are chosen far from the thresholds (numbers measured with these seeds are in
the comments), so a change of PyMC version that moves the draws still leaves the verdict.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.errors import ConvergenceError, ConvergenceWarning
from hiermodel.posterior.fitted import Fit

SMALL = {"chains": 2, "draws": 300, "tune": 300, "backend": "pymc"}


def status(fit: Fit) -> dict[str, str]:
    table = fit.checks()
    return dict(zip(table["check"], table["status"], strict=True))


@pytest.fixture(scope="module")
def funnel() -> pd.DataFrame:
    """Eight schools, two noisy observations each, almost no between-school variation: the
    centered parametrization is Neal's funnel."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 2)
    y = rng.normal(0, 0.3, 8)[g] + rng.normal(0, 5, g.size)
    return pd.DataFrame({"y": y, "school": [f"s{i}" for i in g]})


@pytest.fixture(scope="module")
def centered_funnel(funnel: pd.DataFrame) -> tuple[Fit, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = hm.fit("y ~ 1 + (1|school)", funnel, parametrization="centered", seed=1, **SMALL)
    return fit, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.fit
def test_centered_funnel_is_flagged_with_advice(centered_funnel: tuple[Fit, list[str]]) -> None:
    fit, messages = centered_funnel
    verdict = status(fit)
    # The centered funnel always diverges. Which other checks fail is chaotic: on one machine
    # min bulk ESS was 58 of the 200 needed, on another (same seed and versions) it passed and
    # R-hat failed, so only the divergences are asserted, and the advice they carry.
    assert verdict["divergences"] == "failed"
    table = fit.checks().set_index("check")
    flip = "switch group 'school' from centered to noncentered"
    assert flip in table.loc["divergences", "advice"]
    assert "raise target_accept from 0.8 to 0.95" in table.loc["divergences", "advice"]
    assert len(messages) == 1 and flip in messages[0]
    text = str(fit.summary())
    assert "-> FAILED" in text and f"\n  what to do:\n  - {flip}" in text


@pytest.mark.fit
def test_remedy_refits_once_with_the_advice(funnel: pd.DataFrame,
                                            centered_funnel: tuple[Fit, list[str]]) -> None:
    with warnings.catch_warnings():
        # the remedied fit may still warn: whether a noncentered 8-group fit has zero
        # divergences or one in thousands of draws depends on the machine's floating point
        # (measured with this seed: none on one machine, 1 in 23,600 draws on another)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = hm.fit("y ~ 1 + (1|school)", funnel, parametrization="centered", seed=1,
                     remedy=True, **SMALL)
    assert fit.remedy["parametrization"] == {"school": "noncentered"}
    assert fit.remedy["target_accept"] == 0.95
    assert fit.model.info.parametrization == {"school": "noncentered"}
    assert fit.sampler["target_accept"] == 0.95
    assert "Remedy: refitted once with" in str(fit.summary())
    # what the advice buys: the funnel's divergences (the centered fit, same data, seed and
    # sampler settings) fall by at least a factor of 4 per draw
    def per_draw(f: Fit) -> float:
        table = f.checks().set_index("check")
        return float(table.loc["divergences", "value"]) / f.idata.posterior.sizes["draw"]

    before = per_draw(centered_funnel[0])
    assert before > 0
    assert per_draw(fit) <= before / 4, (per_draw(fit), before)


@pytest.mark.fit
def test_tiny_data_is_flagged_and_strict_raises() -> None:
    tiny = pd.DataFrame({"y": [0.3, -1.2, 0.8, 2.1], "g": ["a", "a", "b", "b"]})
    with pytest.raises(ConvergenceError) as info:
        hm.fit("y ~ 1 + (1|g)", tiny, seed=1, strict=True, **SMALL)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert message.startswith("the fit of y ~ 1 + (1|g) failed")
    assert "prior-table row 'sd: Intercept|g'" in message  # 2 levels: tighten the SD prior


@pytest.mark.fit
def test_sleepstudy_passes_every_check(sleepstudy: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = hm.fit("Reaction ~ Days + (1|Subject)", sleepstudy, parametrization="centered",
                     seed=1, strict=True, chains=2, draws=1500, tune=500, backend="pymc")
    # measured: max R-hat 1.002, min bulk ESS 2950 of 200, no divergences, E-BFMI 0.99
    assert set(status(fit).values()) == {"ok"}
    assert fit.diagnostics()["ok"]
    assert "-> ok" in str(fit.summary())
