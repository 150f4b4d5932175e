"""Worker side of the reduce phase: gather one partition, group by key, reduce.

A reduce task receives references to its partition's batches map task by map task,
in any order, and *ingests* them strictly in map-task order, so every key's values
stay in input order. It starts while map tasks are still running. Groups live in a
dict until the estimated memory passes the budget; then they are sorted and spilled
to a run file (:mod:`mapred.spill`). When all map tasks are in, the runs and what is
left in memory are merged and each key's values stream to the reducer. Tuples of str
arrive joined into one str each (:mod:`mapred.shuffle`) and are held, sorted and
spilled so, as long as every batch brings them so; they are split back into tuples for
the reducer. The output, sorted by key, goes to a part file named after the attempt
(:mod:`mapred.output`), or to memory for the Dask backend.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mapred.context import TaskContext, running_task
from mapred.counters import (
    OUTPUT_KEYS,
    REDUCE_INPUT_RECORDS,
    SKIPPED_RECORDS,
    SPILLED_BYTES,
    SPILLED_RECORDS,
    Counters,
    add_builtin,
    merge_into,
    task_counters,
)
from mapred.errors import MapredError, short_repr
from mapred.job import LoadedJob, PairReducer, TaskReducer
from mapred.keys import sort_keys, split_joined, split_joined_key
from mapred.output import PART_BLOCK_KEYS, PartWriter, part_temp_path
from mapred.quarantine import SkippedRecord
from mapred.secondary import merge_runs_by_value, untag, value_order
from mapred.serde import flat_tuples, make_packer
from mapred.shuffle import Batch, read_batch
from mapred.sizes import group_sizes
from mapred.skipping import SkippingPart, skipping_reduce_job
from mapred.spill import Item, in_pieces, merge_runs, read_run, run_path, write_run

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
    family: str  # key_family() of the reduced keys (an emitting reducer's: the origins)
    counters: Counters
    skipped: tuple[SkippedRecord, ...] = ()  # with max_skipped: the keys left out


class ReduceState:
    """The state of a running reduce task: feed it with :meth:`add`, then :meth:`finish`."""

    def __init__(self, job: LoadedJob, task: ReduceTask) -> None:
        self.job = job
        self.task = task
        self.groups: dict[Any, list[Any]] = {}
        self.buffered = 0
        self.runs: list[str] = []
        self.families: list[str] = []  # key_family() of each run, then of the rest
        # Whether the keys held (and those of the runs so far) are tuples of str, joined
        # (mapred.keys.join_str_tuples): while every batch is; None before the first.
        self.joined: bool | None = None
        self.joined_runs = 0  # the first runs, written while the keys were joined
        self.next_index = 0
        self.waiting: dict[int, tuple[Batch, ...]] = {}
        self.counters: Counters = {}
        spec = job.spec
        self.order = value_order(job.value_key, spec.sort_values, spec.tagged, spec.origins_natural)
        self.context = TaskContext("reduce", spec.step, task.partition, task.attempt)
        # Combining on ingest would mix values before they are sorted by the user's key.
        self.combine_on_ingest = job.combiner is not None and job.value_key is None
        self.combine_on_ingest &= not spec.sort_values
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
            keys, values, single, joined = read_batch(batch)
        except BaseException as exc:
            exc.add_note(f"mapred: decoding the shuffle input of {self.task.describe()}")
            raise
        if self.joined is None:
            self.joined = joined
        elif joined and not self.joined:
            keys = split_joined(keys)
        elif self.joined and not joined:  # from now on, the keys themselves
            self.groups = dict(
                zip(split_joined(list(self.groups)), self.groups.values(), strict=True)
            )
            self.joined = False
        n_keys = len(self.groups)
        if single:
            n_values = len(values)
            combined = self._ingest_values(keys, values)
            per_key, per_value = group_sizes(keys, [values])
        else:
            n_values = sum(map(len, values))
            combined = self._ingest_lists(keys, values)
            per_key, per_value = group_sizes(keys, values)
        add_builtin(self.counters, REDUCE_INPUT_RECORDS, n_values)
        # The groups' memory, estimated from a sample of this batch (mapred.sizes).
        self.buffered += (len(self.groups) - n_keys) * per_key + (n_values - combined) * per_value
        if self.buffered > self.job.spec.memory_limit:
            self._spill()

    def _ingest_values(self, keys: list[Any], values: list[Any]) -> int:
        """Add one value per key; returns how many values combining on ingest replaced."""
        groups = self.groups
        get = groups.get
        combined = 0
        combine = self.combine_on_ingest
        for key, value in zip(keys, values, strict=True):
            held = get(key)
            if held is None:
                groups[key] = [value]
                continue
            held.append(value)
            if combine and len(held) >= REDUCE_COMBINE_VALUES:
                combined += self._combine(key, held)
        return combined

    def _ingest_lists(self, keys: list[Any], values: list[list[Any]]) -> int:
        """Add each key's list of values; returns how many values combining on ingest
        replaced."""
        groups = self.groups
        setdefault = groups.setdefault
        combined = 0
        combine = self.combine_on_ingest
        for key, key_values in zip(keys, values, strict=True):
            held = setdefault(key, key_values)  # one dict operation, new key or not
            if held is key_values:
                continue
            held.extend(key_values)
            if combine and len(held) >= REDUCE_COMBINE_VALUES:
                combined += self._combine(key, held)
        return combined

    def _combine(self, held_key: Any, values: list[Any]) -> int:
        """Replace the values held for a key with the combiner's one value (input order
        kept: they are the earliest values, and later ones are appended after it);
        returns how many values that removed."""
        assert self.job.combiner is not None
        key = split_joined_key(held_key) if self.joined else held_key
        with task_counters() as user_counters, running_task(self.context):
            try:
                if self.job.spec.tagged:  # (origin, value): keep the first origin
                    value = (values[0][0], self.job.combiner(key, map(untag, values)))
                else:
                    value = self.job.combiner(key, iter(values))
            except BaseException as exc:
                exc.add_note(
                    f"mapred: in the combiner, {self.task.describe()}, key {short_repr(key)}"
                )
                raise
        merge_into(self.counters, user_counters)
        self.groups[held_key] = [value]
        return len(values) - 1

    def _spill(self) -> None:
        workdir = self.job.spec.workdir
        if workdir is None or not self.groups:
            return  # nowhere to spill (in-memory backend): keep going in memory
        keys, values = self._sorted_groups()
        path = run_path(workdir, self.task.partition, self.task.attempt, len(self.runs))
        self.runs.append(path)
        try:
            written = write_run(path, keys, values)
        except OSError as exc:
            raise MapredError(
                f"cannot spill to {workdir}: {exc.strerror or exc} "
                "(set MAPRED_TMPDIR to a disk with more room)"
            ) from exc
        self.joined_runs += bool(self.joined)
        add_builtin(self.counters, SPILLED_RECORDS, sum(map(len, values)))
        add_builtin(self.counters, SPILLED_BYTES, written)
        self.buffered = 0

    def _read_run(self, number: int) -> Iterator[Item]:
        """A run's items, its keys as the groups now hold them (a run written while the
        keys were joined, read after they stopped being: split)."""
        items = read_run(self.runs[number])
        if self.joined or number >= self.joined_runs:
            return items
        return ((split_joined_key(key), pieces) for key, pieces in items)

    def _sorted_groups(self) -> tuple[list[Any], list[list[Any]]]:
        """Take the groups held in memory, as sorted keys and their value lists."""
        groups, self.groups = self.groups, {}
        keys = list(groups)
        if self.joined:  # joined tuples of str sort as str, in the tuples' order
            keys.sort()
            self.families.append("tuple:str")
        else:
            self.families.append(sort_keys(keys))
        values = list(map(groups.__getitem__, keys))
        if self.order is not None:  # a Python call per key only where there is order to make
            several = map(_ONE.__lt__, map(len, values))
            for key_values in itertools.compress(values, several):
                key_values.sort(key=self.order)
        return keys, values

    def finish(self) -> ReduceResult:
        """Reduce every key, in key order, and write the part file."""
        spec = self.job.spec
        task = self.task
        out_dir = spec.output_dir or spec.workdir
        part = PartWriter(
            part_temp_path(out_dir, task.partition, task.attempt) if out_dir else None,
            spec.output_options if spec.output_dir else None,
        )
        keys, values = self._sorted_groups()
        groups: Iterator[tuple[Any, Iterator[Any]]]
        if self.runs:
            runs: list[Iterable[Item]] = [self._read_run(n) for n in range(len(self.runs))]
            runs.append(in_pieces(keys, values))
            families = ["str"] * len(runs) if self.joined else self.families
            if self.order is not None:
                groups = merge_runs_by_value(runs, families, self.order)
            else:
                groups = merge_runs(runs, families)
            if self.joined:
                groups = ((split_joined_key(key), key_values) for key, key_values in groups)
            flat_keys = None
        else:
            if self.joined:
                keys = split_joined(keys)
            groups = zip(keys, map(iter, values), strict=True)
            found = self.families[-1]  # what sort_keys found: no second walk where it tells
            flat_keys = found.startswith("tuple:") or (found == "mixed" and flat_tuples(keys))
        if self.job.spec.tagged:
            groups = ((key, map(untag, key_values)) for key, key_values in groups)
        family = _merged_family(self.families)
        job, skipper = self.job, None
        writer: Any = part
        if spec.max_skipped:
            self.job, skipper = skipping_reduce_job(job)
            if skipper is not None and not skipper.emits:
                writer = SkippingPart(part, skipper)
        with task_counters() as user_counters, running_task(self.context):
            try:
                if isinstance(self.job.reducer, (PairReducer, TaskReducer)):
                    from mapred.emit import reduce_emitting

                    n_keys = reduce_emitting(self.job.reducer, groups, part, task)
                else:
                    n_keys = self._reduce(groups, writer, flat_keys)
                    n_keys -= getattr(writer, "dropped", 0)
                part.close()
            finally:
                self.job = job
                part.abandon()
                for run in self.runs:
                    os.unlink(run)
                self.runs = []
        counters = self.counters
        merge_into(counters, user_counters)
        add_builtin(counters, OUTPUT_KEYS, n_keys)
        skipped = tuple(skipper.skipped) if skipper is not None else ()
        if spec.max_skipped:
            add_builtin(counters, SKIPPED_RECORDS, len(skipped))
        return ReduceResult(
            task.partition,
            task.attempt,
            part.path,
            part.data,
            n_keys,
            family,
            counters,
            skipped,
        )

    def _reduce(
        self,
        groups: Iterator[tuple[Any, Iterator[Any]]],
        part: PartWriter,
        flat_keys: bool | None,
    ) -> int:
        """Call the reducer on each group, in key order, writing blocks of the part file;
        returns the number of keys. ``flat_keys``: whether all keys are a tuple column."""
        reducer = self.job.reducer
        n_keys = 0
        while True:
            # A block of keys at a time, the reducer called by C-level passes (no Python
            # loop per key). Each group is reduced before the next is drawn (merged runs
            # stream a key's values), the tee keeps the keys, and list.extend keeps what
            # was made before an exception, which says whose key failed.
            calls, drawn = itertools.tee(itertools.islice(groups, PART_BLOCK_KEYS))
            reduced: list[Any] = []
            try:
                reduced.extend(itertools.starmap(reducer, calls))
            except BaseException as exc:
                key = list(itertools.islice(drawn, len(reduced) + 1))[-1][0]
                exc.add_note(
                    f"mapred: in the reducer, {self.task.describe()}, key {short_repr(key)}"
                )
                raise
            keys = list(map(_KEY, drawn))
            if not keys:
                return n_keys
            try:
                part.write_block(keys, reduced, flat_keys)
            except Exception as exc:
                raise _unstorable(keys, reduced, exc) from exc
            n_keys += len(keys)


_KEY = operator.itemgetter(0)
_ONE = 1


def _merged_family(families: list[str]) -> str:
    """The family of the keys of several runs: theirs if all agree, else "mixed"."""
    named = set(families) - {""}
    if not named:
        return ""
    return named.pop() if len(named) == 1 else "mixed"


def _unstorable(keys: list[Any], values: list[Any], exc: Exception) -> TypeError:
    """Find the output pair that cannot be stored (error path only) and say which."""
    packer = make_packer()
    for key, value in zip(keys, values, strict=True):
        try:
            packer.pack(key)
            packer.pack(value)
        except Exception:
            return TypeError(
                f"reducer returned a value that cannot be stored for key {short_repr(key)}: "
                f"{short_repr(value)} ({exc})"
            )
    return TypeError(f"reducer output cannot be stored ({exc})")


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
