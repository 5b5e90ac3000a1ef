"""Exact compression gives the same posterior as the full likelihood, within Monte Carlo error.

tests/test_build.py checks that the compressed log-density equals the full one at fixed points;
here the two models are actually sampled (same data, same seed) and every population-level
effect, group-level SD and sigma must agree within Monte Carlo error: |difference| /
sqrt(mcse_compressed^2 + mcse_full^2) below the Bonferroni bound of tests/mcse.py for the k
quantities compared (3.95 for k = 3, 4.03 for k = 4), so a correct compression fails with
probability < 1/1000 per test. The draws are reproducible (fixed seed, backend='pymc' for both
fits: a given checkout always gives the same verdict). An earlier limit of 3.0 for 3-4
quantities had a false-failure rate of ~1 % per test and failed once in CI at 3.03.
The compressed fit must also say so in its summary.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.posterior.fitted import Fit
from tests.mcse import z_limit, z_scores

pytestmark = pytest.mark.fit

FORMULA = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)"
# backend="pymc" for both fits: "auto" would sample the full bernoulli likelihood (2,000 rows)
# with nutpie and the compressed one with PyMC, two different samplers (and seeds)
SAMPLER = {"draws": 500, "tune": 500, "chains": 2, "seed": 7, "backend": "pymc"}


def _scalar_draws(fit: Fit) -> dict[str, np.ndarray]:
    """(chain, draw) arrays of every fixed effect, group-level SD and sigma, by name."""
    post = fit.idata.posterior
    out: dict[str, np.ndarray] = {}
    for name in ("Intercept", "sigma"):
        if name in post:
            out[name] = np.asarray(post[name].values)
    design = fit.model.design
    if design.x_names:
        b = np.asarray(post["b"].values)
        for j, term in enumerate(design.x_names):
            out[f"b[{term}]"] = b[..., j]
    for var in post.data_vars:
        if str(var).startswith("sd_"):
            sd = np.asarray(post[var].values)
            for k in range(sd.shape[-1]):
                out[f"{var}[{k}]"] = sd[..., k]
    return out


def _assert_same_posterior(compressed: Fit, full: Fit) -> None:
    a, b = _scalar_draws(compressed), _scalar_draws(full)
    assert a.keys() == b.keys() and len(a) >= 3
    report = [(name, float(z_scores(a[name], b[name])[0])) for name in a]
    worst = max(report, key=lambda t: t[1])
    limit = z_limit(len(report))
    assert worst[1] <= limit, (
        f"{worst[0]}: |mean difference| = {worst[1]:.2f} combined MCSE > {limit:.2f} "
        f"(all: {', '.join(f'{n} {z:.2f}' for n, z in report)})"
    )


def _fit(formula: str, data: pd.DataFrame, compress: bool, **kw: object) -> Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hm.fit(formula, data, compress=compress, **SAMPLER, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def maize() -> pd.DataFrame:
    return hm.datasets.maize_yield(n=5000, seed=2)


@pytest.fixture(scope="module")
def gaussian_fits(maize: pd.DataFrame) -> tuple[Fit, Fit]:
    return _fit(FORMULA, maize, True), _fit(FORMULA, maize, False)


def test_gaussian_compressed_posterior_matches_full(gaussian_fits: tuple[Fit, Fit]) -> None:
    compressed, full = gaussian_fits
    assert compressed.model.info.compressed and not full.model.info.compressed
    # the same sampler settings and the same parametrization, only the likelihood differs
    assert compressed.model.info.parametrization == full.model.info.parametrization
    _assert_same_posterior(compressed, full)


def test_compressed_fit_reports_compression(gaussian_fits: tuple[Fit, Fit],
                                            maize: pd.DataFrame) -> None:
    compressed, full = gaussian_fits
    cells = compressed.model.info.cells
    assert cells is not None
    # 30 counties x hybrid yes/no: at most 60 distinct design rows
    expected = maize.groupby(["county", "used_hybrid_seeds"], observed=True).ngroups
    assert cells.n_cells == expected <= 60
    assert int(cells.count.sum()) == len(maize) == 5000
    text = str(compressed.summary())
    match = re.search(r"Compression: exact, (\d+) rows -> (\d+) cells", text)
    assert match, text
    assert (int(match.group(1)), int(match.group(2))) == (5000, cells.n_cells)
    assert "Compression:" not in str(full.summary())


def test_bernoulli_compressed_posterior_matches_full(maize: pd.DataFrame) -> None:
    """Repeated 0/1 rows aggregate to successes/trials per cell: same posterior."""
    df = maize.iloc[:2000].copy()
    df["good"] = (df["maize_yield"] > df["maize_yield"].median()).astype(int)
    formula = "good ~ used_hybrid_seeds + (1|county)"
    compressed = _fit(formula, df, True, family="bernoulli")
    full = _fit(formula, df, False, family="bernoulli")
    assert compressed.model.info.compressed and not full.model.info.compressed
    assert compressed.model.info.cells is not None
    assert compressed.model.info.cells.n_cells <= 60
    _assert_same_posterior(compressed, full)
