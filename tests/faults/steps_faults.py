"""Job functions for the fault tests of multi-step jobs: a worker that dies in step 2,
and a step 2 that never ends. Module-level: they travel by reference."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from mapred import pair_reducer, task_context


def by_mod(n: int) -> list[tuple[int, int]]:
    return [(n % 5, n)]


@pair_reducer
def spread(key: int, values: Iterator[int]) -> Iterator[tuple[int, int]]:
    for value in values:
        yield value % 3, value


def die_once_in_map(pair: tuple[int, int]) -> list[tuple[int, int]]:
    """Step 2 mapper: the first attempt of map task 1 kills its own worker."""
    context = task_context()
    if context.step == 2 and context.task == 1 and context.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return [pair]


def listed_dying_once(key: int, values: Iterator[int]) -> list[int]:
    """Step 2 reducer: the first attempt of reduce task 0 kills its own worker."""
    context = task_context()
    if context.task == 0 and context.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return list(values)


def hang_in_step_two(pair: tuple[int, int]) -> list[tuple[int, int]]:
    """Step 2 mapper that never returns (the job's timeout must end it)."""
    threading.Event().wait()
    return [pair]


def oracle(data: list[int]) -> dict[int, list[int]]:
    """The two-step job in a plain loop."""
    groups: dict[int, list[int]] = {}
    for n in data:
        groups.setdefault(n % 5, []).append(n)
    out: dict[int, list[Any]] = {}
    for key in sorted(groups):
        for value in groups[key]:
            out.setdefault(value % 3, []).append(value)
    return dict(sorted(out.items()))
