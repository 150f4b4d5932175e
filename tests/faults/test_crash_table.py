"""The crash table (SPEC 5): every (where x how x start method) case gives the exact
answer after a retry, or the promised error, and leaves nothing behind.

*where*: mapper, combiner, reducer, map output (a value whose pickling fails),
task unpickling (a record whose unpickling fails in the map worker), reduce input
(a value whose unpickling fails in the reduce task, while it ingests the shuffle).
*how*: raise, sys.exit, os._exit, SIGKILL of self, segfault.
Deaths (os._exit, SIGKILL, segfault) fire once and must be retried; exceptions are
never retried and come back as SPEC 5 says. The no_leaks fixture checks processes
and temp files after every case.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mapred import MapredError, WorkerLost, mapreduce
from mapred.errors import RemoteTraceback
from mapred.maploop import MAP_BUFFER_PAIRS
from tests.faults import faulty

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

WHERE = ["mapper", "combiner", "reducer", "map output", "task unpickling", "reduce input"]
DEATHS = ["os_exit", "sigkill", "segfault"]
EXCEPTIONS = ["raise", "sys_exit"]


def run(where: str, how: str, marker: str | None, start_method: str, **options: Any) -> Any:
    return mapreduce(
        **faulty.job(where, how, marker),
        workers=2,
        reducers=3,
        chunksize=20,
        start_method=start_method,
        **options,
    )


@pytest.mark.parametrize("how", DEATHS)
@pytest.mark.parametrize("where", WHERE)
def test_a_worker_death_is_retried_and_the_answer_is_exact(
    where: str, how: str, start_method: str, tmp_path: Any
) -> None:
    """A worker that dies once costs one retry; the result and counters are exact."""
    marker = str(tmp_path / "fired")
    result = run(where, how, marker, start_method)
    assert (tmp_path / "fired").exists()  # the fault really fired
    assert dict(result) == faulty.expected()
    assert list(result) == sorted(result)
    built = result.counters["mapred"]
    assert built["task_retries"] == 1
    assert built["input_records"] == faulty.N_RECORDS  # the dead attempt counted nothing
    assert built["output_keys"] == faulty.N_KEYS


# The note each row's error carries: the phase and the task (SPEC 5), matched exactly.
MAP_TASK = r"map task \d+ attempt 1"
REDUCE_TASK = r"reduce task \d+ attempt 1"
NOTES = {
    ("mapper", "raise"): rf"mapred: in the mapper, {MAP_TASK}, record \d+: ",
    ("mapper", "sys_exit"): rf"mapred: in the mapper, {MAP_TASK}, record \d+: ",
    ("combiner", "raise"): rf"mapred: in the combiner, {MAP_TASK}, key ",
    ("combiner", "sys_exit"): rf"mapred: in the combiner, {MAP_TASK}, key ",
    ("reducer", "raise"): rf"mapred: in the reducer, {REDUCE_TASK}, key ",
    ("reducer", "sys_exit"): rf"mapred: in the reducer, {REDUCE_TASK}, key ",
    ("map output", "raise"): rf"mapred: encoding the output of {MAP_TASK}$",
    ("map output", "sys_exit"): rf"mapred: in {MAP_TASK}$",
    ("task unpickling", "raise"): rf"mapred: .*{MAP_TASK}",
    ("task unpickling", "sys_exit"): rf"mapred: in {MAP_TASK}$",
    ("reduce input", "raise"): rf"mapred: decoding the shuffle input of {REDUCE_TASK}$",
    ("reduce input", "sys_exit"): rf"mapred: decoding the shuffle input of {REDUCE_TASK}$",
}


@pytest.mark.parametrize(("where", "how"), [(where, how) for where in WHERE for how in EXCEPTIONS])
def test_an_exception_stops_the_job_with_type_cause_and_note(
    where: str, how: str, start_method: str
) -> None:
    """Exceptions are not retried: the original type (or MapredError for sys.exit),
    the worker traceback as __cause__, and a note naming the phase and task."""
    expected: type[BaseException] = faulty.InjectedError
    if how == "sys_exit":
        expected = MapredError
    elif where == "map output":
        expected = TypeError  # an unpicklable value is the user's TypeError
    with pytest.raises(expected) as info:
        run(where, how, None, start_method)  # fires on every attempt, if there were any
    error = info.value
    notes = getattr(error, "__notes__", [])
    assert len(notes) == 1, notes
    assert re.match(NOTES[where, how], notes[0]), notes
    cause = error.__cause__
    while cause is not None and not isinstance(cause, RemoteTraceback):
        cause = cause.__cause__
    assert isinstance(cause, RemoteTraceback)
    if how == "raise":
        assert "fire" in cause.tb  # the worker's own traceback came along


@pytest.mark.parametrize("where", ["mapper", "reducer"])
def test_a_task_that_always_dies_is_worker_lost(where: str, start_method: str) -> None:
    """Past max_retries the job raises WorkerLost naming the task and the signal."""
    with pytest.raises(WorkerLost) as info:
        run(where, "sigkill", None, start_method, max_retries=1)
    message = str(info.value)
    assert ("map task" if where == "mapper" else "reduce task") in message
    assert "SIGKILL" in message
    assert "all 2 attempts" in message
    assert info.value.exitcode == -9


def flood_then_die(marker: str, record: int) -> Iterator[tuple[int, int]]:
    """Record 0 yields more pairs than the map buffer holds (a flush writes output);
    record 1 then kills the worker on the first attempt."""
    if record == 0:
        for i in range(MAP_BUFFER_PAIRS + 1000):
            yield i % 101, 1
    elif record == 1:
        faulty.fire("sigkill", marker)
    yield -1, record


def test_death_after_part_of_the_output_was_written(start_method: str, tmp_path: Any) -> None:
    """A map attempt that already flushed output, then died: its output never counts."""
    marker = str(tmp_path / "fired")
    data = [0, 1, 2]
    result = mapreduce(
        flood_then_die_partial(marker),
        faulty_sum,
        data,
        workers=2,
        chunksize=3,
        start_method=start_method,
    )
    assert (tmp_path / "fired").exists()
    expected = {i: 0 for i in range(101)}
    for i in range(MAP_BUFFER_PAIRS + 1000):
        expected[i % 101] += 1
    expected[-1] = sum(data)
    assert dict(result) == dict(sorted(expected.items()))
    assert result.counters["mapred"]["task_retries"] == 1
    assert result.counters["mapred"]["map_output_records"] == MAP_BUFFER_PAIRS + 1000 + 3


def flood_then_die_partial(marker: str) -> Any:
    return functools.partial(flood_then_die, marker)


def faulty_sum(key: int, values: Iterator[int]) -> int:
    return sum(values)
