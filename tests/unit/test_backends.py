"""Backends on their own: what the driver's scheduler relies on."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapred.backends.base import Death, Event
from mapred.backends.processes import ProcessBackend
from mapred.backends.serial import SerialBackend
from mapred.errors import unpack_exception
from mapred.job import JobSpec
from mapred.maptask import MapResult, MapTask
from mapred.output import read_part
from mapred.reducetask import ReduceResult, ReduceTask
from mapred.serde import dumps_function
from tests.oracle import total, words


def spec(workdir: str, mapper: object = words) -> JobSpec:
    return JobSpec(
        job_id=f"job-{id(mapper)}",
        mapper=dumps_function(mapper, "mapper"),
        reducer=dumps_function(total, "reducer"),
        combiner=None,
        partitioner=None,
        reducers=1,
        workdir=workdir,
        memory_limit=1 << 20,
    )


def wait_events(backend: ProcessBackend, count: int = 1, deadline: float = 20) -> list[Event]:
    events: list[Event] = []
    end = time.monotonic() + deadline
    while len(events) < count:
        assert time.monotonic() < end, "no event before the deadline"
        events += backend.wait(0.5)
    return events


@pytest.fixture
def backend() -> Iterator[ProcessBackend]:
    pool = ProcessBackend(2, "fork")
    try:
        yield pool
    finally:
        pool.close()


def test_a_map_then_a_reduce_task_with_a_forwarded_commit(
    backend: ProcessBackend, tmp_path: Path
) -> None:
    """A reduce task started before its input is complete finishes once the driver
    forwards the missing map output."""
    job = spec(str(tmp_path))
    backend.submit(0, job, MapTask(0, 1, records=["a b a"]))
    (done,) = wait_events(backend)
    assert done.kind == "done"
    assert isinstance(done.payload, MapResult)
    backend.submit(
        1, job, ReduceTask(0, 1, n_maps=2, committed=((0, tuple(done.payload.batches[0])),))
    )
    assert backend.wait(0.2) == []  # waiting for map task 1
    backend.submit(0, job, MapTask(1, 1, records=["b"]))
    (second,) = wait_events(backend)
    backend.forward(1, 1, second.payload.batches[0])
    (reduced,) = wait_events(backend)
    assert isinstance(reduced.payload, ReduceResult)
    assert list(read_part(reduced.payload.path or "")) == [("a", 2), ("b", 2)]


def test_a_killed_worker_is_reported_with_its_signal(
    backend: ProcessBackend, tmp_path: Path
) -> None:
    """SIGKILL of a busy worker becomes a 'died' event with exit code -9; the slot then
    runs the next task on a fresh process."""

    def stuck(line: str) -> Iterator[tuple[str, int]]:
        os.kill(os.getpid(), signal.SIGSTOP)  # stop until killed: the worker is busy
        yield line, 1

    job = spec(str(tmp_path), stuck)
    backend.submit(0, job, MapTask(0, 1, records=["x"]))
    worker = backend._workers[0]
    assert worker is not None
    pid = worker.process.pid
    os.kill(pid, signal.SIGKILL)
    (died,) = wait_events(backend)
    assert (died.slot, died.kind) == (0, "died")
    assert died.payload == Death("signal SIGKILL (-9)", exitcode=-9)
    backend.submit(0, spec(str(tmp_path)), MapTask(0, 2, records=["y"]))
    (done,) = wait_events(backend)
    assert done.kind == "done"
    fresh = backend._workers[0]
    assert fresh is not None
    assert fresh.process.pid != pid


def test_a_user_exception_is_an_error_event(backend: ProcessBackend, tmp_path: Path) -> None:
    """A task's exception comes back packed, with its type."""

    def broken(line: str) -> Iterator[tuple[str, int]]:
        raise ArithmeticError(line)
        yield

    backend.submit(1, spec(str(tmp_path), broken), MapTask(0, 1, records=["boom"]))
    (error,) = wait_events(backend)
    assert error.kind == "error"
    assert isinstance(unpack_exception(error.payload), ArithmeticError)


def test_serial_backend_runs_tasks_inline(tmp_path: Path) -> None:
    """The serial backend runs a task inside submit() and reports it at the next wait()."""
    serial = SerialBackend()
    serial.submit(0, spec(str(tmp_path)), MapTask(0, 1, records=["s t s"]))
    (done,) = serial.wait(0)
    assert done.kind == "done"
    serial.submit(
        0, spec(str(tmp_path)), ReduceTask(0, 1, 1, ((0, tuple(done.payload.batches[0])),))
    )
    (reduced,) = serial.wait(0)
    assert list(read_part(reduced.payload.path)) == [("s", 2), ("t", 1)]
    serial.close()


def test_a_backend_is_a_context_manager_that_stops_its_workers() -> None:
    """Leaving the with block stops every worker process, as close() does."""
    with ProcessBackend(1, "fork") as pool:
        worker = pool._workers[0]
        assert worker is not None
        process = worker.process
        assert process.is_alive()
    assert pool._workers == [None]
    with pytest.raises(ValueError, match="closed"):
        process.is_alive()  # joined and closed


def test_what_each_backend_needs_from_a_job() -> None:
    """Local processes share the driver's disk and take pickled functions; the serial
    backend runs the caller's own functions."""
    serial = SerialBackend()
    assert (serial.shared_disk, serial.pickles_functions) == (True, False)
    assert serial.live_counters() is None
    with ProcessBackend(1, "fork") as pool:
        assert (pool.shared_disk, pool.pickles_functions) == (True, True)
