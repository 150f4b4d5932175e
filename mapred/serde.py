"""The wire format: msgpack for keys and values, pickle for the engine's own messages.

Keys and values (SPEC section 4) travel as msgpack. ``str``, ``int`` (64-bit), ``float``,
``bool``, ``None``, ``bytes``, ``list`` and ``dict`` are msgpack's own types and are packed
and unpacked by msgpack's C code with no Python callback: the word-count hot path. The packer
runs with ``strict_types=True``, so every other type, subclasses included, reaches
:func:`_encode_ext` and becomes an ext type::

    code  name           payload                                 decoded as
    ----  -------------  --------------------------------------  ------------------
    1     EXT_TUPLE      msgpack array of the items              tuple
    2     EXT_SET        msgpack array of the items              set
    3     EXT_FROZENSET  msgpack array of the items              frozenset
    4     EXT_BIGINT     signed big-endian two's complement      int (any size)
    5     EXT_PICKLE     pickle (cloudpickle if plain fails)     whatever it was

Ext payloads are packed with the same options, so the types nest at any depth (a tuple as a
dict key inside a list inside a set...). Without the tuple ext msgpack turns tuples into
lists (msgpack-python issue #305). Strings are packed with ``surrogatepass`` so a ``str``
holding a lone surrogate (``"\\udcff"``, what ``surrogateescape`` makes of bad bytes) survives.

Two caveats. msgpack packs ``bytearray`` and ``memoryview`` natively as bin even with
``strict_types``, so they arrive as ``bytes`` (equal, but not the same type). And a value
that is itself a ``msgpack.ExtType`` is packed as is, so its code must not be one of ours.

Encodings are not canonical: a set is packed in its iteration order, so two equal sets may
encode differently. Group and compare *decoded* keys, never their bytes.

:func:`stable_hash` (the default partitioner's hash) and :func:`total_order_key` (the key
order where keys are not mutually comparable) are the other two contracts kept here; their
docstrings state them. Pickle is used only for data that this job's own processes produced
(SPEC section 4). This module is imported by workers: stdlib, msgpack and cloudpickle only.
"""

from __future__ import annotations

import math
import numbers
import operator
import pickle
import zlib
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, cast

import cloudpickle
import msgpack

EXT_TUPLE = 1
EXT_SET = 2
EXT_FROZENSET = 3
EXT_BIGINT = 4
EXT_PICKLE = 5

PICKLE_PROTOCOL = 5

# An Unpacker refuses to buffer more than this. Batches of a few hundred MB are legitimate
# (a large memory_limit), and the limit exists to guard against untrusted peers, which we
# do not have; 2**31 - 1 is the largest value msgpack accepts.
MAX_BUFFER_SIZE = 2**31 - 1

# Packers for ext payloads and encode(): a small initial buffer (it grows on demand), and
# a packer whose output was larger than POOL_KEEP_BYTES is dropped rather than pooled,
# because msgpack never shrinks a grown buffer.
NESTED_BUF_SIZE = 1024
POOL_KEEP_BYTES = 1 << 20
POOL_MAX_PACKERS = 64

# stable_hash() and total_order_key() walk keys recursively; past this depth they use
# pickle bytes instead, which also ends reference cycles in objects' reduced state.
MAX_CANONICAL_DEPTH = 32

_ExtType = msgpack.ExtType
_new_tuple = tuple.__new__
_FIRST = operator.itemgetter(0)
_NOT_COMPARABLE = (TypeError, ArithmeticError)  # decimal NaN raises InvalidOperation on <


def make_packer(buf_size: int | None = None) -> msgpack.Packer:
    """A msgpack packer for keys and values; every SPEC section 4 type round-trips.

    Returns:
        A ``msgpack.Packer`` whose ``pack(obj)`` returns the bytes of one object. A packer
        is not thread-safe: use one per thread.
    """
    options = {} if buf_size is None else {"buf_size": buf_size}
    return msgpack.Packer(
        default=_encode_ext,
        use_bin_type=True,
        strict_types=True,
        unicode_errors="surrogatepass",
        autoreset=True,
        **options,
    )


def make_unpacker(file_like: Any = None) -> msgpack.Unpacker:
    """A streaming msgpack unpacker that reverses :func:`make_packer`.

    Args:
        file_like: an object with ``read(n)`` to read from; if None, ``feed()`` bytes.

    Returns:
        A ``msgpack.Unpacker``; iterate it for the objects.
    """
    return msgpack.Unpacker(
        file_like,
        raw=False,
        strict_map_key=False,
        use_list=True,
        ext_hook=_decode_ext,
        unicode_errors="surrogatepass",
        max_buffer_size=MAX_BUFFER_SIZE,
    )


