"""The quarantine of a job run with ``max_skipped``: what was skipped, and the driver's side.

A record whose mapper raises, or a key whose reducer raises, is left out of the job and
reported as a :class:`SkippedRecord` (the workers' side is :mod:`mapred.skipping`).
Skipped records travel with their task's result and count only when it is committed
(:class:`Quarantine`, one per step's driver): a dead or cancelled attempt's skips are
never counted. They come back in a fixed order (input order, then key order), so the
same input gives the same list on every backend and for every ``workers``.

A record that kills its worker cannot be caught: a map attempt keeps a *note* of the
record it is on (a small file in the step's work directory, :func:`note_path`); the
driver reads a dead attempt's note (:meth:`Quarantine.died_on_record`), and once two
attempts of a task in a row died on the same record, the next attempt skips it
(``MapTask.skip``). On Dask, the note lives on the worker's host, and the backend reads
it for the driver (:mod:`mapred.backends.dask_notes`; ``Death.record``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mapred.errors import TooManySkipped, short_repr
from mapred.keys import total_order_key

QUARANTINE_FILE = "_skipped.jsonl"  # with output=DIR: one SkippedRecord a line, as JSON
DIED = "WorkerLost"  # the error_type of a record that killed its worker
DEATHS_TO_SKIP = 2  # attempts in a row that die on the same record before it is skipped
NOTE_BYTES = 8  # a note: the record number, a native signed 64-bit int


@dataclass(frozen=True)
class SkippedRecord:
    """A record (or a key) left out of a job run with ``max_skipped``.

    Attributes:
        phase: ``"map"`` (the mapper raised on the record, or its worker died on it) or
            ``"reduce"`` (the reducer raised on the key).
        error_type: the exception's type name (``"ValueError"``), or ``"WorkerLost"``
            for a record its worker died on.
        message: the exception's message, or how the worker died.
        path: for a record of a file (``read_text``) or a stream, its path (or URL, or
            ``"<stdin>"``); else None.
        line: the record's 1-based line number in ``path``; else None.
        index: for a record of an iterable ``data``, its 0-based position in it; else None.
        key: for the reduce phase, the key whose reducer raised; for a record of a later
            step (the previous step's output), the key of the previous step's reduce
            call that made it (its *origin*, which orders the step's skips); else None.
        step: the step's number, 1-based (1 for a single-step job).
        record: the record (map phase) or key (reduce phase), as a short repr.
    """

    phase: str
    error_type: str
    message: str
    path: str | None = None
    line: int | None = None
    index: int | None = None
    key: Any = None
    step: int = 1
    record: str = ""

    @property
    def where(self) -> str:
        """Where the record was, for messages: ``"data.txt line 7"``, ``"record 12"``,
        ``"key 'x'"``."""
        if self.phase == "reduce":
            return f"key {short_repr(self.key)}"
        if self.path is not None:
            return f"{self.path} line {self.line}"
        if self.index is not None:
            return f"record {self.index}"
        return f"record {self.record}"

    def describe(self) -> str:
        """One line: the phase, where, and the error.

        >>> SkippedRecord("map", "ValueError", "bad", path="a.txt", line=3).describe()
        'map: a.txt line 3: ValueError: bad'
        """
        step = f"step {self.step} " if self.step > 1 else ""
        return f"{step}{self.phase}: {self.where}: {self.error_type}: {self.message}"

    def to_json(self) -> str:
        """The entry as one JSON line of the quarantine file (the key as its repr)."""
        record = asdict(self)
        record["key"] = None if self.key is None else short_repr(self.key)
        return json.dumps(record, sort_keys=True, ensure_ascii=False)


def ordered(
    map_skips: Mapping[int, Iterable[SkippedRecord]], reduce_skips: Iterable[SkippedRecord]
) -> list[SkippedRecord]:
    """A step's skipped records in a fixed order: map skips in input order (map task by
    map task, each in record order; in a later step, by origin first: its map tasks
    read the previous step's parts, one per partition), then reduce skips in key order.
    Neither depends on the backend, the number of workers or of reducers."""
    result = [entry for index in sorted(map_skips) for entry in map_skips[index]]
    if result and result[0].step > 1:  # stable: an origin's records stay in order
        result.sort(key=lambda entry: total_order_key(entry.key))
    result.extend(sorted(reduce_skips, key=lambda entry: total_order_key(entry.key)))
    return result


def check_limit(skipped: list[SkippedRecord], limit: int) -> None:
    """Raise :class:`TooManySkipped` once ``skipped`` holds more than ``limit`` entries."""
    if len(skipped) > limit:
        raise TooManySkipped(too_many_message(skipped, limit), limit, skipped)


def too_many_message(skipped: list[SkippedRecord], limit: int) -> str:
    return f"more than max_skipped={limit} records were skipped; the last: {skipped[-1].describe()}"


def note_path(workdir: str, index: int, attempt: int) -> str:
    """The note of one map attempt, in the step's work directory."""
    return os.path.join(workdir, f"note-{index:06d}-{attempt}")


def read_note(path: str) -> int:
    """The record a dead attempt was on (from 1), or 0 (none, or no note)."""
    try:
        with open(path, "rb") as file:
            data = file.read(NOTE_BYTES)
    except OSError:
        return 0
    if len(data) != NOTE_BYTES:
        return 0
    return max(0, int(memoryview(data).cast("q")[0]))


class Quarantine:
    """What one step's driver knows of skipped records: those of committed tasks, and
    the records that dead map attempts were on.

    Args:
        limit: the job's ``max_skipped``.
        before: records the job's earlier steps skipped (the limit is the job's).
        workdir: the step's work directory, where map attempts keep their notes (None:
            no notes, on a backend without a shared disk).
    """

    def __init__(self, limit: int, before: int, workdir: str | None) -> None:
        self.limit = limit
        self.before = before
        self.workdir = workdir
        self.map_skips: dict[int, tuple[SkippedRecord, ...]] = {}
        self.reduce_skips: list[SkippedRecord] = []
        self.count = 0
        self.deaths: dict[int, tuple[int, int]] = {}  # map task -> (record, deaths in a row)

    def entries(self) -> list[SkippedRecord]:
        """The step's skipped records, in input order, then key order."""
        return ordered(self.map_skips, self.reduce_skips)

    def commit(self, map_index: int | None, skipped: tuple[SkippedRecord, ...]) -> None:
        """Count a committed task's skips (``map_index`` None: a reduce task's);
        :class:`TooManySkipped` once the job's are past the limit."""
        if not skipped:
            return
        if map_index is None:
            self.reduce_skips.extend(skipped)
        else:
            self.map_skips[map_index] = skipped
        self.count += len(skipped)
        if self.before + self.count > self.limit:
            entries = self.entries()
            raise TooManySkipped(too_many_message(entries, self.limit), self.limit, entries)

    def too_many(self, exc: BaseException) -> BaseException:
        """A task's own :class:`TooManySkipped`, with what committed tasks skipped first;
        any other exception as it is."""
        if not isinstance(exc, TooManySkipped):
            return exc
        entries = self.entries() + exc.skipped
        error = TooManySkipped(too_many_message(exc.skipped, exc.limit), exc.limit, entries)
        error.__cause__ = exc.__cause__
        return error

    def died_on_record(
        self, index: int, attempt: int, how: str, record: int | None = None
    ) -> tuple[int, str] | None:
        """Map task ``index``'s ``attempt`` died (``how``): the record to skip from now
        on, with why, when the attempt before it died on the same record; else None.

        ``record``: the record the attempt was on (0: none), as the backend read it from
        a note off the driver's disk; None: read the note in the work directory.
        """
        if not self.limit:
            return None
        if record is None:
            if self.workdir is None:
                return None
            path = note_path(self.workdir, index, attempt)
            record = read_note(path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if record == 0:  # not inside the mapper: a lost worker, as without skipping
            self.deaths.pop(index, None)
            return None
        last, count = self.deaths.get(index, (0, 0))
        count = count + 1 if last == record else 1
        if count < DEATHS_TO_SKIP:
            self.deaths[index] = (record, count)
            return None
        del self.deaths[index]
        return record, f"the worker process died on this record on {count} attempts (last: {how})"


def report_skipped(result: Any) -> None:
    """At the end of a command-line job run with ``max_skipped``: on stderr, how many
    records were skipped and where they are listed (the quarantine file of an
    ``output=DIR`` result, or the lines that follow, one a record)."""
    import sys

    skipped = getattr(result, "skipped", [])
    directory = getattr(result, "directory", None)
    if not skipped:
        return
    count = f"{len(skipped)} bad record{'s' if len(skipped) != 1 else ''} skipped"
    if directory is not None:
        from mapred import storage

        where = storage.join(directory, QUARANTINE_FILE)
        print(f"mapred: {count}, listed in {where}", file=sys.stderr, flush=True)
        return
    lines = [f"mapred: {count}:"] + [f"mapred: skipped {entry.describe()}" for entry in skipped]
    print("\n".join(lines), file=sys.stderr, flush=True)


def write_quarantine(directory: str, skipped: list[SkippedRecord], options: Any = None) -> None:
    """Write the job's skipped records to ``directory/_skipped.jsonl``, one a line."""
    from mapred import storage

    path = storage.join(directory, QUARANTINE_FILE)
    temp = storage.join(directory, ".skipped.tmp")
    with storage.open_write_temp(temp, options) as file:
        file.write("".join(entry.to_json() + "\n" for entry in skipped).encode())
    storage.commit(temp, path, options)
