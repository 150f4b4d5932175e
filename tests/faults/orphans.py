"""Drivers for the orphan tests: workers that announce themselves, then never return.

Run as ``python -m tests.faults.orphans MODE MARKER_DIR [progress]``, with the start
method in ``MAPRED_START_METHOD``. Each worker that starts mapping writes
``MARKER_DIR/pid-<pid>``, then:

- ``regex``: matches a catastrophic regex, a C call that holds the GIL for ages, so the
  worker's watchdog thread cannot run;
- ``two-engines``: two threads start a job each on an Engine of their own at once, and
  the workers block (without the GIL).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Iterator

CATASTROPHIC = re.compile(r"(a+)+$")


def announce(marker_dir: str) -> None:
    path = os.path.join(marker_dir, f"pid-{os.getpid()}")
    with open(path + ".tmp", "w") as file:
        file.write(str(os.getpid()))
    os.replace(path + ".tmp", path)


def backtrack(marker_dir: str, record: int) -> Iterator[tuple[int, int]]:
    announce(marker_dir)
    CATASTROPHIC.match("a" * 64 + "!")  # 2**64 steps in C, holding the GIL
    yield record, record


def block(marker_dir: str, record: int) -> Iterator[tuple[int, int]]:
    announce(marker_dir)
    threading.Event().wait()
    yield record, record


def total(key: int, values: Iterator[int]) -> int:
    return sum(values)


def main() -> None:
    from mapred import Engine, mapreduce

    multiprocessing.set_start_method(os.environ["MAPRED_START_METHOD"])
    mode, marker_dir = sys.argv[1], sys.argv[2]
    progress = sys.argv[3:] == ["progress"]
    if mode == "regex":
        mapreduce(functools.partial(backtrack, marker_dir), total, range(4), workers=2, chunksize=1)
        return
    barrier = threading.Barrier(2)

    def job() -> None:
        with Engine(workers=2) as engine:
            barrier.wait()
            engine.mapreduce(
                functools.partial(block, marker_dir),
                total,
                range(4),
                chunksize=1,
                progress=progress,
            )

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
