"""The loop a worker process runs: take a task, run it, send the result home.

Each worker owns a private duplex pipe to the driver. Nothing else writes to it, so a
worker killed mid-message can corrupt only its own pipe, which the driver then drops
with the process (a shared queue would be left locked or torn; cpython#96062). A
second pipe, the *lifeline*, is never written: when the driver dies, however it
dies, the read end sees end-of-file and a watchdog thread exits the worker, so no
orphan keeps burning CPU. On Linux the kernel also kills the worker when its parent
dies (``PR_SET_PDEATHSIG``), which works even while user code holds the GIL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from mapred.collector import use_job_thresholds
from mapred.errors import BEFORE_THE_TASK, InternalError, pack_exception, task_error
from mapred.job import JobLoader, JobSpec, LoadedJob
from mapred.maptask import execute_map_task
from mapred.reducetask import ReduceState, ReduceTask
from mapred.serde import dumps, loads
from mapred.workdirs import remove_workdir


def worker_main(conn: Connection, lifeline: Connection) -> None:
    """Serve tasks from ``conn`` until told to stop or the driver goes away.

    Under fork, the driver's ends of every pipe were already dropped in this process
    (``_drop_driver_ends`` in :mod:`mapred.backends.processes`, at fork).
    """
    global _in_worker
    _in_worker = True
    _die_with_parent()
    use_job_thresholds()
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
        where = BEFORE_THE_TASK.removeprefix("mapred: ")
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
                result: Any = execute_map_task(job, message[1])
            else:
                result = _serve_reduce(conn, job, message[1])
            reply = dumps(("done", result))
        except BaseException as exc:
            reply = dumps(("error", pack_exception(task_error(exc, where))))
        conn.send_bytes(reply)


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


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """On Linux, have the kernel SIGKILL this worker when its parent dies.

    The lifeline's watchdog thread cannot run while user code holds the GIL (a long C
    call, a catastrophic regex); the kernel needs no thread. The parent is the driver's
    starter thread (fork, spawn), or the fork server, which exits with the driver. If
    the parent died before this call, the lifeline is already at end-of-file and the
    watchdog ends us.
    """
    _let_the_fork_server_go()
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no usable libc: the watchdog alone
        pass


def _let_the_fork_server_go() -> None:
    """Drop our copy of the fork server's "alive" descriptor.

    multiprocessing hands it to every process the fork server starts, so that they can
    start processes through it too, and the server lives until the last copy closes: so
    it would outlive the driver as long as we live, and its death is what ends us
    (PR_SET_PDEATHSIG). A worker is daemonic and may not start processes anyway.
    """
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        server._forkserver_alive_fd = None
        with contextlib.suppress(OSError):
            os.close(fd)


def _watch_lifeline(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    # The driver is gone (even SIGKILL): nobody will read our results or clean up.
    for workdir in _workdirs:
        remove_workdir(workdir)
    os._exit(70)


def send(conn: Connection, message: tuple[Any, ...]) -> None:
    """Send one message to a worker."""
    conn.send_bytes(dumps(message))
