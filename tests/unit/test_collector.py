"""The collector's thresholds while jobs run: raised for the job, restored after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

from mapred import Engine, mapreduce
from mapred.collector import JOB_THRESHOLDS, job_thresholds


def thresholds_seen(record: Any) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield "seen", gc.get_threshold()


def first(key: Any, values: Iterator[Any]) -> Any:
    return next(values)


def test_a_job_raises_the_thresholds_and_restores_the_callers(start_method: str) -> None:
    """User code runs under JOB_THRESHOLDS, in worker processes (however started) and in
    the caller's process; the caller's own thresholds come back afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    try:
        with Engine(workers=1, start_method=start_method) as engine:
            assert engine.mapreduce(thresholds_seen, first, [1])["seen"] == JOB_THRESHOLDS
        assert gc.get_threshold() == (1234, 5, 6)
        result = mapreduce(thresholds_seen, first, [1], backend="serial")
        assert result["seen"] == JOB_THRESHOLDS
        assert gc.get_threshold() == (1234, 5, 6)
    finally:
        gc.set_threshold(*before)


def test_overlapping_jobs_restore_the_thresholds_found_by_the_first() -> None:
    """Two threads' jobs overlap: the thresholds stay raised until the last one ends."""
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()
    seen: list[tuple[int, ...]] = []

    def other() -> None:
        with job_thresholds():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with job_thresholds():
        thread.start()
        assert inside.wait(10)
    seen.append(gc.get_threshold())  # the other job still runs
    release.set()
    thread.join(10)
    assert seen == [JOB_THRESHOLDS]
    assert gc.get_threshold() == before
