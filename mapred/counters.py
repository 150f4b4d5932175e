"""Counters: ``increment()`` for user code, per-task buffers, and their merge.

A task counts into a plain dict in its own process and ships the totals with its
result; the driver adds them to ``Result.counters`` only for the attempt that
committed, so a retried task is never counted twice. Nothing here talks to another
process per record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

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
)

Counters = dict[str, dict[str, int]]

_current: Counters | None = None  # the running task's buffer; one task per process at a time


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
    """
    if not isinstance(name, str) or not isinstance(group, str):
        raise TypeError("increment() takes a str name and a str group")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"increment() amount must be an int, got {type(amount).__name__}")
    if group == BUILTIN_GROUP:
        raise ValueError(f"counter group {BUILTIN_GROUP!r} is reserved for built-in counters")
    if _current is None:
        raise MapredError("increment() must be called inside a mapper, combiner or reducer")
    bucket = _current.setdefault(group, {})
    bucket[name] = bucket.get(name, 0) + amount


@contextmanager
def task_counters() -> Iterator[Counters]:
    """Collect the counters of one task: ``increment()`` calls land in the yielded dict."""
    global _current
    previous, _current = _current, {}
    try:
        yield _current
    finally:
        _current = previous


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
