"""The wire format: msgpack for keys and values, pickle for the engine's own messages.

Keys and values (SPEC section 4) travel as msgpack. ``str``, ``int`` (64-bit), ``float``,
``bool``, ``None``, ``bytes``, ``list`` and ``dict`` are msgpack's own types and are packed
and unpacked by msgpack's C code with no Python callback: the word-count hot path. The packer
runs with ``strict_types=True``, so every other type, subclasses included, reaches
:func:`_encode_ext` and becomes an ext type::

    code  name                   payload                        decoded as
    ----  ---------------------  -----------------------------  -------------------------
    1     EXT_TUPLE              array of the items             tuple
    2     EXT_SET                array of the items             set
    3     EXT_FROZENSET          array of the items             frozenset
    4     EXT_BIGINT             signed big-endian bytes        int (any size)
    5     EXT_PICKLE             pickle (cloudpickle if needed) whatever it was
    6     EXT_TUPLE_COLUMN       arrays of scalars              list of tuples
    7     EXT_TUPLE_GROUPS       arrays of arrays of scalars    list of lists of tuples
    8     EXT_TUPLE_LIST_GROUPS  one array deeper               lists of lists of lists
                                                                of tuples

A Python hook per tuple would be the cost of every job with tuple keys or values, so whole
*columns* (the keys of a batch, its value lists, a part file's values) are described once:
:func:`column` and :func:`group_column` turn a list of flat tuples of scalars (``str``,
``bytes``, ``int``, ``float``, ``bool``, ``None``) into one ext whose payload msgpack packs
and unpacks in C, making the tuples itself (``use_list=False``). Any other list is packed
as it is, each odd item through its own ext.

Ext payloads are packed with the same options, so the types nest at any depth (a tuple as a
dict key inside a list inside a set...). Without the tuple ext msgpack turns tuples into
lists (msgpack-python issue #305). Strings are packed with ``surrogatepass`` so a ``str``
holding a lone surrogate (``"\\udcff"``, what ``surrogateescape`` makes of bad bytes) survives.

Two caveats. msgpack packs ``bytearray`` and ``memoryview`` natively as bin even with
``strict_types``, so they arrive as ``bytes`` (equal, but not the same type). And a value
that is itself a ``msgpack.ExtType`` is packed as is, so its code must not be one of ours.

Encodings are not canonical: a set is packed in its iteration order, so two equal sets may
encode differently. Group and compare *decoded* keys, never their bytes (key hashing and
order live in :mod:`mapred.keys`). Pickle is used only for data that this job's own
processes produced (SPEC section 4). This module is imported by workers: stdlib, msgpack and
cloudpickle only.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from itertools import chain
from typing import Any, cast

import cloudpickle
import msgpack

EXT_TUPLE = 1
EXT_SET = 2
EXT_FROZENSET = 3
EXT_BIGINT = 4
EXT_PICKLE = 5
EXT_TUPLE_COLUMN = 6
EXT_TUPLE_GROUPS = 7
EXT_TUPLE_LIST_GROUPS = 8

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

# The items a tuple column may hold: msgpack packs each exactly, in C.
SCALARS = frozenset({str, bytes, int, float, bool, type(None)})

_ExtType = msgpack.ExtType
_new_tuple = tuple.__new__


def make_packer(buf_size: int | None = None, *, tuples_as_arrays: bool = False) -> msgpack.Packer:
    """A msgpack packer for keys and values; every SPEC section 4 type round-trips.

    ``tuples_as_arrays``: pack tuples as plain arrays (for the payload of a tuple column,
    whose items have been checked to be flat tuples of scalars).

    Returns:
        A ``msgpack.Packer`` whose ``pack(obj)`` returns the bytes of one object. A packer
        is not thread-safe: use one per thread.
    """
    options = {} if buf_size is None else {"buf_size": buf_size}
    return msgpack.Packer(
        default=_encode_ext,
        use_bin_type=True,
        strict_types=not tuples_as_arrays,
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


def flat_tuples(items: list[Any]) -> bool:
    """Whether every item is a tuple (exactly) of scalars (exactly): a tuple column.

    >>> flat_tuples([("a", 1)]), flat_tuples([("a", [1])]), flat_tuples([])
    (True, False, False)
    """
    return (
        bool(items)
        and set(map(type, items)) == {tuple}
        and set(map(type, chain.from_iterable(items))) <= SCALARS
    )


def column(items: list[Any], flat: bool | None = None) -> Any:
    """What to pack for a list of keys or values: one ext when all are flat tuples of
    scalars (decoded without a Python call per tuple), else the list itself.

    ``flat``: what :func:`flat_tuples` says of ``items`` (or of a list they were picked
    from), when the caller knows it already.

    >>> decode(encode(column([("a", 1), ("b", 2**70)])))
    [('a', 1), ('b', 1180591620717411303424)]
    >>> column(["a", "b"])
    ['a', 'b']
    """
    if items and (flat_tuples(items) if flat is None else flat):
        return _new_tuple(_ExtType, (EXT_TUPLE_COLUMN, _pack_pooled(items, _LOOSE)))
    return items


def group_column(groups: list[list[Any]]) -> Any:
    """:func:`column` for a list of value lists (the values of each key of a batch).

    >>> decode(encode(group_column([[("x", 1)], [("y", 2), ("z", 3.5)]])))
    [[('x', 1)], [('y', 2), ('z', 3.5)]]
    >>> decode(encode(group_column([[[("d", 1)], [("d", 2), ("e", 3)]]])))
    [[[('d', 1)], [('d', 2), ('e', 3)]]]
    """
    if not groups:
        return groups
    kinds = set(map(type, chain.from_iterable(groups)))
    if kinds == {tuple}:
        leaves = chain.from_iterable(chain.from_iterable(groups))
        if set(map(type, leaves)) <= SCALARS:
            return _new_tuple(_ExtType, (EXT_TUPLE_GROUPS, _pack_pooled(groups, _LOOSE)))
    elif kinds == {list}:  # values that are lists of flat tuples (a task mapper's postings)
        tuples = chain.from_iterable(chain.from_iterable(groups))
        if set(map(type, tuples)) == {tuple}:
            leaves = chain.from_iterable(chain.from_iterable(chain.from_iterable(groups)))
            if set(map(type, leaves)) <= SCALARS:
                payload = _pack_pooled(groups, _LOOSE)
                return _new_tuple(_ExtType, (EXT_TUPLE_LIST_GROUPS, payload))
    return groups


def value_column(values: list[Any]) -> Any:
    """:func:`column` for a list of arbitrary values (a part file's reduced values): a
    list of flat tuples, or of lists of flat tuples (an inverted index's postings),
    travels as one ext; anything else as it is.

    >>> decode(encode(value_column([[("doc", 1)], [("doc", 2), ("doc", 3)]])))
    [[('doc', 1)], [('doc', 2), ('doc', 3)]]
    >>> value_column([1, "a"])
    [1, 'a']
    """
    types = set(map(type, values))
    if types == {tuple}:
        return column(values)
    if types == {list}:
        return group_column(values)
    return values


_STRICT: list[msgpack.Packer] = []  # pooled packers, by kind
_LOOSE: list[msgpack.Packer] = []


def _pack_pooled(obj: object, pool: list[msgpack.Packer] = _STRICT) -> bytes:
    """Pack with a pooled packer: ext payloads nest, and a packer cannot be re-entered."""
    try:
        packer = pool.pop()  # list.pop and append are atomic: safe across threads
    except IndexError:  # nested payloads are small
        packer = make_packer(NESTED_BUF_SIZE, tuples_as_arrays=pool is _LOOSE)
    data: bytes = packer.pack(obj)
    # Not in a finally: a packer whose pack() raised is dropped, not reused.
    if len(data) <= POOL_KEEP_BYTES and len(pool) < POOL_MAX_PACKERS:
        pool.append(packer)
    return data


def _unpack_nested(data: bytes, arrays_as_tuples: bool = False) -> Any:
    """Unpack one object with the options of :func:`make_unpacker` (or, for the payload of
    a tuple column, with every array made a tuple by msgpack itself)."""
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=False,
        use_list=not arrays_as_tuples,
        ext_hook=_decode_ext,
        unicode_errors="surrogatepass",
    )


def _encode_ext(obj: object) -> msgpack.ExtType:
    """Turn a value msgpack cannot pack natively into an ext type (the packer's default)."""
    cls = type(obj)
    if cls is tuple:
        code, payload = EXT_TUPLE, _pack_pooled(list(cast("tuple[Any, ...]", obj)))
    elif cls is int:  # outside msgpack's [-2**63, 2**64) range
        code, payload = EXT_BIGINT, int_to_bytes(cast(int, obj))
    elif cls is set:
        code, payload = EXT_SET, _pack_pooled(list(cast("set[Any]", obj)))
    elif cls is frozenset:
        code, payload = EXT_FROZENSET, _pack_pooled(list(cast("frozenset[Any]", obj)))
    else:
        code, payload = EXT_PICKLE, pickle_value(obj)
    # tuple.__new__ skips ExtType.__new__'s Python-level checks (a third of the cost of a
    # tuple): the code is one of ours and the payload is bytes.
    return _new_tuple(_ExtType, (code, payload))


def _decode_ext(code: int, data: bytes) -> Any:
    """Rebuild the value of an ext type made by :func:`_encode_ext` (the ext_hook)."""
    if code == EXT_TUPLE:
        return tuple(_unpack_nested(data))
    if code == EXT_TUPLE_COLUMN:
        return list(_unpack_nested(data, arrays_as_tuples=True))
    if code == EXT_TUPLE_GROUPS:
        return list(map(list, _unpack_nested(data, arrays_as_tuples=True)))
    if code == EXT_TUPLE_LIST_GROUPS:
        return [list(map(list, group)) for group in _unpack_nested(data, arrays_as_tuples=True)]
    if code == EXT_BIGINT:
        return int.from_bytes(data, "big", signed=True)
    if code == EXT_SET:
        return set(_unpack_nested(data))
    if code == EXT_FROZENSET:
        return frozenset(_unpack_nested(data))
    if code == EXT_PICKLE:
        return pickle.loads(data)
    raise ValueError(f"msgpack ext type {code} was not written by mapred.serde")


def int_to_bytes(n: int) -> bytes:
    """Signed big-endian bytes of ``n``, long enough for its sign bit.

    >>> int_to_bytes(255), int_to_bytes(-1), int_to_bytes(0)
    (b'\\x00\\xff', b'\\xff', b'\\x00')
    """
    return int.to_bytes(n, (int.bit_length(n) + 8) // 8, "big", signed=True)


def pickle_value(obj: object) -> bytes:
    """Pickle a key or value: plain pickle (fast), else cloudpickle (local classes)."""
    try:
        return dumps(obj)
    except TypeError as exc:
        cause = exc.__cause__ or exc
        raise TypeError(
            f"cannot send a value of type {type_name(type(obj))} through the shuffle: keys "
            "and values must be msgpack types (None, bool, int, float, str, bytes, tuple, "
            f"list, dict, set, frozenset) or picklable ({type(cause).__name__}: {cause})"
        ) from cause


def type_name(cls: type) -> str:
    """``module.qualname`` of a class, the way users read it."""
    return f"{cls.__module__}.{cls.__qualname__}"


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
            f"cannot pickle {type_name(type(obj))} ({type(exc).__name__}: {exc})"
        ) from exc


def loads(data: bytes) -> Any:
    """Unpickle bytes made by :func:`dumps`."""
    return pickle.loads(data)
