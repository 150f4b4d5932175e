"""Key hashing, for the default partitioner: one hash for a key in every process.

:func:`stable_hash` is the same in every process, run and machine (never Python's
randomized ``hash()``), and equal keys hash alike whatever their types (``1``, ``1.0`` and
``True``; a namedtuple and its tuple). A ``str`` hashes as the CRC-32 of its UTF-8 bytes;
any other key as the CRC-32 of the msgpack encoding of its *canonical form*, in which equal
keys are equal objects. For ``str``, ``bytes``, ``int`` and tuples of these, the canonical
form is the key itself, so :func:`partition_indices` hashes whole lists of them with
``map`` over C functions.

This module owns the canonical form and the C-level walk of what keys hold
(:func:`leaf_types`); key order (:mod:`mapred.keys.order`) builds on both, for keys of no
known family and for its fast path, so the dependency runs one way: order on hashing.

Imported by workers: stdlib and msgpack only (and :mod:`mapred.serde`).
"""

from __future__ import annotations

import math
import numbers
import zlib
from collections.abc import Callable
from itertools import chain, repeat
from operator import ne
from typing import Any

import msgpack

from mapred.serde import PICKLE_PROTOCOL, int_to_bytes, pickle_value, type_name

# stable_hash() and total_order_key() walk keys recursively; past this depth they use
# pickle bytes instead, which also ends reference cycles in objects' reduced state.
MAX_CANONICAL_DEPTH = 32

# Leaf types whose canonical form is themselves, so the packer hashes them as they are.
_SELF_CANONICAL = frozenset({str, bytes, int})

# Ext codes of the canonical form (hashing only; never stored or sent).
_H_BIGINT, _H_NAN, _H_RATIO, _H_COMPLEX, _H_SET, _H_LIST, _H_DICT = 1, 2, 3, 4, 5, 6, 7
_H_NAMED, _H_OBJECT, _H_PICKLED = 8, 9, 10


def _pack_bigint(obj: object) -> msgpack.ExtType:
    """The packer's hook: ints outside msgpack's 64-bit range (all else is canonical)."""
    if type(obj) is int:
        return msgpack.ExtType(_H_BIGINT, int_to_bytes(obj))
    raise TypeError(f"not canonical: {type(obj).__name__}")


_HASH_PACKER = msgpack.Packer(
    use_bin_type=True, unicode_errors="surrogatepass", default=_pack_bigint, autoreset=True
)
_pack_canonical = _HASH_PACKER.pack


# ---------------------------------------------------------------------------------------
# What keys hold


def leaf_types(keys: list[Any]) -> tuple[set[type], bool]:
    """The types of the keys' leaves (tuples opened at any depth), and whether a float
    leaf is NaN; with C-level passes only, whatever the number of keys.

    >>> leaf_types(["a", ("b", (1, 2.5))]) == ({str, int, float}, False)
    True
    """
    leaves: set[type] = set()
    nan = False
    level = keys
    while level:
        types = set(map(type, level))
        if float in types and any(map(ne, level, level)):  # x != x only for NaN
            nan = True
        if tuple not in types:
            return leaves | types, nan
        types.discard(tuple)
        leaves |= types
        tuples = [key for key in level if type(key) is tuple] if types else level
        level = list(chain.from_iterable(tuples))
    return leaves, nan


# ---------------------------------------------------------------------------------------
# Hashing and partitioning


def stable_hash(key: object) -> int:
    """A hash of ``key`` that is the same in every process, run and machine.

    A ``str`` (or subclass) hashes as the CRC-32 of its UTF-8 bytes; any other key as the
    CRC-32 of the msgpack bytes of its canonical form (:func:`canonical_bytes`), so keys
    that are equal in Python hash alike: ``1``, ``1.0`` and ``True``; a namedtuple and its
    tuple; a frozenset whatever its iteration order. Objects of other types hash by their
    type's name and reduced state (``__reduce_ex__``), and must have value equality over
    that state, or equal keys may land in different partitions.

    >>> stable_hash("word"), stable_hash(("word", 1))
    (3287381265, 1860309522)
    >>> stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    True

    Returns:
        An int in ``range(2**32)``.

    Raises:
        TypeError: ``key`` can be neither walked nor pickled.
    """
    if isinstance(key, str):  # str.encode: a subclass may override encode()
        return zlib.crc32(str.encode(key, "utf-8", "surrogatepass"))
    return zlib.crc32(canonical_bytes(key))


def partition_for(key: Any, reducers: int) -> int:
    """The default partitioner: a stable hash of the key, never Python's ``hash()``.

    >>> partition_for("word", 1)
    0
    >>> partition_for("word", 4) == partition_for("word", 4)
    True
    """
    return stable_hash(key) % reducers


def partition_indices(
    keys: list[Any], reducers: int, partitioner: Callable[[Any, int], int] | None = None
) -> list[int]:
    """The partition of each key, as ``partitioner`` (default: :func:`partition_for`) says.

    The default partitioner hashes keys of the common types (str, bytes, int, and tuples
    of them) with ``map`` over C functions: no Python call per key.

    >>> keys = ["a", "word", chr(0xDCFF), "ünï"]
    >>> partition_indices(keys, 7) == [partition_for(key, 7) for key in keys]
    True
    >>> keys = [("a", 1), ("b", 2**70), (b"c", ("d",))]
    >>> partition_indices(keys, 5) == [partition_for(key, 5) for key in keys]
    True
    """
    if partitioner is not None:
        return list(map(checked_partitioner(partitioner, reducers), keys))
    types = set(map(type, keys))
    if types == {str}:
        encoded = map(str.encode, keys, repeat("utf-8"), repeat("surrogatepass"))
        hashes = map(zlib.crc32, encoded)
    elif (
        str not in types  # a str key hashes by its bare UTF-8 bytes, not its msgpack
        and types <= _SELF_CANONICAL | {tuple}
        and leaf_types(keys)[0] <= _SELF_CANONICAL
    ):
        hashes = map(zlib.crc32, map(_pack_canonical, keys))
    else:
        hashes = map(stable_hash, keys)
    return list(map(reducers.__rmod__, hashes))


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


