"""The worker's one map loop: records through the mapper, pairs into a buffer, flushes.

Every map task runs here, whatever its mapper and its step. What differs is a *shape*
(:class:`Shape`), a small strategy with two parts:

- ``wrap``: the mapper as the loop calls it. The user's mapper as is for a plain map
  task; for a step whose input carries origins, or a map-only step, a wrapper that
  files each pair under the right buffer key (:mod:`mapred.stepmap`). A per-record
  wrapper is also the place to guard "map one record" (a try/except per record).
- ``flush``: where a full buffer goes: combined, partitioned and encoded into batches
  (:mod:`mapred.mapflush`), or written to a map-only part.

The buffer is a dict from key to its values, in the order they were made. A per-record
mapper fills it pair by pair (:class:`_EachRecord`, the hot loop: unpack, dict append, a
count); a task mapper's pairs, mostly one per distinct key, are taken a run at a time
and grouped by C-level passes at the flush (:class:`_WholeTask`). Both flush at the same
pair counts, decided by a :class:`Budget` from the pairs' count and estimated bytes:
from the data alone, never from timing, so the combiner always sees the same groups.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mapred.context import task_context
from mapred.maperrors import MAP_LOOPS, BrokenPair, explain, is_noted
from mapred.sizes import deep_size

# Pairs buffered before a flush. A flush applies the combiner and writes batches:
# larger buffers combine better, smaller ones bound a worker's memory. A count and
# estimated bytes, never a time, so the combiner always sees the same groups.
MAP_BUFFER_PAIRS = 500_000
# What one buffered pair may cost when its key is new: a str key (~60 bytes), a dict
# slot (~40) and a one-item list (~60). Small pairs are counted at this price (so
# MAP_BUFFER_PAIRS, or fewer under a small budget), but never fewer than
# MIN_BUFFER_PAIRS (a flush per handful of small pairs would only make more batches).
MAP_PAIR_BYTES = 150
MIN_BUFFER_PAIRS = 1024
# Pairs between two estimates of the buffer's bytes, at most; fewer when the pairs are
# large (the next estimate comes at half the room left). Values that grow suddenly from
# small to huge can overshoot by this many pairs before an estimate sees them.
CHECK_PAIRS = 1024
# An estimate looks at the buffer's last SAMPLE_KEYS keys, and at most SAMPLE_VALUES
# values of each spread over its list (a task mapper's pairs: SAMPLE_PAIRS of them).
SAMPLE_KEYS = 4
SAMPLE_VALUES = 4
SAMPLE_PAIRS = 8
SLOT_BYTES = 8  # a list's pointer to one value

Buffer = dict[Any, list[Any]]  # key -> its values, in the order they were made


@dataclass(frozen=True)
class Columns:
    """A buffer of distinct keys with one value each (a task mapper's usual output), as
    two columns: no dict and no one-value list per key."""

    keys: list[Any]
    values: list[Any]

    def __len__(self) -> int:
        return len(self.keys)

    def grouped(self) -> Buffer:
        """The same pairs as a :data:`Buffer`."""
        return dict(zip(self.keys, map(list, zip(self.values)), strict=True))


def buffer_pairs(memory_limit: int) -> int:
    """Pairs a map task buffers before a flush, for a task's share of ``memory_limit``,
    when its pairs are small (larger pairs flush sooner: :class:`Budget`).

    >>> buffer_pairs(1 << 30), buffer_pairs(1 << 20), buffer_pairs(1)
    (500000, 6990, 1024)
    """
    return max(MIN_BUFFER_PAIRS, min(MAP_BUFFER_PAIRS, memory_limit // MAP_PAIR_BYTES))


def sample_buffer(buffer: Buffer) -> tuple[int, int]:
    """The bytes and the pairs of a sample of a buffer: its last keys, each key once,
    its values at the mean size of a few spread over its list."""
    nbytes = npairs = 0
    for key, values in itertools.islice(reversed(buffer.items()), SAMPLE_KEYS):
        n = len(values)
        picked = values[:: max(1, n // SAMPLE_VALUES)]
        mean = sum(map(deep_size, picked)) // len(picked)
        nbytes += deep_size(key) + n * (SLOT_BYTES + mean)
        npairs += n
    return nbytes, npairs


def sample_pairs(pairs: list[Any]) -> tuple[int, int]:
    """The bytes and the count of a few pairs spread over a list of pairs."""
    picked = pairs[:: max(1, len(pairs) // SAMPLE_PAIRS)]
    return sum(map(deep_size, picked)) + SLOT_BYTES * len(picked), len(picked)


@dataclass(frozen=True)
class Budget:
    """When a map task's buffer is full: at ``pairs`` pairs, or when its estimated bytes
    reach ``limit`` (a task's share of ``memory_limit``).

    The loops count pairs and call :meth:`check` only at a *checkpoint* (a pair count
    it returned), with a sample of the buffer: no per-pair cost beyond the count. Each
    check estimates the whole buffer as its pairs times the sample's mean pair. The
    checkpoints of a buffer come at 1, 2, 4, ... pairs (a first sample of one pair says
    little), then every ``CHECK_PAIRS`` for small pairs, which flush at
    exactly ``pairs``, as a count alone would; larger ones are checked sooner, so a
    buffer of 1 MB values flushes near ``limit``. Depends on the data only, never on
    timing, so the combiner sees the same groups on every run.
    """

    limit: int
    pairs: int

    @classmethod
    def of(cls, limit: int, most_pairs: int | None = None) -> Budget:
        """The budget for ``limit`` bytes: at most ``buffer_pairs(limit)`` pairs, or
        ``most_pairs``."""
        return cls(max(1, limit), buffer_pairs(limit) if most_pairs is None else most_pairs)

    def start(self) -> int:
        """The first checkpoint of an empty buffer: its first pair, to see its size."""
        return 1

    def check(self, pending: int, sample: tuple[int, int]) -> int:
        """The next checkpoint (a pair count) for a buffer of ``pending`` pairs whose
        ``sample`` is (bytes, pairs); or 0: flush now."""
        mean = max(1, sample[0] // max(1, sample[1]))
        used = pending * mean
        if pending >= self.pairs or used >= self.limit:
            return 0
        room = (self.limit - used) // (2 * mean)  # pairs to half the room left
        return min(pending + max(1, min(CHECK_PAIRS, pending, room)), self.pairs)


@dataclass
class Shape:
    """What makes one kind of map task differ from another (see the module docstring).

    Attributes:
        flush: takes a full buffer (key -> values, in order) and writes it out.
        budget: when the buffer is full.
        wrap: the mapper as the loop calls it (the user's, or a wrapper around it).
    """

    flush: Callable[[Buffer | Columns], None]
    budget: Budget
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda mapper: mapper


def map_records(
    mapper: Callable[..., Any],
    task_mapper: bool,
    blocks: Iterable[list[Any]],
    shape: Shape,
    task: Any,
) -> int:
    """Map every record of a task's blocks into ``shape``'s buffer, flushing it as it
    fills and at the end; returns the records seen.

    A failure becomes the error the user should see (:func:`~mapred.maperrors.explain`):
    the exception with the record it happened on, or the contract the mapper broke.
    """
    loop: _Loop
    if task_mapper:
        loop = _WholeTask(shape.wrap(mapper), blocks, shape)
    else:
        loop = _EachRecord(shape.wrap(mapper), itertools.chain.from_iterable(blocks), shape)
    try:
        loop.run()
    except BaseException as exc:  # SystemExit from user code too: it fails this task
        if is_noted(exc) or loop.flushing:  # not the mapper's: the worker notes the task
            raise
        raise explain(exc, task, loop.record, loop.pair, loop.records, task_mapper) from None
    return loop.records


class _Loop:
    """What a map loop leaves for the error message: the ``records`` pulled, the last
    ``record`` and ``pair``; and whether it was ``flushing`` (then a failure is the
    flush's: the combiner's, the partitioner's or the encoding's, not the mapper's)."""

    def __init__(self, mapper: Callable[..., Any], shape: Shape) -> None:
        self.mapper = mapper
        self.shape = shape
        self.record: Any = None
        self.pair: Any = None
        self.records = 0
        self.flushing = False

    def flush(self, buffer: Buffer | Columns) -> None:
        self.flushing = True
        self.shape.flush(buffer)
        self.flushing = False


class _EachRecord(_Loop):
    """The per-record loop."""

    def __init__(self, mapper: Callable[..., Any], records: Iterator[Any], shape: Shape) -> None:
        super().__init__(mapper, shape)
        self.iterator = records

    def run(self) -> None:
        mapper, flush, budget = self.mapper, self.flush, self.shape.budget
        context = task_context()
        buffer: Buffer = {}
        pending = 0
        checkpoint = budget.start()
        record: Any = None
        pair: Any = None
        n_records = 0
        try:
            for record in self.iterator:
                n_records += 1
                context.record = n_records
                for pair in mapper(record):
                    key, value = pair
                    # Subscript and catch: cheaper than dict.get() when most keys repeat.
                    try:
                        buffer[key].append(value)
                    except KeyError:
                        buffer[key] = [value]
                    pending += 1
                    if pending >= checkpoint:  # checked per pair: one record may yield millions
                        checkpoint = budget.check(pending, sample_buffer(buffer))
                        if not checkpoint:
                            flush(buffer)
                            buffer = {}
                            pending = 0
                            checkpoint = budget.start()
                pair = None
        finally:
            self.record, self.pair, self.records = record, pair, n_records
        flush(buffer)


class _WholeTask(_Loop):
    """A task mapper's loop: one call with every record. Its pairs are taken up to the
    next checkpoint at a time, and grouped when the buffer is full (they are mostly one
    per distinct key: C-level passes, :func:`group_pairs`). ``records`` counts the
    records pulled."""

    def __init__(
        self, mapper: Callable[..., Any], blocks: Iterable[list[Any]], shape: Shape
    ) -> None:
        super().__init__(mapper, shape)  # no single record to blame: "in the task mapper"
        self.blocks = blocks

    def _pulled(self) -> Iterator[list[Any]]:
        for block in self.blocks:
            self.records += len(block)
            yield block

    def run(self) -> None:
        flush, budget = self.flush, self.shape.budget
        produced = iter(self.mapper(itertools.chain.from_iterable(self._pulled())))
        pairs: list[Any] = []
        checkpoint = budget.start()
        while True:
            wanted = checkpoint - len(pairs)
            pairs.extend(itertools.islice(produced, wanted))
            ended = len(pairs) < checkpoint
            if pairs and not ended:
                checkpoint = budget.check(len(pairs), sample_pairs(pairs))
            if ended or not checkpoint:
                flush(group_pairs(pairs))
                if ended:
                    return
                pairs = []
                checkpoint = budget.start()


def group_pairs(pairs: list[Any]) -> Buffer | Columns:
    """The pairs as a buffer: two columns by C-level passes when the keys are distinct (a
    task mapper's usual output), else grouped pair by pair, checking each."""
    columns = _distinct_columns(pairs)
    return columns if columns is not None else _group(pairs)


def _distinct_columns(pairs: list[Any]) -> Columns | None:
    """The pairs as columns, if they are (key, value) pairs with distinct keys; else
    None (then :func:`_group` groups them, or finds the pair that is wrong)."""
    try:
        if set(map(len, pairs)) != {2}:
            return None
        keys = list(map(_FIRST, pairs))
        if len(set(keys)) != len(keys):
            return None
    except TypeError:  # an unsized pair, an unhashable key
        return None
    return Columns(keys, list(map(_SECOND, pairs)))


def _group(pairs: list[Any]) -> Buffer:
    """Group pairs by key, each key's values in order, checking each pair."""
    buffer: Buffer = {}
    pair: Any = None
    try:
        for pair in pairs:
            key, value = pair
            if key in buffer:
                buffer[key].append(value)
            else:
                buffer[key] = [value]
    except (TypeError, ValueError) as exc:
        raise BrokenPair(pair, exc) from None
    return buffer


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


MAP_LOOPS.update({_EachRecord.run.__code__, _WholeTask.run.__code__})
