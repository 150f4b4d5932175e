"""Skipping bad records (``max_skipped=N``): the quarantine, and the workers' side of it.

With ``max_skipped`` above 0, a record whose mapper raises is left out of the job and
reported instead, as a :class:`SkippedRecord`; so is a key whose reducer raises. The
map and reduce loops are the same as without skipping: the job's mapper (or reducer)
is replaced, for the task, by a wrapper (:class:`SkippingMapper`,
:func:`skipping_reducer`) that catches the user's exception and notes the record. The
mapper's pairs of a record are taken whole (``list(mapper(record))``) before any
reaches the buffer, so a record that raises half way leaves no pair behind.

A record that kills its worker (a segfault in a C extension, ``os._exit``) cannot be
caught. The wrapper keeps a *note* of the record it is on: 8 bytes of a small file in
the job's work directory, mapped in memory (:class:`RecordNote`), written before each
mapper call and cleared after it (an assignment, no system call). The driver reads the
note of a dead attempt (:func:`read_note`); when two attempts of a task in a row died
on the same record, the next attempt skips it (``MapTask.skip``). On a backend without
a shared disk (Dask) there is no note, and such a death is a lost worker as before.
"""

from __future__ import annotations

import contextlib
import copy
import json
import mmap
import os
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mapred.errors import TooManySkipped, safe_str, short_repr
from mapred.keys import total_order_key

if TYPE_CHECKING:
    from mapred.context import TaskContext
    from mapred.job import LoadedJob

QUARANTINE_FILE = "_skipped.jsonl"  # with output=DIR: one SkippedRecord a line, as JSON
DIED = "WorkerLost"  # the error_type of a record that killed its worker
DEATHS_TO_SKIP = 2  # attempts in a row that die on the same record before it is skipped
_NOTE_BYTES = 8


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
        key: for the reduce phase, the key whose reducer raised; else None.
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
        record["key"] = None if self.phase != "reduce" else short_repr(self.key)
        return json.dumps(record, sort_keys=True, ensure_ascii=False)


def ordered(
    map_skips: Mapping[int, Iterable[SkippedRecord]], reduce_skips: Iterable[SkippedRecord]
) -> list[SkippedRecord]:
    """A step's skipped records in a fixed order: map skips in input order (map task by
    map task, each in record order), then reduce skips in key order. Neither depends on
    the backend, the number of workers or of reducers."""
    result = [entry for index in sorted(map_skips) for entry in map_skips[index]]
    result.extend(sorted(reduce_skips, key=lambda entry: total_order_key(entry.key)))
    return result


def check_limit(skipped: list[SkippedRecord], limit: int) -> None:
    """Raise :class:`TooManySkipped` once ``skipped`` holds more than ``limit`` entries."""
    if len(skipped) > limit:
        raise TooManySkipped(too_many_message(skipped, limit), limit, skipped)


def too_many_message(skipped: list[SkippedRecord], limit: int) -> str:
    return f"more than max_skipped={limit} records were skipped; the last: {skipped[-1].describe()}"


# --- the note of the record a map attempt is on -----------------------------------------


def note_path(workdir: str, index: int, attempt: int) -> str:
    """The note of one map attempt, in the step's work directory."""
    return os.path.join(workdir, f"note-{index:06d}-{attempt}")


