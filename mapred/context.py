"""Where user code runs: :func:`task_context` inside a mapper, combiner or reducer.

The stage functions open a :class:`TaskContext` around each task attempt
(:func:`running_task`); user code reads it. Kept per thread, as the counters are: a
Dask worker runs several tasks at once, one per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mapred.errors import MapredError

_local = threading.local()


@dataclass
class TaskContext:
    """The task attempt that is running the current user function.

    Attributes:
        phase: ``"map"`` or ``"reduce"`` (a combiner runs in either).
        step: the step's number, 1-based (1 for a single-step job).
        task: the task's index: the map task's position in the input, or the reduce
            task's partition.
        attempt: 1 for the first try, 2 for the first retry, ...
        path: for a map task reading a file split, the file's path (or URL); else None.
    """

    phase: str
    step: int
    task: int
    attempt: int
    path: str | None = None
    record: int = 0  # records of this task the map loop has started, the current included
    _split: Any = field(default=None, repr=False)
    _lines_before: int | None = field(default=None, repr=False)

    @property
    def line(self) -> int | None:
        """The 1-based line number, in its file, of the current record of a file split.

        Counted from the start of the file: for a split that starts past byte 0, the
        lines before it are counted once, on the first access (a read of the file up to
        the split: cheap when never asked). None outside a per-record mapper reading a
        file (a task mapper, a reducer, an iterable's records).
        """
        if self._split is None or self.record == 0:
            return None
        if self._lines_before is None:
            self._lines_before = _lines_before(self._split)
        return self._lines_before + self.record


def _lines_before(split: Any) -> int:
    """The lines of a split's file before the split's first line."""
    if split.start == 0:
        return 0
    from mapred.splitreader import lines_before

    return lines_before(split)


def task_context() -> TaskContext:
    """The running task: phase, step, task index, attempt, and the file and line.

    Call it inside a mapper, combiner or reducer (on any backend).

    Raises:
        MapredError: called outside a task.
    """
    context: TaskContext | None = getattr(_local, "context", None)
    if context is None:
        raise MapredError("task_context() must be called inside a mapper, combiner or reducer")
    return context


@contextmanager
def running_task(context: TaskContext) -> Iterator[TaskContext]:
    """Make ``context`` the current task's for the duration of the block."""
    previous = getattr(_local, "context", None)
    _local.context = context
    try:
        yield context
    finally:
        _local.context = previous
