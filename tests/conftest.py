"""Shared fixtures: small datasets and tiny sampler settings for the fit tier."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import hiermodel as hm


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    return hm.datasets.sleepstudy()


@pytest.fixture(scope="session")
def radon() -> pd.DataFrame:
    return hm.datasets.radon()


@pytest.fixture(scope="session")
def maize_small() -> pd.DataFrame:
    return hm.datasets.maize_yield(seed=1, n=4000)


@pytest.fixture()
def toy() -> pd.DataFrame:
    """A small mixed dataset with every kind of column the families need."""
    rng = np.random.default_rng(0)
    n = 120
    g = np.repeat([f"g{i}" for i in range(8)], n // 8)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    u = rng.normal(0, 0.5, 8)[np.repeat(np.arange(8), n // 8)]
    eta = 0.3 + 0.5 * x + u
    trials = rng.integers(5, 15, size=n)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame({
        "y": 2 + eta + rng.normal(0, 0.5, n),
        "x": x,
        "z": z,
        "g": g,
        "h": np.tile(["a", "b", "c"], n // 3),
        "yes": rng.binomial(1, 1 / (1 + np.exp(-eta))),
        "answer": np.where(rng.random(n) < 0.4, "no", "yes"),
        "succ": succ,
        "fail": trials - succ,
        "count": rng.poisson(np.exp(eta + 0.5)),
        "t": rng.uniform(0.5, 2.0, n),
        "pos": np.exp(eta + rng.normal(0, 0.3, n)),
        "prop": np.clip(1 / (1 + np.exp(-eta + rng.normal(0, 0.3, n))), 0.01, 0.99),
    }).assign(  # derived without new random draws, so the columns above stay as they were
        zeros=lambda d: np.where(d.z > 0.4, 0, d["count"]),  # counts with extra zeros
        rating=lambda d: np.digitize(eta + d.z, [-0.5, 0.3, 1.0]) + 1,  # ordinal 1..4
    )


FAST = {"draws": 200, "tune": 300, "chains": 2, "seed": 11}
