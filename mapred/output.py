"""Part files: the output of reduce tasks, from the attempt's temporary file to the result.

A part file holds one partition's ``(key, value)`` pairs in key order, as blocks of two
columns (:func:`mapred.serde.column`): up to ``PART_BLOCK_KEYS`` keys, then their values.
A reduce attempt writes ``.part-<p>-<a>.tmp`` (:func:`part_temp_path`) in the job's work
directory or in ``output=DIR``; the driver commits the attempt that succeeded by renaming
it to ``part-<p>.msgpack`` (:func:`commit_part`). On the Dask backend the same bytes travel
in memory instead.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Iterator
from typing import Any

from mapred.errors import MapredError
from mapred.keys import item_order, natively_ordered
from mapred.serde import column, make_packer, make_unpacker

PART_BLOCK_KEYS = 4096  # keys per block: a lookup decodes one block, a reader holds one
WRITE_BUFFER_BYTES = 1 << 20  # bytes gathered before one write() to a part file


def part_name(partition: int) -> str:
    """The committed name of a partition's part file.

    >>> part_name(3)
    'part-00003.msgpack'
    """
    return f"part-{partition:05d}.msgpack"


def part_temp_path(directory: str, partition: int, attempt: int) -> str:
    """Where a reduce attempt writes its part file before it is committed.

    >>> part_temp_path("/out", 3, 1)
    '/out/.part-00003-1.tmp'
    """
    return os.path.join(directory, f".part-{partition:05d}-{attempt}.tmp")


def commit_part(tmp_path: str, directory: str, partition: int) -> str:
    """Atomically move a finished attempt's part file to its final name."""
    final = os.path.join(directory, part_name(partition))
    os.replace(tmp_path, final)
    return final


class PartWriter:
    """A reduce attempt's output, block by block: to a part file, or to bytes in memory."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.data: bytes | None = None
        self._packer = make_packer()
        self._buffer = bytearray()
        self._chunks: list[bytes] = []
        self._file = open(path, "wb") if path else None  # noqa: SIM115 closed in close()

    def write_block(
        self, keys: list[Any], values: list[Any], flat_keys: bool | None = None
    ) -> None:
        """Append the next keys, in order, and their values.

        ``flat_keys``: whether the keys are a tuple column, when the caller knows.

        Raises:
            TypeError: a key or value can be neither packed nor pickled.
        """
        self._buffer += self._packer.pack(column(keys, flat_keys))
        self._buffer += self._packer.pack(column(values))
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


def read_part_blocks(source: str | bytes) -> Iterator[tuple[list[Any], list[Any]]]:
    """Stream the (keys, values) blocks of a part file (a path) or an in-memory part."""
    if isinstance(source, bytes):
        unpacker = make_unpacker()
        unpacker.feed(source)
        for keys in unpacker:
            yield keys, unpacker.unpack()
        return
    with open(source, "rb") as file:
        unpacker = make_unpacker(file)
        for keys in unpacker:
            yield keys, unpacker.unpack()


def read_part(source: str | bytes) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of a part file (a path) or an in-memory part."""
    for keys, values in read_part_blocks(source):
        yield from zip(keys, values, strict=True)


def merge_parts(parts: list[str], natural: bool) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of sorted part files, merged in key order.

    ``natural``: the keys compare natively in a merge (:func:`mapred.keys.merge_natively`);
    otherwise they follow the total order of :func:`mapred.keys.total_order_key`, as the
    parts do.
    """
    yield from heapq.merge(*(read_part(p) for p in parts), key=item_order(natural))


def read_parts_sorted(sources: list[str | bytes]) -> list[tuple[Any, Any]]:
    """All pairs of the parts (each sorted by key), in key order.

    The parts are sorted runs: one ``list.sort()`` of their concatenation merges them in
    C. Keys that do not compare natively are merged in the total order instead.
    """
    keys: list[Any] = []
    values: list[Any] = []
    for source in sources:
        for block_keys, block_values in read_part_blocks(source):
            keys += block_keys
            values += block_values
    items = list(zip(keys, values, strict=True))
    if len(sources) > 1:
        try:
            items.sort(key=item_order(natively_ordered(keys)))
        except (TypeError, ArithmeticError):  # keys of two families met: use the total order
            items = list(zip(keys, values, strict=True))
            items.sort(key=item_order(False))
    return items


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
