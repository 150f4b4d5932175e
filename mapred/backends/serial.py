"""Run every task in the calling process, one after another.

For debugging and as the reference the other backends are tested against: the same
stage functions, no processes. The driver hands this backend the user's own function
objects (:meth:`SerialBackend.prepare`), and exceptions are not packed into events:
they propagate from ``submit`` with their real traceback, so ``pdb`` (a breakpoint or
a post-mortem) stops inside the mapper, and a mapper's changes to globals stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapred.backends.base import Backend, Event
from mapred.job import JobSpec, LoadedJob
from mapred.maptask import MapTask, execute_map_task
from mapred.reducetask import ReduceState


class SerialBackend(Backend):
    """One slot: the calling process. Tasks run inside ``submit``."""

    pickles_functions = False  # the caller's own function objects run here

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._job: LoadedJob | None = None
        self._reduce: ReduceState | None = None

    def slots(self) -> int:
        """One slot: the calling process."""
        return 1

    def prepare(self, spec: JobSpec, functions: Mapping[str, Any]) -> None:
        """Use the caller's own functions for the job ``spec`` (no pickling)."""
        self._job = LoadedJob(spec, functions)

    def _loaded(self, spec: JobSpec) -> LoadedJob:
        if self._job is None or self._job.spec.job_id != spec.job_id:
            self._job = LoadedJob(spec)
        return self._job

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        """Run a map task now; start a reduce task and finish it once its input is in.

        Exceptions propagate to the driver as they are.
        """
        job = self._loaded(spec)
        if isinstance(task, MapTask):
            self._events.append(Event(slot, "done", execute_map_task(job, task)))
            return
        self._reduce = ReduceState(job, task)
        self._finish_if_complete(slot)

    def forward(self, slot: int, map_index: int, batches: Any) -> None:
        """Feed one map task's batches to the running reduce task."""
        if self._reduce is None:
            return
        self._reduce.add(map_index, batches)
        self._finish_if_complete(slot)

    def _finish_if_complete(self, slot: int) -> None:
        if self._reduce is not None and self._reduce.complete:
            state, self._reduce = self._reduce, None
            self._events.append(Event(slot, "done", state.finish()))

    def wait(self, timeout: float) -> list[Event]:
        """The events of the tasks run since the last call; never waits."""
        events, self._events = self._events, []
        return events

    def reset(self, slot: int) -> None:
        """Drop the running reduce task, if any."""
        self._reduce = None

    def close(self) -> None:
        """Forget the job and any running reduce task."""
        self._reduce = None
        self._job = None
