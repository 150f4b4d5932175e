"""Counters: increment(), merging, and the Manager-backed live progress totals."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from mapred import counters
from mapred.counters import LiveCounters, increment, merge_into, report_progress, task_counters


def test_increment_lands_in_the_running_task() -> None:
    """Inside task_counters(), increment() adds to the yielded buffer only."""
    with task_counters() as outer:
        increment("a")
        with task_counters() as inner:
            increment("a", 5, group="g")
        increment("a", 2)
    assert outer == {"user": {"a": 3}}
    assert inner == {"g": {"a": 5}}


@pytest.mark.parametrize(
    ("args", "error"),
    [(("x", 1.5), TypeError), ((3,), TypeError), (("x", 1, "mapred"), ValueError)],
)
def test_increment_checks_its_arguments(args: tuple[Any, ...], error: type) -> None:
    """A float amount, a non-str name and the reserved group are refused."""
    with task_counters(), pytest.raises(error):
        increment(*args)


def test_merge_adds_group_by_group() -> None:
    """merge_into adds deltas into totals, creating groups and names."""
    total = {"mapred": {"input_records": 1}}
    merge_into(total, {"mapred": {"input_records": 2}, "user": {"x": 1}})
    assert total == {"mapred": {"input_records": 3}, "user": {"x": 1}}


def test_report_progress_reports_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks pass through unchanged and the running count is reported."""
    monkeypatch.setattr(counters, "LIVE_REPORT_SECONDS", 0.0)
    live: dict[int, int] = {}
    blocks = [["a", "b"], ["c"], ["d", "e", "f"]]
    seen = []
    for block in report_progress(blocks, live, 7):
        seen.append(block)
        assert live.get(7, 0) <= sum(map(len, seen))
    assert seen == blocks
    assert live[7] == 6


def test_live_counters_in_a_real_manager() -> None:
    """Commit replaces a task's live estimate with its exact count; discard drops it."""
    live = LiveCounters(multiprocessing.get_context("fork"))
    try:
        live.in_flight[0] = 40
        live.in_flight[1] = 7
        assert live.records() == 47
        live.commit(0, {"mapred": {"input_records": 50}})
        assert live.records() == 57
        live.discard(1)
        assert live.records() == 50
    finally:
        live.close()
