"""Sorted runs on disk past the memory budget, and the k-way merge that reads them back.

A reduce task that holds more than its budget writes its groups, sorted by key, to a
*run* file and starts again empty. Runs are written in the order their data arrived,
which is input order; the merge is stable (for equal keys, earlier runs first), so
each key's values come back in input order. Long value lists are cut into pieces of
``RUN_PIECE_VALUES`` so that a key with more values than memory still streams.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from mapred.serde import make_packer, make_unpacker, total_order_key

RUN_PIECE_VALUES = 8192  # values per piece in a run: bounds the memory of one merge head
WRITE_BUFFER_BYTES = 1 << 20  # bytes gathered before one write() to a run or part file
_NATURAL_FAMILIES = ({str}, {int}, {bytes})  # key types whose natural order is the total order

Item = tuple[Any, list[Any]]


def family_of(key_types: set[type]) -> str:
    """Name the key types' family: "str", "int" or "bytes" when one plain type,
    "" when there are no keys, "mixed" otherwise.

    >>> family_of({str}), family_of(set()), family_of({int, float})
    ('str', '', 'mixed')
    """
    if not key_types:
        return ""
    for family in _NATURAL_FAMILIES:
        if key_types <= family:
            return next(iter(family)).__name__
    return "mixed"


def natural_order(families: set[str]) -> bool:
    """Whether keys of these families (from several partitions) sort naturally.

    >>> natural_order({"str", ""}), natural_order({"str", "int"})
    (True, False)
    """
    families = families - {""}
    return len(families) <= 1 and "mixed" not in families


def order_key(items_types: set[type]) -> Callable[[Item], Any]:
    """The sort key for items whose keys have these types.

    Keys of one plain type sort naturally (fast); anything else by the documented
    total order of :func:`mapred.serde.total_order_key`, which agrees with the
    natural order inside each type family.
    """
    if family_of(items_types) != "mixed":
        return itemgetter(0)
    return lambda item: total_order_key(item[0])


def sort_groups(groups: dict[Any, list[Any]]) -> tuple[list[Item], set[type]]:
    """The groups as items sorted by key, and the set of key types seen."""
    key_types = {type(key) for key in groups}
    items = list(groups.items())
    items.sort(key=order_key(key_types))
    return items, key_types


def write_run(path: str, items: list[Item]) -> int:
    """Write sorted items to a run file; returns the bytes written."""
    packer = make_packer()
    written = 0
    buffer = bytearray()
    with open(path, "wb") as file:
        for key, values in items:
            for start in range(0, len(values), RUN_PIECE_VALUES):
                buffer += packer.pack(key)
                buffer += packer.pack(values[start : start + RUN_PIECE_VALUES])
            if len(buffer) >= WRITE_BUFFER_BYTES:
                file.write(buffer)
                written += len(buffer)
                buffer.clear()
        file.write(buffer)
        written += len(buffer)
    return written


def read_run(path: str) -> Iterator[Item]:
    """Stream the (key, values piece) items of a run file."""
    with open(path, "rb") as file:
        unpacker = make_unpacker(file)
        for key in unpacker:
            yield key, unpacker.unpack()


def _pieces(items: Iterable[Item]) -> Iterator[Item]:
    for key, values in items:
        for start in range(0, len(values), RUN_PIECE_VALUES):
            yield key, values[start : start + RUN_PIECE_VALUES]


def merge_runs(
    runs: list[Iterable[Item]], key_types: set[type]
) -> Iterator[tuple[Any, Iterator[Any]]]:
    """Merge sorted runs (oldest first) into (key, lazy values) groups in key order.

    Each key's values stream run by run, piece by piece: earlier runs first, so
    values stay in input order.
    """
    merged = heapq.merge(*(_pieces(run) for run in runs), key=order_key(key_types))
    for key, pieces in itertools.groupby(merged, key=itemgetter(0)):
        yield key, itertools.chain.from_iterable(piece for _, piece in pieces)


def remove_quietly(path: str) -> None:
    """Delete a file that may already be gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
