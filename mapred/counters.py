"""Counters: ``increment()`` for user code, per-task buffers, and their merge.

A task counts into a plain dict in its own process and ships the totals with its
result; the driver adds them to ``Result.counters`` only for the attempt that
committed, so a retried task is never counted twice. Nothing here talks to another
process per record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from mapred.errors import MapredError

BUILTIN_GROUP = "mapred"
USER_GROUP = "user"

# Built-in counter names, in group "mapred".
INPUT_RECORDS = "input_records"
MAP_OUTPUT_RECORDS = "map_output_records"
COMBINE_OUTPUT_RECORDS = "combine_output_records"
REDUCE_INPUT_RECORDS = "reduce_input_records"
OUTPUT_KEYS = "output_keys"
SHUFFLE_BYTES = "shuffle_bytes"
SPILLED_RECORDS = "spilled_records"
SPILLED_BYTES = "spilled_bytes"
TASK_RETRIES = "task_retries"
SKIPPED_RECORDS = "skipped_records"  # records and keys left out with max_skipped
BUILTIN_COUNTERS = (
    INPUT_RECORDS,
    MAP_OUTPUT_RECORDS,
    COMBINE_OUTPUT_RECORDS,
    REDUCE_INPUT_RECORDS,
    OUTPUT_KEYS,
    SHUFFLE_BYTES,
    SPILLED_RECORDS,
    SPILLED_BYTES,
    TASK_RETRIES,
    SKIPPED_RECORDS,
)

Counters = dict[str, dict[str, int]]

# The running task's buffer, per thread: a Dask worker runs one task per thread, several
# at once, and each must count into its own buffer (a module global would mix them up).
_local = threading.local()


def increment(name: str, amount: int = 1, group: str = USER_GROUP) -> None:
    """Add ``amount`` to the counter ``group/name`` of the running task.

    Call it inside a mapper, combiner or reducer; totals appear in ``Result.counters``.
    Only the attempt that succeeds is counted.

    Args:
        name: the counter's name.
        amount: an int to add (may be negative).
        group: the counter group; ``"mapred"`` is reserved for built-in counters.

    Raises:
        MapredError: when called outside a running task.
        TypeError: for a non-str name or group, or a non-int amount.
        ValueError: for the reserved group ``"mapred"``.

    Examples:
        >>> from mapred import mapreduce
        >>> def mapper(line):
        ...     increment("lines")
        ...     for word in line.split():
        ...         yield word, 1
        >>> result = mapreduce(mapper, lambda k, vs: sum(vs), ["a b", "b"], backend="serial")
        >>> result.counters["user"]
        {'lines': 2}
    """
    if not isinstance(name, str) or not isinstance(group, str):
        raise TypeError("increment() takes a str name and a str group")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"increment() amount must be an int, got {type(amount).__name__}")
    if group == BUILTIN_GROUP:
        raise ValueError(f"counter group {BUILTIN_GROUP!r} is reserved for built-in counters")
    current: Counters | None = getattr(_local, "counters", None)
    if current is None:
        raise MapredError("increment() must be called inside a mapper, combiner or reducer")
    bucket = current.setdefault(group, {})
    bucket[name] = bucket.get(name, 0) + amount


@contextmanager
def task_counters() -> Iterator[Counters]:
    """Collect the counters of one task: ``increment()`` calls land in the yielded dict."""
    previous: Counters | None = getattr(_local, "counters", None)
    current: Counters = {}
    _local.counters = current
    try:
        yield current
    finally:
        _local.counters = previous


def add_builtin(counters: Counters, name: str, amount: int) -> None:
    """Add to a built-in counter in a task's buffer."""
    bucket = counters.setdefault(BUILTIN_GROUP, {})
    bucket[name] = bucket.get(name, 0) + amount


