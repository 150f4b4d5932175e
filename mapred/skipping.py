"""Skipping bad records (``max_skipped=N``): the workers' side.

With ``max_skipped`` above 0, a record whose mapper raises is left out of the job and
reported instead, as a :class:`~mapred.quarantine.SkippedRecord`; so is a key whose
reducer raises. The map and reduce loops are the same as without skipping: the job's
mapper (or reducer) is replaced, for the task, by a wrapper (:class:`SkippingMapper`,
:class:`SkippingReducer`) that catches the user's exception and notes the record. The
mapper's pairs of a record are taken whole (``list(mapper(record))``) before any
reaches the buffer, so a record that raises half way leaves no pair behind.

A record that kills its worker (a segfault in a C extension, ``os._exit``) cannot be
caught. The wrapper keeps a *note* of the record it is on: 8 bytes of a small file in
the step's work directory, mapped in memory (:class:`RecordNote`), written before each
mapper call and cleared after it (an assignment, no system call), which outlives the
process; the driver reads it (:mod:`mapred.quarantine`). A task without a work directory
(on Dask) keeps it where :func:`notes_at` says (on the worker's host: see
:mod:`mapred.backends.dask_notes`).
"""

from __future__ import annotations

import contextlib
import copy
import mmap
import os
import types
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from mapred.errors import safe_str, short_repr
from mapred.maperrors import MAP_LOOPS
from mapred.quarantine import DIED, NOTE_BYTES, SkippedRecord, check_limit, note_path

if TYPE_CHECKING:
    from mapred.context import TaskContext
    from mapred.job import LoadedJob


# Where a map attempt without a work directory keeps its note (None: it keeps none).
_NOTE_PATH: ContextVar[str | None] = ContextVar("mapred_note_path", default=None)


@contextlib.contextmanager
def notes_at(path: str | None) -> Iterator[None]:
    """Within: a map attempt run without a work directory keeps its note at ``path``."""
    token = _NOTE_PATH.set(path)
    try:
        yield
    finally:
        _NOTE_PATH.reset(token)


class RecordNote:
    """The record number a map attempt is on (0: none), in a file mapped in memory, so
    that it survives the process: the driver reads it after a death."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, NOTE_BYTES)
            self._map = mmap.mmap(fd, NOTE_BYTES)
        finally:
            os.close(fd)
        self.view = memoryview(self._map).cast("q")

    def close(self) -> None:
        """Unmap and remove the note: the attempt did not die."""
        self.view.release()
        self._map.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


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
        self.skipped: list[SkippedRecord] = []
        self.call = _skipping_call(self)

    def failed(self, record: Any, number: int, exc: Exception) -> list[Any]:
        """The mapper raised on the task's record ``number`` (from 1): note it."""
        self._skip(record, number, type(exc).__name__, safe_str(exc))
        return []

    def died_on(self, record: Any, number: int) -> list[Any]:
        """Record ``number`` killed earlier attempts: skip it unread."""
        self._skip(record, number, DIED, self.deadly[number])
        return []

    def _skip(self, record: Any, number: int, error_type: str, message: str) -> None:
        context = self.context
        context.record = number
        task = self.task
        path: str | None = None
        line: int | None = None
        index: int | None = None
        origin: Any = None
        if task.split is not None:
            path, line = task.split.path, context.line
        elif task.stream is not None:
            path = "<stdin>" if task.stream == "-" else task.stream  # as DecodeError says
            line = task.first + number
        elif task.part is None:
            index = task.first + number - 1
        else:
            origin = record[0] if task.layout == "pairs" else _origin(task.part, number)
        self.skipped.append(
            SkippedRecord(
                "map",
                error_type,
                message,
                path=path,
                line=line,
                index=index,
                key=origin,
                step=context.step,
                record=short_repr(record),
            )
        )
        check_limit(self.skipped, self.limit)


def _origin(part: str | bytes, number: int) -> Any:
    """The origin of record ``number`` (from 1) of an emitted part: read again, on the
    error path only (a part's records travel without their origins to the mapper)."""
    from mapred.output import read_part_blocks

    for origins, _ in read_part_blocks(part):
        if number <= len(origins):
            return origins[number - 1]
        number -= len(origins)
    return None


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


# The per-record closure is a map loop to the contract checks: list() of a mapper's
# output that is not iterable raises in its frame.
MAP_LOOPS.update(c for c in _skipping_call.__code__.co_consts if isinstance(c, types.CodeType))


def skipping_map_job(
    job: LoadedJob, task: Any, context: TaskContext
) -> tuple[LoadedJob, SkippingMapper]:
    """``job`` with its mapper wrapped for skipping (a shallow copy: the worker's cached
    job is left as it is). The caller closes the wrapper's note at the end."""
    spec = job.spec
    note = None
    detached = _NOTE_PATH.get()
    if spec.workdir is not None:
        note = RecordNote(note_path(spec.workdir, task.index, task.attempt))
    elif detached is not None:
        with contextlib.suppress(OSError):  # none: a death is a lost worker, as before
            note = RecordNote(detached)
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