def encode(obj: object) -> bytes:
    """Pack one key, value or batch to msgpack bytes.

    Thread-safe: each call takes its own packer from a pool.

    >>> decode(encode({(1, "a"): {2**70, -0.0}, None: [b"x", frozenset({True})]}))
    {(1, 'a'): {1180591620717411303424, -0.0}, None: [b'x', frozenset({True})]}

    Raises:
        TypeError: ``obj`` holds an object that is neither a msgpack type nor picklable.
    """
    return _pack_pooled(obj)


def decode(data: bytes) -> Any:
    """Unpack bytes made by :func:`encode` (or one ``make_packer().pack``).

    >>> decode(encode(("\\udcff", 2**64, [1.5, None])))
    ('\\udcff', 18446744073709551616, [1.5, None])
    """
    return _unpack_nested(data)


def _pack_pooled(obj: object) -> bytes:
    """Pack with a pooled packer: ext payloads nest, and a packer cannot be re-entered."""
    try:
        packer = _PACKERS.pop()  # list.pop and append are atomic: safe across threads
    except IndexError:
        packer = make_packer(NESTED_BUF_SIZE)  # nested payloads are small
    data: bytes = packer.pack(obj)
    # Not in a finally: a packer whose pack() raised is dropped, not reused.
    if len(data) <= POOL_KEEP_BYTES and len(_PACKERS) < POOL_MAX_PACKERS:
        _PACKERS.append(packer)
    return data


_PACKERS: list[msgpack.Packer] = []


def _unpack_nested(data: bytes) -> Any:
    """Unpack one object with the options of :func:`make_unpacker`."""
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=False,
        use_list=True,
        ext_hook=_decode_ext,
        unicode_errors="surrogatepass",
    )


def _encode_ext(obj: object) -> msgpack.ExtType:
    """Turn a value msgpack cannot pack natively into an ext type (the packer's default)."""
    cls = type(obj)
    if cls is tuple:
        code, payload = EXT_TUPLE, _pack_pooled(list(cast("tuple[Any, ...]", obj)))
    elif cls is int:  # outside msgpack's [-2**63, 2**64) range
        code, payload = EXT_BIGINT, _int_to_bytes(cast(int, obj))
    elif cls is set:
        code, payload = EXT_SET, _pack_pooled(list(cast("set[Any]", obj)))
    elif cls is frozenset:
        code, payload = EXT_FROZENSET, _pack_pooled(list(cast("frozenset[Any]", obj)))
    else:
        code, payload = EXT_PICKLE, _pickle_value(obj)
    # tuple.__new__ skips ExtType.__new__'s Python-level checks (a third of the cost of a
    # tuple): the code is one of ours and the payload is bytes.
    return _new_tuple(_ExtType, (code, payload))


def _decode_ext(code: int, data: bytes) -> Any:
    """Rebuild the value of an ext type made by :func:`_encode_ext` (the ext_hook)."""
    if code == EXT_TUPLE:
        return tuple(_unpack_nested(data))
    if code == EXT_BIGINT:
        return int.from_bytes(data, "big", signed=True)
    if code == EXT_SET:
        return set(_unpack_nested(data))
    if code == EXT_FROZENSET:
        return frozenset(_unpack_nested(data))
    if code == EXT_PICKLE:
        return pickle.loads(data)
    raise ValueError(f"msgpack ext type {code} was not written by mapred.serde")


