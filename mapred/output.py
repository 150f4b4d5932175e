"""Part files: reading them back in key order, and committing them to a directory."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from mapred.reducetask import read_part
from mapred.serde import total_order_key


def merge_parts(parts: list[str], natural: bool) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of sorted part files, merged in key order.

    ``natural``: the keys sort naturally (one plain type); otherwise they follow the
    total order of :func:`mapred.serde.total_order_key`, as the parts do.
    """
    key = itemgetter(0) if natural else (lambda item: total_order_key(item[0]))
    yield from heapq.merge(*(read_part(p) for p in parts), key=key)


def part_name(partition: int) -> str:
    """The committed name of a partition's part file.

    >>> part_name(3)
    'part-00003.msgpack'
    """
    return f"part-{partition:05d}.msgpack"


def commit_part(tmp_path: str, directory: str, partition: int) -> str:
    """Atomically move a finished attempt's part file to its final name."""
    final = os.path.join(directory, part_name(partition))
    os.replace(tmp_path, final)
    return final


def prepare_output(output: str | os.PathLike[str]) -> str:
    """Make ``output`` a new or empty directory for a job's part files; its absolute path."""
    directory = os.fspath(output)
    if os.path.exists(directory):
        if not os.path.isdir(directory):
            raise ValueError(f"output {directory!r} exists and is not a directory")
        if os.listdir(directory):
            raise ValueError(
                f"output directory {directory!r} is not empty; "
                "give a new or empty directory (mapred never overwrites results)"
            )
    else:
        os.makedirs(directory)
    return os.path.abspath(directory)


def finish_output(directory: str, succeeded: bool) -> None:
    """Mark a complete output with ``_SUCCESS``; remove a failed job's part files."""
    for name in os.listdir(directory):
        if name.startswith(".part-") or (not succeeded and name.startswith("part-")):
            os.unlink(os.path.join(directory, name))
    if succeeded:
        with open(os.path.join(directory, "_SUCCESS"), "w"):
            pass
