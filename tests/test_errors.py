"""Every error class of hiermodel/errors.py is raised somewhere in the tests, and the rarely
hit BuildError, FitError and RunError paths have exact-message tests here (no sampling)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel import errors
from hiermodel.errors import BuildError, FitError, RunError
from hiermodel.posterior.fitted import Fit

TESTS = Path(__file__).resolve().parent


def test_every_error_class_is_raised_in_some_test() -> None:
    """A class counts when some test file expects it: ``raises(<...>Name`` (pytest.raises,
    possibly qualified as ``hm.Name`` / ``errors.Name``), or ``warns(<...>Name`` for a
    warning class."""
    classes = [name for name in errors.__all__
               if isinstance(getattr(errors, name), type)
               and issubclass(getattr(errors, name), Exception)]
    assert {"BuildError", "FitError", "RunError", "InternalError"} <= set(classes)
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(TESTS.glob("test_*.py")))
    missing = [name for name in classes
               if not re.search(r"(raises|warns)\(\s*[\w.]*\b" + name + r"\b", text)]
    assert not missing, f"error classes no test expects: {missing}"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "g": np.repeat(list("abcd"), n // 4), "t": rng.uniform(1, 2, n),
                         "rating": np.tile([1, 2, 3, 4], n // 4)})


# -- BuildError ----------------------------------------------------------------------------------

def test_build_errors(frame: pd.DataFrame) -> None:
    with pytest.raises(BuildError) as info:
        hm.model("y ~ x + (1|g)", frame, parametrization="diagonal")
    assert str(info.value) == ("parametrization must be 'auto', 'centered' or 'noncentered' "
                               "(got 'diagonal')")
    with pytest.raises(BuildError) as info:
        hm.model("y ~ x", frame, sigma="~ offset(log(t))")
    assert str(info.value) == ("offset() is not supported in the formula for 'sigma'; put the "
                               "offset in the main formula")
    with pytest.raises(BuildError) as info:
        hm.model("rating ~ x", frame, family="cumulative",
                 priors=[hm.set_prior("student_t(3, 0, 2.5)", "Intercept", "1|2")])
    assert str(info.value).startswith(
        "the thresholds' priors must share one distribution family (ordered thresholds are "
        "one vector); got StudentT(nu=3, mu=0, sigma=2.5), Normal(")


def test_build_error_for_a_prior_without_pymc_counterpart() -> None:
    from hiermodel.backend.distributions import pymc_class

    with pytest.raises(BuildError) as info:
        pymc_class("Foo")
    assert str(info.value) == "prior distribution 'Foo' has no PyMC counterpart here"


# -- FitError --------------------------------------------------------------------------------------

def test_fit_errors_before_sampling(frame: pd.DataFrame) -> None:
    model = hm.model("y ~ x", frame)
    for bad, text in [({"draws": 0}, "draws (0) and chains (4)"),
                      ({"chains": 0}, "draws (1000) and chains (0)"),
                      ({"tune": -1}, "draws (1000) and chains (4)")]:
        with pytest.raises(FitError) as info:
            model.fit(**bad)
        assert str(info.value) == f"{text} must be ≥ 1 and tune ≥ 0"


def test_sampler_failure_is_a_fit_error(frame: pd.DataFrame,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import pymc as pm

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Not enough samples to build a trace.")

    monkeypatch.setattr(pm, "sample", broken)
    with pytest.raises(FitError) as info:
        hm.fit("y ~ x", frame, backend="pymc", draws=10, tune=10, chains=1, seed=1)
    assert str(info.value) == ("sampling failed with backend 'pymc': Not enough samples to "
                               "build a trace.")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_update_needs_the_models_arguments(frame: pd.DataFrame) -> None:
    import arviz as az
    import xarray as xr

    model = hm.model("y ~ x", frame)
    model.call = {}  # as for a Model assembled by hand, not by hm.model / hm.fit
    fit = Fit(model, az.InferenceData(posterior=xr.Dataset(
        {"Intercept": (["chain", "draw"], np.zeros((1, 2)))})), {})
    with pytest.raises(FitError, match=r"^this fit does not record the arguments its model "
                                       r"was built with"):
        fit.update(draws=10)


# -- RunError --------------------------------------------------------------------------------------

def test_fit_cache_run_errors(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(RunError) as info:
        hm.fit("y ~ x", frame, file=str(tmp_path / "f"), refit="sometimes")
    assert str(info.value) == "refit='sometimes': use one of on_change, always, never"
    taken = tmp_path / "notes"
    taken.mkdir()
    (taken / "thesis.tex").write_text("precious")
    with pytest.raises(RunError) as info:
        hm.fit("y ~ x", frame, file=str(taken))
    assert str(info.value) == (f"file={str(taken)!r} exists and is not a stored hiermodel "
                               "fit; choose another path or remove it")
    assert (taken / "thesis.tex").read_text() == "precious"


def test_load_run_and_output_run_errors(tmp_path: Path) -> None:
    from hiermodel.runs import atomic_dir, load_run

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(RunError) as info:
        load_run(plain)
    assert str(info.value) == f"{plain} is not a directory"
    with pytest.raises(RunError) as info, atomic_dir(plain):
        pass
    assert str(info.value) == f"output {plain} exists and is not a directory"
    assert plain.read_text() == "x"
