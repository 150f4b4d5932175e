"""Worker side of the map phase: one map task attempt, from its input to its batches.

One map task reads its input (a byte-range split of a file, which it opens itself,
a split of records the driver sent, or a previous step's part file), and runs the map
loop (:mod:`mapred.maploop`): every record through the mapper, the pairs grouped by key
in a buffer that is flushed as it fills (:mod:`mapred.mapflush`: combine, partition,
encode one batch per reduce partition). All of a task attempt's batches go to one file
named after the attempt, so the output of an attempt that dies is simply never
referenced. Steps add origins and map-only output (:mod:`mapred.stepmap`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from mapred.context import TaskContext, running_task
from mapred.counters import (
    INPUT_RECORDS,
    SKIPPED_RECORDS,
    Counters,
    add_builtin,
    report_progress,
    task_counters,
)
from mapred.job import LoadedJob, TaskMapper
from mapred.mapflush import ShuffleFlush
from mapred.maploop import Budget, Shape, map_records
from mapred.output import PartWriter, part_temp_path, read_part_blocks
from mapred.quarantine import SkippedRecord
from mapred.reducetask import ReduceResult
from mapred.shuffle import Batch, MapOutput
from mapred.skipping import skipping_map_job
from mapred.splits import FileSplit, read_split_blocks


@dataclass(frozen=True)
class MapTask:
    """One attempt of one map task.

    Attributes:
        index: the task's position in the input; values reach reducers in index order.
        attempt: 1 for the first try, 2 for the first retry, ...
        split: a byte range of a file the worker reads itself, or None.
        records: the records, when the input is an iterable (or a stream).
        encoding, errors: how the split's bytes are decoded.
        with_path: records of a split are ``(path, line)`` (``read_text(with_path=True)``).
        part: a previous step's part file (a path; on Dask, its task's key), whose pairs
            are this task's records.
        layout: how ``part`` holds them: ``"pairs"`` (a plain reducer's ``(key,
            value)``, the key is also the origin) or ``"emitted"`` (an emitting reducer's
            or a map-only step's: origin keys, then ``(key, value)`` pairs).
        first: the position in ``data`` of the first of ``records`` (for a stream: the
            lines before them); names a skipped record.
        stream: the stream (``"-"``) that ``records`` were read from, if any.
        skip: with ``max_skipped``: the records (numbered from 1 in this task) to skip
            unread, because earlier attempts died on them, each with how they died.
    """

    index: int
    attempt: int
    split: FileSplit | None = None
    records: list[Any] | None = None
    encoding: str = "utf-8"
    errors: str = "strict"
    with_path: bool = False
    part: str | bytes | None = None
    layout: str = "pairs"
    first: int = 0
    stream: str | None = None
    skip: tuple[tuple[int, str], ...] = ()

    def describe(self) -> str:
        """The task in messages and error notes.

        >>> MapTask(3, 1).describe()
        'map task 3 attempt 1'
        """
        where = f" ({self.split.describe()})" if self.split else ""
        return f"map task {self.index} attempt {self.attempt}{where}"


@dataclass(frozen=True)
class MapResult:
    """What a map task attempt made: per partition, its batches in order."""

    index: int
    attempt: int
    batches: list[list[Batch]]
    counters: Counters
    input_bytes: int = 0  # bytes of the file split read (0 for records): drives progress
    part: ReduceResult | None = None  # a map-only step's output: its part, in input order
    skipped: tuple[SkippedRecord, ...] = ()  # with max_skipped: the records left out


def execute_map_task(job: LoadedJob, task: MapTask) -> MapResult:
    """Run one map task attempt and return references to its encoded output."""
    spec = job.spec
    split = task.split
    path = split.path if split is not None else None
    context = TaskContext("map", spec.step, task.index, task.attempt, path)
    if split is not None:
        context._split = split
    if not spec.max_skipped or isinstance(job.mapper, TaskMapper):
        return _execute_map_task(job, task, context)
    job, skipper = skipping_map_job(job, task, context)
    try:
        result = _execute_map_task(job, task, context)
    finally:
        if skipper.note is not None:
            skipper.note.close()
    add_builtin(result.counters, SKIPPED_RECORDS, len(skipper.skipped))
    return replace(result, skipped=tuple(skipper.skipped))


def _execute_map_task(job: LoadedJob, task: MapTask, context: TaskContext) -> MapResult:
    spec = job.spec
    with task_counters() as counters, running_task(context):
        if spec.reducers == 0 or spec.tagged:
            from mapred.stepmap import execute_step_map

            return execute_step_map(job, task, input_blocks(job, task), counters)
        output = MapOutput(spec.workdir, task.index, task.attempt, spec.reducers)
        try:
            shape = Shape(ShuffleFlush(job, task, output, counters), Budget.of(spec.map_memory))
            blocks = (records for _, records in input_blocks(job, task))
            n_records = map_records(job.mapper, is_task_mapper(job), blocks, shape, task)
            add_builtin(counters, INPUT_RECORDS, n_records)
        finally:
            output.close()
    return MapResult(task.index, task.attempt, output.batches, counters, split_bytes(task.split))


def input_blocks(job: LoadedJob, task: MapTask) -> Iterator[tuple[list[Any] | None, list[Any]]]:
    """The task's records, block by block, each with its origins (None: not known).

    A block of a part's records carries the origin of each: the key of the previous
    step's reduce call that made it (see :mod:`mapred.stepmap`).
    """
    if task.part is not None:
        for keys, values in read_part_blocks(task.part):
            if task.layout == "pairs":
                yield keys, list(zip(keys, values, strict=True))
            else:
                yield keys, values
        return
    if task.split is None:
        if task.records:
            yield None, task.records
        return
    blocks: Iterable[list[Any]] = read_split_blocks(task.split, task.encoding, task.errors)
    if job.spec.live is not None:
        blocks = report_progress(blocks, job.spec.live, task.index)
    path = task.split.path
    for block in blocks:
        yield None, (list(zip(itertools.repeat(path), block)) if task.with_path else block)


def map_only_part(job: LoadedJob, task: MapTask) -> PartWriter:
    """Where a map-only step's task writes its pairs: a part file named after the task."""
    spec = job.spec
    out_dir = spec.output_dir or spec.workdir
    return PartWriter(
        part_temp_path(out_dir, task.index, task.attempt) if out_dir else None,
        spec.output_options if spec.output_dir else None,
    )


def split_bytes(split: FileSplit | None) -> int:
    """The bytes of a file split (0 for records): drives progress."""
    if split is None:
        return 0
    if split.end >= 0:
        return split.end - split.start
    return os.path.getsize(split.path) - split.start


def is_task_mapper(job: LoadedJob) -> bool:
    """Whether the job's mapper takes a whole task's records (:func:`mapred.task_mapper`)."""
    return isinstance(job.mapper, TaskMapper)
