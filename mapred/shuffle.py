"""The shuffle: stable partitioning of keys and the batches that carry them.

A map task groups its pairs by key, then cuts them into one *batch* per reduce
partition: two msgpack arrays, the keys and the matching lists of values, in the
order the keys first appeared. A batch lives either in the map task's output
file (local processes: reduce tasks read it from disk, the driver only passes the
``(path, offset, length)`` reference along) or in memory (Dask: it travels with the
task result).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mapred.serde import make_unpacker, stable_hash

# A batch: bytes in memory, or (path, offset, length) of a map output file.
Batch = bytes | tuple[str, int, int]


def partition_for(key: Any, reducers: int) -> int:
    """The default partitioner: a stable hash of the key, never Python's ``hash()``.

    >>> partition_for("word", 1)
    0
    >>> partition_for("word", 4) == partition_for("word", 4)
    True
    """
    return stable_hash(key) % reducers


def checked_partitioner(
    partitioner: Callable[[Any, int], int], reducers: int
) -> Callable[[Any], int]:
    """Wrap a user partitioner so a result outside ``range(reducers)`` is a clear error."""

    def partition(key: Any) -> int:
        index = partitioner(key, reducers)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < reducers:
            raise ValueError(
                f"partitioner returned {index!r} for key {key!r}; "
                f"expected an int in range({reducers})"
            )
        return index

    return partition


def read_batch(batch: Batch) -> tuple[list[Any], list[list[Any]]]:
    """Decode one batch into its keys and their value lists."""
    if isinstance(batch, bytes):
        data = batch
    else:
        path, offset, length = batch
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(length)
    unpacker = make_unpacker()
    unpacker.feed(data)
    keys = unpacker.unpack()
    values = unpacker.unpack()
    return keys, values


def batch_size(batch: Batch) -> int:
    """Encoded bytes in a batch."""
    return len(batch) if isinstance(batch, bytes) else batch[2]


def iter_batches(batches: list[Batch]) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """Decode batches one at a time, in order."""
    for batch in batches:
        yield read_batch(batch)
