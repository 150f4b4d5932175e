"""One Engine used by several threads (issue 14, item 2): one job at a time, waits bounded.

The first job's mapper blocks until the test creates a release file; the test polls,
with deadlines, until the second caller is waiting for its turn before releasing it.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapred import Engine, JobTimeout, MapredError
from tests.processes import DEADLINE, wait_for

pytestmark = pytest.mark.timeout(120)


def blocked_until(started: str, release: str, record: int) -> Iterator[tuple[int, int]]:
    Path(started).touch()
    end = time.monotonic() + DEADLINE
    while not os.path.exists(release):
        if time.monotonic() > end:
            raise TimeoutError("the test never released the first job")
        time.sleep(0.01)
    yield record % 3, record


def reduce_and_mark(marker: str, key: int, values: Iterator[int]) -> int:
    Path(marker).touch()
    return sum(values)


def only_after(marker: str, record: int) -> Iterator[tuple[int, int]]:
    if not os.path.exists(marker):
        raise AssertionError("the second job ran while the first one was still mapping")
    yield record % 2, 1


def count(key: int, values: Iterator[int]) -> int:
    return sum(values)


def waiting_for_turn(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside ``Engine._one_job``, waiting for the engine."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "_one_job":
            return True
        frame = frame.f_back
    return False


class Files:
    def __init__(self, tmp_path: Path) -> None:
        self.started = str(tmp_path / "started")
        self.release = str(tmp_path / "release")
        self.reduced = str(tmp_path / "reduced")

    def first_job(self, engine: Engine, results: dict[str, Any]) -> threading.Thread:
        def run() -> None:
            try:
                results["first"] = engine.mapreduce(
                    functools.partial(blocked_until, self.started, self.release),
                    functools.partial(reduce_and_mark, self.reduced),
                    range(30),
                    chunksize=10,
                )
            except BaseException as exc:
                results["first"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        wait_for(lambda: os.path.exists(self.started), "the first job's mapper to start")
        return thread


FIRST = {0: sum(range(0, 30, 3)), 1: sum(range(1, 30, 3)), 2: sum(range(2, 30, 3))}


def test_a_second_thread_waits_its_turn(start_method: str, tmp_path: Path) -> None:
    files = Files(tmp_path)
    results: dict[str, Any] = {}
    with Engine(workers=2, start_method=start_method) as engine:
        first = files.first_job(engine, results)

        def second_job() -> None:
            try:
                results["second"] = engine.mapreduce(
                    functools.partial(only_after, files.reduced), count, range(10)
                )
            except BaseException as exc:
                results["second"] = exc

        second = threading.Thread(target=second_job)
        second.start()
        wait_for(lambda: waiting_for_turn(second), "the second job to wait for its turn")
        Path(files.release).touch()
        first.join(DEADLINE)
        second.join(DEADLINE)
        assert not first.is_alive()
        assert not second.is_alive()
    assert results["first"] == FIRST
    assert results["second"] == {0: 5, 1: 5}


def test_the_timeout_counts_the_wait_for_the_engine(tmp_path: Path) -> None:
    files = Files(tmp_path)
    results: dict[str, Any] = {}
    with Engine(workers=2) as engine:
        first = files.first_job(engine, results)
        started = time.monotonic()
        with pytest.raises(JobTimeout, match="another thread's job"):
            engine.mapreduce(lambda r: [(r, 1)], count, range(4), timeout=0.5)
        assert time.monotonic() - started < 0.5 + 1.5
        Path(files.release).touch()
        first.join(DEADLINE)
        assert results["first"] == FIRST
        assert engine.mapreduce(lambda r: [(r % 2, 1)], count, range(4)) == {0: 2, 1: 2}


def test_close_waits_for_the_running_job(tmp_path: Path) -> None:
    files = Files(tmp_path)
    results: dict[str, Any] = {}
    engine = Engine(workers=2)
    first = files.first_job(engine, results)
    closer = threading.Thread(target=engine.close)
    closer.start()
    wait_for(lambda: waiting_for_turn(closer), "close() to wait for the job")
    Path(files.release).touch()
    first.join(DEADLINE)
    closer.join(DEADLINE)
    assert not closer.is_alive()
    assert results["first"] == FIRST


def test_a_job_inside_a_job_of_the_same_engine_is_a_clear_error() -> None:
    with Engine(backend="serial") as engine:

        def mapper(record: int) -> list[tuple[int, Any]]:
            return [(record, engine.mapreduce(lambda r: [(r, 1)], count, [record]))]

        with pytest.raises(MapredError, match="already running a job in this thread"):
            engine.mapreduce(mapper, lambda k, vs: list(vs), [1])
