"""The ``hiermodel`` CLI, run as ``python -m hiermodel`` in a subprocess: every command, error
messages on stderr and exit codes (0 ok, 1 user error, 2 failed diagnostics, 130 interrupted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hiermodel as hm
from hiermodel import cli
from hiermodel.errors import InternalError
from tests.helpers import TINY

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    # no PYTHONWARNINGS filter: stderr is what a user sees, and the exact-stderr checks below
    # fail on any warning the command would print
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "hiermodel", *args], capture_output=True,
                          text=True, cwd=cwd or REPO, env=env, timeout=timeout, check=False)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- no sampling ---------------------------------------------------------------------------------

def test_version() -> None:
    r = run("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"hiermodel {hm.__version__}")


@pytest.mark.parametrize("command", [[], ["check"], ["fit"], ["compare"], ["translate"],
                                     ["priors"], ["priors", "list"], ["priors", "show"],
                                     ["report"]])
def test_help_has_examples_and_exit_codes(command: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    if command[:1] != ["priors"] or command == ["priors"]:
        assert "exit codes:" in out and "130" in out


def test_help_subprocess() -> None:
    r = run("fit", "--help")
    assert r.returncode == 0 and "hiermodel fit specs/sleepstudy.toml" in r.stdout


def test_usage_errors_exit_1() -> None:
    r = run("fitt", "x.toml")
    assert r.returncode == 1
    assert "error: argument COMMAND: invalid choice: 'fitt'" in r.stderr
    assert run().returncode == 1  # no command: help on stderr


def test_check_ok() -> None:
    r = run("check", "specs/sleepstudy.toml", "specs/radon.toml")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ok: specs/sleepstudy.toml: Reaction ~ Days + (Days | Subject) "
                               "(gaussian, 180 observations of 180 rows; priors "
                               "'weakly_informative'; 4 chains x 1000 draws; run dir ")
    assert lines[1].startswith("ok: specs/radon.toml: ")


@pytest.mark.parametrize(("command", "text", "message"), [
    ("check", TINY + "draw = 5\n", "x.toml: [sampler] unknown key 'draw'; did you mean 'draws'?"),
    ("fit", TINY + "draw = 5\n", "x.toml: [sampler] unknown key 'draw'; did you mean 'draws'?"),
    ("compare", TINY + "draw = 5\n",
     "x.toml: [sampler] unknown key 'draw'; did you mean 'draws'?"),
    ("fit", TINY.replace("draws = 60", 'draws = "many"'),
     "x.toml: [sampler] draws must be a positive integer, got 'many'"),
    ("fit", TINY.replace('dataset = "sleepstudy"', 'path = "foo.csv"'),
     "x.toml: [data] path 'foo.csv' not found (looked in {dir})"),
    ("check", TINY + "[smapler]\n", "x.toml: unknown section [smapler]; did you mean [sampler]?"),
])
def test_bad_spec_exit_1(tmp_path: Path, command: str, text: str, message: str) -> None:
    write(tmp_path, "x.toml", text)
    r = run(command, "x.toml", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == f"error: {message.format(dir=tmp_path.resolve())}\n"
    assert r.stdout == ""


def test_formula_error_has_caret(tmp_path: Path) -> None:
    write(tmp_path, "x.toml", TINY.replace("(1 | Subject)", "(1 | Subject"))
    r = run("check", "x.toml", cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[0].startswith("error: x.toml: [model] formula: ")
    assert lines[1] == "  Reaction ~ Days + (1 | Subject"
    assert lines[2].strip().startswith("^")


def test_check_reports_every_file(tmp_path: Path) -> None:
    write(tmp_path, "good.toml", TINY)
    write(tmp_path, "bad.toml", TINY + "draw = 5\n")
    r = run("check", "good.toml", "bad.toml", "missing.toml", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("ok: good.toml: ")
    assert r.stderr == ("error: bad.toml: [sampler] unknown key 'draw'; did you mean 'draws'?\n"
                        f"spec file 'missing.toml' not found (looked in {tmp_path.resolve()})\n")


def test_check_needs_data_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "x.toml", TINY + '[[priors.override]]\nprior = "normal(0, 1)"\n'
                                     'class = "b"\nterm = "Dayz"\n')
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "x.toml"]) == 1  # in-process: same code path, no PyMC import
    assert capsys.readouterr().err.startswith(
        "error: x.toml: [[priors.override]]: prior override (class='b', term='Dayz') matches no "
        "parameter; did you mean term 'Days'?")


def test_translate() -> None:
    r = run("translate", "Reaction ~ Days + (Days | Subject)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(hm.translate("Reaction ~ Days + (Days | Subject)")).strip()
    bad = run("translate", "y ~ (x")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "^" in bad.stderr


def test_priors_list_and_show() -> None:
    r = run("priors", "list")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == list(hm.priors.list_templates()["name"])
    assert "weakly_informative (default)" in r.stdout
    r = run("priors", "show", "maize_talk")
    assert r.returncode == 0 and r.stdout.strip() == hm.priors.show("maize_talk").strip()
    raw = run("priors", "show", "maize_talk", "--raw")
    assert raw.returncode == 0 and "[priors.sigma]" in raw.stdout
    bad = run("priors", "show", "maize_tlk")
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    assert "maize_talk" in bad.stderr


def test_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"error: run directory {tmp_path / 'nope'} not found\n"
    (tmp_path / "half").mkdir()
    assert cli.main(["report", str(tmp_path / "half")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'half'} is not a complete "
                                              "run")


def test_keyboard_interrupt_exit_130(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(hm, "translate", interrupted)
    assert cli.main(["translate", "y ~ x"]) == 130
    assert capsys.readouterr().err == "interrupted by SIGINT: hiermodel translate\n"


def test_main_maps_error_exit_codes(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise hm.DiagnosticsError("specs/x.toml: diagnostics failed")

    monkeypatch.setattr(hm, "translate", failing)
    assert cli.main(["translate", "y ~ x"]) == 2
    assert capsys.readouterr().err == "error: specs/x.toml: diagnostics failed\n"


def test_internal_error_shows_its_traceback_and_exit_70(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise InternalError("design recipes disagree with formulae for ['x']")

    monkeypatch.setattr(hm, "translate", broken)
    assert cli.main(["translate", "y ~ x"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "hiermodel.errors.InternalError: design recipes disagree" in err
    assert err.rstrip().endswith("please report it with the traceback above")
    assert not err.startswith("error:")


# -- sampling ------------------------------------------------------------------------------------

@pytest.mark.fit
def test_fit_reuse_strict_and_report(tmp_path: Path) -> None:
    write(tmp_path, "tiny.toml", TINY)
    r = run("fit", "tiny.toml", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # what a user sees on stderr: progress lines, no Python warnings (none are filtered here),
    # and the failed convergence checks of this deliberately short fit (1 chain x 60 draws)
    assert "Warning" not in r.stderr, r.stderr
    assert ("warning: the fit of Reaction ~ Days + (1 | Subject) failed "
            in r.stderr), r.stderr
    assert r.stdout.startswith("Bayesian linear mixed model fit by hiermodel")
    assert "fitting tiny.toml: Reaction ~ Days + (1 | Subject)" in r.stderr
    target = (tmp_path / "out" / "fit").resolve()
    assert (target / "manifest.json").is_file()

    # unchanged: reused; --strict on a run whose diagnostics failed (60 draws): exit 2
    again = run("fit", "tiny.toml", "--out", "out", "--strict", cwd=tmp_path)
    assert again.returncode == 2
    assert f"reused run {target} (spec and data unchanged)" in again.stderr
    error = again.stderr[again.stderr.index("error: "):].splitlines()
    assert error[0].startswith("error: tiny.toml failed")  # 1 chain x 60 draws: ESS < 100
    assert any(line.startswith("  min bulk ESS ") for line in error)
    assert error[-1] == f"  the run is kept in {target}"

    quiet = run("fit", "tiny.toml", "--out", "out", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout == r.stdout

    rep = run("report", "out", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout.startswith(r.stdout.rstrip("\n"))
    assert "Diagnostics (FAILED): " in rep.stdout
    assert f"Run: {target} (spec tiny.toml" in rep.stdout


@pytest.mark.fit
def test_compare(tmp_path: Path) -> None:
    write(tmp_path, "cmp.toml", TINY.replace("chains = 1", "chains = 2") + textwrap.dedent("""\
        [compare]
        logo = false
        """))
    r = run("compare", "cmp.toml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr, r.stderr
    assert r.stdout.startswith("Comparison of 3 variants of  Reaction ~ Days + (1 | Subject)")
    assert "cmp.toml: fitting pooled (1/3)" in r.stderr
    out = tmp_path / "runs" / "cmp" / "compare"
    assert (out / "manifest.json").is_file() and (out / "report.txt").is_file()
    rep = run("report", "runs/cmp", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout.startswith("Comparison of 3 variants")
