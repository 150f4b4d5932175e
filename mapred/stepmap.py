"""Worker side of what steps add to a map task: origins, and map-only steps.

A step's output feeds the next step's map tasks, one map task per part file. When the
previous step reduced into several partitions, concatenating its parts is *not* its
output order (each part is sorted by key, but the keys are spread over the parts by
hash). So each record of such a part carries its *origin*, the key of the reduce call
that made it, and so does every value the mapper makes from it: the step's shuffle
carries ``(origin, value)`` (``JobSpec.tagged``). The reduce side sorts each key's
values by origin (stable), which restores input order whatever ``reducers`` was
(:mod:`mapred.reducetask`), and hands the reducer the bare values.

A map-only step (``reducers == 0``) writes its pairs to a part file of its own, in
order, with their origins as the part's keys; the job's result merges the parts by
origin (:mod:`mapred.pairs`), so a map-only step after a reduce keeps that reduce's order.

Both are shapes of the one map loop (:mod:`mapred.maploop`): a wrapper around the
mapper that files each pair with its origin, and a flush (the shuffle's, or a part
block's). A map-only step's buffer keeps all its pairs, in order, under one key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mapred.counters import INPUT_RECORDS, MAP_OUTPUT_RECORDS, OUTPUT_KEYS, Counters, add_builtin
from mapred.job import LoadedJob
from mapred.maperrors import MAP_LOOPS, BrokenPair
from mapred.mapflush import ShuffleFlush
from mapred.maploop import Budget, Buffer, Columns, Shape, map_records
from mapred.maptask import MapResult, MapTask, is_task_mapper, map_only_part, split_bytes
from mapred.output import PART_BLOCK_KEYS, PartWriter
from mapred.reducetask import ReduceResult
from mapred.shuffle import MapOutput

Blocks = Iterable[tuple[list[Any] | None, list[Any]]]

IN_ORDER = 0  # a map-only step's buffer key: every pair under it, in the order made


def execute_step_map(
    job: LoadedJob, task: MapTask, blocks: Blocks, counters: Counters
) -> MapResult:
    """A map task of a map-only step, or of a step whose input carries origins."""
    spec = job.spec
    origins = _Origins(blocks)
    if spec.reducers == 0:
        part = map_only_part(job, task)
        flush = _PartFlush(part)
        shape = Shape(flush, Budget.of(spec.map_memory, PART_BLOCK_KEYS), origins.in_order)
        try:
            n_records = map_records(job.mapper, is_task_mapper(job), origins, shape, task)
            part.close()
        finally:
            part.abandon()
        n_pairs = flush.written
        add_builtin(counters, INPUT_RECORDS, n_records)
        add_builtin(counters, MAP_OUTPUT_RECORDS, n_pairs)
        add_builtin(counters, OUTPUT_KEYS, n_pairs)
        written = ReduceResult(task.index, task.attempt, part.path, part.data, n_pairs, "", {})
        return MapResult(
            task.index, task.attempt, [], counters, split_bytes(task.split), part=written
        )
    output = MapOutput(spec.workdir, task.index, task.attempt, spec.reducers)
    try:
        flush_batches = ShuffleFlush(job, task, output, counters, tagged=True)
        shape = Shape(flush_batches, Budget.of(spec.map_memory), origins.tagging)
        n_records = map_records(job.mapper, is_task_mapper(job), origins, shape, task)
        add_builtin(counters, INPUT_RECORDS, n_records)
    finally:
        output.close()
    return MapResult(task.index, task.attempt, output.batches, counters, split_bytes(task.split))


class _Origins:
    """A task's records, block by block, remembering the origin of the last one pulled:
    the origin of every pair the mapper makes until it pulls the next (a per-record
    mapper's pairs are all made from one record; a task mapper's count as made by the
    last record it pulled)."""

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.origin: Any = None  # None: the input carries no origins (a first step)

    def __iter__(self) -> Iterator[list[Any]]:
        for origins, block in self.blocks:
            if origins is None:
                yield block
                continue
            for self.origin, record in zip(origins, block, strict=True):
                yield [record]  # one at a time, so that the origin is the record's

    def tagging(self, mapper: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        """The mapper, its pairs' values as ``(origin, value)``."""
        return functools.partial(_tagged, mapper, self)

    def in_order(self, mapper: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        """The mapper, its pairs as ``(origin, (key, value))``, all under one key."""
        return functools.partial(_ordered, mapper, self)


def _tagged(mapper: Callable[..., Any], origins: _Origins, records: Any) -> Iterator[Any]:
    pair: Any = None
    for pair in mapper(records):
        try:
            key, value = pair
        except (TypeError, ValueError) as exc:
            raise BrokenPair(pair, exc) from None
        yield key, (origins.origin, value)


def _ordered(mapper: Callable[..., Any], origins: _Origins, records: Any) -> Iterator[Any]:
    pair: Any = None
    for pair in mapper(records):
        try:
            key, value = pair
        except (TypeError, ValueError) as exc:
            raise BrokenPair(pair, exc) from None
        yield IN_ORDER, (origins.origin, (key, value))


MAP_LOOPS.update({_tagged.__code__, _ordered.__code__})


class _PartFlush:
    """Writes a map-only step's buffer as one block of its part: origins, then pairs."""

    def __init__(self, part: PartWriter) -> None:
        self.part = part
        self.written = 0

    def __call__(self, buffer: Buffer | Columns) -> None:
        if isinstance(buffer, Columns):  # a single pair, as one key
            buffer = buffer.grouped()
        held = buffer.get(IN_ORDER)
        if not held:
            return
        origins = [origin for origin, _ in held]
        pairs = [pair for _, pair in held]
        try:
            self.part.write_block(origins, pairs)
        except Exception as exc:
            raise TypeError(
                f"a pair of the mapper cannot be stored: {exc}; keys and values must be "
                "msgpack types or picklable objects"
            ) from exc
        self.written += len(pairs)
