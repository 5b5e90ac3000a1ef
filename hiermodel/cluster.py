"""Independent fits as Dask tasks: the one place that imports ``dask.distributed``.

``--cluster ADDRESS`` on the command line and ``client=`` in Python
(:func:`hiermodel.runs.run_specs`, :func:`hiermodel.compare`,
:func:`hiermodel.runs.run_compare`) send independent fits — specs, comparison variants,
leave-one-group-out folds — to a Dask cluster. Without an address everything runs in this
process, as it always did. ``client`` / ``--cluster`` is one of:

- ``None``: in-process (the callers keep their own loop; no Dask import);
- ``"local"`` or ``"local:N"``: a :class:`distributed.LocalCluster` of ``N`` worker processes
  (default 2) with one thread each, started here and closed when the work is done;
- a scheduler address (``"tcp://10.0.0.5:8786"``, ``"scheduler:8786"``): an existing cluster;
- a :class:`distributed.Client`: used as it is and left open.

:class:`TaskPool` ships a value used by many tasks once per worker (:meth:`TaskPool.share`,
``scatter(broadcast=True)``), submits the tasks and yields each :class:`Outcome` as it
finishes, with progress (``leave-one-group-out: 3/15 done: pooled without 6 groups``); a
failed task is an outcome with its error, never the end of the others. A task runs the whole
fit (all chains) on one worker; fits are seeded by the caller, so a task's draws equal the
serial run's. See ``docs/cluster.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hiermodel.errors import ClusterError, HiermodelError

LOCAL = "local"
DEFAULT_LOCAL_WORKERS = 2
EXTRA = "hiermodel[dask]"

Progress = Callable[[str], None]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(
            f"running fits on a Dask cluster needs the package 'distributed', which is not "
            f"installed; install the optional extra: pip install '{EXTRA}' (or run without "
            "--cluster / client= to fit in this process)") from exc
    return distributed


def parse_local(address: str) -> int | None:
    """``N`` for ``"local:N"`` (:data:`DEFAULT_LOCAL_WORKERS` for ``"local"``), ``None`` for a
    scheduler address."""
    text = address.strip()
    if text == LOCAL:
        return DEFAULT_LOCAL_WORKERS
    if not text.startswith(f"{LOCAL}:"):
        return None
    count = text[len(LOCAL) + 1:]
    if not count.isdigit() or int(count) < 1:
        raise ClusterError(f"--cluster '{address}': the number of local workers must be a "
                           f"whole number >= 1, as in 'local:2' (or 'local' for "
                           f"{DEFAULT_LOCAL_WORKERS})")
    return int(count)


def first_line(error: BaseException) -> str:
    """An error as one line: the first line of its message (its type name for a bug)."""
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    if isinstance(error, HiermodelError):
        return line or type(error).__name__
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


@dataclass
class Outcome:
    """One finished task: its key, its value or the error it raised, and its wall time (seconds
    from submission to arrival)."""

    key: Hashable
    name: str
    value: Any = None
    error: BaseException | None = None
    seconds: float = float("nan")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """The first line of the error ("" when the task succeeded)."""
        return "" if self.error is None else first_line(self.error)


@dataclass
class Task:
    """A function call to run on a worker: ``fn(*args)``; ``name`` is what progress says."""

    key: Hashable
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]


class TaskPool:
    """Tasks on a Dask cluster through one :class:`distributed.Client`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def share(self, value: Any) -> Any:
        """``value`` on every worker, shipped once per worker (not once per task); pass the
        returned future as a task argument."""
        return self.client.scatter(value, broadcast=True, hash=False)

    def run(self, tasks: Sequence[Task], progress: Progress | None = None,
            what: str = "fits") -> Iterator[Outcome]:
        """Submit every task and yield its :class:`Outcome` as it finishes (any order)."""
        distributed = _distributed()
        if progress is not None:
            progress(f"{len(tasks)} {what} sent to the Dask cluster "
                     f"({self.n_workers} workers, {self.client.scheduler.address})")
        start = time.perf_counter()
        futures = {}
        for task in tasks:
            futures[self.client.submit(task.fn, *task.args, pure=False)] = task
        for done, future in enumerate(distributed.as_completed(list(futures)), start=1):
            task = futures.pop(future)
            outcome = Outcome(task.key, task.name, seconds=time.perf_counter() - start)
            if future.status == "error":
                outcome.error = future.exception()
            else:
                try:
                    outcome.value = future.result()
                except Exception as exc:  # a result that cannot be brought back
                    outcome.error = exc
            future.release()
            if progress is not None:
                state = "done" if outcome.ok else "FAILED"
                why = outcome.message.removeprefix(f"{task.name}: ")
                detail = f": {why}" if not outcome.ok else ""
                progress(f"{done}/{len(tasks)} {what} {state}: {task.name} (after "
                         f"{outcome.seconds:.1f} s{detail})")
            yield outcome


@contextmanager
def task_pool(client: Any) -> Iterator[TaskPool | None]:
    """A :class:`TaskPool` for ``client`` (see the module docstring); ``None`` for ``None``
    (run in this process). A local cluster or a client made here is closed on exit."""
    if client is None:
        yield None
        return
    distributed = _distributed()
    if isinstance(client, distributed.Client):
        yield TaskPool(client)
        return
    if not isinstance(client, str):
        raise ClusterError(f"client must be a dask.distributed Client, a scheduler address or "
                           f"'local[:N]' (got {type(client).__name__})")
    workers = parse_local(client)
    if workers is not None:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as made:
            yield TaskPool(made)
        return
    try:
        made = distributed.Client(client, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot connect to the Dask scheduler at '{client}': {exc}; start "
                           "one (dask scheduler) or pass 'local' / 'local:N' for a cluster on "
                           "this machine") from exc
    with made:
        yield TaskPool(made)


__all__ = ["DEFAULT_LOCAL_WORKERS", "EXTRA", "LOCAL", "Outcome", "Task", "TaskPool",
           "first_line", "parse_local", "task_pool"]
