"""Jobs that announce themselves: the first record a worker maps writes a marker file.

The directory comes from ``MAPRED_TEST_MARKERS``. Tests wait for a marker instead of
sleeping: once it exists, a map task is running (``slow_mapper`` then never finishes,
so the job can only end by a signal).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

POLL_SECONDS = 0.05


def _mark() -> None:
    path = os.path.join(os.environ["MAPRED_TEST_MARKERS"], f"pid-{os.getpid()}")
    if not os.path.exists(path):
        with open(path, "w"):
            pass


def mapper(line: str) -> Iterator[tuple[str, int]]:
    """Mark, then yield ``(line, 1)``."""
    _mark()
    yield line, 1


def slow_mapper(line: str) -> Iterator[tuple[str, int]]:
    """Mark, then hang until the process is stopped."""
    _mark()
    while True:
        time.sleep(POLL_SECONDS)
    yield line, 1  # a generator, like any mapper


def reducer(key: str, values: Iterable[int]) -> int:
    return sum(values)
