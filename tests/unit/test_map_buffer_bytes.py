"""A map task's buffer is bounded in bytes, whatever the size of its values.

A job with ``memory_limit="64MB"`` whose mapper makes 1 MB values: each worker's
resident memory grows by about the map buffer's share of the limit (16 MB), not by the
whole task's values (the largest task here has about 200 records: 200 MB when the
buffer was bounded by a pair count alone). Measured in each worker from the kernel's
own figures (``VmHWM``, the peak resident set, against ``VmRSS`` when the worker first
mapped a record), under each start method.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from mapred import Engine, task_mapper
from mapred.context import TaskContext, running_task
from mapred.maploop import Budget, Buffer, Columns, Shape, buffer_pairs, map_records
from mapred.maptask import MapTask

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status"
)

MIB = 1 << 20
RECORDS = 400  # iterable splits grow 64, 128, ...: the largest task maps ~200 records
LIMIT = "64MB"
# The worker's growth past its resident set at its first record: the map buffer's
# share (a quarter of the limit) and the flush's copies, far from the ~200 MB of a
# buffer bounded by pairs alone.
GROWTH_BOUND = 64 * MIB

_start_rss: int | None = None  # this process's resident set when it first mapped a record


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _growth() -> int:
    """This worker's peak resident set past what it held at its first record."""
    global _start_rss
    if _start_rss is None:
        _start_rss = _status("VmRSS")
    return _status("VmHWM") - _start_rss


def megabyte_values(n: int) -> Iterator[tuple[Any, Any]]:
    """A 1 MB value (its pages touched) under one of four keys; and the growth so far."""
    growth = _growth()
    yield n % 4, bytes([n % 256]) * MIB
    yield "growth", growth


@task_mapper
def megabyte_values_task(records: Iterable[int]) -> Iterator[tuple[Any, Any]]:
    for n in records:
        yield from megabyte_values(n)


def sizes(key: Any, values: Iterable[Any]) -> int:
    """Bytes of the values (a combined value is already a count); the largest growth."""
    if key == "growth":
        return max(values)
    return sum(value if isinstance(value, int) else len(value) for value in values)


@pytest.mark.parametrize(
    ("start_method", "mapper"),
    [
        ("fork", megabyte_values),
        ("forkserver", megabyte_values),
        ("spawn", megabyte_values),
        ("fork", megabyte_values_task),
    ],
    ids=["fork", "forkserver", "spawn", "fork-task-mapper"],
)
def test_a_workers_memory_stays_near_its_share_of_the_limit(start_method: str, mapper: Any) -> None:
    with Engine(workers=2, start_method=start_method) as engine:
        result = engine.mapreduce(mapper, sizes, range(RECORDS), combiner=sizes, memory_limit=LIMIT)
    growth = result.pop("growth")
    assert result == {key: MIB * len(range(key, RECORDS, 4)) for key in range(4)}, (
        "the values were lost or counted twice"
    )
    assert 0 <= growth < GROWTH_BOUND, f"a worker grew by {growth / MIB:.0f} MiB"


def flushes(mapper: Any, records: list[Any], limit: int, task: bool = False) -> list[int]:
    """The pair counts at which the map loop flushed, for a budget of ``limit`` bytes."""
    sizes: list[int] = []

    def flush(buffer: Buffer | Columns) -> None:
        if isinstance(buffer, Columns):  # distinct keys, a value each
            sizes.append(len(buffer))
        elif buffer:
            sizes.append(sum(map(len, buffer.values())))

    with running_task(TaskContext("map", 1, 0, 1)):
        map_records(mapper, task, [records], Shape(flush, Budget.of(limit)), MapTask(0, 1))
    return sizes


def big_and_small(n: int) -> Iterator[tuple[Any, Any]]:
    yield n % 4, bytes(MIB)
    yield "small", n


def words_of(n: int) -> Iterator[tuple[Any, Any]]:
    for i in range(10):
        yield f"word{(n * 10 + i) % 5000}", 1


@pytest.mark.parametrize("task", [False, True], ids=["per-record", "task-mapper"])
def test_large_values_flush_near_the_budget_small_ones_at_the_pair_count(task: bool) -> None:
    """1 MB values beside small ones fill a 16 MB budget in about 32 pairs (16 large);
    small pairs flush at exactly ``buffer_pairs``, as the count alone would."""

    def whole(mapper: Any) -> Any:
        return (lambda records: (p for r in records for p in mapper(r))) if task else mapper

    sizes = flushes(whole(big_and_small), list(range(100)), 16 * MIB, task)
    assert sum(sizes) == 200
    assert all(16 <= size <= 40 for size in sizes[:-1]), sizes
    per_flush = buffer_pairs(1 * MIB)
    sizes = flushes(whole(words_of), list(range(3 * per_flush // 10 + 7)), 1 * MIB, task)
    assert sizes[:3] == [per_flush] * 3
