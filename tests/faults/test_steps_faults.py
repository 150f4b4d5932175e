"""Multi-step jobs under faults: a worker killed in a later step costs one retry of its
task and the answer stays exact; the timeout is one deadline for all steps, and a job
stopped in step 2 leaves no process and no file (the no_leaks fixture checks both)."""

from __future__ import annotations

import time

import pytest

from mapred import JobTimeout, Step, mapreduce
from tests.faults.steps_faults import (
    by_mod,
    die_once_in_map,
    hang_in_step_two,
    listed_dying_once,
    oracle,
    spread,
)

DATA = list(range(60))


def test_workers_killed_in_step_two_cost_one_retry_each(start_method: str) -> None:
    steps = [Step(by_mod, spread), Step(die_once_in_map, listed_dying_once)]
    result = mapreduce(
        steps=steps, data=DATA, workers=2, reducers=3, chunksize=7, start_method=start_method
    )
    assert dict(result) == oracle(DATA)
    assert result.counters["mapred"]["task_retries"] == 2
    assert result.counters["mapred.step2"]["task_retries"] == 2
    assert result.counters["mapred.step1"]["task_retries"] == 0


def test_the_timeout_covers_every_step() -> None:
    steps = [Step(by_mod, spread), Step(hang_in_step_two, listed_dying_once)]
    started = time.monotonic()
    with pytest.raises(JobTimeout):
        mapreduce(steps=steps, data=DATA, workers=2, reducers=2, timeout=3)
    assert time.monotonic() - started < 3 + 10  # stopped promptly, not after step 2's hang
