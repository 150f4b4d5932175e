"""Deterministic faults for the crash table.

Each fault fires at a fixed point (a record, a key, a value being encoded, a task
being unpickled). With a *marker* path it fires once: the first attempt creates the
marker atomically and fails, a retry finds the marker and carries on. Without a
marker it fires on every attempt. No sleeping, no timing: the same run every time.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

TRIGGER_RECORD = 57
TRIGGER_KEY = 3
N_RECORDS = 200
N_KEYS = 7


class InjectedError(Exception):
    """The exception the ``raise`` fault raises."""


def fire(how: str, marker: str | None) -> None:
    """Fail the way ``how`` says, unless ``marker`` shows this fault already fired."""
    if marker is not None:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    if how == "raise":
        raise InjectedError("injected fault")
    if how == "sys_exit":
        sys.exit(3)
    if how == "os_exit":
        os._exit(7)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    raise ValueError(f"unknown fault {how!r}")


class Bomb:
    """A value that fires a fault when the map task encodes it, then pickles as an int."""

    def __init__(self, value: int, how: str, marker: str | None) -> None:
        self.value, self.how, self.marker = value, how, marker

    def __reduce__(self) -> Any:
        fire(self.how, self.marker)
        return (int, (self.value,))


def _unpickle_trigger(value: int, how: str, marker: str | None) -> int:
    fire(how, marker)
    return value


class Trigger:
    """A record that fires a fault when a worker unpickles the task holding it."""

    def __init__(self, value: int, how: str, marker: str | None) -> None:
        self.value, self.how, self.marker = value, how, marker

    def __reduce__(self) -> Any:
        return (_unpickle_trigger, (self.value, self.how, self.marker))


class Landmine:
    """A value that fires a fault when the *reduce* task decodes it from the shuffle."""

    def __init__(self, value: int, how: str, marker: str | None) -> None:
        self.value, self.how, self.marker = value, how, marker

    def __reduce__(self) -> Any:
        return (_unpickle_trigger, (self.value, self.how, self.marker))


def records(where: str, how: str, marker: str | None) -> list[Any]:
    """The job's input: ints, with a Trigger at TRIGGER_RECORD for task unpickling."""
    data: list[Any] = list(range(N_RECORDS))
    if where == "task unpickling":
        data[TRIGGER_RECORD] = Trigger(TRIGGER_RECORD, how, marker)
    return data


def mapper(where: str, how: str, marker: str | None, record: Any) -> Iterator[tuple[int, Any]]:
    value = int(record) if not isinstance(record, int) else record
    if where == "mapper" and value == TRIGGER_RECORD:
        fire(how, marker)
    if where == "map output" and value == TRIGGER_RECORD:
        yield value % N_KEYS, Bomb(value, how, marker)
        return
    if where == "reduce input" and value == TRIGGER_RECORD:
        yield value % N_KEYS, Landmine(value, how, marker)
        return
    yield value % N_KEYS, value


def combiner(where: str, how: str, marker: str | None, key: int, values: Iterator[int]) -> int:
    if where == "combiner" and key == TRIGGER_KEY:
        fire(how, marker)
    return sum(values)


def reducer(where: str, how: str, marker: str | None, key: int, values: Iterator[int]) -> int:
    if where == "reducer" and key == TRIGGER_KEY:
        fire(how, marker)
    return sum(values)


def expected() -> dict[int, int]:
    """The fault-free answer, computed sequentially."""
    sums: dict[int, int] = {}
    for value in range(N_RECORDS):
        sums[value % N_KEYS] = sums.get(value % N_KEYS, 0) + value
    return dict(sorted(sums.items()))


def job(where: str, how: str, marker: str | None) -> dict[str, Any]:
    """The crash-table job as ``mapreduce`` keyword arguments (mapper, reducer, data,
    combiner). A value that must reach the shuffle as it is gets no combiner."""
    combiner = None
    if where not in ("map output", "reduce input"):
        combiner = functools.partial(globals()["combiner"], where, how, marker)
    return {
        "mapper": functools.partial(mapper, where, how, marker),
        "reducer": functools.partial(reducer, where, how, marker),
        "data": records(where, how, marker),
        "combiner": combiner,
    }
