"""Run every task in the calling process, one after another.

For debugging (``pdb`` stops inside the mapper) and as the reference the other
backends are tested against: the same stage functions, no processes.
"""

from __future__ import annotations

from typing import Any

from mapred.backends.base import Event
from mapred.errors import pack_exception
from mapred.job import JobSpec, LoadedJob
from mapred.maptask import MapTask, run_map_task
from mapred.reducetask import ReduceState


class SerialBackend:
    """One slot: the calling process. Tasks run inside ``submit``."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._job: LoadedJob | None = None
        self._reduce: ReduceState | None = None

    def slots(self) -> int:
        return 1

    def _loaded(self, spec: JobSpec) -> LoadedJob:
        if self._job is None or self._job.spec.job_id != spec.job_id:
            self._job = LoadedJob(spec)
        return self._job

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        try:
            job = self._loaded(spec)
            if isinstance(task, MapTask):
                self._events.append(Event(slot, "done", run_map_task(job, task)))
                return
            self._reduce = ReduceState(job, task)
            self._finish_if_complete(slot)
        except Exception as exc:
            self._events.append(Event(slot, "error", pack_exception(exc)))

    def forward(self, slot: int, map_index: int, segments: Any) -> None:
        if self._reduce is None:
            return
        try:
            self._reduce.add(map_index, segments)
            self._finish_if_complete(slot)
        except Exception as exc:
            self._events.append(Event(slot, "error", pack_exception(exc)))

    def _finish_if_complete(self, slot: int) -> None:
        if self._reduce is not None and self._reduce.complete:
            state, self._reduce = self._reduce, None
            self._events.append(Event(slot, "done", state.finish()))

    def wait(self, timeout: float) -> list[Event]:
        events, self._events = self._events, []
        return events

    def reset(self, slot: int) -> None:
        self._reduce = None

    def close(self) -> None:
        self._reduce = None
        self._job = None
