"""Records of an iterable cut into splits, in the driver: lazily, on a fixed schedule.

:func:`iter_record_splits` cuts the records into lists, one map task each: a split ends
at a number of records (``chunksize``, or the automatic schedule) and, on the automatic
schedule, at the record that brings it to :data:`MAX_RECORD_SPLIT_BYTES`, by the cheap
estimate :func:`record_bytes`. Where a split ends depends only on the records (their
number and sizes), never on timing or on the number of workers.
"""

from __future__ import annotations

import itertools
import marshal
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

MIB = 1 << 20

# Automatic chunk sizes for iterable input: FIRST_CHUNK_RECORDS, then doubling up
# to MAX_CHUNK_RECORDS. Small first chunks let a tiny job (a few hundred records
# of heavy work) still spread over the workers; bigger later chunks amortize the
# per-task cost (pickling, a process round trip) on large inputs. The schedule is
# fixed: it never depends on timing or on the number of workers.
FIRST_CHUNK_RECORDS = 64
MAX_CHUNK_RECORDS = 8192

# ... and, on the automatic schedule, a split ends once its records reach this many
# bytes (estimated by :func:`record_bytes`), so that what the driver reads ahead and
# each worker holds stays near a fixed size whatever the records' size: 8,192 records
# of 100 KB were 800 MB a split. A size, not a time: the boundaries depend only on the
# data. An explicit ``chunksize`` is a number of records and nothing else.
MAX_RECORD_SPLIT_BYTES = 4 * MIB

_MARSHAL_VERSION = 2  # the last without back-references: sizes add up
_MARSHAL_LIST_HEADER = 5
_MARSHAL_CONTAINERS = frozenset({tuple, list, dict, set, frozenset})


def iter_record_splits(records: Iterable[T], chunksize: int | None) -> Iterator[list[T]]:
    """Cut ``records`` into lists, lazily: at most about one split is pulled ahead.

    Args:
        records: any iterable; consumed as the splits are consumed.
        chunksize: records per split, or ``None`` for the fixed growing schedule
            ``FIRST_CHUNK_RECORDS, x2, ... MAX_CHUNK_RECORDS, MAX_CHUNK_RECORDS, ...``,
            where a split also ends at the record that brings it to
            ``MAX_RECORD_SPLIT_BYTES`` (by :func:`record_bytes`).

    Returns:
        An iterator of non-empty lists.

    Raises:
        ValueError: ``chunksize`` is not a positive int (raised at once).

    >>> [len(c) for c in iter_record_splits(range(7), 3)]
    [3, 3, 1]
    >>> [len(c) for c in iter_record_splits(range(500), None)]
    [64, 128, 256, 52]
    >>> [len(c) for c in iter_record_splits(["x" * MIB] * 10, None)]
    [4, 4, 2]
    """
    if chunksize is None:
        return _sized_chunks(iter(records), _auto_chunk_sizes(), MAX_RECORD_SPLIT_BYTES)
    if isinstance(chunksize, int) and not isinstance(chunksize, bool) and chunksize > 0:
        return _chunks(iter(records), itertools.repeat(chunksize))
    raise ValueError(f"chunksize must be a positive int or None, got {chunksize!r}")


def _auto_chunk_sizes() -> Iterator[int]:
    size = FIRST_CHUNK_RECORDS
    while size < MAX_CHUNK_RECORDS:
        yield size
        size *= 2
    yield from itertools.repeat(MAX_CHUNK_RECORDS)


def _chunks(records: Iterator[T], sizes: Iterator[int]) -> Iterator[list[T]]:
    for size in sizes:
        chunk = list(itertools.islice(records, size))
        if chunk:
            yield chunk
        if len(chunk) < size:  # exhausted: do not pull again (stdin could block)
            return


def _sized_chunks(records: Iterator[T], caps: Iterator[int], limit: int) -> Iterator[list[T]]:
    """Splits of at most ``cap`` records each that end at the record reaching ``limit`` bytes.

    Where a split ends depends only on the records' sizes. Records are pulled in
    C-level slices, not one by one: a slice grows with the split (1, 1, 2, 4, ...
    records) and is never more than the split's remaining bytes at the largest
    record size seen, so little is pulled past a split's end; what is goes first
    into the next split.
    """
    ahead: list[T] = []  # pulled past the previous split's end
    exhausted = False
    widest = 1  # bytes of the largest record seen (an average per slice, at least)
    for cap in caps:
        chunk: list[T] = []
        nbytes = 0
        while len(chunk) < cap and nbytes < limit:
            if ahead:
                piece, ahead = ahead, []
            elif exhausted:
                break
            else:
                want = min(cap - len(chunk), max(len(chunk), 1), max((limit - nbytes) // widest, 1))
                piece = list(itertools.islice(records, want))
                exhausted = len(piece) < want  # do not pull again (stdin could block)
                if not piece:
                    break
            piece_bytes = batch_bytes(piece)
            widest = max(widest, -(-piece_bytes // len(piece)))
            room = cap - len(chunk)
            if len(piece) <= room and nbytes + piece_bytes < limit:
                chunk.extend(piece)
                nbytes += piece_bytes
                continue
            take = room  # the split ends inside this piece: at the cap or at the limit
            for count, total in enumerate(itertools.accumulate(map(record_bytes, piece)), 1):
                if count >= room or nbytes + total >= limit:
                    take, nbytes = count, nbytes + total
                    break
            chunk.extend(piece[:take])
            ahead = piece[take:]
        if not chunk:
            return
        yield chunk
        if exhausted and not ahead:
            return


def record_bytes(record: Any) -> int:
    """A cheap estimate of a record's size: what bounds the automatic record splits.

    Its length in ``marshal`` format 2 (C code, a few ns a record, and deep: a tuple
    holding a 1 MB string is 1 MB) for the built-in types; ``sys.getsizeof`` of
    anything else (a class of yours: its object, not what it refers to).
    Deterministic: the same record, the same size.

    >>> record_bytes("x" * 1000), record_bytes(("key", b"y" * 1000)) > 1000
    (1005, True)
    """
    try:
        return len(marshal.dumps(record, _MARSHAL_VERSION))
    except ValueError:  # not a built-in type, or nested too deep
        return sys.getsizeof(record)


def batch_bytes(records: list[Any]) -> int:
    """``sum(map(record_bytes, records))``, in one C-level pass when it can.

    Format 2 has no back-references, so a list's marshalled length is its 5-byte
    header plus its items' lengths.
    """
    try:
        return len(marshal.dumps(records, _MARSHAL_VERSION)) - _MARSHAL_LIST_HEADER
    except ValueError:
        pass
    kinds: set[type[Any]] = set(map(type, records))
    if len(kinds) == 1:
        (kind,) = kinds
        if kind not in _MARSHAL_CONTAINERS and not _marshals(records[0]):
            return sum(map(sys.getsizeof, records))  # a class of yours: none marshals
    return sum(map(record_bytes, records))


def _marshals(record: Any) -> bool:
    try:
        marshal.dumps(record, _MARSHAL_VERSION)
    except ValueError:
        return False
    return True
