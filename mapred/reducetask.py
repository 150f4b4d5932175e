"""Worker side of the reduce phase: gather one partition, group by key, reduce.

A reduce task receives references to its partition's batches map task by map task,
in any order, and *ingests* them strictly in map-task order, so every key's values
stay in input order. It starts while map tasks are still running. Groups live in a
dict until the estimated memory passes the budget; then they are sorted and spilled
to a run file (:mod:`mapred.spill`). When all map tasks are in, the runs and what is
left in memory are merged and each key's values stream to the reducer. The output,
one msgpack (key, value) stream sorted by key, goes to a part file named after the
attempt (or to memory, for the Dask backend).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mapred import storage
from mapred.counters import (
    OUTPUT_KEYS,
    REDUCE_INPUT_RECORDS,
    SPILLED_BYTES,
    SPILLED_RECORDS,
    Counters,
    add_builtin,
    merge_into,
    task_counters,
)
from mapred.errors import MapredError, short_repr
from mapred.job import LoadedJob
from mapred.serde import make_packer
from mapred.shuffle import Batch, batch_size, read_batch
from mapred.spill import (
    WRITE_BUFFER_BYTES,
    Item,
    family_of,
    merge_runs,
    read_run,
    sort_groups,
    write_run,
)

# The memory of the groups a reduce task holds, estimated from what ingest already
# counts: decoded keys and values take about twice their msgpack bytes (a 5-byte word
# is a 54-byte str, but a 1 KB string stays about 1 KB), every distinct key adds a
# dict slot and a list (KEY_BYTES), every value a list slot (VALUE_BYTES). Checked
# against tracemalloc (tests/unit/test_memory.py): within 30% for words, 12-byte ids,
# tuples and floats, 1.8x over for 1 KB strings, 0.45x for a list of distinct large
# ints (36 bytes each, 3 encoded). A constant factor of the encoded bytes, the old
# estimate, was 7x over for large values.
ENCODED_EXPANSION = 2
KEY_BYTES = 140
VALUE_BYTES = 10

# With a combiner, map tasks send one value per key per flush, so a reduce task would
# hold one value per key per map flush: memory growing with the input (a 1 GB word
# count held 15 M partial counts). A key holding this many values is combined on
# ingest, as Hadoop does on its reduce-side merges: the combiner is safe on partial
# groups (SPEC 1), and the values it replaces are the key's earliest, so input order
# holds. Depends on map order and this count only, never on timing.
REDUCE_COMBINE_VALUES = 64


@dataclass(frozen=True)
class ReduceTask:
    """One attempt of the reduce task for one partition.

    Attributes:
        partition: the partition index.
        attempt: 1 for the first try.
        n_maps: how many map tasks feed it; the task is complete when all are in.
        committed: (map index, batches) already committed when the task starts;
            more arrive while it runs.
    """

    partition: int
    attempt: int
    n_maps: int
    committed: tuple[tuple[int, tuple[Batch, ...]], ...] = ()

    def describe(self) -> str:
        """The task in messages and error notes.

        >>> ReduceTask(1, 2, n_maps=5).describe()
        'reduce task 1 attempt 2'
        """
        return f"reduce task {self.partition} attempt {self.attempt}"


@dataclass(frozen=True)
class ReduceResult:
    """A reduce attempt's output: a part file path, or the encoded stream itself."""

    partition: int
    attempt: int
    path: str | None
    data: bytes | None
    keys: int
    family: str  # the keys' type family (see mapred.spill.family_of): decides the final order
    counters: Counters


