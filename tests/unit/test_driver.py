"""The driver's retry policy, the same for every backend: a backend reports deaths, the
driver counts them per task and decides between a retry and WorkerLost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from mapred import WorkerLost
from mapred.backends.base import Death, Event
from mapred.backends.serial import SerialBackend
from mapred.launch import launch_job
from mapred.step import Step


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def total(key: str, values: Iterator[int]) -> int:
    return sum(values)


class DyingBackend(SerialBackend):
    """The serial backend, reporting deaths of map task 0 as a cluster would.

    ``restarts``: deaths of map task 0 that the backend restarts by itself (as Dask does),
    reported before its result; ``off_slot`` reports them as for a task on no slot.
    ``input_lost``: the first reduce task reports that its input died instead.
    """

    def __init__(self, restarts: int = 0, off_slot: bool = False, input_lost: bool = False):
        super().__init__()
        self.restarts = restarts
        self.off_slot = off_slot
        self.input_lost = input_lost

    def wait(self, timeout: float) -> list[Event]:
        events = super().wait(timeout)
        deaths: list[Event] = []
        for event in events:
            index = getattr(event.payload, "index", None)
            if event.kind == "done" and index == 0 and self.restarts:
                slot = None if self.off_slot else event.slot
                death = Death("a worker died", restarted=True, task=("map", 0))
                deaths += [Event(slot, "died", death)] * self.restarts
                self.restarts = 0
            if event.kind == "done" and hasattr(event.payload, "partition") and self.input_lost:
                return [Event(event.slot, "died", Death("its map output died", input_lost=True))]
        return deaths + events


def run(backend: SerialBackend, max_retries: int = 3) -> Any:
    return launch_job(
        backend,
        [Step(words, total)],
        ["a b", "b c", "c"],
        reducers=1,
        chunksize=1,
        memory_limit=1 << 24,
        max_retries=max_retries,
        timeout=None,
        progress=False,
        output=None,
        started=time.monotonic(),
    )


@pytest.mark.parametrize("off_slot", [False, True])
def test_deaths_within_max_retries_are_counted_and_the_answer_is_exact(off_slot: bool) -> None:
    """Re-runs by the backend cost retries, counted once each; the result stays exact."""
    result = run(DyingBackend(restarts=2, off_slot=off_slot), max_retries=2)
    assert dict(result) == {"a": 1, "b": 2, "c": 2}
    assert result.counters["mapred"]["task_retries"] == 2


@pytest.mark.parametrize("off_slot", [False, True])
def test_one_death_too_many_is_worker_lost(off_slot: bool) -> None:
    """The max_retries + 1-th loss of one task ends the job, naming the task."""
    with pytest.raises(WorkerLost, match="all 3 attempts") as info:
        run(DyingBackend(restarts=3, off_slot=off_slot), max_retries=2)
    assert info.value.task.startswith("map task 0")
    assert "a worker died" in str(info.value)


def test_lost_input_is_worker_lost_at_once() -> None:
    """A task whose input died cannot run again: WorkerLost, whatever max_retries says."""
    with pytest.raises(WorkerLost, match="lost its input: its map output died") as info:
        run(DyingBackend(input_lost=True), max_retries=5)
    assert info.value.task.startswith("reduce task 0")
