"""Many specs at once: :func:`run_specs` fits each into its run directory, in this process or
as Dask tasks (``client=``, see :mod:`hiermodel.cluster`), and one failed spec does not lose
the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiermodel.cluster import Task, first_line, task_pool
from hiermodel.console import Reporter
from hiermodel.errors import SomeFailedError
from hiermodel.runs.runner import (
    Progress,
    RunJob,
    finish_run,
    fit_spec,
    fitting_message,
    prepare_run,
    reuse_run,
    tell,
)
from hiermodel.runs.stored import RunFit
from hiermodel.spec import Spec, load_spec


@dataclass
class SpecRuns:
    """The outcome of :func:`run_specs`: a run or an error for every spec, in the given order."""

    specs: list[Spec]
    runs: dict[int, RunFit] = field(default_factory=dict)  # position in specs -> run
    errors: dict[int, BaseException] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failures(self) -> dict[str, str]:
        """Spec label -> the first line of its error (without the label it may start with)."""
        out = {}
        for i, error in sorted(self.errors.items()):
            label, message = self.specs[i].label, first_line(error)
            out[label] = message.removeprefix(f"{label}: ")
        return out

    def raise_failures(self) -> None:
        """Raise the error of a single failed spec as it is; for several specs,
        :class:`~hiermodel.errors.SomeFailedError` (exit code 3) naming every failed spec."""
        if not self.errors:
            return
        if len(self.specs) == 1:
            raise self.errors[0]
        done = len(self.runs)
        lines = "\n".join(f"  {label}: {message}" for label, message in self.failures.items())
        raise SomeFailedError(f"{len(self.errors)} of {len(self.specs)} specs failed "
                              f"({done} completed and written):\n{lines}")


def _out(out: str | Path | None, spec: Spec, several: bool) -> Path | None:
    """``out`` for one spec, ``out/<spec name>`` for each of several."""
    if out is None:
        return None
    return Path(out) / spec.name if several else Path(out)


def run_specs(specs: Sequence[Spec | str | Path], client: Any = None, refit: bool = False,
              progress: Progress | None = None, out: str | Path | None = None,
              progressbar: bool = False) -> SpecRuns:
    """Fit every spec into its run directory (:func:`~hiermodel.runs.run_spec` each), reusing
    unchanged runs; a spec that fails is recorded in :attr:`SpecRuns.errors` and the others go on.

    ``client``: ``None`` (in this process, one spec after another), ``"local"``/``"local:N"``, a
    Dask scheduler address or a :class:`distributed.Client` (see :mod:`hiermodel.cluster`): the
    data are loaded and hashed here, each distinct data set is shipped once per worker, every
    spec that needs sampling is one task (built and sampled on a worker with
    :func:`~hiermodel.runs.runner.spec_seed`, so the draws equal the serial run's), and each
    run is written here as its fit arrives. ``out``: as ``run_spec``'s for one spec,
    ``out/<spec name>`` for each of several. Call :meth:`SpecRuns.raise_failures` to turn
    failures into an error.
    """
    loaded = [s if isinstance(s, Spec) else load_spec(s) for s in specs]
    result = SpecRuns(loaded)
    several = len(loaded) > 1
    stage = Reporter(progress).stage("fit", len(loaded))  # one timed step per in-process fit
    with task_pool(client) as pool:
        jobs: dict[int, RunJob] = {}
        for i, spec in enumerate(loaded):
            if pool is None and several:
                tell(progress, f"[{i + 1}/{len(loaded)}] {spec.label}")
            try:
                job = prepare_run(spec, refit, _out(out, spec, several))
                if job.manifest is not None:
                    result.runs[i] = reuse_run(job, progress)
                elif pool is None:
                    with stage.step(spec.label, fitting_message(job)):
                        fitted = fit_spec(spec, job.frame, progressbar)
                    result.runs[i] = finish_run(job, fitted, progress)
                else:
                    jobs[i] = job
            except Exception as exc:  # one failed spec does not lose the others
                result.errors[i] = exc
                tell(progress, f"{spec.label} FAILED: {first_line(exc)}")
        if pool is None or not jobs:
            return result
        frames: dict[str, Any] = {}  # data hash -> the frame, shipped once per worker
        tasks = []
        for i, job in jobs.items():
            if job.data_digest not in frames:
                frames[job.data_digest] = pool.share(job.frame)
            tasks.append(Task(i, job.spec.label, fit_spec,
                              (job.spec, frames[job.data_digest], False)))
        for outcome in pool.run(tasks, progress, what="fits"):
            i = int(outcome.key)  # type: ignore[call-overload]
            if outcome.error is not None:
                result.errors[i] = outcome.error
                continue
            try:
                result.runs[i] = finish_run(jobs[i], outcome.value, progress)
            except Exception as exc:
                result.errors[i] = exc
                tell(progress, f"{jobs[i].spec.label} FAILED: {first_line(exc)}")
    return result


__all__ = ["SpecRuns", "run_specs"]
