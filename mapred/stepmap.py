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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mapred.counters import INPUT_RECORDS, MAP_OUTPUT_RECORDS, OUTPUT_KEYS, Counters, add_builtin
from mapred.job import LoadedJob, TaskMapper
from mapred.maptask import (
    MAP_LOOPS,
    MapResult,
    MapTask,
    _explain,
    _flush,
    _noted,
    _split_bytes,
    buffer_pairs,
    map_only_part,
    task_context_of,
)
from mapred.output import PART_BLOCK_KEYS, PartWriter
from mapred.reducetask import ReduceResult
from mapred.shuffle import MapOutput

Blocks = Iterable[tuple[list[Any] | None, list[Any]]]


def execute_step_map(
    job: LoadedJob, task: MapTask, blocks: Blocks, counters: Counters
) -> MapResult:
    """A map task of a map-only step, or of a step whose input carries origins."""
    spec = job.spec
    mapping = _Mapping(job, blocks)
    if spec.reducers == 0:
        part = map_only_part(job, task)
        try:
            n_pairs = _map_only(task, mapping, part)
            part.close()
        finally:
            part.abandon()
        add_builtin(counters, INPUT_RECORDS, mapping.records)
        add_builtin(counters, MAP_OUTPUT_RECORDS, n_pairs)
        add_builtin(counters, OUTPUT_KEYS, n_pairs)
        written = ReduceResult(task.index, task.attempt, part.path, part.data, n_pairs, "", {})
        return MapResult(
            task.index, task.attempt, [], counters, _split_bytes(task.split), part=written
        )
    output = MapOutput(spec.workdir, task.index, task.attempt, spec.reducers)
    try:
        _map_tagged(job, task, mapping, output, counters)
        add_builtin(counters, INPUT_RECORDS, mapping.records)
    finally:
        output.close()
    return MapResult(task.index, task.attempt, output.batches, counters, _split_bytes(task.split))


class _Mapping:
    """The mapper over a task's blocks, as ``(origin, key, value)``; remembers where it is
    for an error message."""

    def __init__(self, job: LoadedJob, blocks: Blocks) -> None:
        self.job = job
        self.blocks = blocks
        self.record: Any = None
        self.pair: Any = None
        self.records = 0
        self.origin: Any = None

    def pairs(self) -> Iterator[tuple[Any, Any, Any]]:
        mapper = self.job.mapper
        if isinstance(mapper, TaskMapper):
            records = self._records()
            self.record = records  # an iterator: errors say "in the task mapper"
            for self.pair in mapper(records):
                key, value = self.pair
                yield self.origin, key, value
            return
        context = task_context_of()
        for origins, block in self.blocks:
            for position, self.record in enumerate(block):
                self.records += 1
                context.record = self.records
                if origins is not None:
                    self.origin = origins[position]
                for pair in mapper(self.record):
                    self.pair = pair
                    key, value = pair
                    yield self.origin, key, value
                self.pair = None

    def _records(self) -> Iterator[Any]:
        """The records for a task mapper; a pair counts as made by the last one pulled."""
        for origins, block in self.blocks:
            self.records += len(block)
            if origins is None:
                yield from block
                continue
            for self.origin, record in zip(origins, block, strict=True):
                yield record


def _map_tagged(
    job: LoadedJob, task: MapTask, mapping: _Mapping, output: MapOutput, counters: Counters
) -> None:
    """Buffer ``(origin, value)`` under each key, flushing as the plain loop does."""
    limit = buffer_pairs(job.spec.map_memory)
    buffer: dict[Any, list[Any]] = {}
    pending = 0
    try:
        for origin, key, value in mapping.pairs():
            try:
                buffer[key].append((origin, value))
            except KeyError:
                buffer[key] = [(origin, value)]
            pending += 1
            if pending >= limit:
                _flush(job, task, buffer, output, counters)
                buffer = {}
                pending = 0
    except BaseException as exc:
        if _noted(exc):
            raise
        raise _explain(exc, task, mapping.record, mapping.pair, mapping.records) from None
    _flush(job, task, buffer, output, counters)


def _map_only(task: MapTask, mapping: _Mapping, part: PartWriter) -> int:
    """Write the mapper's pairs, in order, with their origins; returns the pairs."""
    origins: list[Any] = []
    pairs: list[Any] = []
    written = 0
    try:
        for origin, key, value in mapping.pairs():
            origins.append(origin)
            pairs.append((key, value))
            if len(pairs) >= PART_BLOCK_KEYS:  # a map-only part's block
                _write(part, origins, pairs)
                written += len(pairs)
                origins, pairs = [], []
    except BaseException as exc:
        if _noted(exc):
            raise
        raise _explain(exc, task, mapping.record, mapping.pair, mapping.records) from None
    _write(part, origins, pairs)
    return written + len(pairs)


def _write(part: PartWriter, origins: list[Any], pairs: list[Any]) -> None:
    if not pairs:
        return
    try:
        part.write_block(origins, pairs)
    except Exception as exc:
        raise TypeError(
            f"a pair of the mapper cannot be stored: {exc}; keys and values must be "
            "msgpack types or picklable objects"
        ) from exc


MAP_LOOPS.update({_Mapping.pairs.__code__, _map_tagged.__code__, _map_only.__code__})