# ---------------------------------------------------------------------------------------
# The canonical form


class _NotCanonical(Exception):
    """A key too deep, or too odd, for the canonical form; use its pickle bytes."""


def canonical_bytes(obj: object) -> bytes:
    """The msgpack bytes of ``obj``'s canonical form: equal objects give equal bytes.

    >>> canonical_bytes(1.0) == canonical_bytes(True) == canonical_bytes(1)
    True
    >>> canonical_bytes(frozenset({"a", "b"})) == canonical_bytes(frozenset({"b", "a"}))
    True
    """
    try:
        return bytes(_pack_canonical(_canonical(obj, 0)))
    except (_NotCanonical, RecursionError):
        pickled = type_name(type(obj)).encode() + b"\0" + pickle_value(obj)
        return bytes(_pack_canonical(msgpack.ExtType(_H_PICKLED, pickled)))


def _ext(code: int, obj: object) -> msgpack.ExtType:
    return msgpack.ExtType(code, _pack_canonical(obj))


def _canonical(obj: object, depth: int) -> Any:
    """An object of msgpack types that is equal for objects equal in Python."""
    if depth > MAX_CANONICAL_DEPTH:
        raise _NotCanonical
    cls = type(obj)
    if cls is str or cls is bytes or cls is int or obj is None:
        return obj
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, int):  # bool and IntEnum too: they equal their int
        return int(obj)
    if isinstance(obj, float):
        return _canonical_float(obj)
    depth += 1
    if isinstance(obj, tuple):  # namedtuples equal plain tuples
        return [_canonical(item, depth) for item in obj]
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    if isinstance(obj, (frozenset, set)):  # a set equals the frozenset of its items
        packed = sorted([_pack_canonical(_canonical(item, depth)) for item in obj])
        return msgpack.ExtType(_H_SET, b"".join(packed))
    if isinstance(obj, list):
        return _ext(_H_LIST, [_canonical(item, depth) for item in obj])
    if isinstance(obj, dict):
        pairs = [
            _pack_canonical(_canonical(k, depth)) + _pack_canonical(_canonical(v, depth))
            for k, v in obj.items()
        ]
        return msgpack.ExtType(_H_DICT, b"".join(sorted(pairs)))
    if isinstance(obj, numbers.Number):
        return _canonical_number(obj, depth)
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        # Classes and functions by name: by value they would differ between processes.
        module = getattr(obj, "__module__", None)
        return _ext(_H_NAMED, f"{module}.{getattr(obj, '__qualname__', '')}")
    return _canonical_reduced(obj, depth)


def _canonical_float(x: float) -> Any:
    """Integral floats as ints, NaN as one value, others as themselves."""
    if math.isfinite(x) and x.is_integer():
        return int(x)
    if x != x:
        return msgpack.ExtType(_H_NAN, b"")
    return float(x)


def _canonical_ratio(numerator: int, denominator: int) -> Any:
    """An exact rational: as an int or a float where one equals it, else the ratio."""
    if denominator == 1:
        return numerator
    as_float = numerator / denominator
    if as_float.as_integer_ratio() == (numerator, denominator):
        return as_float
    return _ext(_H_RATIO, [numerator, denominator])


def _canonical_number(x: Any, depth: int) -> Any:
    """Numbers beyond int and float (Fraction, Decimal, complex) by their exact value."""
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, complex) or (
        isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)
    ):
        z = complex(x)
        if z.imag == 0:
            return _canonical_float(z.real)
        return _ext(_H_COMPLEX, [_canonical_float(z.real), _canonical_float(z.imag)])
    ratio = getattr(x, "as_integer_ratio", None)
    if ratio is not None:
        try:
            numerator, denominator = ratio()
        except (OverflowError, ValueError):  # Decimal infinity and NaN
            return _canonical_float(float(x))
        return _canonical_ratio(numerator, denominator)
    try:
        return _canonical_float(float(x))
    except (TypeError, ValueError):
        return _canonical_reduced(x, depth)


def _canonical_reduced(obj: object, depth: int) -> Any:
    """Any other object: its type's name and its pickle reduction, walked canonically.

    Not the pickle bytes themselves: cloudpickle pickles classes defined in ``__main__``
    by value, with a random tracking id, so equal keys would differ between processes.
    """
    try:
        reduced = obj.__reduce_ex__(PICKLE_PROTOCOL)
    except Exception as exc:
        raise _NotCanonical from exc
    name = type_name(type(obj))
    if isinstance(reduced, str):  # a module-level singleton, pickled by name
        return _ext(_H_OBJECT, [name, reduced])
    constructor, args, *rest = reduced
    state, items, pairs = (*rest, None, None, None)[:3]
    return _ext(
        _H_OBJECT,
        [
            name,
            _canonical(constructor, depth),
            _canonical(args, depth),
            _canonical(state, depth),
            _canonical(None if items is None else list(items), depth),
            _canonical(None if pairs is None else dict(pairs), depth),
        ],
    )
