"""hiermodel.console: progress events, the displays the CLI installs, and the samplers' logs.

The pure tests feed events by hand; the ``fit`` tests run the CLI on a tiny comparison (1 chain
x 40 draws per fit, no leave-one-group-out) in a subprocess, where stderr is a pipe (so the
line display, not the live one, is used).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hiermodel.backend.sampling import SAMPLER_LOGGERS, sampler_logs
from hiermodel.console import (
    Event,
    LineDisplay,
    LiveDisplay,
    Reporter,
    listening,
    sampler_output,
    scope,
    show_sampler_output,
)

# what PyMC itself logs while sampling (pymc/sampling/mcmc.py, pymc/sampling/forward.py)
PYMC_LINES = ("Initializing NUTS", "Multiprocess sampling", "Sequential sampling", "NUTS: [",
              "Sampling 1 chain", "Sampling: [", "samples per chain")


def test_stages_report_start_and_finish_to_callback_and_listeners() -> None:
    messages: list[str] = []
    events: list[Event] = []
    reporter = Reporter(messages.append)
    with listening(events.append), scope("spec.toml"):
        reporter.note("comparing")
        stage = reporter.stage("LOGO", 2)
        with stage.step("unpooled without 6 groups", "refitting unpooled (1/2)"):
            pass
        with stage.step("pooled without 6 groups", "refitting pooled (2/2)"):
            pass
    assert [e.kind for e in events] == ["note", "start", "finish", "start", "finish"]
    assert all(e.scope == "spec.toml" for e in events)
    assert messages[:2] == ["comparing", "refitting unpooled (1/2)"]
    first = events[2]
    assert (first.stage, first.step, first.total, first.label) == \
        ("LOGO", 1, 2, "unpooled without 6 groups")
    assert first.seconds is not None and first.elapsed is not None
    assert first.remaining == pytest.approx(first.elapsed)  # one step done, one to go
    assert messages[2].startswith("LOGO 1/2 done: unpooled without 6 groups, ")
    assert "elapsed, ~" in messages[2] and messages[2].endswith(" left)")
    assert "left" not in messages[4]  # the last step has nothing left
    with Reporter().stage("fit", 1).step("x", "fitting x"):
        pass  # no listener, no callback: silent
    assert len(events) == 5


def test_a_failing_step_reports_no_finish() -> None:
    events: list[Event] = []
    step = Reporter().stage("fit", 3).step("pooled", "fitting pooled")
    with listening(events.append), pytest.raises(ValueError), step:
        raise ValueError("boom")
    assert [e.kind for e in events] == ["start"]


def test_line_display_prefixes_the_scope() -> None:
    out = io.StringIO()
    display = LineDisplay(out)
    display(Event("note", "wrote run", scope="a.toml"))
    display(Event("note", "no scope"))
    assert out.getvalue() == "a.toml: wrote run\nno scope\n"


def test_live_display_draws_one_line_per_stage() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with LiveDisplay(console) as live, listening(live):
        reporter = Reporter()
        reporter.note("comparing variants")
        fits = reporter.stage("fit", 1)
        with fits.step("hierarchical", "fitting hierarchical (1/1)"):
            pass
        logo = reporter.stage("LOGO", 15)
        with logo.step("unpooled without 6 groups", "refitting"):
            pass
        with logo.step("pooled without 6 groups", "refitting"):
            live.progress.refresh()
    text = out.getvalue()
    assert "comparing variants" in text
    assert "fit 1/1" in text and "done in" in text
    assert "LOGO 2/15: pooled without 6 groups" in text
    assert "elapsed, ~" in text and "left" in text
    assert len(live.tasks) == 2


def test_sampler_logs_are_silenced_only_when_asked() -> None:
    loggers = [logging.getLogger(name) for name in SAMPLER_LOGGERS]
    before = [lg.level for lg in loggers]
    assert show_sampler_output() is None
    with sampler_logs():
        assert [lg.level for lg in loggers] == before  # library default: untouched
    with sampler_output(False):
        assert show_sampler_output() is False
        with sampler_logs():
            assert all(lg.level == logging.ERROR for lg in loggers)
        assert [lg.level for lg in loggers] == before
    with sampler_output(True), sampler_logs():
        assert [lg.level for lg in loggers] == before


# -- the CLI ------------------------------------------------------------------------------------

TINY_COMPARE = """\
[data]
dataset = "sleepstudy"

[model]
formula = "Reaction ~ Days + (1 | Subject)"

[sampler]
chains = 1
draws = 40
tune = 40
seed = 3
backend = "pymc"

[compare]
logo = false
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "hiermodel", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("progress")
    (directory / "cmp.toml").write_text(textwrap.dedent(TINY_COMPARE), encoding="utf-8")
    return directory


@pytest.mark.fit
def test_compare_default_output_shows_progress_and_no_pymc_lines(spec_dir: Path) -> None:
    r = _cli("compare", "cmp.toml", cwd=spec_dir)
    assert r.returncode == 0, r.stderr
    for line in PYMC_LINES:
        assert line not in r.stderr and line not in r.stdout, line
    for i, name in enumerate(("pooled", "unpooled", "hierarchical"), start=1):
        assert f"cmp.toml: fitting {name} ({i}/3)" in r.stderr
        assert f"cmp.toml: fit {i}/3 done: {name}, " in r.stderr
    assert "elapsed, ~" in r.stderr and " left)" in r.stderr
    assert "cmp.toml: wrote comparison " in r.stderr
    lines = r.stdout.rstrip("\n").splitlines()
    assert lines[0] == "Comparison of 3 variants of  Reaction ~ Days + (1 | Subject)"
    assert "Verdict:" in lines and any(x.startswith("PSIS-LOO") for x in lines)
    assert len(lines) <= 40  # one screen
    target = spec_dir / "runs" / "cmp" / "compare"
    assert lines[-1].startswith(f"Full report: {target.resolve() / 'report.txt'}")
    full = (target / "report.txt").read_text(encoding="utf-8")
    assert "Per-group" in full and "Per-group" not in r.stdout  # the long tables stay in files


@pytest.mark.fit
def test_compare_quiet_prints_only_location_and_verdict(spec_dir: Path) -> None:
    r = _cli("compare", "cmp.toml", "--quiet", cwd=spec_dir)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.rstrip("\n").splitlines()
    assert lines[0] == str((spec_dir / "runs" / "cmp" / "compare").resolve())
    assert len(lines) == 3  # LOO verdict, "New groups: not assessed (logo=False)."
    assert lines[1].startswith("New observations of known groups (PSIS-LOO")
    assert lines[2] == "New groups: not assessed (logo=False)."


@pytest.mark.fit
def test_verbose_restores_pymc_lines(spec_dir: Path) -> None:
    fit_spec = spec_dir / "fit.toml"
    fit_spec.write_text(textwrap.dedent(TINY_COMPARE).split("[compare]")[0], encoding="utf-8")
    r = _cli("fit", "fit.toml", "--verbose", cwd=spec_dir)
    assert r.returncode == 0, r.stderr
    assert "Initializing NUTS" in r.stderr and "Sampling 1 chain" in r.stderr
    assert "fit.toml: fitting" not in r.stderr and "fitting fit.toml: " in r.stderr
    default = _cli("fit", "fit.toml", "--refit", cwd=spec_dir)
    assert default.returncode == 0, default.stderr
    assert "Initializing NUTS" not in default.stderr
    assert "fit 1/1 done: fit.toml, " in default.stderr
