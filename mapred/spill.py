"""Sorted runs on disk past the memory budget, and the k-way merge that reads them back.

A reduce task that holds more than its budget writes its groups, sorted by key, to a
*run* file (:func:`run_path`) and starts again empty. A run is a sequence of blocks, each
two columns (:func:`mapred.serde.column`): up to ``RUN_BLOCK_ITEMS`` keys and their value
lists, ``RUN_BLOCK_VALUES`` values in all. Long value lists are cut into pieces of
``RUN_PIECE_VALUES`` (a key then fills several items in a row), so that a key with more
values than memory still streams.

Runs are written in the order their data arrived, which is input order; the merge is
stable (for equal keys, earlier runs first), so each key's values come back in input order.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import os
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from mapred.keys import item_order, merge_natively
from mapred.serde import column, group_column, make_packer, make_unpacker

RUN_PIECE_VALUES = 8192  # values per piece in a run: bounds the memory of one merge head
RUN_BLOCK_ITEMS = 4096  # items per block: one decode per block, a small one per merge head
RUN_BLOCK_VALUES = 65536  # values per block at most (one piece may be longer): bounds a head
WRITE_BUFFER_BYTES = 1 << 20  # bytes gathered before one write() to a run or part file

Item = tuple[Any, list[Any]]


def run_path(workdir: str, partition: int, attempt: int, number: int) -> str:
    """The file of a reduce attempt's ``number``-th spilled run.

    >>> run_path("/w", 1, 2, 0)
    '/w/run-00001-2-0.bin'
    """
    return os.path.join(workdir, f"run-{partition:05d}-{attempt}-{number}.bin")


def write_run(path: str, keys: list[Any], values: list[list[Any]]) -> int:
    """Write sorted keys and their value lists to a run file; returns the bytes written."""
    packer = make_packer()
    written = 0
    with open(path, "wb") as file:
        for block_keys, block_values in _blocks(keys, values):
            data = packer.pack(column(block_keys)) + packer.pack(group_column(block_values))
            file.write(data)
            written += len(data)
    return written


def _blocks(keys: list[Any], values: list[list[Any]]) -> Iterator[tuple[list[Any], list[Any]]]:
    """Cut sorted groups into blocks of at most RUN_BLOCK_ITEMS items and (but for a
    single item) RUN_BLOCK_VALUES values, long lists in pieces: a block is what a reader
    holds in memory."""
    if max(map(len, values), default=0) > RUN_PIECE_VALUES:
        keys, values = _cut_long(keys, values)
    ends = list(itertools.accumulate(map(len, values)))  # values up to each item, inclusive
    start = 0
    while start < len(keys):
        before = ends[start - 1] if start else 0
        last = min(len(ends), start + RUN_BLOCK_ITEMS)
        stop = bisect.bisect_right(ends, before + RUN_BLOCK_VALUES, start, last)
        stop = max(stop, start + 1)
        yield keys[start:stop], values[start:stop]
        start = stop


def _cut_long(keys: list[Any], values: list[list[Any]]) -> tuple[list[Any], list[list[Any]]]:
    cut_keys: list[Any] = []
    cut_values: list[list[Any]] = []
    for key, key_values in zip(keys, values, strict=True):
        for start in range(0, len(key_values), RUN_PIECE_VALUES):
            cut_keys.append(key)
            cut_values.append(key_values[start : start + RUN_PIECE_VALUES])
    return cut_keys, cut_values


def read_run(path: str) -> Iterator[Item]:
    """Stream the (key, values piece) items of a run file, one block decoded at a time."""
    with open(path, "rb") as file:
        unpacker = make_unpacker(file)
        for keys in unpacker:
            yield from zip(keys, unpacker.unpack(), strict=True)


def in_pieces(keys: list[Any], values: list[list[Any]]) -> Iterator[Item]:
    """Sorted groups held in memory, as the items of a run."""
    if max(map(len, values), default=0) > RUN_PIECE_VALUES:
        keys, values = _cut_long(keys, values)
    return zip(keys, values, strict=True)


def merge_runs(
    runs: list[Iterable[Item]], families: Iterable[str]
) -> Iterator[tuple[Any, Iterator[Any]]]:
    """Merge sorted runs (oldest first) into (key, lazy values) groups in key order.

    ``families``: the :func:`mapred.keys.key_family` of each run's keys, which decides
    whether keys compare natively. Each key's values stream run by run, piece by piece:
    earlier runs first, so values stay in input order.
    """
    merged = heapq.merge(*runs, key=item_order(merge_natively(families)))
    for key, pieces in itertools.groupby(merged, key=itemgetter(0)):
        yield key, itertools.chain.from_iterable(map(itemgetter(1), pieces))