class RecordNote:
    """The record number a map attempt is on (0: none), in a file mapped in memory, so
    that it survives the process: the driver reads it after a death."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, _NOTE_BYTES)
            self._map = mmap.mmap(fd, _NOTE_BYTES)
        finally:
            os.close(fd)
        self.view = memoryview(self._map).cast("q")

    def close(self) -> None:
        """Unmap and remove the note: the attempt did not die."""
        self.view.release()
        self._map.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def read_note(path: str) -> int:
    """The record a dead attempt was on (from 1), or 0 (none, or no note)."""
    try:
        with open(path, "rb") as file:
            data = file.read(_NOTE_BYTES)
    except OSError:
        return 0
    if len(data) != _NOTE_BYTES:
        return 0
    return max(0, int(memoryview(data).cast("q")[0]))


# --- the worker's side ------------------------------------------------------------------


class SkippingMapper:
    """The mapper of a map task run with ``max_skipped``: a record whose mapper raises
    (an ``Exception``) yields nothing and is noted in :attr:`skipped`.

    :attr:`call` is what the map loop calls, once per record, in order (the loop's own
    count of records is the same): a closure over locals, since it runs per record.
    """

    def __init__(
        self,
        mapper: Callable[[Any], Any],
        context: TaskContext,
        task: Any,
        limit: int,
        note: RecordNote | None,
    ) -> None:
        self.mapper = mapper
        self.context = context
        self.task = task
        self.limit = limit
        self.note = note
        self.deadly = dict(task.skip)  # record number -> how its worker died
        self.count = 0
        self.skipped: list[SkippedRecord] = []
        self.call = _skipping_call(self)

    def failed(self, record: Any, count: int, exc: Exception) -> list[Any]:
        """The mapper raised on record ``count``: note it."""
        self.count = count
        self._skip(record, type(exc).__name__, safe_str(exc))
        return []

    def died_on(self, record: Any, count: int) -> list[Any]:
        """Record ``count`` killed earlier attempts: skip it unread."""
        self.count = count
        self._skip(record, DIED, self.deadly[count])
        return []

    def _skip(self, record: Any, error_type: str, message: str) -> None:
        context = self.context
        context.record = self.count
        task = self.task
        path: str | None = None
        line: int | None = None
        index: int | None = None
        if task.split is not None:
            path, line = task.split.path, context.line
        elif task.stream is not None:
            path = "<stdin>" if task.stream == "-" else task.stream  # as DecodeError says
            line = task.first + self.count
        elif task.part is None:
            index = task.first + self.count - 1
        self.skipped.append(
            SkippedRecord(
                "map",
                error_type,
                message,
                path=path,
                line=line,
                index=index,
                step=context.step,
                record=short_repr(record),
            )
        )
        check_limit(self.skipped, self.limit)


def _skipping_call(skipper: SkippingMapper) -> Callable[[Any], list[Any]]:
    mapper = skipper.mapper
    view: Any = skipper.note.view if skipper.note is not None else [0]
    deadly = skipper.deadly
    failed = skipper.failed
    count = 0

    def skipping(record: Any) -> list[Any]:
        nonlocal count
        count += 1
        if deadly and count in deadly:
            return skipper.died_on(record, count)
        view[0] = count  # the note: the record this attempt is on
        try:
            pairs = mapper(record)
            if pairs.__class__ is not list:  # a generator: run it now, errors and all
                pairs = list(pairs)
        except Exception as exc:
            view[0] = 0
            tb = exc.__traceback__
            if isinstance(exc, TypeError) and tb is not None and tb.tb_next is None:
                raise  # list() of what is not iterable: the mapper broke the contract
            return failed(record, count, exc)
        view[0] = 0
        return pairs

    return skipping


# The code of the per-record closure, for the map loops' contract checks (MAP_LOOPS).
SKIPPING_CODE = next(c for c in _skipping_call.__code__.co_consts if isinstance(c, types.CodeType))


def skipping_map_job(
    job: LoadedJob, task: Any, context: TaskContext
) -> tuple[LoadedJob, SkippingMapper]:
    """``job`` with its mapper wrapped for skipping (a shallow copy: the worker's cached
    job is left as it is). The caller closes the wrapper's note at the end."""
    spec = job.spec
    note = None
    if spec.workdir is not None:
        note = RecordNote(note_path(spec.workdir, task.index, task.attempt))
    mapper = SkippingMapper(job.mapper, context, task, spec.max_skipped, note)
    skipping = copy.copy(job)
    skipping.mapper = mapper.call
    return skipping, mapper


SKIPPED = object()  # what a plain reducer's wrapper returns for a key it skipped


class SkippingReducer:
    """The reducer of a reduce task run with ``max_skipped``: a key whose reducer raises
    is noted in :attr:`skipped`; a plain reducer's value is then :data:`SKIPPED` (the
    part writer leaves the key out), an emitting one's, no pairs (and none of those it
    yielded before raising). :attr:`call` is what the reduce loop calls, once per key."""

    def __init__(self, reducer: Callable[[Any, Any], Any], step: int, limit: int, emits: bool):
        self.reducer = reducer
        self.step = step
        self.limit = limit
        self.emits = emits
        self.skipped: list[SkippedRecord] = []
        self.call = _skipping_reduce_call(self)

    def failed(self, key: Any, exc: Exception) -> Any:
        """The reducer raised on ``key``: note it; what the loop gets for the key."""
        self.skipped.append(
            SkippedRecord(
                "reduce",
                type(exc).__name__,
                safe_str(exc),
                key=key,
                step=self.step,
                record=short_repr(key),
            )
        )
        check_limit(self.skipped, self.limit)
        return [] if self.emits else SKIPPED


def _skipping_reduce_call(skipper: SkippingReducer) -> Callable[[Any, Any], Any]:
    reducer = skipper.reducer
    failed = skipper.failed
    if skipper.emits:

        def emitting(key: Any, values: Iterator[Any]) -> Any:
            try:
                return list(reducer(key, values))
            except Exception as exc:
                return failed(key, exc)

        return emitting

    def reducing(key: Any, values: Iterator[Any]) -> Any:
        try:
            return reducer(key, values)
        except Exception as exc:
            return failed(key, exc)

    return reducing


def skipping_reduce_job(job: LoadedJob) -> tuple[LoadedJob, SkippingReducer | None]:
    """``job`` with its reducer wrapped for skipping; a task reducer (one call for all
    keys) is left as it is (None: no wrapper)."""
    from mapred.job import PairReducer, TaskReducer

    reducer = job.reducer
    if isinstance(reducer, TaskReducer) or reducer is None:
        return job, None
    emits = isinstance(reducer, PairReducer)
    wrapper = SkippingReducer(reducer, job.spec.step, job.spec.max_skipped, emits)
    skipping = copy.copy(job)
    skipping.reducer = PairReducer(wrapper.call) if emits else wrapper.call
    return skipping, wrapper


class SkippingPart:
    """A part writer that leaves out the keys a plain reducer's wrapper skipped (looked
    for only in a block during which a key was skipped)."""

    def __init__(self, part: Any, skipper: SkippingReducer) -> None:
        self.part = part
        self.skipper = skipper
        self.seen = 0
        self.dropped = 0

    def write_block(self, keys: list[Any], values: list[Any], *args: Any, **kwargs: Any) -> None:
        if len(self.skipper.skipped) != self.seen:
            self.seen = len(self.skipper.skipped)
            kept = [i for i, value in enumerate(values) if value is not SKIPPED]
            self.dropped += len(values) - len(kept)
            keys = [keys[i] for i in kept]
            values = [values[i] for i in kept]
            if not keys:
                return
        self.part.write_block(keys, values, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.part, name)


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
