"""Run directories: atomic writes, hash-based reuse, identical draws for the same seed,
load_run."""

from __future__ import annotations

import json
import logging
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.backend import sampling
from hiermodel.errors import DiagnosticsError, RunError
from hiermodel.posterior.fitted import Fit
from hiermodel.runs import (
    MANIFEST,
    REQUIRED_FILES,
    RunFit,
    atomic_dir,
    data_hash,
    find_run,
    load_run,
    package_versions,
    run_dir,
    run_spec,
)
from hiermodel.spec import load_spec

TINY = """\
[data]
dataset = "sleepstudy"
{data_extra}
[model]
formula = "Reaction ~ Days + (1 | Subject)"

[sampler]
chains = 2
draws = {draws}
tune = 200
seed = 7
"""


def tiny_spec(directory: Path, draws: int = 200, data_extra: str = "") -> Path:
    path = directory / "tiny.toml"
    path.write_text(TINY.format(draws=draws, data_extra=data_extra), encoding="utf-8")
    return path


# -- pure Python -----------------------------------------------------------------------------------

def test_data_hash_sees_values_names_and_levels() -> None:
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": pd.Categorical(["a", "b", "a"])})
    base = data_hash(df)
    assert base == data_hash(df.copy())
    assert len(base) == 64
    changed = df.copy()
    changed.loc[1, "y"] = 2.5
    assert data_hash(changed) != base
    assert data_hash(df.rename(columns={"y": "z"})) != base
    relevelled = df.copy()
    relevelled["g"] = relevelled["g"].cat.reorder_categories(["b", "a"])
    assert data_hash(relevelled) != base
    assert data_hash(df.astype({"y": "float32"})) != base


