"""A worker that dies on a record (``os._exit``, a segfault) with ``max_skipped``: once two
attempts in a row died on the same record, the next attempt skips it, and the job ends with
the exact result of a sequential run without that record, under every start method.

The workers really die (``tests.faults.faulty.fire``); the no_leaks fixture checks that
nothing is left behind.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mapred import TooManySkipped, WorkerLost, mapreduce, read_text
from tests.faults import faulty

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

N = 60
RAISES = {5, 22}  # records whose mapper raises
DEATHS = ("os_exit", "segfault")


def mapper(
    record: int,
    deadly: frozenset[int],
    how: str,
    marker: str | None,
    raises: frozenset[int] = frozenset(RAISES),
) -> Iterator[Any]:
    """(record % 4, record); dies on the ``deadly`` records, raises on ``raises``."""
    if record in deadly:
        faulty.fire(how, marker)
    if record in raises:
        raise ValueError(f"bad {record}")
    yield record % 4, record


def total(key: int, values: Iterator[int]) -> int:
    return sum(values)


def expected(left_out: set[int]) -> dict[int, int]:
    """The sequential result without the records ``left_out``."""
    out: dict[int, int] = {}
    for record in range(N):
        if record not in left_out:
            out[record % 4] = out.get(record % 4, 0) + record
    return out


def run(
    deadly: set[int],
    how: str,
    start_method: str,
    marker: str | None = None,
    raises: set[int] = RAISES,
    **options: Any,
) -> Any:
    options.setdefault("max_skipped", 10)
    job = functools.partial(
        mapper, deadly=frozenset(deadly), how=how, marker=marker, raises=frozenset(raises)
    )
    return mapreduce(
        job,
        total,
        range(N),
        workers=2,
        chunksize=10,
        start_method=start_method,
        **options,
    )


@pytest.mark.parametrize("how", DEATHS)
def test_a_record_that_kills_its_worker_is_skipped(how: str, start_method: str) -> None:
    """Two deadly records: each costs two attempts, then is skipped and listed, with
    the records whose mapper raised, in input order; the rest of the result is exact."""
    result = run({13, 41}, how, start_method)
    assert dict(result) == expected({13, 41} | RAISES)
    assert [(s.index, s.error_type) for s in result.skipped] == [
        (5, "ValueError"),
        (13, "WorkerLost"),
        (22, "ValueError"),
        (41, "WorkerLost"),
    ]
    died = result.skipped[1].message
    assert "died on this record on 2 attempts" in died
    assert ("SIGSEGV" if how == "segfault" else "exit code 7") in died
    assert result.skipped[1].record == "13"
    built = result.counters["mapred"]
    assert built["skipped_records"] == 4
    assert built["task_retries"] == 4  # two deaths per deadly record
    assert built["input_records"] == N


def test_a_worker_that_dies_once_is_retried_not_skipped(start_method: str, tmp_path: Path) -> None:
    """A death that does not repeat on the retry is a lost worker, not a bad record."""
    marker = str(tmp_path / "fired")
    result = run({13}, "os_exit", start_method, marker=marker)
    assert Path(marker).exists()
    assert dict(result) == expected(RAISES)
    assert [s.index for s in result.skipped] == sorted(RAISES)
    assert result.counters["mapred"]["task_retries"] == 1


def test_one_retry_is_enough_to_find_a_deadly_record(start_method: str) -> None:
    """With ``max_retries=1`` the second death on the same record is not a lost worker:
    the record is skipped; with ``max_retries=0`` there is no second attempt to tell."""
    result = run({13}, "segfault", start_method, max_retries=1)
    assert dict(result) == expected({13} | RAISES)
    with pytest.raises(WorkerLost, match="map task 1"):
        run({13}, "segfault", start_method, max_retries=0)


def test_deadly_records_count_toward_the_limit(start_method: str) -> None:
    """A skipped deadly record counts as a skip: past ``max_skipped``, TooManySkipped."""
    with pytest.raises(TooManySkipped, match="max_skipped=2") as caught:
        run({13, 41}, "os_exit", start_method, max_skipped=2)
    # Only two records raise: whichever skip was one too many, a deadly record is listed.
    assert "WorkerLost" in {s.error_type for s in caught.value.skipped}


def test_without_max_skipped_a_deadly_record_is_a_lost_worker(start_method: str) -> None:
    """``max_skipped=0`` (the default) keeps SPEC 5: the task's worker is lost."""
    with pytest.raises(WorkerLost, match="all 4 attempts"):
        run({13}, "os_exit", start_method, raises=set(), max_skipped=0)


def test_a_deadly_line_is_named_by_file_and_line(start_method: str, tmp_path: Path) -> None:
    """A deadly line of a file split past byte 0 is listed with its path and line number."""
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"{n}\n" for n in range(N)))

    def parse(line: str) -> Iterator[tuple[int, int]]:
        yield from mapper(int(line), frozenset({41}), "segfault", None)

    result = mapreduce(
        parse,
        total,
        read_text(str(path), split_size=50),
        workers=2,
        max_skipped=5,
        start_method=start_method,
    )
    assert dict(result) == expected({41} | RAISES)
    deadly = [s for s in result.skipped if s.error_type == "WorkerLost"]
    assert [(s.path, s.line) for s in deadly] == [(str(path), 42)]


def reducer_dies(key: int, values: Iterator[int]) -> int:
    if key == 1:
        faulty.fire("os_exit", None)
    return sum(values)


def test_a_reducer_that_kills_its_worker_is_not_skipped(start_method: str) -> None:
    """Only a map task's record is skipped on a death; a reduce task's worker is lost."""
    with pytest.raises(WorkerLost, match="reduce task"):
        mapreduce(
            lambda n: [(n % 4, n)],
            reducer_dies,
            range(N),
            workers=2,
            reducers=2,
            max_skipped=5,
            max_retries=1,
            start_method=start_method,
        )


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deadly=st.sets(st.integers(0, N - 1), max_size=2),
    raises=st.sets(st.integers(0, N - 1), max_size=3),
    workers=st.integers(1, 3),
    chunksize=st.integers(1, 25),
)
@example(deadly={3, 40}, raises={7, 41}, workers=2, chunksize=9)
def test_deaths_and_errors_skip_as_a_sequential_run_would(
    deadly: set[int], raises: set[int], workers: int, chunksize: int
) -> None:
    """A property: whichever records kill their worker or raise, with any workers and
    splits, the result is the sequential one without them, and they are listed in order."""
    raises -= deadly
    result = mapreduce(
        functools.partial(
            mapper, deadly=frozenset(deadly), how="os_exit", marker=None, raises=frozenset(raises)
        ),
        total,
        range(N),
        workers=workers,
        chunksize=chunksize,
        max_skipped=len(deadly | raises),
        max_retries=1,
    )
    assert dict(result) == expected(deadly | raises)
    assert [(s.index, s.error_type) for s in result.skipped] == [
        (n, "WorkerLost" if n in deadly else "ValueError") for n in sorted(deadly | raises)
    ]
