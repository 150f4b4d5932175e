"""The driver loop of one job: hand out tasks, read events, retry, commit.

:class:`Driver` is the single scheduler every backend is driven by. It pulls the next
chunk of input only when a slot is idle (bounded read-ahead), commits a map attempt
only when it reports success (forwarding its batch references to running reduce
tasks), turns a dead worker into a retry or :class:`~mapred.errors.WorkerLost`, and
enforces the deadline. See :mod:`mapred.engine` for the picture.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from mapred.backends.base import Backend, Event
from mapred.counters import (
    BUILTIN_GROUP,
    TASK_RETRIES,
    Counters,
    LiveCounters,
    empty_totals,
    merge_into,
)
from mapred.errors import JobTimeout, RemoteError, WorkerLost, unpack_exception
from mapred.job import JobSpec
from mapred.maptask import MapResult, MapTask
from mapred.output import commit_part
from mapred.reducetask import ReduceResult, ReduceTask
from mapred.shuffle import Batch
from mapred.splits import TextInput, iter_record_splits, iter_stream_lines


def exit_reason(exitcode: int | None) -> str:
    """Say how a process ended: ``"signal SIGKILL (-9)"`` or ``"exit code 3"``.

    >>> exit_reason(-9), exit_reason(3)
    ('signal SIGKILL (-9)', 'exit code 3')
    """
    if exitcode is None:
        return "an unknown cause"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name} ({exitcode})"
        except ValueError:
            return f"signal {-exitcode} ({exitcode})"
    return f"exit code {exitcode}"


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """During a job, SIGTERM unwinds like Ctrl-C (as ``SystemExit(143)``), so the
    workers are stopped and the files removed; only where nobody else handles it."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while cleaning up, so a second one cannot leave files behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def plan_map_tasks(data: Any, chunksize: int | None) -> Iterator[dict[str, Any]]:
    """Yield the input of each map task, lazily: file splits first, then chunks."""
    if isinstance(data, TextInput):
        for split in data.plan_splits():
            yield {"split": split, "encoding": data.encoding, "errors": data.errors}
        for stream in data.streams:
            lines = iter_stream_lines(stream, data.encoding, data.errors)
            for chunk in iter_record_splits(lines, chunksize):
                yield {"records": chunk}
        return
    for chunk in iter_record_splits(data, chunksize):
        yield {"records": chunk}