class ReduceState:
    """The state of a running reduce task: feed it with :meth:`add`, then :meth:`finish`."""

    def __init__(self, job: LoadedJob, task: ReduceTask) -> None:
        self.job = job
        self.task = task
        self.groups: dict[Any, list[Any]] = {}
        self.buffered = 0
        self.runs: list[str] = []
        self.key_types: set[type] = set()
        self.next_index = 0
        self.waiting: dict[int, tuple[Batch, ...]] = {}
        self.counters: Counters = {}
        for index, batches in task.committed:
            self.add(index, batches)

    @property
    def complete(self) -> bool:
        """True once every map task's batches are ingested."""
        return self.next_index >= self.task.n_maps

    def add(self, map_index: int, batches: Iterable[Batch]) -> None:
        """Accept one map task's batches; ingest as far as map-task order allows."""
        self.waiting[map_index] = tuple(batches)
        while self.next_index in self.waiting:
            for batch in self.waiting.pop(self.next_index):
                self._ingest(batch)
            self.next_index += 1

    def _ingest(self, batch: Batch) -> None:
        try:
            keys, values = read_batch(batch)
        except BaseException as exc:
            exc.add_note(f"mapred: decoding the shuffle input of {self.task.describe()}")
            raise
        groups = self.groups
        setdefault = groups.setdefault
        n_values = sum(map(len, values))
        n_keys = len(groups)
        combined = 0
        combine = self.job.combiner is not None
        for key, key_values in zip(keys, values, strict=True):
            held = setdefault(key, key_values)  # one dict operation, new key or not
            if held is key_values:
                continue
            held.extend(key_values)
            if combine and len(held) >= REDUCE_COMBINE_VALUES:
                groups[key] = [self._combine(key, held)]
                combined += len(held) - 1
        if combined:
            self.buffered -= combined * VALUE_BYTES
        add_builtin(self.counters, REDUCE_INPUT_RECORDS, n_values)
        self.buffered += (
            batch_size(batch) * ENCODED_EXPANSION
            + (len(groups) - n_keys) * KEY_BYTES
            + n_values * VALUE_BYTES
        )
        if self.buffered > self.job.spec.memory_limit:
            self._spill()

    def _combine(self, key: Any, values: list[Any]) -> Any:
        """Apply the combiner to the values held for a key (input order kept: they are
        the earliest values, and later ones are appended after the result)."""
        assert self.job.combiner is not None
        with task_counters() as user_counters:
            try:
                value = self.job.combiner(key, iter(values))
            except BaseException as exc:
                exc.add_note(
                    f"mapred: in the combiner, {self.task.describe()}, key {short_repr(key)}"
                )
                raise
        merge_into(self.counters, user_counters)
        return value

    def _spill(self) -> None:
        workdir = self.job.spec.workdir
        if workdir is None or not self.groups:
            return  # nowhere to spill (in-memory backend): keep going in memory
        items, key_types = sort_groups(self.groups)
        self.key_types |= key_types
        path = os.path.join(
            workdir, f"run-{self.task.partition:05d}-{self.task.attempt}-{len(self.runs)}.bin"
        )
        self.runs.append(path)
        try:
            written = write_run(path, items)
        except OSError as exc:
            raise MapredError(
                f"cannot spill to {workdir}: {exc.strerror or exc} "
                "(set MAPRED_TMPDIR to a disk with more room)"
            ) from exc
        add_builtin(self.counters, SPILLED_RECORDS, sum(len(values) for _, values in items))
        add_builtin(self.counters, SPILLED_BYTES, written)
        self.groups = {}
        self.buffered = 0

    def _merged(self) -> Iterator[tuple[Any, Iterator[Any]]]:
        items, key_types = sort_groups(self.groups)
        self.groups = {}
        self.key_types |= key_types
        if not self.runs:
            return ((key, iter(values)) for key, values in items)
        runs: list[Iterable[Item]] = [read_run(path) for path in self.runs]
        runs.append(items)
        return merge_runs(runs, self.key_types | key_types)

    def finish(self) -> ReduceResult:
        """Reduce every key, in key order, and write the part file."""
        spec = self.job.spec
        task = self.task
        reducer = self.job.reducer
        packer = make_packer()
        out_dir = spec.output_dir or spec.workdir
        part = _PartWriter(
            storage.join(out_dir, f".part-{task.partition:05d}-{task.attempt}.tmp")
            if out_dir
            else None,
            spec.output_options if spec.output_dir else None,
        )
        n_keys = 0
        with task_counters() as user_counters:
            try:
                for key, values in self._merged():
                    try:
                        value = reducer(key, values)
                    except BaseException as exc:
                        exc.add_note(
                            f"mapred: in the reducer, {task.describe()}, key {short_repr(key)}"
                        )
                        raise
                    part.write(_pack_output(packer, key, value))
                    n_keys += 1
                part.close()
            finally:
                part.abandon()
                for run in self.runs:
                    os.unlink(run)
                self.runs = []
        counters = self.counters
        merge_into(counters, user_counters)
        add_builtin(counters, OUTPUT_KEYS, n_keys)
        family = family_of(self.key_types)
        return ReduceResult(
            task.partition, task.attempt, part.path, part.data, n_keys, family, counters
        )


class _PartWriter:
    """A reduce attempt's output: buffered writes to a part file, or bytes in memory."""

    def __init__(self, path: str | None, options: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.data: bytes | None = None
        self._buffer = bytearray()
        self._chunks: list[bytes] = []
        self._file = storage.open_write_temp(path, options) if path else None

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= WRITE_BUFFER_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._file is None:
            self._chunks.append(bytes(self._buffer))
        else:
            try:
                self._file.write(self._buffer)
            except OSError as exc:
                raise MapredError(
                    f"cannot write reduce output to {os.path.dirname(self.path or '')}: "
                    f"{exc.strerror or exc}"
                ) from exc
        self._buffer.clear()

    def close(self) -> None:
        """Write what is left; the part is complete."""
        self._flush()
        if self._file is None:
            self.data = b"".join(self._chunks)
            return
        file, self._file = self._file, None
        try:
            file.close()
        except OSError as exc:
            raise MapredError(f"cannot write reduce output: {exc.strerror or exc}") from exc

    def abandon(self) -> None:
        """Close without completing, after a failure (a no-op after :meth:`close`)."""
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()


def _pack_output(packer: Any, key: Any, value: Any) -> bytes:
    try:
        data: bytes = packer.pack(key) + packer.pack(value)
        return data
    except Exception as exc:
        raise TypeError(
            f"reducer returned a value that cannot be stored for key {short_repr(key)}: "
            f"{short_repr(value)} ({exc})"
        ) from exc


def read_part(
    source: str | bytes, options: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of a part file (a path or URL) or an in-memory part."""
    from mapred.serde import make_unpacker

    if isinstance(source, bytes):
        unpacker = make_unpacker()
        unpacker.feed(source)
        for key in unpacker:
            yield key, unpacker.unpack()
        return
    with storage.open_read(source, options) as file:
        unpacker = make_unpacker(file)
        for key in unpacker:
            yield key, unpacker.unpack()


def execute_reduce_task(
    job: LoadedJob, task: ReduceTask, more: Iterable[tuple[int, Iterable[Batch]]] = ()
) -> ReduceResult:
    """Run a reduce attempt whose input is all known: ``task.committed`` plus ``more``."""
    state = ReduceState(job, task)
    for index, batches in more:
        state.add(index, batches)
    if not state.complete:
        from mapred.errors import InternalError

        raise InternalError(f"{task.describe()} is missing map output")
    return state.finish()
