"""A supervised pool of worker processes, built from multiprocessing primitives.

Why not ``multiprocessing.Pool``: when one of its workers dies, the task it held is
lost and ``Pool.map`` waits forever (cpython#96062). Here the driver knows which
task each worker holds and waits on the workers' *sentinels* together with their
pipes, so a death is seen at once, the worker is replaced, and the driver decides
whether the task runs again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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
    token: int  # its entry in _driver_ends
    job_id: str | None = None
    busy: bool = False


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
        # On Linux a worker dies with the thread that forked it (PR_SET_PDEATHSIG), so
        # fork from a thread that lives as long as the pool, not from whichever thread
        # runs a job. Under forkserver the fork server is the parent, and lives on.
        self._starter: ThreadPoolExecutor | None = None
        if sys.platform.startswith("linux") and self.start_method != "forkserver":
            self._starter = ThreadPoolExecutor(1, thread_name_prefix="mapred-starter")
        for slot in range(workers):
            self._workers[slot] = self._start()

    def _start(self) -> _Worker:
        if self._starter is None:
            return self._start_here()
        future = self._starter.submit(self._start_here)
        try:
            return future.result()
        except BaseException:  # Ctrl-C while waiting: the worker must not outlive us
            future.add_done_callback(_reap_unwanted)
            raise

    def _start_here(self) -> _Worker:
        """Start one worker. Pipes are made, their driver ends registered (for every
        later fork to drop, see :func:`_drop_driver_ends`) and the worker forked as one
        step, so no fork in another thread can catch a pipe between the two."""
        with _fork_lock:
            conn, child_conn = self.context.Pipe(duplex=True)
            lifeline_read, lifeline_write = self.context.Pipe(duplex=False)
            token = next(_tokens)
            _driver_ends[token] = [conn, lifeline_write]
            process = self.context.Process(  # type: ignore[attr-defined]
                target=worker_main,
                args=(child_conn, lifeline_read),
                name="mapred-worker",
                daemon=True,
            )
            try:
                process.start()
            except BaseException:
                del _driver_ends[token]
                conn.close()
                lifeline_write.close()
                raise
            finally:
                child_conn.close()
                lifeline_read.close()
            # The driver's ends of multiprocessing's own pipes for this process.
            _driver_ends[token] += _popen_fds(process)
        return _Worker(process, conn, lifeline_write, token)

    def slots(self) -> int:
        """One slot per worker process."""
        return len(self._workers)

    def live_counters(self) -> LiveCounters:
        """Counters in a Manager process that the workers write to while they read."""
        self._forget_live()
        with _fork_lock:  # the Manager's server is forked too, and has a lifeline
            self._live = LiveCounters(self.context)
            _live_ends[id(self)] = self._live
            # The Manager's server process: multiprocessing's pipes for it, as a worker's.
            server = getattr(getattr(self._live, "_manager", None), "_process", None)
            if server is not None:
                _driver_ends[-1 - id(self)] = list(_popen_fds(server))
        return self._live

    def _forget_live(self) -> None:
        with _fork_lock:
            _live_ends.pop(id(self), None)
            _driver_ends.pop(-1 - id(self), None)
        self._live = None

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
        self._forget_live()
        if self._starter is not None:
            self._starter.shutdown()


def _reap_unwanted(future: Future[_Worker]) -> None:
    """Kill and reap a worker whose start nobody waited for."""
    if future.cancelled() or future.exception() is not None:
        return
    worker = future.result()
    worker.process.kill()
    _reap(worker)


def _reap(worker: _Worker) -> None:
    """Wait for a worker told to stop or killed (killing it past the grace); free it."""
    worker.process.join(STOP_GRACE_SECONDS)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    with _fork_lock:
        _driver_ends.pop(worker.token, None)
        worker.conn.close()
        worker.lifeline.close()
    with contextlib.suppress(ValueError):  # reaped behind our back (e.g. by psutil)
        worker.process.close()


# The driver's ends of every live pool's pipes, and the lifelines of live Managers, in
# this process: a process forked from it must not hold them, or a worker would never see
# end-of-file on its lifeline while that process lives (with two engines, each pool's
# workers would keep the other's alive after the driver's death).
_fork_lock = threading.Lock()
_driver_ends: dict[int, list[Connection | int]] = {}  # per worker (its token)
_tokens = itertools.count()
_live_ends: dict[int, LiveCounters] = {}


def _popen_fds(process: Any) -> list[int]:
    """The descriptors multiprocessing keeps in the driver for ``process``: its sentinel,
    and (fork) the write end the child watches. Private to multiprocessing, hence the
    care: the sentinel alone where the layout is not the known one."""
    finalizer = getattr(getattr(process, "_popen", None), "finalizer", None)
    fds = getattr(finalizer, "_args", None)  # util.Finalize(self, close_fds, (r, w))
    if isinstance(fds, tuple) and all(isinstance(fd, int) for fd in fds):
        return [*fds, process.sentinel]
    return [process.sentinel]


def _drop_driver_ends() -> None:
    """In a forked child: point every registered driver end at /dev/null.

    ``dup2``, not ``close``: the numbers stay taken, so the child's inherited copies of
    the Connection objects can never close a descriptor it opens later.
    """
    global _fork_lock
    _fork_lock = threading.Lock()  # a copy held by another thread at fork is never released
    fds = [
        end if isinstance(end, int) else end.fileno()
        for ends in _driver_ends.values()
        for end in ends
        if isinstance(end, int) or not end.closed
    ]
    fds += [fd for live in _live_ends.values() for fd in live.driver_fds]
    _driver_ends.clear()
    _live_ends.clear()
    if not fds:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_drop_driver_ends)