def _int_to_bytes(n: int) -> bytes:
    """Signed big-endian bytes of ``n``, long enough for its sign bit.

    >>> _int_to_bytes(255), _int_to_bytes(-1), _int_to_bytes(0)
    (b'\\x00\\xff', b'\\xff', b'\\x00')
    """
    return int.to_bytes(n, (int.bit_length(n) + 8) // 8, "big", signed=True)


def _pickle_value(obj: object) -> bytes:
    """Pickle a key or value: plain pickle (fast), else cloudpickle (local classes)."""
    try:
        return pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
    except Exception:  # a local class, a lambda inside: cloudpickle pickles by value
        pass
    try:
        return cast(bytes, cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        raise TypeError(
            f"cannot send a value of type {_type_name(type(obj))} through the shuffle: keys "
            "and values must be msgpack types (None, bool, int, float, str, bytes, tuple, "
            f"list, dict, set, frozenset) or picklable ({type(exc).__name__}: {exc})"
        ) from exc


def _type_name(cls: type) -> str:
    """``module.qualname`` of a class, the way users read it."""
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------------------
# Stable hashing


def stable_hash(key: object) -> int:
    """A hash of ``key`` that is the same in every process, run and machine.

    Never Python's ``hash()``, which is randomized for str and bytes (PYTHONHASHSEED).
    A ``str`` hashes as the CRC-32 of its UTF-8 bytes. Any other key hashes as the CRC-32
    of a canonical encoding in which keys that are equal in Python are equal: ``1``,
    ``1.0`` and ``True``; ``0``, ``-0.0`` and ``False``; a ``str`` subclass and its str;
    a namedtuple and its tuple; a frozenset whatever its iteration order. Objects of
    other types are encoded by their type's name and their reduced state
    (``__reduce_ex__``: the constructor arguments and ``__dict__``), and past
    ``MAX_CANONICAL_DEPTH`` by their pickle bytes; such keys must have value equality
    over that state, or equal keys may land in different partitions.

    >>> stable_hash("word"), stable_hash(("word", 1))
    (3287381265, 872468512)
    >>> stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    True

    Args:
        key: a hashable key.

    Returns:
        An int in ``range(2**32)``.

    Raises:
        TypeError: ``key`` can be neither walked nor pickled.
    """
    if type(key) is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if type(key) is int:
        return zlib.crc32(_frame(b"I", _int_to_bytes(key)))
    if isinstance(key, str):  # str.encode: a subclass may override encode()
        return zlib.crc32(str.encode(key, "utf-8", "surrogatepass"))
    return zlib.crc32(_canonical_bytes(key))


class _NotCanonical(Exception):
    """A key too deep, or too odd, for the canonical encoding; use its pickle bytes."""


def _canonical_bytes(obj: object) -> bytes:
    """The canonical encoding of ``obj``, falling back to its type name and pickle bytes."""
    try:
        return _canonical(obj, 0)
    except (_NotCanonical, RecursionError):
        return _frame(b"P", _type_name(type(obj)).encode() + b"\0" + _pickle_value(obj))


def _frame(tag: bytes, payload: bytes) -> bytes:
    """One self-delimiting item: a one-byte tag, an 8-byte length, the payload."""
    return tag + len(payload).to_bytes(8, "big") + payload


_NONE_FRAME = _frame(b"N", b"")
_NAN_FRAME = _frame(b"n", b"")


def _canonical(obj: object, depth: int) -> bytes:
    """Encode ``obj`` so that objects equal in Python encode to equal bytes.

    >>> _canonical(1.0, 0) == _canonical(True, 0) == _canonical(1, 0)
    True
    >>> _canonical(frozenset({"a", "b"}), 0) == _canonical(frozenset({"b", "a"}), 0)
    True
    """
    if depth > MAX_CANONICAL_DEPTH:
        raise _NotCanonical
    if isinstance(obj, str):
        return _frame(b"S", str.encode(obj, "utf-8", "surrogatepass"))
    if isinstance(obj, int):  # bool and IntEnum too: they equal their int
        return _frame(b"I", _int_to_bytes(obj))
    if isinstance(obj, float):
        return _canonical_float(obj)
    if obj is None:
        return _NONE_FRAME
    depth += 1
    if isinstance(obj, tuple):  # namedtuples equal plain tuples
        return _frame(b"T", b"".join([_canonical(item, depth) for item in obj]))
    if isinstance(obj, (bytes, bytearray)):
        return _frame(b"B", bytes(obj))
    if isinstance(obj, (frozenset, set)):  # a set equals the frozenset of its items
        return _frame(b"F", b"".join(sorted([_canonical(item, depth) for item in obj])))
    if isinstance(obj, list):
        return _frame(b"L", b"".join([_canonical(item, depth) for item in obj]))
    if isinstance(obj, dict):
        pairs = [_canonical(k, depth) + _canonical(v, depth) for k, v in obj.items()]
        return _frame(b"D", b"".join(sorted(pairs)))
    if isinstance(obj, numbers.Number):
        return _canonical_number(obj, depth)
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        # Classes and functions by name: by value they would differ between processes.
        module = getattr(obj, "__module__", None)
        return _frame(b"R", f"{module}.{getattr(obj, '__qualname__', '')}".encode())
    return _canonical_reduced(obj, depth)


def _canonical_float(x: float) -> bytes:
    """Integral floats as ints, others as exact ratios, so that equal numbers agree."""
    if math.isfinite(x):
        if x.is_integer():
            return _frame(b"I", _int_to_bytes(int(x)))
        return _canonical_ratio(*x.as_integer_ratio())
    if x != x:
        return _NAN_FRAME
    return _frame(b"f", b"+" if x > 0 else b"-")


def _canonical_ratio(numerator: int, denominator: int) -> bytes:
    """An exact rational: Fraction(1, 2), Decimal("0.5") and 0.5 encode alike."""
    if denominator == 1:
        return _frame(b"I", _int_to_bytes(numerator))
    return _frame(b"Q", _frame(b"I", _int_to_bytes(numerator)) + _int_to_bytes(denominator))


def _canonical_number(x: Any, depth: int) -> bytes:
    """Numbers beyond int and float (Fraction, Decimal, complex) by their exact value."""
    if isinstance(x, numbers.Integral):
        return _frame(b"I", _int_to_bytes(int(x)))
    if isinstance(x, complex) or (
        isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)
    ):
        z = complex(x)
        if z.imag == 0:
            return _canonical_float(z.real)
        return _frame(b"C", _canonical_float(z.real) + _canonical_float(z.imag))
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


def _canonical_reduced(obj: object, depth: int) -> bytes:
    """Any other object: its type's name and its pickle reduction, walked canonically.

    Not the pickle bytes themselves: cloudpickle pickles classes defined in ``__main__``
    by value, with a random tracking id, so equal keys would differ between processes.
    """
    try:
        reduced = obj.__reduce_ex__(PICKLE_PROTOCOL)
    except Exception as exc:
        raise _NotCanonical from exc
    name = _type_name(type(obj)).encode()
    if isinstance(reduced, str):  # a module-level singleton, pickled by name
        return _frame(b"G", name + b"\0" + reduced.encode())
    constructor, args, *rest = reduced
    state, items, pairs = (*rest, None, None, None)[:3]
    parts = [
        name,
        _canonical(constructor, depth),
        _canonical(args, depth),
        _canonical(state, depth),
        _canonical(None if items is None else list(items), depth),
        _canonical(None if pairs is None else dict(pairs), depth),
    ]
    return _frame(b"O", b"".join(_frame(b"-", part) for part in parts))


# ---------------------------------------------------------------------------------------
# Total order


_RANK_NONE = 0
_RANK_NUMBER = 1
_RANK_STR = 2
_RANK_BYTES = 3
_RANK_TUPLE = 4
_RANK_FROZENSET = 5
_RANK_OTHER = 6


def total_order_key(key: object) -> tuple[Any, ...]:
    """A sort key giving a stable total order over keys of any types.

    Families rank ``None < numbers < str < bytes < tuple < frozenset < other``. Numbers
    (bool, int, float, Fraction, Decimal) order by value, NaN after every other number
    (NaNs by repr); str and bytes by value; tuples element by element with this same key,
    a prefix first (namedtuples are tuples); frozensets by their sorted elements' keys,
    then length; other objects by type ``module.qualname``, then their canonical bytes
    (those of :func:`stable_hash`): deterministic, but not the type's own order. Within a
    family the order agrees with Python's, wherever Python's is total.

    >>> sorted([b"b", "a", (1, "x"), 2.5, None, frozenset({3}), True, (1,)], key=total_order_key)
    [None, True, 2.5, 'a', b'b', (1,), (1, 'x'), frozenset({3})]

    Raises:
        TypeError: ``key`` is of another type and can be neither walked nor pickled.
    """
    if key is None:
        return (_RANK_NONE,)
    if isinstance(key, (int, float)) or _is_ordered_number(key):
        if key != key:
            return (_RANK_NUMBER, 1, repr(key))
        return (_RANK_NUMBER, 0, key)
    if isinstance(key, str):
        return (_RANK_STR, key)
    if isinstance(key, bytes):
        return (_RANK_BYTES, key)
    if isinstance(key, tuple):
        return (_RANK_TUPLE, tuple([total_order_key(item) for item in key]))
    if isinstance(key, frozenset):
        return (_RANK_FROZENSET, tuple(sorted([total_order_key(item) for item in key])))
    return (_RANK_OTHER, _type_name(type(key)), _canonical_bytes(key))


def _is_ordered_number(x: object) -> bool:
    """Real numbers, and Decimal (a Number but, for mixing reasons, not a Real)."""
    return isinstance(x, numbers.Real) or (
        isinstance(x, numbers.Number) and not isinstance(x, numbers.Complex)
    )


def sort_keys(keys: list[Any]) -> None:
    """Sort keys in place: Python's order where it is total, else :func:`total_order_key`.

    The natural order is kept only if every adjacent pair then satisfies ``<=``, which
    fails for NaN and for frozensets that are not a chain of subsets, whose natural
    "order" would depend on the input order. The result depends only on the keys, never
    on their input order; equal keys keep their input order.

    >>> keys = [3, "b", None, (1, 2), "a", 1.5]
    >>> sort_keys(keys)
    >>> keys
    [None, 1.5, 3, 'a', 'b', (1, 2)]
    """
    snapshot = keys.copy()  # a failed sort leaves the list permuted
    try:
        keys.sort()
        if _ascending(keys, keys):
            return
    except _NOT_COMPARABLE:
        pass
    keys[:] = snapshot
    keys.sort(key=total_order_key)


def sort_items(items: list[tuple[Any, Any]]) -> None:
    """Sort ``(key, value)`` pairs in place by key, as :func:`sort_keys` sorts keys.

    The sort is stable: the values of one key keep their input order (SPEC section 3).

    >>> items = [("b", 1), (2, "x"), ("b", 0), (None, 3)]
    >>> sort_items(items)
    >>> items
    [(None, 3), (2, 'x'), ('b', 1), ('b', 0)]
    """
    snapshot = items.copy()  # a failed sort leaves the list permuted, ties included
    try:
        items.sort(key=_FIRST)
        if _ascending(map(_FIRST, items), map(_FIRST, items)):
            return
    except _NOT_COMPARABLE:
        pass
    items[:] = snapshot
    items.sort(key=_total_order_first)


def _ascending(first: Iterable[Any], again: Iterable[Any]) -> bool:
    """Whether each item is ``<=`` the next; ``first`` and ``again`` iterate the same items."""
    return all(map(operator.le, first, islice(again, 1, None)))


def _total_order_first(item: tuple[Any, Any]) -> tuple[Any, ...]:
    """:func:`total_order_key` of a pair's key."""
    return total_order_key(item[0])


# ---------------------------------------------------------------------------------------
# Functions and the engine's own messages


def dumps_function(fn: object, what: str) -> bytes:
    """Pickle a user function (mapper, combiner, reducer, partitioner) with cloudpickle.

    Lambdas, closures and functions defined in ``__main__`` or a notebook travel by value.

    >>> loads_function(dumps_function(lambda x: x + 1, "mapper"))(1)
    2

    Args:
        fn: the function.
        what: its role, for messages: ``"mapper"``, ``"reducer"``...

    Returns:
        Bytes for :func:`loads_function`.

    Raises:
        TypeError: ``fn`` is not callable, or cloudpickle cannot pickle it.
    """
    if not callable(fn):
        raise TypeError(f"{what} must be callable, got {type(fn).__name__}")
    try:
        return cast(bytes, cloudpickle.dumps(fn, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        raise TypeError(
            f"{what} {name!r} cannot be pickled ({type(exc).__name__}: {exc}); functions "
            "must be picklable by cloudpickle: no open files, locks, sockets or other "
            "unpicklable objects in their closures or the globals they use"
        ) from exc


def loads_function(data: bytes) -> Callable[..., Any]:
    """Rebuild a function pickled by :func:`dumps_function`."""
    return cast("Callable[..., Any]", pickle.loads(data))


def dumps(obj: object) -> bytes:
    """Pickle one of the engine's own messages (tasks, results, records of an iterable).

    Plain pickle first (fast); cloudpickle when that fails (lambdas, local classes).

    >>> loads(dumps({"split": (0, 10), "fn": None}))
    {'split': (0, 10), 'fn': None}

    Raises:
        TypeError: neither pickle nor cloudpickle can pickle ``obj``.
    """
    try:
        return pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
    except Exception:  # lambdas, local classes: cloudpickle pickles them by value
        pass
    try:
        return cast(bytes, cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        raise TypeError(
            f"cannot pickle {_type_name(type(obj))} ({type(exc).__name__}: {exc})"
        ) from exc


def loads(data: bytes) -> Any:
    """Unpickle bytes made by :func:`dumps`."""
    return pickle.loads(data)