def merge_into(total: Counters, delta: Mapping[str, Mapping[str, int]]) -> None:
    """Add the counters of one committed task to the job's totals.

    >>> total = {"user": {"a": 1}}
    >>> merge_into(total, {"user": {"a": 2, "b": 1}, "mapred": {"output_keys": 3}})
    >>> total
    {'user': {'a': 3, 'b': 1}, 'mapred': {'output_keys': 3}}
    """
    for group, names in delta.items():
        bucket = total.setdefault(group, {})
        for name, amount in names.items():
            bucket[name] = bucket.get(name, 0) + amount


def empty_totals() -> Counters:
    """Job totals with every built-in counter present at zero."""
    return {BUILTIN_GROUP: dict.fromkeys(BUILTIN_COUNTERS, 0)}


# How often a running map task reports how many records it has read: often enough
# for a live progress bar, rare enough that the Manager round trip (~0.1 ms) is noise.
LIVE_REPORT_SECONDS = 0.5


class LiveCounters:
    """Live progress totals, shared with the workers through a ``multiprocessing`` Manager.

    Only the progress bar reads them; ``Result.counters`` comes from committed task
    results alone. A map task adds to ``in_flight[index]`` every
    ``LIVE_REPORT_SECONDS`` while it reads (one Manager call, never one per record);
    the driver moves a task's count into ``totals`` when it commits the task, or drops
    it when the attempt fails. The Manager's server process exits with the driver.
    """

    def __init__(self, context: Any) -> None:
        from multiprocessing.managers import SyncManager

        # Like a worker, the server process holds a lifeline the driver never writes:
        # end-of-file means the driver is gone, however it died. (Its parent pid is no
        # use: under forkserver the parent is the fork server, which in turn waits for
        # its children.)
        lifeline_read, self._lifeline = context.Pipe(duplex=False)
        self._manager = SyncManager(ctx=context)
        # Under fork the server inherits the write end too; it must close its copy.
        inherited = [self._lifeline.fileno()] if context.get_start_method() == "fork" else []
        self._manager.start(_exit_with_driver, (lifeline_read, inherited))
        lifeline_read.close()
        self.in_flight: Any = self._manager.dict()
        self.totals: Any = self._manager.dict({INPUT_RECORDS: 0})

    @property
    def driver_fds(self) -> list[int]:
        """Descriptors a worker forked later must close, or it keeps the server alive
        (none once the counters are closed)."""
        return [] if self._lifeline.closed else [self._lifeline.fileno()]

    def commit(self, index: int, counters: Counters) -> None:
        """A map task committed: its exact count replaces its live estimate."""
        self.in_flight.pop(index, None)
        added = counters.get(BUILTIN_GROUP, {}).get(INPUT_RECORDS, 0)
        self.totals[INPUT_RECORDS] = self.totals[INPUT_RECORDS] + added

    def discard(self, index: int) -> None:
        """A map attempt failed: forget what it had read."""
        self.in_flight.pop(index, None)

    def records(self) -> int:
        """Input records read so far: committed tasks plus running ones."""
        return int(self.totals[INPUT_RECORDS]) + int(sum(self.in_flight.values()))

    def close(self) -> None:
        """Stop the Manager's server process."""
        self._manager.shutdown()
        self._lifeline.close()


def _exit_with_driver(lifeline: Any, inherited: list[int]) -> None:
    """Runs in the Manager's server process: exit when the driver's lifeline breaks."""
    import threading

    for fd in inherited:
        with suppress(OSError):
            os.close(fd)

    def watch() -> None:
        with suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def report_progress(blocks: Iterable[list[Any]], live: Any, index: int) -> Iterator[list[Any]]:
    """Pass blocks of records through, telling ``live.in_flight`` how many went by."""
    import time

    done = 0
    last = time.monotonic()
    for block in blocks:
        yield block
        done += len(block)
        now = time.monotonic()
        if now - last >= LIVE_REPORT_SECONDS:
            live[index] = done
            last = now
