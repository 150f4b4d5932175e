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
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mapred import storage
from mapred.errors import MapredError
from mapred.keys import item_order, natively_ordered, sort_columns
from mapred.serde import column, make_packer, make_unpacker, value_column

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
    return storage.join(directory, f".part-{partition:05d}-{attempt}.tmp")


def commit_part(
    tmp_path: str, directory: str, partition: int, options: Mapping[str, Any] | None = None
) -> str:
    """Move a finished attempt's part file to its final name (atomically where the store
    can: see docs/guide/output.md)."""
    final = storage.join(directory, part_name(partition))
    storage.commit(tmp_path, final, options)
    return final


class PartWriter:
    """A reduce attempt's output, block by block: to a part file, or to bytes in memory."""

    def __init__(self, path: str | None, options: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.data: bytes | None = None
        self._packer = make_packer()
        self._buffer = bytearray()
        self._chunks: list[bytes] = []
        self._file = storage.open_write_temp(path, options) if path else None

    def write_block(
        self, keys: list[Any], values: list[Any], flat_keys: bool | None = None
    ) -> None:
        """Append the next keys, in order, and their values.

        ``flat_keys``: whether the keys are a tuple column, when the caller knows.

        Raises:
            TypeError: a key or value can be neither packed nor pickled.
        """
        self._buffer += self._packer.pack(column(keys, flat_keys))
        self._buffer += self._packer.pack(value_column(values))
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


def read_part_blocks(
    source: str | bytes, options: Mapping[str, Any] | None = None
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Stream the (keys, values) blocks of a part file (a path or URL) or an in-memory part."""
    if isinstance(source, bytes):
        unpacker = make_unpacker()
        unpacker.feed(source)
        for keys in unpacker:
            yield keys, unpacker.unpack()
        return
    with storage.open_read(source, options) as file:
        unpacker = make_unpacker(file)
        for keys in unpacker:
            yield keys, unpacker.unpack()


def read_part(
    source: str | bytes, options: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of a part file (a path or URL) or an in-memory part."""
    for keys, values in read_part_blocks(source, options):
        yield from zip(keys, values, strict=True)


def merge_parts(
    parts: list[str], natural: bool, options: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, Any]]:
    """Stream the (key, value) pairs of sorted part files, merged in key order.

    ``natural``: the keys compare natively in a merge (:func:`mapred.keys.merge_natively`);
    otherwise they follow the total order of :func:`mapred.keys.total_order_key`, as the
    parts do.
    """
    readers = [read_part(part, options) for part in parts]
    yield from heapq.merge(*readers, key=item_order(natural))


def read_parts_sorted(
    sources: list[str | bytes], natural: bool | None = None
) -> Iterable[tuple[Any, Any]]:
    """All pairs of the parts (each sorted by key), in key order: see
    :func:`read_columns_sorted`."""
    return zip(*read_columns_sorted(sources, natural), strict=True)


def read_columns_sorted(
    sources: list[str | bytes],
    natural: bool | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[list[Any], list[Any]]:
    """All keys of the parts (each sorted by key), in key order, and their values.

    The parts are sorted runs: one ``list.sort()`` of their keys' concatenation merges
    them in C, and their values follow (:func:`mapred.keys.sort_columns`), with no pair
    built on the way. ``natural``: whether the keys compare natively
    (:func:`mapred.keys.merge_natively` of the parts' families), if known; keys that do
    not are merged in the total order. ``options``: the storage options of part URLs.
    """
    keys: list[Any] = []
    values: list[Any] = []
    for source in sources:
        for block_keys, block_values in read_part_blocks(source, options):
            if len(block_keys) != len(block_values):
                raise ValueError(
                    f"corrupt part: {len(block_keys)} keys, {len(block_values)} values"
                )
            keys += block_keys
            values += block_values
    if len(sources) > 1:
        sort_columns(keys, values, natively_ordered(keys) if natural is None else natural)
    return keys, values


def prepare_output(output: str | os.PathLike[str], options: Mapping[str, Any] | None) -> str:
    """Make ``output`` a new or empty directory (local or a URL) for a job's part files;
    returns its absolute path or URL."""
    directory = storage.local_path(os.fspath(output))
    if storage.exists(directory, options):
        if not storage.is_dir(directory, options):
            raise ValueError(f"output {directory!r} exists and is not a directory")
        if storage.list_names(directory, options):
            raise ValueError(
                f"output directory {directory!r} is not empty; "
                "give a new or empty directory (mapred never overwrites results)"
            )
    else:
        storage.make_dirs(directory, options)
    return directory if storage.is_url(directory) else os.path.abspath(directory)


def finish_output(
    directory: str, succeeded: bool, options: Mapping[str, Any] | None, success: bytes = b""
) -> None:
    """Mark a complete output with ``_SUCCESS`` (holding ``success``: what the parts are,
    for :func:`mapred.open_output`); remove a failed job's part files."""
    for name in storage.list_names(directory, options):
        if name.startswith(".part-") or (not succeeded and name.startswith("part-")):
            storage.remove(storage.join(directory, name), options)
    if not succeeded:
        return
    marker = storage.join(directory, "_SUCCESS")
    if not success:
        storage.touch(marker, options)
        return
    temp = storage.join(directory, ".SUCCESS.tmp")
    with storage.open_write_temp(temp, options) as file:
        file.write(success)
    storage.commit(temp, marker, options)
