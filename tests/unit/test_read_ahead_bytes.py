"""The driver's read-ahead of an iterable is bounded in bytes, whatever the record size.

A generator of 1 MB records: the driver holds a few splits of a few MB at a time
(one per worker, and the one being sent), not 8,192 records a split. Measured with
tracemalloc in the driver's own process, against a bound far from both outcomes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from mapred import mapreduce
from mapred.splits import MAX_RECORD_SPLIT_BYTES, MIB
from tests.oracle import total

RECORDS = 160  # 160 MB in all; the old schedule put 64, then 128 of them in one split


def megabytes() -> Iterator[bytes]:
    for i in range(RECORDS):
        yield bytes([i % 256]) * MIB


def size(record: bytes) -> list[tuple[int, int]]:
    return [(record[0], len(record))]


@pytest.mark.parametrize("backend", ["processes", "serial"])
def test_the_drivers_peak_stays_near_a_few_splits(backend: str) -> None:
    tracemalloc.start()
    try:
        result = mapreduce(size, total, megabytes(), workers=2, backend=backend)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(result.values()) == RECORDS * MIB
    # Two splits running, one being cut, each pickled once: about 8 splits' worth. The
    # schedule by records alone peaked above 128 MB.
    assert peak < 12 * MAX_RECORD_SPLIT_BYTES + 8 * MIB, f"peak {peak / MIB:.0f} MiB"
