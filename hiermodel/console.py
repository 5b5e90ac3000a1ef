"""Progress of long work: what the library reports while it works, and who shows it.

The library reports through a :class:`Reporter`: one-line *notes* ("reused run ...") and
*stages* of numbered, timed steps ("fit 2/3: unpooled", "LOGO 7/15: unpooled without 6
groups"). Every report goes to the ``hiermodel.progress`` logger (INFO, so a script shows
nothing unless it configures logging), to the ``progress=`` callback of the function that was
called (the message text) and to every *listener* installed with :func:`listening` (the
structured :class:`Event`). The CLI installs a listener: :class:`LiveDisplay` (rich, one live
line per stage with the current step, its time, elapsed and remaining) on a terminal, else
:class:`LineDisplay` (one line per event).

:func:`sampler_output` decides whether the samplers' own log lines and progress bars (PyMC's,
nutpie's) are shown; :mod:`hiermodel.backend.sampling` asks :func:`show_sampler_output`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, Literal

from hiermodel.numbers import format_seconds

log = logging.getLogger("hiermodel.progress")

Callback = Callable[[str], None]


@dataclass(frozen=True)
class Event:
    """One report: ``kind`` ``"note"``, ``"start"`` (a step begins) or ``"finish"`` (it ended,
    after ``seconds``; the stage has run ``elapsed`` seconds and needs about ``remaining``
    more). ``scope`` is the innermost :func:`scope` (a spec's label in the CLI)."""

    kind: Literal["note", "start", "finish"]
    message: str
    stage: str = ""
    step: int = 0
    total: int = 0
    label: str = ""
    seconds: float | None = None
    elapsed: float | None = None
    remaining: float | None = None
    scope: str = ""


Listener = Callable[[Event], None]

_LISTENERS: ContextVar[tuple[Listener, ...]] = ContextVar("hiermodel_listeners", default=())
_SCOPE: ContextVar[str] = ContextVar("hiermodel_scope", default="")
_SAMPLER_OUTPUT: ContextVar[bool | None] = ContextVar("hiermodel_sampler_output", default=None)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send every :class:`Event` reported inside the ``with`` block to ``listener``."""
    token = _LISTENERS.set((*_LISTENERS.get(), listener))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


@contextmanager
def scope(name: str) -> Iterator[None]:
    """Tag the events inside the ``with`` block with ``name`` (:attr:`Event.scope`)."""
    token = _SCOPE.set(name)
    try:
        yield
    finally:
        _SCOPE.reset(token)


@contextmanager
def sampler_output(show: bool) -> Iterator[None]:
    """Show (``True``) or hide (``False``) the samplers' own log lines and progress bars
    inside the ``with`` block; outside it the samplers keep their defaults."""
    token = _SAMPLER_OUTPUT.set(show)
    try:
        yield
    finally:
        _SAMPLER_OUTPUT.reset(token)


def show_sampler_output() -> bool | None:
    """What :func:`sampler_output` asked for: True, False, or None (the samplers' defaults)."""
    return _SAMPLER_OUTPUT.get()


def _emit(event: Event, callback: Callback | None) -> None:
    log.info("%s", event.message)
    if callback is not None:
        callback(event.message)
    for listener in _LISTENERS.get():
        listener(event)


class Stage:
    """Numbered steps of one stage of work; each :meth:`step` reports its start and finish."""

    def __init__(self, name: str, total: int, callback: Callback | None = None) -> None:
        self.name = name
        self.total = total
        self.done = 0
        self.callback = callback
        self.started = time.perf_counter()

    @contextmanager
    def step(self, label: str, message: str) -> Iterator[None]:
        """Report ``message`` (with ``label``, the short form for a live line) when the block
        starts and ``"<stage> i/n done: <label>, <time> (<elapsed>, ~<remaining> left)"`` when
        it ends without an error."""
        number = self.done + 1
        where = _SCOPE.get()
        _emit(Event("start", message, self.name, number, self.total, label, scope=where),
              self.callback)
        t0 = time.perf_counter()
        yield
        now = time.perf_counter()
        self.done = number
        elapsed = now - self.started
        remaining = elapsed / number * (self.total - number)
        text = (f"{self.name} {number}/{self.total} done: {label}, {format_seconds(now - t0)} "
                f"({format_seconds(elapsed)} elapsed"
                + (f", ~{format_seconds(remaining)} left)" if number < self.total else ")"))
        _emit(Event("finish", text, self.name, number, self.total, label, now - t0, elapsed,
                    remaining, where), self.callback)


class Reporter:
    """What one call of a long function reports: notes and stages, to its ``progress``
    callback and to the installed listeners."""

    def __init__(self, callback: Callback | None = None) -> None:
        self.callback = callback

    def note(self, message: str) -> None:
        _emit(Event("note", message, scope=_SCOPE.get()), self.callback)

    def stage(self, name: str, total: int) -> Stage:
        return Stage(name, total, self.callback)


# -- what the CLI shows ------------------------------------------------------------------------

def _prefixed(event: Event) -> str:
    return f"{event.scope}: {event.message}" if event.scope else event.message


class LineDisplay:
    """A listener printing one line per event (for logs and pipes)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        print(_prefixed(event), file=self.stream or sys.stderr, flush=True)


def _live_columns() -> tuple[Any, Any]:
    """Rich columns, redrawn on every refresh: the running step's time (or the last step's),
    and the stage's elapsed time with the time left (the mean time of the finished steps
    times the steps left, less the running step's time so far)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RunningStep(ProgressColumn):
        def render(self, task: Any) -> Text:
            started = task.fields["step_start"]
            shown = (format_seconds(time.perf_counter() - started) if started is not None
                     else task.fields["step_time"])
            return Text(shown, style="cyan")

    class StageTime(ProgressColumn):
        def render(self, task: Any) -> Text:
            f = task.fields
            if f["stage_start"] is None:
                return Text("")
            now = time.perf_counter()
            if f["done"] >= task.total:
                return Text(f"| done in {format_seconds(f['elapsed'])}", style="dim")
            text = f"| {format_seconds(now - f['stage_start'])} elapsed"
            if f["done"]:
                running = now - f["step_start"] if f["step_start"] is not None else 0.0
                left = max(0.0, f["elapsed"] / f["done"] * (task.total - f["done"]) - running)
                text += f", ~{format_seconds(left)} left"
            return Text(text, style="dim")

    return RunningStep(), StageTime()


class LiveDisplay:
    """A listener drawing one live line per stage with rich: ``LOGO 7/15: unpooled without 6
    groups``, the running step's time, the stage's elapsed time and the estimated time left;
    notes print above the live lines. Use as a context manager around the work."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        self.console = console if console is not None else Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            *_live_columns(),
            console=self.console, refresh_per_second=4,
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> LiveDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        if event.kind == "note":
            self.progress.console.print(_prefixed(event), markup=False, highlight=False)
            return
        key = (event.scope, event.stage)
        if key not in self.tasks or (event.kind == "start" and event.step == 1):
            self.tasks[key] = self.progress.add_task(
                "", total=event.total, step_time="", step_start=None,
                stage_start=time.perf_counter(), done=0, elapsed=0.0)
        task = self.tasks[key]
        if event.kind == "start":
            self.progress.update(task, description=f"{event.stage} {event.step}/"
                                 f"{event.total}: {event.label}",
                                 step_start=time.perf_counter())
            return
        description = (f"{event.stage} {event.step}/{event.total}: {event.label}"
                       if event.step < event.total else f"{event.stage} {event.total}/"
                       f"{event.total}")
        self.progress.update(task, completed=event.step, description=description,
                             step_start=None, step_time=format_seconds(event.seconds or 0.0),
                             done=event.step, elapsed=event.elapsed or 0.0)


__all__ = ["Callback", "Event", "LineDisplay", "Listener", "LiveDisplay", "Reporter", "Stage",
           "listening", "sampler_output", "scope", "show_sampler_output"]
