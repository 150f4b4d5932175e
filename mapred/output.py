"""Part files: reading them back in key order, and committing them to a directory."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from operator import itemgetter
from typing import Any

from mapred import storage
from mapred.reducetask import read_part
from mapred.serde import total_order_key


def merge_parts(
    parts: list[str], natural: bool, options: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of sorted part files, merged in key order.

    ``natural``: the keys sort naturally (one plain type); otherwise they follow the
    total order of :func:`mapred.serde.total_order_key`, as the parts do.
    """
    key = itemgetter(0) if natural else (lambda item: total_order_key(item[0]))
    yield from heapq.merge(*(read_part(p, options) for p in parts), key=key)


def part_name(partition: int) -> str:
    """The committed name of a partition's part file.

    >>> part_name(3)
    'part-00003.msgpack'
    """
    return f"part-{partition:05d}.msgpack"


def commit_part(
    tmp_path: str, directory: str, partition: int, options: Mapping[str, Any] | None = None
) -> str:
    """Move a finished attempt's part file to its final name (atomically where the store can)."""
    final = storage.join(directory, part_name(partition))
    storage.commit(tmp_path, final, options)
    return final
