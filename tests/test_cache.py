"""hm.fit(file=...) stores a fit and reuses it while the inputs are unchanged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.backend import sampling

FAST = {"draws": 100, "tune": 100, "chains": 2, "seed": 3}


def _must_not_sample(*args: object, **kwargs: object) -> None:
    raise AssertionError("a cached fit must not sample")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame({"x": rng.normal(size=40), "y": rng.normal(size=40)})


@pytest.mark.fit
def test_cache_reuses_refits_and_warns(small: pd.DataFrame, tmp_path: Path,
                                       caplog: pytest.LogCaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "fits" / "toy"
    first = hm.fit("y ~ x", small, file=str(file), **FAST)
    assert not first.cached
    caplog.set_level(logging.INFO, logger="hiermodel")
    with monkeypatch.context() as patched:
        patched.setattr(sampling, "sample", _must_not_sample)  # a cached call never samples
        again = hm.fit("y ~ x", small, file=str(file), **FAST)
    assert again.cached and "reusing the fit stored" in caplog.text
    np.testing.assert_allclose(again.draws("b"), first.draws("b"))
    changed = hm.fit("y ~ x", small, file=str(file), priors=hm.set_prior("normal(0, 1)", "b"),
                     **FAST)
    assert not changed.cached
    with pytest.warns(UserWarning, match="priors changed"):
        never = hm.fit("y ~ x", small, file=str(file), refit="never", **FAST)
    assert never.cached
    always = hm.fit("y ~ x", small, file=str(file), refit="always", **FAST)
    assert not always.cached
