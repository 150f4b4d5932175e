"""Map output on its way to the reduce tasks: batches, and the file of one map attempt.

A map task groups its pairs by key, then cuts them into one *batch* per reduce partition:
three msgpack objects, its layout, the keys, and the matching values (each a column, see
:func:`mapred.serde.column`), in the order the keys first appeared. The values are the
keys' lists of values, or, when every key has exactly one (always after a combiner, and
a task mapper's usual output), the values themselves: then no list is made per key, on
either side. Keys that are tuples of ``str`` travel joined into one ``str`` each
(:func:`mapred.keys.join_str_tuples`), which the reduce task groups and sorts as it
would the tuples, at the price of strings. A batch lives either
in the map attempt's output file (local processes: reduce tasks read it from disk, the
driver only passes the ``(path, offset, length)`` reference along) or in memory (Dask: it
travels with the task result). All of an attempt's batches go to one file named after the
attempt (:func:`map_output_path`), so the output of an attempt that dies is simply never
referenced.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from mapred.errors import MapredError
from mapred.serde import column, group_column, make_packer, make_unpacker, value_column

# A batch: bytes in memory, or (path, offset, length) of a map output file.
Batch = bytes | tuple[str, int, int]

# A batch's layout, its first object: bits saying how its columns hold the pairs.
SINGLE = 1  # each key's one value, not a list of values
JOINED = 2  # keys: tuples of str joined (mapred.keys.join_str_tuples)


class BatchData(NamedTuple):
    """A decoded batch."""

    keys: list[Any]
    values: list[Any]  # each key's list of values; with ``single``, its one value
    single: bool
    joined: bool  # the keys are tuples of str, joined (mapred.keys.split_joined)


def map_output_path(workdir: str, index: int, attempt: int) -> str:
    """The file of one map task attempt's batches.

    >>> map_output_path("/w", 3, 2)
    '/w/map-000003-2.bin'
    """
    return os.path.join(workdir, f"map-{index:06d}-{attempt}.bin")


def encode_batch(
    keys: list[Any],
    values: list[Any],
    flat_keys: bool | None = None,
    single: bool = False,
    joined: bool = False,
) -> bytes:
    """The bytes of one batch: the keys and their values, as columns.

    ``values``: each key's list of values, or with ``single`` each key's one value.
    ``flat_keys``: whether the keys are a tuple column (:func:`mapred.serde.flat_tuples`),
    when the caller knows. ``joined``: the keys are tuples of str, joined.

    >>> read_batch(encode_batch(["a", "b"], [1, [2]], single=True))
    BatchData(keys=['a', 'b'], values=[1, [2]], single=True, joined=False)

    Raises:
        TypeError: a key or value can be neither packed nor pickled.
    """
    packer = make_packer()
    layout = packer.pack((SINGLE if single else 0) | (JOINED if joined else 0))
    packed_values = value_column(values) if single else group_column(values)
    data: bytes = layout + packer.pack(column(keys, flat_keys)) + packer.pack(packed_values)
    return data


def read_batch(batch: Batch) -> BatchData:
    """Decode one batch."""
    if isinstance(batch, bytes):
        data = batch
    else:
        path, offset, length = batch
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(length)
    unpacker = make_unpacker()
    unpacker.feed(data)
    layout = unpacker.unpack()
    keys = unpacker.unpack()
    values = unpacker.unpack()
    return BatchData(keys, values, bool(layout & SINGLE), bool(layout & JOINED))


def batch_size(batch: Batch) -> int:
    """Encoded bytes in a batch."""
    return len(batch) if isinstance(batch, bytes) else batch[2]


class MapOutput:
    """Where one map attempt's batches go: a file of its own, or memory.

    Attributes:
        batches: per partition, references to its batches in the order written.
    """

    def __init__(self, workdir: str | None, index: int, attempt: int, partitions: int) -> None:
        self.path = map_output_path(workdir, index, attempt) if workdir else None
        self.file = open(self.path, "wb") if self.path else None  # noqa: SIM115 closed in close()
        self.offset = 0
        self.batches: list[list[Batch]] = [[] for _ in range(partitions)]

    def write(self, partition: int, data: bytes) -> None:
        """Append one encoded batch of ``partition``."""
        if self.file is None:
            self.batches[partition].append(data)
            return
        assert self.path is not None
        try:
            self.file.write(data)
        except OSError as exc:
            raise MapredError(
                f"cannot write map output to {os.path.dirname(self.path)}: "
                f"{exc.strerror or exc} (set MAPRED_TMPDIR to a disk with more room)"
            ) from exc
        self.batches[partition].append((self.path, self.offset, len(data)))
        self.offset += len(data)

    def close(self) -> None:
        """Flush and close the file; the batches can be read from now on."""
        if self.file is not None:
            file, self.file = self.file, None
            try:
                file.close()
            except OSError as exc:  # the final flush can be the write that finds the disk full
                raise MapredError(f"cannot write map output: {exc.strerror or exc}") from exc
