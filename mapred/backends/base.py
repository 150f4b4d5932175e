"""The interface between the :class:`~mapred.driver.Driver` and whatever runs tasks.

A backend owns *slots* (a worker process, a task in flight on a cluster, or the calling
process itself). The driver hands a task to an idle slot, forwards map output to
running reduce tasks, and reads :class:`Event` s back. A backend only reports what
happened; what to do about it (retry a task, give up with
:class:`~mapred.errors.WorkerLost`, stop the job) is the driver's decision alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mapred.job import JobSpec
from mapred.maptask import MapTask
from mapred.reducetask import ReduceTask

if TYPE_CHECKING:
    from mapred.counters import LiveCounters


def task_key(task: MapTask | ReduceTask) -> tuple[str, int]:
    """A task whatever its attempt: ``("map", index)`` or ``("reduce", partition)``.

    >>> task_key(MapTask(3, attempt=2)), task_key(ReduceTask(1, attempt=1, n_maps=4))
    (('map', 3), ('reduce', 1))
    """
    if isinstance(task, MapTask):
        return "map", task.index
    return "reduce", task.partition


@dataclass(frozen=True)
class Death:
    """How a task lost its worker: the payload of a ``"died"`` :class:`Event`.

    Attributes:
        how: how the worker ended, for messages: ``"signal SIGKILL (-9)"``.
        exitcode: the worker process's exit code (negative for a signal), if known.
        restarted: the backend already runs the task again by itself (a Dask cluster re-runs
            the tasks of a dead worker): the death counts, but the task stays where it is.
        task: the :func:`task_key` of a task that is on no slot (a committed map task whose
            output died with its worker); None for the task on the event's slot.
        input_lost: the task's input died with its workers and cannot be made again:
            running the task again cannot help.
        record: for a map attempt run with ``max_skipped`` whose note is not on the
            driver's disk, the record it was on (from 1; 0: none), as the backend read
            it (:mod:`mapred.backends.dask_notes`); None: the driver reads the note.
    """

    how: str
    exitcode: int | None = None
    restarted: bool = False
    task: tuple[str, int] | None = None
    input_lost: bool = False
    record: int | None = None


@dataclass(frozen=True)
class Event:
    """Something that happened to the task on a slot.

    ``kind`` is ``"done"`` (payload: the task's result), ``"error"`` (payload: a packed
    exception, see :func:`mapred.errors.pack_exception`) or ``"died"`` (payload: a
    :class:`Death`). ``slot`` is None only for a ``"died"`` event about a task on no slot.
    """

    slot: int | None
    kind: str
    payload: Any


class Backend(Protocol):
    """What the driver needs from a backend.

    Backends subclass it, for the context manager and the defaults of :meth:`prepare`
    and :meth:`live_counters`.
    """

    #: The workers see the driver's disk: a job gets a private work directory there for
    #: map output and spill files (False: map output travels with the task results).
    shared_disk: bool = True
    #: The job's functions travel to the workers pickled (False: tasks run in the
    #: driver's process, on the caller's own function objects).
    pickles_functions: bool = True

    def slots(self) -> int:
        """How many tasks may run at once."""
        ...

    def prepare(self, spec: JobSpec, functions: Mapping[str, Any]) -> None:
        """A new job starts: ``spec``, and the caller's own ``functions`` by name.

        Called once per job, before its first task; by default it does nothing.
        """
        return None

    def live_counters(self) -> LiveCounters | None:
        """Counters the workers update while they read, for the progress bar; None when
        the workers cannot share them. The caller closes them at the end of the job."""
        return None

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        """Start ``task`` (a MapTask or ReduceTask) of job ``spec`` on an idle slot."""
        ...

    def forward(self, slot: int, map_index: int, batches: Any) -> None:
        """Give the reduce task running on ``slot`` one more map task's batches."""
        ...

    def wait(self, timeout: float) -> list[Event]:
        """Events since the last call; waits up to ``timeout`` seconds for one."""
        ...

    def reset(self, slot: int) -> None:
        """Stop whatever runs on ``slot`` now and make it idle (a fresh process)."""
        ...

    def close(self) -> None:
        """Stop every worker; idempotent."""
        ...

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
