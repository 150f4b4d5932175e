"""Key order (SPEC 3): keys come out sorted, in one total order over keys of any types.

Where Python's own order is total over the keys, that is the order; elsewhere it is the
documented total order of :func:`total_order_key`. The common keys (``str``, ``bytes``,
``int``, non-NaN ``float``, and tuples of these at any depth) are sorted by ``list.sort()``
in C: :func:`natively_ordered` checks that cheaply, and for such keys the two orders are
the same (a comparison across families, such as ``"a" < 1``, raises ``TypeError`` rather
than answer, and the callers then fall back to the total order). Everything else pays a
Python call per key. :func:`key_family` and :func:`merge_natively` say when sorted streams
may be merged with Python's own comparisons.

This module owns every decision about order: sorting, the sort keys of items, families.
It borrows two things from :mod:`mapred.keys.hashing`: the canonical bytes, by which keys
of no known family order, and :func:`~mapred.keys.hashing.leaf_types`, the C-level walk
of what keys hold.

Imported by workers: stdlib only (and :mod:`mapred.keys.hashing`, :mod:`mapred.serde`).
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from functools import partial
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import Any

from mapred.keys.hashing import canonical_bytes, leaf_types
from mapred.serde import type_name

# Leaf types whose natural order is the total order's (across families, `<` raises).
_NATIVE_ORDER = frozenset({str, bytes, int, bool, float})
_NOT_COMPARABLE = (TypeError, ArithmeticError)  # decimal NaN raises InvalidOperation on <


def natively_ordered(keys: list[Any]) -> bool:
    """Whether ``list.sort()`` may order these keys: if it does not raise, its order is
    the total order (see the module docstring).

    >>> natively_ordered([("a", 1), ("b", 2.5)]), natively_ordered([None, 1])
    (True, False)
    """
    return _describe(keys)[0]


# ---------------------------------------------------------------------------------------
# Order


def sort_keys(keys: list[Any]) -> str:
    """Sort distinct keys in place: natively where that gives the total order, else by
    :func:`total_order_key`. Returns their :func:`key_family`, found on the way.

    >>> keys = [3, "b", None, (1, 2), "a", 1.5]
    >>> sort_keys(keys)
    'mixed'
    >>> keys
    [None, 1.5, 3, 'a', 'b', (1, 2)]
    """
    native, family = _describe(keys)
    if family == "tuple:str" and (joined := join_str_tuples(keys)) is not None:
        _sort_along(keys, joined)  # as strings: a tuple comparison costs 4x more
        return family
    if native:
        snapshot = keys.copy()  # a sort that raised leaves the list permuted
        try:
            keys.sort()
            return family
        except _NOT_COMPARABLE:
            keys[:] = snapshot
    keys.sort(key=total_order_key)
    return family


def sort_columns(keys: list[Any], values: list[Any], natural: bool) -> None:
    """Sort ``keys`` in place, in key order, and ``values`` along with them: for sorted
    runs of keys one after another (parts), a merge in C.

    ``natural``: the keys compare natively (:func:`merge_natively`); if two families meet
    after all, the total order is used. Tuples of str are compared as joined strings
    (:func:`join_str_tuples`): a tuple comparison costs several times a string's.

    >>> keys, values = ["b", "d", "a", "c"], [2, 4, 1, 3]
    >>> sort_columns(keys, values, natural=True)
    >>> keys, values
    (['a', 'b', 'c', 'd'], [1, 2, 3, 4])
    """
    if natural:
        order = join_str_tuples(keys) or keys
        snapshot = values.copy()  # a sort that raises leaves its list permuted
        try:
            _sort_along(values, order)
        except _NOT_COMPARABLE:  # two families met after all
            values[:] = snapshot
        else:
            if order is keys:
                keys.sort()
            else:
                _sort_along(keys, order)
            return
    order = list(map(total_order_key, keys))
    _sort_along(values, order)
    _sort_along(keys, order)


def _sort_along(column: list[Any], sort_keys: list[Any]) -> None:
    """Sort ``column`` in place by ``sort_keys`` (one per item, in the column's order).

    ``list.sort(key=...)`` computes its sort keys once, item by item from the first (here
    ``next(sort_keys_iterator, item)``: C-level, the item is only its default), and the
    sort is stable: every column sorted along the same sort keys gets the same
    permutation. ``sort_keys`` must not be ``column`` itself (a list being sorted looks
    empty).
    """
    column.sort(key=partial(next, iter(sort_keys)))


# Tuples of str travel the shuffle as one str each: their items joined by _JOIN, a NUL in
# an item escaped as _ESCAPED_NUL (rare: checked per batch). The joined strings compare
# as the tuples do: a shorter item ends at _JOIN, or at the end, where a longer one goes
# on with a character above NUL or an escaped NUL, above _JOIN; a NUL below another
# character stays below it escaped. Only () and ("",) would join alike.
_NUL = "\x00"
_JOIN = "\x00\x01"
_ESCAPED_NUL = "\x00\x02"


def join_str_tuples(keys: list[Any]) -> list[str] | None:
    """The keys as strings that compare, sort and group exactly as they do, if they are
    all non-empty tuples of ``str`` (:func:`split_joined` undoes it); else None.

    A tuple key costs more than a ``str`` at every stage of the shuffle (decoding,
    hashing, comparing, memory), so the shuffle carries such keys joined.

    >>> join_str_tuples([("a", "b"), ("a",)]), join_str_tuples([("a", 1)]), join_str_tuples([()])
    (['a\\x00\\x01b', 'a'], None, None)
    >>> split_joined(join_str_tuples([("a", "b\\x00"), ("",), ("", "")]))
    [('a', 'b\\x00'), ('',), ('', '')]
    """
    if not keys or set(map(type, keys)) != {tuple} or min(map(len, keys)) == 0:
        return None
    if set(map(type, chain.from_iterable(keys))) != {str}:
        return None
    joined = list(map(_JOIN.join, keys))
    if "".join(joined).count(_NUL) != sum(map(len, keys)) - len(keys):  # an item holds NUL
        separators = map(operator.sub, map(len, keys), repeat(1))
        odd = map(operator.ne, map(str.count, joined, repeat(_NUL)), separators)
        for i in compress(range(len(keys)), odd):  # only those keys: C-level passes to find them
            joined[i] = _JOIN.join([item.replace(_NUL, _ESCAPED_NUL) for item in keys[i]])
    return joined


def split_joined(keys: list[str]) -> list[tuple[str, ...]]:
    """The tuples that :func:`join_str_tuples` joined."""
    tuples = list(map(tuple, map(str.split, keys, repeat(_JOIN))))
    if _ESCAPED_NUL in "\x01".join(keys):  # a key holds an escaped NUL (no false match)
        for i in compress(range(len(keys)), map(str.__contains__, keys, repeat(_ESCAPED_NUL))):
            tuples[i] = split_joined_key(keys[i])
    return tuples


def split_joined_key(key: str) -> tuple[str, ...]:
    """The tuple that :func:`join_str_tuples` joined into ``key``."""
    items = key.split(_JOIN)
    if _ESCAPED_NUL in key:
        return tuple([item.replace(_ESCAPED_NUL, _NUL) for item in items])
    return tuple(items)


def item_order(natural: bool) -> Callable[[tuple[Any, Any]], Any]:
    """The sort key of ``(key, ...)`` items: the key itself, or its total order key."""
    if natural:
        return _FIRST
    return _total_order_first


_FIRST = itemgetter(0)


def _total_order_first(item: tuple[Any, Any]) -> tuple[Any, ...]:
    return total_order_key(item[0])


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
    return (_RANK_OTHER, type_name(type(key)), canonical_bytes(key))


def _is_ordered_number(x: object) -> bool:
    """Real numbers, and Decimal (a Number but, for mixing reasons, not a Real)."""
    return isinstance(x, numbers.Real) or (
        isinstance(x, numbers.Number) and not isinstance(x, numbers.Complex)
    )


# ---------------------------------------------------------------------------------------
# Families: when sorted streams may be merged with Python's own comparisons


def key_family(keys: list[Any]) -> str:
    """Name the keys' family, for merging sorted streams of them: ``"str"``, ``"bytes"``,
    ``"number"``, ``"tuple:<family>"`` (flat tuples whose items are all of one family),
    ``""`` (no keys) or ``"mixed"`` (anything else).

    Streams of one family (:func:`merge_natively`) never meet a comparison that raises or
    that disagrees with the total order, so a merge may compare them natively: unlike a
    sort, a merge that has begun to stream cannot start again in the total order.

    >>> key_family(["a", "b"]), key_family([1, 2.5, True]), key_family([("a", "b")])
    ('str', 'number', 'tuple:str')
    >>> key_family([("a", 1)]), key_family([1, "a"]), key_family([])
    ('mixed', 'mixed', '')
    """
    return _describe(keys)[1]


def _describe(keys: list[Any]) -> tuple[bool, str]:
    """:func:`natively_ordered` and :func:`key_family` of the keys, with one walk."""
    if not keys:
        return True, ""
    leaves, nan = leaf_types(keys)
    native = not nan and leaves <= _NATIVE_ORDER
    family = _family_of(leaves) if native else None
    if family is None:
        return native, "mixed"
    tops = set(map(type, keys))
    if tops == {tuple}:
        if tuple in set(map(type, chain.from_iterable(keys))):
            return native, "mixed"  # nested tuples: a tuple and a scalar may meet at one place
        return native, "tuple:" + family
    return native, "mixed" if tuple in tops else family


def merge_natively(families: Any) -> bool:
    """Whether sorted streams of these families merge with Python's own comparisons.

    >>> merge_natively(["str", "", "str"]), merge_natively(["str", "number"])
    (True, False)
    """
    named = set(families) - {""}
    return len(named) <= 1 and "mixed" not in named


def _family_of(leaves: set[type]) -> str | None:
    if leaves == {str}:
        return "str"
    if leaves == {bytes}:
        return "bytes"
    if leaves and leaves <= {int, bool, float}:
        return "number"
    return None
