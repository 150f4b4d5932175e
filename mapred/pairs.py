"""What a job whose last step emits pairs returns: its pairs, in a defined order.

A job whose last step has an emitting reducer (:func:`mapred.pair_reducer`,
:func:`mapred.task_reducer`) or no reducer at all (map-only) can make the same key
several times, so its result is not a dict but a list of ``(key, value)`` pairs:

- emitting reducer: in the order of the reduced keys (SPEC 3's key order), then in the
  order each reducer call yielded them;
- map-only: in input order (for a map-only step after a reduce: in that reduce's
  output order).

Each part file of such a job holds *origins* as its keys (:mod:`mapred.emit`): the
parts are merged by origin, stably, which gives that order whatever ``reducers`` was.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Mapping
from typing import Any

from mapred.counters import Counters
from mapred.keys import item_order
from mapred.output import read_part_blocks
from mapred.quarantine import SkippedRecord
from mapred.result import OnDisk


class PairsResult(list[tuple[Any, Any]]):
    """The ``(key, value)`` pairs of a job whose last step emits pairs or is map-only.

    A ``list`` subclass: keys may repeat. It pickles with its attributes.

    Attributes:
        counters: as for :class:`mapred.Result`.
        elapsed: the job's wall time in seconds.
        skipped: as for :class:`mapred.Result`.

    Examples:
        >>> from mapred import mapreduce
        >>> mapreduce(lambda w: [(len(w), w)], None, ["a", "bb", "c"], backend="serial")
        PairsResult([(1, 'a'), (2, 'bb'), (1, 'c')])
    """

    counters: Counters
    elapsed: float
    skipped: list[SkippedRecord]

    def __init__(
        self,
        pairs: Any = (),
        counters: Counters | None = None,
        elapsed: float = 0.0,
        skipped: list[SkippedRecord] | None = None,
    ) -> None:
        super().__init__(pairs)
        self.counters = counters if counters is not None else {}
        self.elapsed = elapsed
        self.skipped = skipped if skipped is not None else []

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self), self.counters, self.elapsed, self.skipped))

    def __repr__(self) -> str:
        return f"PairsResult({list.__repr__(self)})"


class OutputPairs(OnDisk):
    """The pairs of ``mapreduce(..., output=DIR)`` for a job that emits pairs, on disk.

    Iterating streams the part files merged in the order of :class:`PairsResult`,
    without loading them. Returned by ``mapreduce`` and :func:`mapred.open_output`.

    Attributes:
        directory, parts, counters, elapsed, skipped: as for :class:`mapred.OutputResult`.
    """

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return merge_emitted(self.parts, self._storage_options)

    def __repr__(self) -> str:
        return f"OutputPairs({os.fspath(self.directory)!r}, {len(self)} pairs)"


def merge_emitted(
    sources: list[str] | list[str | bytes], options: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, Any]]:
    """Stream the pairs of emitted parts, merged by origin (stable: part order for ties)."""

    def items(source: str | bytes) -> Iterator[tuple[Any, Any]]:
        for origins, pairs in read_part_blocks(source, options):
            yield from zip(origins, pairs, strict=True)

    for _, pair in heapq.merge(*map(items, sources), key=item_order(False)):
        yield pair


def read_emitted(sources: list[str | bytes], natural: bool = False) -> PairsResult:
    """All pairs of emitted parts, in order (see the module docstring). ``natural``: the
    origins compare natively in the total order (:func:`mapred.keys.merge_natively`)."""
    if len(sources) == 1:
        return PairsResult(pair for _, pairs in read_part_blocks(sources[0]) for pair in pairs)
    items: list[tuple[Any, Any]] = []
    for source in sources:
        for origins, pairs in read_part_blocks(source):
            items += zip(origins, pairs, strict=True)
    items.sort(key=item_order(natural))  # stable: parts in order, each sorted by origin
    return PairsResult(pair for _, pair in items)
