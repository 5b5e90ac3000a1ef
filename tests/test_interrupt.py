"""SIGINT / SIGTERM during ``hiermodel fit``: clean stop, exit 130 / 143, nothing left behind.

Each test signals a real ``python -m hiermodel fit`` subprocess while its PyMC chains are
sampling. "Sampling" is not guessed with a sleep: the test waits until the CLI has forked its
two chain workers (``/proc``) and both have used CPU, and the CLI's message must then name the
sampling stage. The subprocess runs in its own session, so its process group is exactly the
CLI and its workers; afterwards no process of that group (and none of the workers seen) may be
alive, stdout must reach EOF (no orphan holds the pipe), the earlier run in the same output
directory must load unchanged, and no other directory there may look like a run.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiermodel.backend.sampling import interruptible
from hiermodel.errors import Interrupted, RunError
from hiermodel.runs import MANIFEST, load_run

REPO = Path(__file__).resolve().parents[1]
SPEC = """\
[data]
dataset = "sleepstudy"
[model]
formula = "Reaction ~ Days + (Days | Subject)"
[sampler]
backend = "pymc"
chains = 2
cores = 2
seed = 7
draws = {draws}
tune = {tune}
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stat(pid: int) -> tuple[int, int, float] | None:
    """(parent pid, process group, CPU seconds) of ``pid`` from /proc, None when it is gone
    or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def processes() -> dict[int, tuple[int, int, float]]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
            out[int(entry.name)] = s
    return out


def descendants(root: int) -> dict[int, float]:
    """Living descendants of ``root``: pid -> CPU seconds."""
    table = processes()
    found: dict[int, float] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, cpu) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cpu
                frontier.append(pid)
    return found


def group_members(pgid: int) -> list[int]:
    return [pid for pid, (_, group, _) in processes().items() if group == pgid]


def reset_sigint() -> None:
    # A job started from a non-interactive shell inherits SIGINT as ignored; a user's
    # terminal has it at its default, which is what Python turns into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_spec(path: Path, draws: int, tune: int) -> Path:
    path.write_text(SPEC.format(draws=draws, tune=tune), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A completed quick run of the spec: (spec file, run directory, its manifest text)."""
    folder = tmp_path_factory.mktemp("interrupt")
    spec = write_spec(folder / "sleep.toml", draws=60, tune=60)
    done = subprocess.run([sys.executable, "-m", "hiermodel", "fit", str(spec), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    run = folder / "runs" / "sleep" / "fit"
    return spec, run, (run / MANIFEST).read_text(encoding="utf-8")


@pytest.mark.fit
@pytest.mark.parametrize(("signum", "to_group", "code"), [
    (signal.SIGINT, True, 130),   # Ctrl-C in a terminal: the whole foreground group
    (signal.SIGINT, False, 130),  # kill -INT <pid>: the CLI only
    (signal.SIGTERM, False, 143),  # timeout, CI runners, schedulers: the CLI only
])
def test_signal_during_sampling_stops_cleanly(earlier_run: tuple[Path, Path, str],
                                              signum: int, to_group: bool, code: int) -> None:
    spec, run, manifest = earlier_run
    write_spec(spec, draws=200_000, tune=1000)  # minutes of sampling: the signal lands inside
    child = subprocess.Popen(
        [sys.executable, "-m", "hiermodel", "fit", str(spec)], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=reset_sigint, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        workers: dict[int, float] = {}
        while time.monotonic() < deadline and child.poll() is None:
            workers = descendants(child.pid)
            if len(workers) >= 2 and sorted(workers.values())[-2] >= 0.5:
                break  # two chain workers, each with half a CPU second of sampling
            time.sleep(0.2)
        assert child.poll() is None, child.communicate()
        assert len(workers) >= 2, "the chain workers never started"
        if to_group:
            os.killpg(child.pid, signum)
        else:
            os.kill(child.pid, signum)
        out, err = child.communicate(timeout=120)  # EOF: no orphan holds stdout open
        time.sleep(0.5)  # terminated workers need a moment to be reaped by init
        left = group_members(child.pid)
        survivors = [pid for pid in workers if stat(pid) is not None]
    finally:  # whatever failed, leave no process of the test behind
        if child.poll() is None or group_members(child.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    assert child.returncode == code, err
    last = err.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last.startswith(f"interrupted by {name}: sampling Reaction ~ Days + (Days | Subject)"
                           " with pymc (2 chains x 1000 + 200000) of "), err
    assert last.endswith("no run was written for it and earlier runs are unchanged"), last
    assert "Not enough samples" not in err and "Traceback" not in err, err
    assert out == ""  # no summary of a run that does not exist
    assert left == [] and survivors == [], (left, survivors)
    # the earlier run is untouched and still loads; nothing else looks like a run
    assert (run / MANIFEST).read_text(encoding="utf-8") == manifest
    assert load_run(run).manifest["sampler"]["draws"] == 60
    others = [p.name for p in run.parent.iterdir() if p != run]
    assert others == [], others  # no temporary or half-written run directory
    # the next run starts cleanly: the earlier run's spec again is reused as it is
    write_spec(spec, draws=60, tune=60)
    again = subprocess.run([sys.executable, "-m", "hiermodel", "fit", str(spec)], cwd=REPO,
                           capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr
    assert f"reused run {run}" in again.stderr
    assert json.loads((run / MANIFEST).read_text(encoding="utf-8")) == json.loads(manifest)


def test_a_spec_without_its_run_is_not_complete(tmp_path: Path) -> None:
    """What the interrupted fit leaves (a spec, no run) does not load as a run."""
    write_spec(tmp_path / "s.toml", draws=10, tune=5)
    with pytest.raises(RunError, match="not found"):
        load_run(tmp_path / "runs" / "s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interruptible_raises_even_when_the_sampler_swallows_it(signum: int) -> None:
    # a terminal's Python: SIGINT raises KeyboardInterrupt. pytest-xdist's workers (and
    # processes started from a background shell) inherit SIGINT as ignored, which
    # interruptible() deliberately leaves alone (test below)
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _swallowed_signal_raises(signum)
    finally:
        signal.signal(signal.SIGINT, original)


def _swallowed_signal_raises(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    context = multiprocessing.get_context("fork")
    users = context.Process(target=time.sleep, args=(60,))  # the caller's own, left alone
    users.start()
    child = context.Process(target=time.sleep, args=(60,))

    def body() -> str:
        child.start()
        os.kill(os.getpid(), signum)
        try:
            time.sleep(30)  # the handler raises on the next bytecode
        except KeyboardInterrupt:
            return "partial trace"  # what PyMC's and nutpie's samplers do
        return "finished"

    with pytest.raises(Interrupted) as info, interruptible("sampling y ~ x"):
        body()
    assert (info.value.signum, info.value.what, info.value.exit_code) == (
        signum, "sampling y ~ x", 128 + signum)
    assert not child.is_alive()  # a worker still running is terminated
    assert users.is_alive()
    users.terminate()
    users.join()
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored


def test_interruptible_keeps_an_ignored_sigint_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal, "getsignal", lambda s: signal.SIG_IGN)
    installed: list[int] = []
    monkeypatch.setattr(signal, "signal", lambda s, h: installed.append(s))
    with interruptible("sampling"):
        pass
    assert installed == []
