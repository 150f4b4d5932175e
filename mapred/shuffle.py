"""The shuffle: stable partitioning of keys and the segments that carry them.

A map task groups its pairs by key, then cuts them into one *segment* per reduce
partition: two msgpack arrays, the keys and the matching lists of values, in the
order the keys first appeared. A segment lives either in the map task's output
file (local processes: reduce tasks read it from disk, the driver only passes the
``(path, offset, length)`` reference along) or in memory (Dask: it travels with the
task result).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mapred.serde import make_unpacker, stable_hash

# A segment: bytes in memory, or (path, offset, length) of a map output file.
Segment = bytes | tuple[str, int, int]


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


def read_segment(segment: Segment) -> tuple[list[Any], list[list[Any]]]:
    """Decode one segment into its keys and their value lists."""
    if isinstance(segment, bytes):
        data = segment
    else:
        path, offset, length = segment
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(length)
    unpacker = make_unpacker()
    unpacker.feed(data)
    keys = unpacker.unpack()
    values = unpacker.unpack()
    return keys, values


def segment_size(segment: Segment) -> int:
    """Encoded bytes in a segment."""
    return len(segment) if isinstance(segment, bytes) else segment[2]


def iter_segments(segments: list[Segment]) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """Decode segments one at a time, in order."""
    for segment in segments:
        yield read_segment(segment)