def test_package_versions() -> None:
    versions = package_versions()
    assert set(versions) == {"hiermodel", "bambi", "pymc", "arviz", "pytensor", "numpy",
                             "pandas"}
    assert versions["hiermodel"] == hm.__version__


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out" / "fit"
    with atomic_dir(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        (tmp / MANIFEST).write_text("{}")
        (tmp / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"

    with pytest.raises(ZeroDivisionError), atomic_dir(target) as tmp:
        (tmp / MANIFEST).write_text("{}")
        (tmp / "a.txt").write_text("second")
        _ = 1 / 0
    assert (target / "a.txt").read_text() == "first"  # untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["fit"]  # no temp dirs left

    with atomic_dir(target) as tmp:
        (tmp / MANIFEST).write_text("{}")
        (tmp / "b.txt").write_text("third")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt", MANIFEST]
    assert sorted(p.name for p in target.parent.iterdir()) == ["fit"]


def test_atomic_dir_refuses_foreign_directory(tmp_path: Path) -> None:
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    with pytest.raises(RunError) as info, atomic_dir(mine):
        pass
    assert str(info.value) == (f"output directory {mine} exists and is not a hiermodel run (no "
                               "manifest.json); choose another [output] dir / --out, or "
                               "remove it")
    assert (mine / "chapter1.tex").read_text() == "precious"


def test_incomplete_run_is_not_a_run(tmp_path: Path) -> None:
    half = tmp_path / "fit"
    half.mkdir()
    (half / "posterior.nc").write_text("")
    with pytest.raises(RunError) as info:
        load_run(half)
    assert str(info.value) == (f"{half} is not a complete run (no manifest.json; an interrupted "
                               "or unfinished run?) — run `hiermodel fit SPEC` to (re)create it")
    with pytest.raises(RunError, match="not found"):
        load_run(tmp_path / "nope")


def test_run_dir_layout(tmp_path: Path) -> None:
    spec = load_spec(tiny_spec(tmp_path))
    assert run_dir(spec) == tmp_path.resolve() / "runs" / "tiny" / "fit"
    assert run_dir(spec, tmp_path / "elsewhere") == (tmp_path / "elsewhere" / "fit").resolve()


# -- sampling --------------------------------------------------------------------------------

def _must_not_sample(*args: object, **kwargs: object) -> None:
    raise AssertionError("a reused run must not sample")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunFit, list[str]]:
    directory = tmp_path_factory.mktemp("runs")
    messages: list[str] = []
    fit = run_spec(tiny_spec(directory), progress=messages.append)
    return directory, fit, messages


@pytest.mark.fit
def test_run_writes_a_complete_run(first_run: tuple[Path, RunFit, list[str]]) -> None:
    directory, fit, messages = first_run
    target = directory.resolve() / "runs" / "tiny" / "fit"
    assert isinstance(fit, RunFit) and fit.fresh and isinstance(fit.fit, Fit)
    assert fit.run_dir == target and not fit.reused
    label = directory / "tiny.toml"
    assert messages[0].startswith(f"fitting {label}: Reaction ~ Days + (1 | Subject)")
    assert messages[-1].startswith(f"wrote run {target} (")
    names = {p.name for p in target.iterdir()}
    assert set(REQUIRED_FILES) | {MANIFEST, "ranef_Subject.csv", "coef_Subject.csv",
                                  "trace.png", "forest.png", "prior_summary.json"} <= names
    manifest = json.loads((target / MANIFEST).read_text())
    spec = load_spec(directory / "tiny.toml")
    assert manifest["spec_hash"] == spec.hash()
    assert manifest["data_hash"] == data_hash(spec.load_data())
    assert manifest["seed"] == 7 and manifest["backend"] == "nutpie"
    assert manifest["plots"] == {"trace.png": "ok", "forest.png": "ok"}
    assert manifest["report"] == "ok" and (target / "report.html").is_file()
    assert set(manifest["timings"]) == {"load_data", "build", "sample", "write", "total"}
    assert manifest["versions"]["pymc"] == package_versions()["pymc"]
    assert manifest["diagnostics"]["divergences"] == fit.diagnostics()["divergences"]
    assert (target / "summary.txt").read_text().startswith("Bayesian linear mixed model")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.fit
def test_same_seed_same_draws_and_reuse(first_run: tuple[Path, RunFit, list[str]],
                                        caplog: pytest.LogCaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    directory, first, _ = first_run
    spec_path = directory / "tiny.toml"
    again = run_spec(spec_path, refit=True)
    assert not again.reused
    for name in first.idata.posterior.data_vars:
        np.testing.assert_array_equal(first.idata.posterior[name].values,
                                      again.idata.posterior[name].values)

    messages: list[str] = []
    with caplog.at_level(logging.INFO, logger="hiermodel"), monkeypatch.context() as patched:
        patched.setattr(sampling, "sample", _must_not_sample)  # reuse never samples
        reused = run_spec(spec_path, progress=messages.append)
    assert reused.reused
    expected = f"reused run {again.run_dir} (spec and data unchanged)"
    assert messages == [expected]
    assert expected in caplog.messages

    # load_run: stored tables equal the in-memory fit's; other prob rebuilds the model
    loaded = load_run(directory / "runs" / "tiny")  # the output dir works too
    assert not loaded.fresh  # tables from the stored files
    pd.testing.assert_frame_equal(loaded.fixef(), again.fixef(), check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(loaded.varcorr(), again.varcorr(), check_exact=False,
                                  rtol=1e-12)
    pd.testing.assert_frame_equal(loaded.ranef("Subject"), again.ranef("Subject"),
                                  check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(loaded.fixef(prob=0.9), again.fixef(prob=0.9))
    assert str(loaded.summary()) == str(again.summary())
    assert loaded.diagnostics()["divergences"] == again.diagnostics()["divergences"]
    assert str(loaded.prior_summary()) == str(again.prior_summary())
    assert loaded.formula == "Reaction ~ Days + (1 | Subject)"
    pred = loaded.predict(hm.datasets.sleepstudy().head(3), re_form="~0")
    assert len(pred) == 3
    assert isinstance(loaded.fit, Fit)  # the posterior-backed Fit, now loaded
    np.testing.assert_array_equal(loaded.draws("b"), again.draws("b"))


@pytest.mark.fit
def test_changes_refit(first_run: tuple[Path, RunFit, list[str]], tmp_path: Path) -> None:
    # a copy of the first run: rewriting the spec here must not change the other tests' run
    shared, first, _ = first_run
    directory = tmp_path / "copy"
    shutil.copytree(shared, directory)
    before = json.loads((first.run_dir / MANIFEST).read_text())
    assert run_spec(directory / "tiny.toml").reused  # the copy is the same run
    changed = run_spec(tiny_spec(directory, draws=150))
    assert not changed.reused
    after = json.loads((changed.run_dir / MANIFEST).read_text())
    assert after["spec_hash"] != before["spec_hash"]
    assert after["data_hash"] == before["data_hash"]
    assert changed.idata.posterior.sizes["draw"] == 150

    filtered = run_spec(tiny_spec(directory, draws=150, data_extra='filter = "Days < 9"'))
    assert not filtered.reused
    manifest = json.loads((filtered.run_dir / MANIFEST).read_text())
    assert manifest["data_hash"] != after["data_hash"] and manifest["data"]["rows"] == 162


@pytest.mark.fit
def test_strict_raises_after_writing(first_run: tuple[Path, RunFit, list[str]],
                                     tmp_path: Path) -> None:
    spec_path = tmp_path / "strict.toml"
    spec_path.write_text(textwrap.dedent("""\
        [data]
        dataset = "sleepstudy"
        [model]
        formula = "Reaction ~ Days"
        [sampler]
        chains = 1
        draws = 30
        tune = 30
        seed = 1
        """), encoding="utf-8")
    with pytest.raises(DiagnosticsError) as info:
        run_spec(spec_path, strict=True)
    assert info.value.exit_code == 2
    target = tmp_path / "runs" / "strict" / "fit"
    message = str(info.value)
    assert message.startswith(f"{spec_path} failed")
    assert "\n  min bulk ESS " in message and "(needs >= 100;" in message  # 1 chain x 100
    assert (target / MANIFEST).is_file()  # the run is kept for inspection
    stored = {r["check"]: r for r in json.loads((target / MANIFEST).read_text())["checks"]}
    assert stored["min bulk ESS"]["status"] == "failed"  # 30 draws: far below 100
    assert stored["min bulk ESS"]["threshold"] == 100
    assert stored["max R-hat"]["status"] == "skipped"  # one chain
    assert load_run(target).checks().set_index("check").loc["min bulk ESS", "status"] == "failed"
    with pytest.raises(DiagnosticsError):  # also when the stored run is reused
        run_spec(spec_path, strict=True)
    assert find_run(tmp_path / "runs" / "strict") == target
