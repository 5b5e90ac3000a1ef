"""A seed fixes the draws, for every backend the statistical tests rely on: two fits with the
same seed give identical posteriors (PyMC with its worker processes, nutpie with its threads),
so every seeded statistical test gives the same verdict on every run of a checkout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm

pytestmark = pytest.mark.fit


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    n = 1200
    g = rng.integers(0, 6, n)
    x = rng.normal(size=n)
    return pd.DataFrame({"y": 1 + 0.5 * x + rng.normal(0, 0.5, 6)[g] + rng.normal(size=n),
                         "x": x, "g": [f"g{i}" for i in g]})


@pytest.mark.parametrize("backend", ["pymc", "nutpie"])
def test_same_seed_same_draws(data: pd.DataFrame, backend: str) -> None:
    kw = {"draws": 100, "tune": 100, "chains": 2, "backend": backend,
          "compress": False}  # uncompressed: 1,200 likelihood rows
    first = hm.fit("y ~ x + (1|g)", data, seed=3, **kw)
    again = hm.fit("y ~ x + (1|g)", data, seed=3, **kw)
    other = hm.fit("y ~ x + (1|g)", data, seed=4, **kw)
    assert first.sampler["backend"] == backend  # chains in parallel: cores = min(chains, 2)
    for name in ("Intercept", "b", "sd_g", "sigma", "r_g"):
        np.testing.assert_array_equal(first.draws(name), again.draws(name))
    assert not np.array_equal(first.draws("b"), other.draws("b"))
