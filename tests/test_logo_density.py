"""A held-out group's log predictive density (comparison/logo.py ``held_out_density``) on
fixed posteriors, no MCMC: it computes each distinct predictor row's linear predictor once
and uses hiermodel's own normal log-density and logsumexp, and must equal the brute-force
computation (every row's draws, scipy's densities) to rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import hiermodel as hm
from hiermodel.comparison.logo import NewGroupPredictor, held_out_density
from hiermodel.posterior.prediction import auxiliary_draws, linear_predictor
from tests.helpers import fixed_fit


def _data(seed: int = 0) -> pd.DataFrame:
    """Few distinct predictor rows per group (x in {0, 1, 2}, two levels of h), shuffled."""
    rng = np.random.default_rng(seed)
    n = 300
    g = rng.integers(0, 6, n)
    x = rng.integers(0, 3, n).astype(float)
    h = rng.choice(["a", "b"], n)
    eta = 0.5 + 0.4 * x + (h == "b") + rng.normal(0, 0.5, 6)[g]
    y = eta + rng.normal(0, 0.7, n)
    return pd.DataFrame({"y": y, "x": x, "h": h, "g": [f"g{i}" for i in g],
                         "c": rng.poisson(np.exp(eta / 3)), "yr": np.round(y),
                         "w": rng.integers(1, 4, n).astype(float)})


def _brute_force(fit, rows: pd.DataFrame, y: np.ndarray, kind: str, seed: int,
                 weights: np.ndarray | None = None) -> tuple:
    if kind == "pooled":
        eta = linear_predictor(fit, rows)
    else:
        eta = linear_predictor(fit, rows, allow_new_levels=True, new_levels="sample", seed=seed)
    aux = auxiliary_draws(fit)
    if fit.model.family.name == "gaussian":
        ll = stats.norm.logpdf(y, eta, aux["sigma"])
    else:
        ll = stats.poisson.logpmf(y, np.exp(eta))
    if weights is not None:
        ll = ll * weights
    s = ll.shape[0]
    joint = special.logsumexp(ll.sum(axis=1)) - np.log(s)
    pointwise = np.sum(special.logsumexp(ll, axis=0) - np.log(s))
    return joint, pointwise


@pytest.mark.parametrize(("formula", "family", "kind"), [
    ("y ~ x + h + (1|g)", "gaussian", "hierarchical"),
    ("y ~ x + h", "gaussian", "pooled"),
    ("c ~ x + (x|g)", "poisson", "hierarchical"),
    ("yr ~ x + h + (1|g)", "gaussian", "hierarchical"),
])
@pytest.mark.parametrize("chunk", [7, None])
def test_held_out_density_equals_the_brute_force_sum(formula, family, kind, chunk) -> None:
    df = _data()
    held = "g3"
    train = df[df["g"] != held].reset_index(drop=True)
    fit = fixed_fit(hm.model(formula, train, family=family), seed=4, b_mean=0.3, b_sd=0.1)
    predictor = NewGroupPredictor(fit, ("g",), train, seed=0)
    assert predictor.kind == kind
    rows = df[df["g"] == held]
    y = rows[formula.split(" ~")[0]].to_numpy(dtype=float)
    assert len(rows.drop_duplicates(["x", "h"])) < len(rows) / 5  # the dedupe has work to do
    got = held_out_density(predictor, rows, y, None, group_seed=17, chunk=chunk)
    joint, pointwise = _brute_force(fit, rows, y, kind, seed=17)
    assert got["n"] == len(rows)
    assert got["elpd_joint"] == pytest.approx(joint, rel=1e-10)
    assert got["elpd_pointwise"] == pytest.approx(pointwise, rel=1e-10)
    response = formula.split(" ~")[0]
    if response in ("c", "yr"):  # counts and rounded y: whole rows repeat (dedupe has work)
        assert len(rows.drop_duplicates(["x", "h", response])) < 0.7 * len(rows)
    # observation weights multiply each row's log density (equal rows need equal weights)
    w = rows["w"].to_numpy()
    got = held_out_density(predictor, rows, y, None, group_seed=17, chunk=chunk, weights=w)
    joint, pointwise = _brute_force(fit, rows, y, kind, seed=17, weights=w)
    assert got["elpd_joint"] == pytest.approx(joint, rel=1e-10)
    assert got["elpd_pointwise"] == pytest.approx(pointwise, rel=1e-10)


def test_a_formula_for_sigma_is_refused_with_a_compare_error() -> None:
    df = _data()
    train = df[df["g"] != "g3"].reset_index(drop=True)
    fit = fixed_fit(hm.model("y ~ x + (1|g)", train, sigma="~ x"), seed=1)
    with pytest.raises(hm.errors.CompareError, match="auxiliary parameter"):
        NewGroupPredictor(fit, ("g",), train, seed=0)
