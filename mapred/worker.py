"""The loop a worker process runs: take a task, run it, send the result home.

Each worker owns a private duplex pipe to the driver. Nothing else writes to it, so a
worker killed mid-message can corrupt only its own pipe, which the driver then drops
with the process (a shared queue would be left locked or torn; cpython#96062). A
second pipe, the *lifeline*, is never written: when the driver dies, however it
dies, the read end sees end-of-file and a watchdog thread exits the worker, so no
orphan keeps burning CPU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from mapred import splits
from mapred.errors import InternalError, pack_exception, task_error
from mapred.job import JobLoader, JobSpec, LoadedJob
from mapred.maptask import MapResult, MapTask, execute_map_task
from mapred.reducetask import ReduceState, ReduceTask
from mapred.serde import dumps, loads


def worker_main(conn: Connection, lifeline: Connection, close_fds: list[int]) -> None:
    """Serve tasks from ``conn`` until told to stop or the driver goes away."""
    global _in_worker
    _in_worker = True
    for fd in close_fds:  # under fork: the driver's ends of every pipe, so EOF can reach us
        with contextlib.suppress(OSError):
            os.close(fd)
    # Ctrl-C goes to the whole process group; the driver decides what happens to us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_lifeline, args=(lifeline,), daemon=True).start()
    loader = JobLoader(keep=1)
    spec: JobSpec | None = None
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        where = "in a worker, before the task's user code ran"
        try:
            message = loads(data)
            kind = message[0]
            if kind == "stop":
                return
            if kind == "job":
                spec = message[1]
                _workdirs[:] = [d for d in (spec.workdir,) if d]
                continue
            if spec is None:
                raise InternalError("a task arrived before its job")
            job = loader.load(spec)
            where = f"in {message[1].describe()}"
            if kind == "map":
                result: Any = _run_map(job, message[1])
            else:
                result = _serve_reduce(conn, job, message[1])
            reply = dumps(("done", result))
        except BaseException as exc:
            reply = dumps(("error", pack_exception(task_error(exc, where))))
        conn.send_bytes(reply)


def _run_map(job: LoadedJob, task: MapTask) -> MapResult:
    """Run a map task; an input file that vanished is said to be one, not a mapper error."""
    try:
        return execute_map_task(job, task)
    except OSError as exc:
        if task.split is None or not _raised_reading_input(exc):
            raise
        exc.__notes__ = [
            f"mapred: reading the input of {task.describe()}: the file was removed, "
            "moved or made unreadable while the job ran"
        ]
        raise


def _raised_reading_input(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by mapred's split reader rather than by user code."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == splits.__name__:
            return True
        tb = tb.tb_next
    return False


def _serve_reduce(conn: Connection, job: LoadedJob, task: ReduceTask) -> Any:
    """Ingest committed map output as the driver forwards it, then reduce."""
    state = ReduceState(job, task)
    while not state.complete:
        _, map_index, batches = loads(conn.recv_bytes())  # ("commit", index, batches)
        state.add(map_index, batches)
    return state.finish()


_in_worker = False  # set in a worker process: a job started here must not fork workers


def in_worker() -> bool:
    """Whether this process is a mapred worker (running a task's user code)."""
    return _in_worker


_workdirs: list[str] = []  # the current job's private directory, for the lifeline to remove


def _watch_lifeline(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    # The driver is gone (even SIGKILL): nobody will read our results or clean up.
    for workdir in _workdirs:
        shutil.rmtree(workdir, ignore_errors=True)
    os._exit(70)


def send(conn: Connection, message: tuple[Any, ...]) -> None:
    """Send one message to a worker."""
    conn.send_bytes(dumps(message))
