"""A record that kills its Dask worker (``os._exit``, a segfault) with ``max_skipped``: skipped
once two deaths in a row were on it, as with local processes, and listed the same way.

The workers really die; their nannies start new ones (mapred.backends.dask_notes reads the
dead worker's note on its host). Each test runs on a cluster of its own, so the replacements
are gone when it ends (the no_leaks fixture checks, and that no note is left behind).

Every death here also loses the map output its worker held, and Dask's re-run of that map
task counts as a loss too (mapred.backends.dask): so ``max_retries`` is raised, on both
backends alike, where a test lets workers die several times.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from mapred import WorkerLost, mapreduce, read_text
from tests.dask.conftest import fresh_cluster
from tests.faults.test_skip_deaths import DEATHS, RAISES, N, expected, mapper, total

pytestmark = [pytest.mark.dask, pytest.mark.faults, pytest.mark.timeout(180)]

RETRIES = 12  # deaths lose other tasks' map output too: see the module's docstring


def run(backend: Any, deadly: set[int], how: str, marker: str | None = None, **options: Any) -> Any:
    options.setdefault("max_skipped", 10)
    options.setdefault("max_retries", RETRIES)
    job = functools.partial(
        mapper, deadly=frozenset(deadly), how=how, marker=marker, raises=frozenset(RAISES)
    )
    if backend is None:  # local processes
        options["workers"] = 2
    else:
        options["backend"] = backend
    return mapreduce(job, total, range(N), chunksize=10, **options)


@pytest.mark.slow
@pytest.mark.parametrize("how", DEATHS)
def test_a_record_that_kills_its_dask_worker_is_skipped_as_on_processes(how: str) -> None:
    """Two deadly records: each skipped after two deaths on it, listed with the records
    whose mapper raised, in input order; the result and the list (messages included: how
    the worker died comes from its nanny) equal local processes' and a sequential run's."""
    with fresh_cluster() as client:
        result = run(client, {13, 41}, how)
    assert dict(result) == expected({13, 41} | RAISES)
    assert [(s.phase, s.index, s.error_type) for s in result.skipped] == [
        ("map", 5, "ValueError"),
        ("map", 13, "WorkerLost"),
        ("map", 22, "ValueError"),
        ("map", 41, "WorkerLost"),
    ]
    died = result.skipped[1].message
    assert "died on this record on 2 attempts" in died
    assert ("SIGSEGV" if how == "segfault" else "exit code 7") in died
    assert result.counters["mapred"]["skipped_records"] == 4
    assert result.counters["mapred"]["input_records"] == N
    local = run(None, {13, 41}, how)
    assert dict(result) == dict(local)
    assert result.skipped == local.skipped


@pytest.mark.slow
def test_a_deadly_line_on_dask_is_named_by_file_and_line(tmp_path: Path) -> None:
    """A deadly line of a file split past byte 0: its path and line, as on processes."""
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"{n}\n" for n in range(N)))
    with fresh_cluster() as client:
        result = mapreduce(
            functools.partial(parse, deadly=frozenset({41})),
            total,
            read_text(str(path), split_size=50),
            backend=client,
            max_skipped=5,
            max_retries=RETRIES,
        )
    assert dict(result) == expected({41} | RAISES)
    deadly = [s for s in result.skipped if s.error_type == "WorkerLost"]
    assert [(s.phase, s.path, s.line) for s in deadly] == [("map", str(path), 42)]


def parse(line: str, deadly: frozenset[int]) -> Iterator[tuple[int, int]]:
    yield from mapper(int(line), deadly, "segfault", None)


@pytest.mark.slow
def test_a_one_off_death_on_dask_is_retried_not_skipped(tmp_path: Path) -> None:
    """A worker that dies on a record once (not on the retry) is a lost worker: the record
    is read on the retry and counts."""
    marker = tmp_path / "fired"
    with fresh_cluster() as client:
        result = run(client, {13}, "os_exit", marker=str(marker))
    assert marker.exists()  # the fault really fired
    assert dict(result) == expected(RAISES)
    assert [s.index for s in result.skipped] == sorted(RAISES)
    assert {s.error_type for s in result.skipped} == {"ValueError"}
    assert result.counters["mapred"]["task_retries"] >= 1


@pytest.mark.slow
def test_without_retries_a_deadly_record_on_dask_is_worker_lost() -> None:
    """``max_retries=0``: no second death to tell a bad record from a lost worker, so the
    first death ends the job with WorkerLost, as before."""
    with fresh_cluster() as client, pytest.raises(WorkerLost, match="all 1 attempts") as info:
        run(client, {13}, "os_exit", max_retries=0)
    assert info.value.task.startswith("map task")


# The pieces, without a cluster.


def test_a_note_is_trusted_only_once_its_process_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read of a dead start's note gives its record only if the process that wrote it
    is gone (the scheduler may give up on a worker that still runs); it removes the note."""
    from mapred.backends import dask_notes
    from mapred.skipping import RecordNote

    monkeypatch.setattr(dask_notes, "EXIT_SECONDS", 0.2)
    for pid, expected_record in [(os.getpid(), 0), (_gone_pid(), 17)]:
        note = RecordNote(str(tmp_path / "mapred-note-x"))
        note.view[0] = 17
        assert dask_notes.read_dead_note(note.path, None, pid) == (expected_record, None)
        assert not os.path.exists(note.path)
        note.close()