class Driver:
    """The driver loop of one job: dispatch, collect events, retry, commit."""

    def __init__(
        self,
        backend: Backend,
        spec: JobSpec,
        inputs: Iterator[dict[str, Any]],
        max_retries: int,
        timeout: float | None,
        started: float,
    ) -> None:
        self.backend = backend
        self.spec = spec
        self.inputs = inputs
        self.max_retries = max_retries
        self.deadline = None if timeout is None else started + timeout
        self.timeout = timeout
        self.counters: Counters = empty_totals()
        self.progress: Any = None
        self.live: LiveCounters | None = None
        self._live_shown = 0.0
        self.idle = set(range(backend.slots()))
        self.running: dict[int, MapTask | ReduceTask] = {}
        self.retries: deque[MapTask] = deque()
        self.next_index = 0
        self.n_maps: int | None = None
        self.committed: dict[int, list[list[Batch]]] = {}
        self.reduce_queue: deque[tuple[int, int]] = deque()
        self.reduced: dict[int, ReduceResult] = {}

    def run(self) -> list[ReduceResult]:
        """Run the job to the end; on any exception, stop the busy workers first."""
        try:
            while len(self.reduced) < self.spec.reducers:
                self._dispatch()
                for event in self.backend.wait(self._wait_time()):
                    self._handle(event)
                self._check_deadline()
                self._show_live()
        except BaseException:
            self._stop_running()
            raise
        return [self.reduced[p] for p in range(self.spec.reducers)]

    def _show_live(self) -> None:
        """Move the progress bar with the records running map tasks have read."""
        now = time.monotonic()
        if self.live is None or self.progress is None or now - self._live_shown < 0.25:
            return
        self._live_shown = now
        records_read = getattr(self.progress, "records_read", None)
        if records_read is not None:
            records_read(self.live.records())

    def _wait_time(self) -> float:
        if self.deadline is None:
            return 1.0
        return max(0.0, min(1.0, self.deadline - time.monotonic()))

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise JobTimeout(f"the job did not finish within its timeout of {self.timeout} s")

    def _stop_running(self) -> None:
        with sigint_deferred():
            for slot in list(self.running):
                self.backend.reset(slot)
            self.running.clear()

    def _dispatch(self) -> None:
        for slot in sorted(self.idle):
            task = self._next_task()
            if task is None:
                return
            self.idle.discard(slot)
            self.running[slot] = task
            self.backend.submit(slot, self.spec, task)

    def _next_task(self) -> MapTask | ReduceTask | None:
        if self.retries:
            return self.retries.popleft()
        if self.n_maps is None:
            try:
                task_input = next(self.inputs)
            except StopIteration:
                self.n_maps = self.next_index
                self.reduce_queue.extend((p, 1) for p in range(self.spec.reducers))
                if self.progress is not None:
                    self.progress.maps_planned(self.n_maps)
            else:
                task = MapTask(index=self.next_index, attempt=1, **task_input)
                self.next_index += 1
                return task
        if self.reduce_queue:
            partition, attempt = self.reduce_queue.popleft()
            committed = tuple(
                (index, tuple(batches[partition]))
                for index, batches in sorted(self.committed.items())
            )
            return ReduceTask(partition, attempt, self.n_maps, committed)
        return None

    def _handle(self, event: Event) -> None:
        task = self.running.pop(event.slot, None)
        self.idle.add(event.slot)
        if task is None:
            return
        if event.kind == "done":
            if isinstance(event.payload, MapResult):
                self._commit_map(event.payload)
            else:
                self._commit_reduce(event.payload)
        elif event.kind == "error":
            # The worker is healthy, but may hold half a conversation (a reduce task's
            # pending commits): replace it rather than reason about its state.
            self.backend.reset(event.slot)
            raise _rebuild(event.payload, task)
        else:
            self._retry(task, event.payload)

    def _commit_map(self, result: MapResult) -> None:
        self.committed[result.index] = result.batches
        merge_into(self.counters, result.counters)
        if self.live is not None:
            self.live.commit(result.index, result.counters)
        for slot, task in self.running.items():
            if isinstance(task, ReduceTask):
                self.backend.forward(slot, result.index, result.batches[task.partition])
        if self.progress is not None:
            self.progress.map_done(result)

    def _commit_reduce(self, result: ReduceResult) -> None:
        if self.spec.output_dir is not None and result.path is not None:
            result = replace(
                result,
                path=commit_part(
                    result.path, self.spec.output_dir, result.partition, self.spec.output_options
                ),
            )
        self.reduced[result.partition] = result
        merge_into(self.counters, result.counters)
        if self.progress is not None:
            self.progress.reduce_done(result)

    def _retry(self, task: MapTask | ReduceTask, exitcode: int | None) -> None:
        attempt = task.attempt + 1
        if attempt > 1 + self.max_retries:
            raise WorkerLost(
                f"{task.describe()} lost its worker process on all {task.attempt} attempts "
                f"(last: {exit_reason(exitcode)})",
                task=task.describe(),
                exitcode=exitcode,
            )
        self.counters[BUILTIN_GROUP][TASK_RETRIES] += 1
        if isinstance(task, MapTask):
            if self.live is not None:
                self.live.discard(task.index)
            if self.spec.workdir is not None:
                name = f"map-{task.index:06d}-{task.attempt}.bin"
                with suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.spec.workdir, name))
            self.retries.append(replace(task, attempt=attempt))
        else:
            self.reduce_queue.appendleft((task.partition, attempt))


def _rebuild(packed: bytes, task: MapTask | ReduceTask) -> BaseException:
    """The user's exception, as raised in the worker, ready to raise here."""
    exc = unpack_exception(packed)
    if isinstance(exc, RemoteError) or not getattr(exc, "__notes__", None):
        exc.add_note(f"mapred: in {task.describe()}")
    return exc
