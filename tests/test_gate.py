"""The convergence gate on hand-built posteriors: exact thresholds, advice, remedy, errors.

No MCMC: every InferenceData here is made from seeded NumPy draws, and the threshold tests
replace the computed R-hat / ESS / E-BFMI by exact numbers, so boundaries are tested exactly.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.errors import ConvergenceError, HiermodelError
from hiermodel.posterior import diagnostics as gate
from hiermodel.posterior.diagnostics import (
    GateContext,
    checks,
    ebfmi,
    failed,
    failure_lines,
    passed,
    remedy_changes,
    tighter_prior,
)
from hiermodel.priors import Prior
from hiermodel.priors.table import PriorRow


def idata(chains: int = 4, draws: int = 500, seed: int = 0, offset: float = 0.0,
          divergent: int = 0, at_max_depth: int = 0, stats: bool = True) -> az.InferenceData:
    """iid normal draws for Intercept, b[Days] and sd_school[Intercept]; ``offset`` shifts
    b's chains apart (a non-converged chain); ``divergent`` / ``at_max_depth`` mark that many
    transitions."""
    rng = np.random.default_rng(seed)
    shift = offset * np.arange(chains)[:, None, None]
    posterior = {
        "Intercept": rng.normal(size=(chains, draws)),
        "b": rng.normal(size=(chains, draws, 1)) + shift,
        "sd_school": np.abs(rng.normal(size=(chains, draws, 1))) + 1.0,
    }
    dims = {"b": ["coef"], "sd_school": ["school__term"]}
    coords = {"coef": ["Days"], "school__term": ["Intercept"]}
    if not stats:
        return az.from_dict(posterior=posterior, dims=dims, coords=coords)
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging.flat[:divergent] = True
    depth = np.zeros((chains, draws), dtype=bool)
    depth.flat[:at_max_depth] = True
    sample_stats = {"diverging": diverging, "reached_max_treedepth": depth,
                    "energy": rng.normal(size=(chains, draws))}
    return az.from_dict(posterior=posterior, sample_stats=sample_stats, dims=dims,
                        coords=coords)


def row(table: pd.DataFrame, check: str) -> pd.Series:
    return table.set_index("check").loc[check]


CONTEXT = GateContext(
    target_accept=0.9, draws=1000, tune=1000, groups={"school": "school"},
    parametrization={"school": "centered"},
    sd_priors={"school": (PriorRow("sd", "Intercept", "school",
                                   Prior("HalfNormal", (("sigma", 2.0),)), "template:x"),)},
    levels={"school": 8},
)


def test_iid_draws_pass_every_check() -> None:
    table = checks(idata())
    assert list(table.columns) == ["check", "status", "value", "threshold", "parameters",
                                   "advice"]
    assert list(table["check"]) == ["max R-hat", "min bulk ESS", "min tail ESS", "divergences",
                                    "tree depth", "min E-BFMI"]
    assert (table["status"] == "ok").all(), table
    assert passed(table)
    assert row(table, "min bulk ESS")["threshold"] == 400  # 100 per chain x 4 chains
    assert failure_lines(table) == []


def test_failure_lines_list_each_suggestion_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "parameter_table", lambda _: exact_params(1.0, 200.0, 300.0))
    lines = failure_lines(checks(idata(), CONTEXT))
    assert lines[:3] == ["min bulk ESS 200 (needs >= 400; sd_school[Intercept])",
                         "min tail ESS 300 (needs >= 400; sd_school[Intercept])", "what to do:"]
    flip = [line for line in lines if "switch group 'school'" in line]
    assert len(flip) == 1  # advised by both checks, listed once
    # bulk ESS asks for 2400 draws, tail ESS for 1600: the larger number, once
    assert "- more draws (draws=2400)" in lines and "- more draws (draws=1600)" not in lines


def test_chains_apart_fail_rhat_and_name_the_parameter() -> None:
    table = checks(idata(offset=3.0))
    r = row(table, "max R-hat")
    assert r["status"] == "failed"
    assert r["value"] > 1.5  # chains 3 SDs apart: R-hat near 4, far from 1.01
    assert r["parameters"] == "b[Days]"
    assert row(table, "divergences")["status"] == "ok"


def test_divergences_tree_depth_counted_exactly() -> None:
    table = checks(idata(divergent=1, at_max_depth=3))
    assert row(table, "divergences")[["status", "value"]].tolist() == ["failed", 1.0]
    assert row(table, "tree depth")[["status", "value"]].tolist() == ["failed", 3.0]
    ok = checks(idata(divergent=0, at_max_depth=0))
    assert row(ok, "divergences")["status"] == "ok"
    assert row(ok, "tree depth")["status"] == "ok"


def test_ebfmi_matches_arviz() -> None:
    data = idata(seed=3)
    np.testing.assert_allclose(ebfmi(data.sample_stats["energy"].values), az.bfmi(data),
                               rtol=1e-12)


def exact_params(rhat: float, bulk: float, tail: float) -> pd.DataFrame:
    return pd.DataFrame({"parameter": ["sd_school[Intercept]", "b[Days]"],
                         "variable": ["sd_school", "b"], "rhat": [rhat, 1.0],
                         "ess_bulk": [bulk, 5000.0], "ess_tail": [tail, 5000.0]})


@pytest.mark.parametrize(("rhat", "bulk", "tail", "expect"), [
    (1.01, 400.0, 400.0, {"max R-hat": "ok", "min bulk ESS": "ok", "min tail ESS": "ok"}),
    (1.0101, 399.9, 399.9,
     {"max R-hat": "failed", "min bulk ESS": "failed", "min tail ESS": "failed"}),
    (1.0, 400.0, 399.0, {"max R-hat": "ok", "min bulk ESS": "ok", "min tail ESS": "failed"}),
])
def test_rhat_and_ess_thresholds_exact(monkeypatch: pytest.MonkeyPatch, rhat: float,
                                       bulk: float, tail: float, expect: dict[str, str]) -> None:
    monkeypatch.setattr(gate, "parameter_table", lambda _: exact_params(rhat, bulk, tail))
    table = checks(idata())  # 4 chains: ESS needs >= 400
    got = {c: row(table, c)["status"] for c in expect}
    assert got == expect
    for check, status in expect.items():
        if status == "failed":
            assert row(table, check)["parameters"] == "sd_school[Intercept]"


@pytest.mark.parametrize(("value", "status"), [(0.2, "ok"), (0.19999, "failed")])
def test_ebfmi_threshold_exact(monkeypatch: pytest.MonkeyPatch, value: float,
                               status: str) -> None:
    monkeypatch.setattr(gate, "ebfmi", lambda e: np.array([0.9, value, 0.5, 0.7]))
    r = row(checks(idata()), "min E-BFMI")
    assert (r["status"], r["value"]) == (status, value)
    assert r["parameters"] == ("chain 1" if status == "failed" else "")


def test_skipped_checks_do_not_fail() -> None:
    table = checks(idata(chains=1, stats=False))
    statuses = dict(zip(table["check"], table["status"], strict=True))
    assert statuses == {"max R-hat": "skipped", "min bulk ESS": "ok", "min tail ESS": "ok",
                        "divergences": "skipped", "tree depth": "skipped",
                        "min E-BFMI": "skipped"}
    assert row(table, "max R-hat")["advice"] == "R-hat needs at least 2 chains"
    assert row(table, "min bulk ESS")["threshold"] == 100
    assert passed(table)


def test_divergence_advice_for_a_centered_group() -> None:
    table = checks(idata(divergent=2), CONTEXT)
    advice = row(table, "divergences")["advice"]
    assert advice == ("switch group 'school' from centered to noncentered "
                      "(parametrization={\"school\": \"noncentered\"}); "
                      "raise target_accept from 0.9 to 0.95")


def test_divergence_advice_for_noncentered_group_names_the_prior_row() -> None:
    context = GateContext(**{**CONTEXT.__dict__, "parametrization": {"school": "noncentered"},
                             "target_accept": 0.99})
    advice = row(checks(idata(divergent=2), context), "divergences")["advice"]
    assert advice == ("a tighter prior on the SD of 'school' (8 levels carry little "
                      "information about it): prior-table row 'sd: Intercept|school' is "
                      "HalfNormal(sigma=2), e.g. priors=[hm.set_prior(\"HalfNormal(sigma=1)\""
                      ", \"sd\", group=\"school\")]")


def test_ess_advice_names_draws_and_the_flagged_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "parameter_table", lambda _: exact_params(1.0, 200.0, 5000.0))
    r = row(checks(idata(), CONTEXT), "min bulk ESS")
    assert r["status"] == "failed"
    # draws 1000 x (400 / 200) x 1.2 margin, rounded up to hundreds
    assert "more draws (draws=2400)" in r["advice"]
    assert "switch group 'school' from centered to noncentered" in r["advice"]
    assert "prior-table row 'sd: Intercept|school'" in r["advice"]  # 8 levels < 10


def test_remedy_changes_apply_the_advice_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert remedy_changes(checks(idata(), CONTEXT), CONTEXT) == {}  # nothing failed
    monkeypatch.setattr(gate, "parameter_table", lambda _: exact_params(1.0, 200.0, 5000.0))
    table = checks(idata(divergent=1), CONTEXT)
    assert remedy_changes(table, CONTEXT) == {
        "draws": 2400, "target_accept": 0.95, "parametrization": {"school": "noncentered"},
        "tune": 2000}


def test_tighter_prior_halves_the_scale_and_parses() -> None:
    row_ = CONTEXT.sd_priors["school"][0]
    assert tighter_prior(row_) == Prior("HalfNormal", (("sigma", 1.0),))
    exp = PriorRow("sd", "Intercept", "g", Prior("Exponential", (("lam", 0.5),)), "auto")
    tighter = tighter_prior(exp)
    assert tighter == Prior("Exponential", (("lam", 1.0),))
    assert hm.set_prior(str(tighter), "sd", group="g").prior == tighter


def test_convergence_error_lists_failures() -> None:
    table = checks(idata(divergent=2), CONTEXT)
    err = gate.convergence_error(table, "the fit of y ~ (1|school)")
    assert isinstance(err, HiermodelError) and isinstance(err, ConvergenceError)
    assert err.exit_code == 2
    assert str(err).startswith("the fit of y ~ (1|school) failed 1 convergence check(s)")
    assert str(err).endswith("\n  divergences 2 (needs = 0)\n  what to do:\n"
                             "  - switch group 'school' from centered to noncentered "
                             "(parametrization={\"school\": \"noncentered\"})\n"
                             "  - raise target_accept from 0.9 to 0.95")
    assert len(failed(table)) == 1


@pytest.mark.parametrize(("rows", "advice_has_flip"), [(10.0, True), (2.0, False)])
def test_centering_is_advised_only_with_data_per_level(monkeypatch: pytest.MonkeyPatch,
                                                       rows: float,
                                                       advice_has_flip: bool) -> None:
    monkeypatch.setattr(gate, "parameter_table", lambda _: exact_params(1.05, 5000.0, 5000.0))
    context = GateContext(**{**CONTEXT.__dict__, "parametrization": {"school": "noncentered"},
                             "levels": {"school": 30}, "rows_per_level": {"school": rows}})
    table = checks(idata(), context)
    advice = row(table, "max R-hat")["advice"]
    flip = "switch group 'school' from noncentered to centered"
    assert (flip in advice) is advice_has_flip
    # without a sound flip, the SD prior is what to change (named by its prior-table row)
    assert ("prior-table row 'sd: Intercept|school'" in advice) is not advice_has_flip
    changes = remedy_changes(table, context)
    assert ("parametrization" in changes) is advice_has_flip


class _Checked:
    """What the gate reads of a fit without remedy: its formula and its checks table."""

    formula = "y ~ (1|school)"

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table

    def checks(self) -> pd.DataFrame:
        return self.table


def test_gate_warns_or_raises_after_a_failed_fit_and_passes_a_good_one() -> None:
    from hiermodel.errors import ConvergenceWarning
    from hiermodel.posterior.refit import gated

    good = _Checked(checks(idata(), CONTEXT))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert gated(good, strict=True) is good  # type: ignore[arg-type]
    bad = _Checked(checks(idata(divergent=2), CONTEXT))
    with pytest.warns(ConvergenceWarning, match=r"the fit of y ~ \(1\|school\) failed 1 "
                      r"convergence check") as caught:
        assert gated(bad) is bad  # type: ignore[arg-type]
    assert "raise target_accept from 0.9 to 0.95" in str(caught[0].message)
    with pytest.raises(ConvergenceError, match="divergences 2"):
        gated(bad, strict=True)  # type: ignore[arg-type]