def test_a_start_takes_the_note_of_its_attempt_dead_on_its_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A start finds the note an earlier start of its attempt left on this host (its
    process gone) and takes it, once: the read after it leaves the death to that start."""
    from mapred.backends import dask_notes
    from mapred.skipping import RecordNote

    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))
    path = dask_notes.note_file("job", 2, 1, None).replace(f"-{os.getpid()}-", f"-{_gone_pid()}-")
    note = RecordNote(path)
    note.view[0] = 5
    assert dask_notes.deaths_here("job", 3, 1) is None  # another task's
    assert dask_notes.deaths_here("job", 2, 1) == (5, None)
    assert dask_notes.deaths_here("job", 2, 1) is None  # taken
    assert dask_notes.read_dead_note(path, None, 1) is None
    note.close()
    assert dask_notes.remove_notes(["job"]) == 1  # the taken note goes with the job


def _gone_pid() -> int:
    """The pid of a process that has ended and been waited for."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return int(child.pid)


def test_notes_nobody_read_are_removed_by_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At the end of a job, its notes on a host go; another job's stay."""
    from mapred.backends import dask_notes

    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))
    ours = dask_notes.note_file("job1", 3, 1, "tcp://127.0.0.1:1234")
    theirs = dask_notes.note_file("job2", 3, 1, None)
    for path in (ours, theirs):
        Path(path).write_bytes(b"\0" * 8)
    assert dask_notes.remove_notes(["job1"]) == 1
    assert not os.path.exists(ours)
    assert os.path.exists(theirs)


def test_the_quarantine_takes_the_record_the_backend_read() -> None:
    """Two deaths in a row on one record (as a backend without a shared disk reads them)
    skip it; a death outside the mapper (record 0) in between starts the count again."""
    from mapred.quarantine import Quarantine

    quarantine = Quarantine(limit=5, before=0, workdir=None)
    assert quarantine.died_on_record(1, 1, "exit code 7", record=9) is None
    assert quarantine.died_on_record(1, 1, "exit code 7", record=0) is None
    assert quarantine.died_on_record(1, 1, "exit code 7", record=9) is None
    skip = quarantine.died_on_record(1, 2, "signal SIGSEGV (-11)", record=9)
    assert skip is not None
    assert skip[0] == 9
    assert "on 2 attempts (last: signal SIGSEGV (-11))" in skip[1]
    assert quarantine.died_on_record(2, 1, "exit code 7") is None  # no record, no note
