"""A supervised pool of worker processes, built from multiprocessing primitives.

Why not ``multiprocessing.Pool``: when one of its workers dies, the task it held is
lost and ``Pool.map`` waits forever (cpython#96062). Here the driver knows which
task each worker holds and waits on the workers' *sentinels* together with their
pipes, so a death is seen at once, the worker is replaced, and the driver decides
whether the task runs again.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from mapred.backends.base import Backend, Death, Event
from mapred.counters import LiveCounters
from mapred.errors import MapredError
from mapred.job import JobSpec
from mapred.maptask import MapTask
from mapred.serde import loads
from mapred.worker import in_worker, send, worker_main

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 1.0  # an idle worker told to stop gets this long before SIGKILL
START_METHODS = ("fork", "forkserver", "spawn")


_NESTED_JOB = (
    "mapreduce() was called inside a mapper, combiner or reducer: a mapred worker process "
    "cannot start worker processes of its own. Run the inner job with backend='serial' "
    "(it then runs inside this worker), or run it from your own process before or after "
    "the outer job"
)
_DAEMON_PARENT = (
    "mapreduce() cannot start worker processes from a daemonic process; use "
    "backend='serial' here, or run the job from a non-daemonic process"
)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    lifeline: Connection  # driver's write end; never written, closed to signal death
    job_id: str | None = None
    busy: bool = False
    driver_fds: list[int] = field(default_factory=list)


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


class ProcessBackend(Backend):
    """``workers`` processes, each serving one task at a time over a private pipe."""

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        if multiprocessing.current_process().daemon:
            raise MapredError(_NESTED_JOB if in_worker() else _DAEMON_PARENT)
        self.context: BaseContext = multiprocessing.get_context(start_method)
        self.start_method = self.context.get_start_method()
        self._workers: list[_Worker | None] = [None] * workers
        self._closed = False
        self._live: LiveCounters | None = None  # the job's live counters, if any
        for slot in range(workers):
            self._workers[slot] = self._start()

    def _start(self) -> _Worker:
        conn, child_conn = self.context.Pipe(duplex=True)
        lifeline_read, lifeline_write = self.context.Pipe(duplex=False)
        close_fds: list[int] = []
        if self.start_method == "fork":
            # The child inherits every descriptor the driver holds; it must close the
            # driver's ends or it would keep them (and its siblings) from ever seeing EOF.
            close_fds = [fd for w in self._workers if w is not None for fd in w.driver_fds]
            close_fds += [conn.fileno(), lifeline_write.fileno()]
            if self._live is not None:  # the Manager's lifeline, while it is open
                close_fds += self._live.driver_fds
        process = self.context.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child_conn, lifeline_read, close_fds),
            name="mapred-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        lifeline_read.close()
        return _Worker(
            process, conn, lifeline_write, driver_fds=[conn.fileno(), lifeline_write.fileno()]
        )

    def slots(self) -> int:
        """One slot per worker process."""
        return len(self._workers)

    def live_counters(self) -> LiveCounters:
        """Counters in a Manager process that the workers write to while they read."""
        self._live = LiveCounters(self.context)
        return self._live

    def _worker(self, slot: int) -> _Worker:
        worker = self._workers[slot]
        if worker is None:
            worker = self._workers[slot] = self._start()
        return worker

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        """Send the task (and the job, if new to this worker) down the worker's pipe."""
        worker = self._worker(slot)
        if not worker.process.is_alive():  # died while idle: not this task's fault
            self._discard(slot, kill=False)
            worker = self._worker(slot)
        try:
            if worker.job_id != spec.job_id:
                send(worker.conn, ("job", spec))
                worker.job_id = spec.job_id
            send(worker.conn, ("map" if isinstance(task, MapTask) else "reduce", task))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker died; its sentinel reports it
        worker.busy = True

    def forward(self, slot: int, map_index: int, batches: Any) -> None:
        """Send a ``("commit", ...)`` message to the reduce task on ``slot``."""
        worker = self._workers[slot]
        if worker is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send(worker.conn, ("commit", map_index, batches))

    def wait(self, timeout: float) -> list[Event]:
        """Wait on the busy workers' pipes and sentinels together; results before deaths."""
        live = {slot: w for slot, w in enumerate(self._workers) if w is not None and w.busy}
        if not live:
            return []
        handles: dict[Any, tuple[int, str]] = {}
        for slot, w in live.items():
            handles[w.conn] = (slot, "conn")
            handles[w.process.sentinel] = (slot, "sentinel")
        ready = wait(list(handles), timeout)
        events: list[Event] = []
        seen: set[int] = set()
        # Read results before deaths: a worker may finish and then die.
        for handle in sorted(ready, key=lambda h: handles[h][1] != "conn"):
            slot, what = handles[handle]
            if slot in seen:
                continue
            worker = live[slot]
            if what == "conn":
                try:
                    kind, payload = loads(worker.conn.recv_bytes())
                except (EOFError, OSError):
                    continue  # a torn message: the sentinel reports the death
                except Exception:  # a half-written message from a dying worker
                    logger.debug("unreadable message from worker %s", slot, exc_info=True)
                    continue
                worker.busy = False
                events.append(Event(slot, kind, payload))
                seen.add(slot)
            else:
                worker.process.join(0.1)
                exitcode = worker.process.exitcode
                events.append(Event(slot, "died", Death(exit_reason(exitcode), exitcode)))
                self._discard(slot, kill=True)
                seen.add(slot)
        return events

    def reset(self, slot: int) -> None:
        """SIGKILL the slot's worker; a fresh one starts with the next task."""
        self._discard(slot, kill=True)

    def _discard(self, slot: int, kill: bool) -> None:
        worker = self._workers[slot]
        if worker is None:
            return
        self._workers[slot] = None
        if kill and worker.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGKILL)
        _reap(worker)

    def close(self) -> None:
        """Stop idle workers politely and busy ones at once; wait for all of them."""
        if self._closed:
            return
        self._closed = True
        workers = [w for w in self._workers if w is not None]
        self._workers = [None] * len(self._workers)
        for worker in workers:
            if worker.busy:
                worker.process.kill()
            else:
                try:
                    send(worker.conn, ("stop",))
                except OSError:
                    worker.process.kill()
        for worker in workers:
            _reap(worker)


def _reap(worker: _Worker) -> None:
    """Wait for a worker told to stop or killed (killing it past the grace); free it."""
    worker.process.join(STOP_GRACE_SECONDS)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()
    worker.lifeline.close()
    with contextlib.suppress(ValueError):  # reaped behind our back (e.g. by psutil)
        worker.process.close()
