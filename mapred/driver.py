r"""The driver loop of one job: hand out tasks, read events, retry, commit.

::

      data ──► plan splits ─────────► MapTask ──► worker ──► map-<i>-<a>.bin
                (bounded read-ahead)                  │   (one batch per partition)
                                                      ▼ commit (i, batches)
                                     ReduceTask p ◄── driver forwards references
                                         │ ingest in map order, spill past budget,
                                         ▼ merge, reduce each key in key order
                                     part-<p> ──► Result (sorted) or output=DIR

*The driver* (:class:`Driver`) is one thread running one loop. It pulls the next split of
input only when a worker is idle, so read-ahead is bounded by the number of workers.
It hands each task to a backend slot, and learns from :class:`~mapred.backends.base.Event`
s what became of it. A map task's output counts only when its attempt reports
success: the driver then *commits* it, forwarding the batch references to every
running reduce task. Reduce tasks start as soon as no map task is left to hand out,
and ingest committed output while the last map tasks still run.

*Workers* run the stage functions of :mod:`mapred.maptask` and
:mod:`mapred.reducetask`. A worker that dies costs its task one attempt; the task
runs again on a fresh process, up to ``max_retries`` more times, and the dead
attempt's output, never committed, is ignored. A user exception stops the job at
once: busy workers are killed and replaced, and the exception is raised here with
its type, the worker's traceback as ``__cause__`` and a note naming the task.

Backends only report events; the retry policy is the driver's alone, for every
backend: a task may lose its worker ``max_retries`` times (a Dask cluster that re-runs a
task by itself reports each re-run as a loss), once more is
:class:`~mapred.errors.WorkerLost`. :mod:`mapred.launch` sets a job up for the driver
and tears it down.

Invariants: the driver holds no per-record state (one entry per task); every byte of
intermediate data lives in a private temporary directory removed on every exit path;
the values of a key reach the reducer in input order because reduce tasks ingest map
output strictly in map-task order.
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
from typing import TYPE_CHECKING, Any

from mapred.backends.base import Backend, Death, Event, task_key
from mapred.counters import (
    BUILTIN_GROUP,
    TASK_RETRIES,
    Counters,
    LiveCounters,
    empty_totals,
    merge_into,
)
from mapred.errors import BEFORE_THE_TASK, JobTimeout, RemoteError, WorkerLost, unpack_exception
from mapred.job import JobSpec
from mapred.maptask import MapResult, MapTask
from mapred.output import commit_part
from mapred.quarantine import Quarantine, SkippedRecord
from mapred.reducetask import ReduceResult, ReduceTask
from mapred.shuffle import Batch

if TYPE_CHECKING:
    from mapred.progress import ProgressBar


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


class Driver:
    """The driver loop of one job: dispatch, collect events, retry, commit.

    Args:
        backend: where tasks run, prepared for ``spec``.
        spec: the job.
        inputs: each map task's input, lazily (see :func:`mapred.launch.plan_map_tasks`).
        max_retries: how many times one task may lose its worker.
        timeout: seconds for the whole job, counted from ``started``; None: no limit.
        started: when the job started (``time.monotonic()``).
        progress: the progress bar to move, if any.
        live: the live counters the progress bar shows, if any.
        skipped_before: records the job's earlier steps skipped (``max_skipped`` is the
            job's).
    """

    def __init__(
        self,
        backend: Backend,
        spec: JobSpec,
        inputs: Iterator[dict[str, Any]],
        max_retries: int,
        timeout: float | None,
        started: float,
        progress: ProgressBar | None = None,
        live: LiveCounters | None = None,
        skipped_before: int = 0,
    ) -> None:
        self.backend = backend
        self.spec = spec
        self.inputs = inputs
        self.max_retries = max_retries
        self.deadline = None if timeout is None else started + timeout
        self.timeout = timeout
        self.counters: Counters = empty_totals()
        self.progress = progress
        self.live = live
        self._live_shown = 0.0
        self.losses: dict[tuple[str, int], int] = {}  # workers lost, per task
        self.idle = set(range(backend.slots()))
        self.running: dict[int, MapTask | ReduceTask] = {}
        self.retries: deque[MapTask] = deque()
        self.next_index = 0
        self.n_maps: int | None = None
        self.committed: dict[int, list[list[Batch]]] = {}
        self.reduce_queue: deque[tuple[int, int]] = deque()
        self.reduced: dict[int, ReduceResult] = {}
        self.quarantine = Quarantine(spec.max_skipped, skipped_before, spec.workdir)
        self.skip_next: dict[int, tuple[tuple[int, str], ...]] = {}  # map task -> records

    def run(self) -> list[ReduceResult]:
        """Run the job to the end; on any exception, stop the busy workers first."""
        try:
            while not self._finished():
                self._dispatch()
                for event in self.backend.wait(self._wait_time()):
                    self._handle(event)
                self._check_deadline()
                self._show_live()
        except BaseException:
            self._stop_running()
            raise
        return [self.reduced[p] for p in range(len(self.reduced))]

    def _finished(self) -> bool:
        """All reduce tasks are done; in a map-only step (no partitions), all map tasks."""
        if self.spec.reducers:
            return len(self.reduced) == self.spec.reducers
        return self.n_maps is not None and len(self.reduced) == self.n_maps

    def _show_live(self) -> None:
        """Move the progress bar with the records running map tasks have read, and keep
        its clock moving (on every backend, live counts or not)."""
        if self.progress is None:
            return
        self.progress.tick()
        now = time.monotonic()
        if self.live is None or now - self._live_shown < 0.25:
            return
        self._live_shown = now
        self.progress.records_read(self.live.records())

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
        if event.kind == "died" and event.payload.restarted:
            # The backend runs the task again by itself: the loss counts, the task stays;
            # unless it died on the same record again: then a new attempt skips it.
            slot = event.slot
            on_slot = self.running.get(slot) if slot is not None else None
            if slot is None or on_slot is None or not self._died_on_record(on_slot, event.payload):
                self._count_loss(event.payload, on_slot)
                return
            self.backend.reset(slot)  # its own re-run would die on the record
            del self.running[slot]
            self.idle.add(slot)
            self.counters[BUILTIN_GROUP][TASK_RETRIES] += 1
            self._retry(on_slot)
            return
        assert event.slot is not None
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
            raise self.quarantine.too_many(_rebuild(event.payload, task))
        else:
            if self._died_on_record(task, event.payload):
                self.counters[BUILTIN_GROUP][TASK_RETRIES] += 1
            else:
                self._count_loss(event.payload, task)
            self._retry(task)

    def _commit_map(self, result: MapResult) -> None:
        if result.part is not None:  # a map-only step: the task's part is its output
            self._commit_reduce(replace(result.part, counters={}))
        self.committed[result.index] = result.batches
        merge_into(self.counters, result.counters)
        self.quarantine.commit(result.index, result.skipped)
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
        self.quarantine.commit(None, result.skipped)
        if self.progress is not None and self.spec.reducers:
            self.progress.reduce_done(result)

    def _count_loss(self, death: Death, task: MapTask | ReduceTask | None) -> None:
        """A worker died with ``task`` (or with the task ``death.task``): one loss.

        The task's ``max_retries + 1``-th loss, or the loss of its input, ends the job.
        """
        if death.task is not None:
            key = death.task
        else:
            assert task is not None, "a death on no slot names its task"
            key = task_key(task)
        describe = task.describe() if task is not None else f"{key[0]} task {key[1]}"
        losses = self.losses[key] = self.losses.get(key, 0) + 1
        if death.input_lost:
            raise WorkerLost(f"{describe} lost its input: {death.how}", task=describe)
        if losses > self.max_retries:
            raise WorkerLost(
                f"{describe} lost its worker process on all {losses} attempts (last: {death.how})",
                task=describe,
                exitcode=death.exitcode,
            )
        self.counters[BUILTIN_GROUP][TASK_RETRIES] += 1

    def skipped(self) -> list[SkippedRecord]:
        """The records (and keys) this step skipped, in input order, then key order."""
        return self.quarantine.entries()

    def _died_on_record(self, task: MapTask | ReduceTask, death: Death) -> bool:
        """With ``max_skipped``: whether a map attempt died on the same record as the
        attempt before it. Then the next attempt skips the record, and the deaths on it
        are forgiven (they do not count against ``max_retries``)."""
        if not isinstance(task, MapTask):
            return False
        bad = self.quarantine.died_on_record(task.index, task.attempt, death.how, death.record)
        if bad is None:
            return False
        self.skip_next[task.index] = (*task.skip, bad)
        self.losses.pop(task_key(task), None)
        return True

    def _retry(self, task: MapTask | ReduceTask) -> None:
        """Run a task whose worker died again, as a new attempt."""
        attempt = task.attempt + 1
        if isinstance(task, MapTask):
            if self.live is not None:
                self.live.discard(task.index)
            if self.spec.workdir is not None:
                name = f"map-{task.index:06d}-{task.attempt}.bin"
                with suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.spec.workdir, name))
            skip = self.skip_next.pop(task.index, task.skip)
            self.retries.append(replace(task, attempt=attempt, skip=skip))
        else:
            self.reduce_queue.appendleft((task.partition, attempt))


def _rebuild(packed: bytes, task: MapTask | ReduceTask) -> BaseException:
    """The user's exception, as raised in the worker, ready to raise here."""
    exc = unpack_exception(packed)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list) and BEFORE_THE_TASK in notes:  # the worker could not tell which
        notes[notes.index(BEFORE_THE_TASK)] = f"mapred: in {task.describe()}"
    elif isinstance(exc, RemoteError) or not notes:
        exc.add_note(f"mapred: in {task.describe()}")
    return exc
