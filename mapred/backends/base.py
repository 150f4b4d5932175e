"""The interface between the driver's scheduler and whatever runs tasks.

A backend owns *slots* (a worker process, or the calling process itself). The
scheduler in :mod:`mapred.engine` hands a task to an idle slot, forwards map output
to running reduce tasks, and reads :class:`Event` s back; the backend knows nothing
about jobs beyond that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mapred.job import JobSpec


@dataclass(frozen=True)
class Event:
    """Something that happened to a slot.

    ``kind`` is ``"done"`` (payload: the task's result), ``"error"`` (payload: a packed
    exception from the task) or ``"died"`` (payload: the process exit code).
    """

    slot: int
    kind: str
    payload: Any


class Backend(Protocol):
    """What the scheduler needs from a backend."""

    def slots(self) -> int:
        """How many tasks may run at once."""
        ...

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
