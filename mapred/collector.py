"""How often the cyclic garbage collector runs while a job moves data.

A job allocates millions of containers that live until the task ends (each key's list
of values, decoded batches, tuple keys). CPython's collector runs after every 700 net
container allocations and, as the heap grows, walks every live container again and
again: decoding a batch of a million one-value lists took 3.5x as long with the default
thresholds as with collection off. None of the engine's structures form cycles, so it
only needs the collector for the user's code. While a job runs, the collector runs every
:data:`JOB_THRESHOLDS` allocations instead: still collecting cycles the user's functions
make (at most about a hundred thousand young objects wait for it), at a fraction of the
cost. Worker processes are ours and keep these thresholds; the caller's process (the
driver, the serial backend) gets its own back when the job ends, a Dask worker when the
task ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

JOB_THRESHOLDS = (100_000, 50, 100)

_lock = threading.Lock()
_active = 0
_saved: tuple[int, ...] = ()


@contextmanager
def job_thresholds() -> Iterator[None]:
    """Collect garbage at :data:`JOB_THRESHOLDS` while the block runs.

    Re-entrant and thread-safe: jobs running at once in one process share the setting,
    and the last one to finish restores the thresholds found by the first.
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*JOB_THRESHOLDS)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)


def use_job_thresholds() -> None:
    """Set :data:`JOB_THRESHOLDS` for good (a worker process, which runs only tasks)."""
    gc.set_threshold(*JOB_THRESHOLDS)
