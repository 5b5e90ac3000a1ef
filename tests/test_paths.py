"""Paths in spec files resolve against the spec's folder (never the working directory), and a
run writes only under its output directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hiermodel.errors import SpecError
from hiermodel.spec import load_spec

SPEC = """\
[data]
path = "{data}"

[model]
formula = "y ~ x + (1 | g)"

[priors]
template = "{template}"

[sampler]
chains = 1
draws = 30
tune = 30
seed = 3
{output}
"""


def _project(root: Path, data: str = "../shared/data.csv", template: str = "priors/t.toml",
             output: str = "") -> Path:
    """root/project/spec.toml, root/shared/data.csv, root/project/priors/t.toml."""
    rng = np.random.default_rng(0)
    (root / "shared").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"y": rng.normal(size=24), "x": rng.normal(size=24),
                  "g": np.repeat(list("abcd"), 6)}).to_csv(root / "shared" / "data.csv",
                                                          index=False)
    (root / "project" / "priors").mkdir(parents=True, exist_ok=True)
    (root / "project" / "priors" / "t.toml").write_text(
        '[template]\nname = "t"\n[priors.b]\ndist = "Normal"\nmu = 0\nsigma = 2\n')
    spec = root / "project" / "spec.toml"
    spec.write_text(SPEC.format(data=data, template=template, output=output))
    return spec


@pytest.fixture()
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an unrelated working directory, so cwd-relative resolution would show."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_relative_paths_resolve_against_the_spec_folder(tmp_path: Path, elsewhere: Path) -> None:
    spec = load_spec(_project(tmp_path, output='[output]\ndir = "../results/one"'))
    assert spec.data.path == (tmp_path / "shared" / "data.csv").resolve()
    assert spec.priors.template_path == (tmp_path / "project" / "priors" / "t.toml").resolve()
    assert spec.output_dir == (tmp_path / "results" / "one").resolve()
    assert len(spec.load_data()) == 24


def test_default_output_dir_is_next_to_the_spec(tmp_path: Path, elsewhere: Path) -> None:
    spec = load_spec(_project(tmp_path))
    assert spec.output_dir == (tmp_path / "project" / "runs" / "spec").resolve()


def test_symlinked_data_resolves_to_its_target(tmp_path: Path, elsewhere: Path) -> None:
    file = _project(tmp_path, data="link.csv")
    (file.parent / "link.csv").symlink_to(tmp_path / "shared" / "data.csv")
    assert load_spec(file).data.path == (tmp_path / "shared" / "data.csv").resolve()


@pytest.mark.parametrize("bad", ["../../../../../../etc/passwd", "/etc/passwd", "nul\\u0000.csv",
                                 "a" * 300 + ".csv", "loop.csv"])
def test_path_tricks_are_spec_errors(tmp_path: Path, elsewhere: Path, bad: str) -> None:
    file = _project(tmp_path, data=bad)
    (file.parent / "loop.csv").symlink_to(file.parent / "loop.csv")
    with pytest.raises(SpecError, match=r"\[data\]"):
        load_spec(file)


def test_unusable_spec_file_name_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not a usable path"):
        load_spec(str(tmp_path / ("a" * 300 + ".toml")))
    with pytest.raises(SpecError, match="spec file"):
        load_spec("spec\0.toml")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.fit
def test_a_run_writes_only_under_its_output_directory(tmp_path: Path, elsewhere: Path) -> None:
    """One tiny fit (1 chain x 30 draws): ``[output] dir`` relative to the spec, run from an
    unrelated working directory; ``out=`` goes through the same ``output_dir`` code path."""
    from hiermodel.runs import run_spec

    file = _project(tmp_path, output='[output]\ndir = "../results/one"')
    before = _files(tmp_path)
    chosen = tmp_path / "results" / "one"
    run = run_spec(file)
    new = _files(tmp_path) - before
    assert new, "the run wrote nothing"
    outside = sorted(str(p) for p in new if not p.resolve().is_relative_to(chosen.resolve()))
    assert outside == [], f"files written outside {chosen}: {outside}"
    assert run.run_dir == (chosen / "fit").resolve()
    assert os.listdir(elsewhere) == []  # nothing in the working directory
    # no temporary or backup directory left next to the run
    assert sorted(p.name for p in chosen.iterdir()) == ["fit"]
