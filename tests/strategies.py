"""Hypothesis strategies for keys and values of every SPEC section 4 type, and ``same()``.

``values()`` draws anything a mapper may emit as a value, ``keys()`` anything hashable it
may emit as a key. Both mix the msgpack-native types with the ones that need care: tuples
(msgpack-python issue #305), sets, frozensets, ints past 64 bits, -0.0, lone surrogates,
and picklable objects of other types (a namedtuple, an IntEnum, a frozen dataclass, a str
subclass, datetimes...). The classes live here, at module level, so worker processes can
import them under every start method.

``same(a, b)`` is equality that also demands equal types all the way down, because
``1 == 1.0 == True`` and ``(1,) != [1]`` but ``{1} == frozenset({1})``.
"""

from __future__ import annotations

import datetime
import enum
import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import strategies as st


class Point(NamedTuple):
    """A namedtuple: equal to the plain tuple of its fields, but must come back a Point."""

    x: Any
    y: Any


class Color(enum.IntEnum):
    """An IntEnum: equal to its int value, but must come back a Color."""

    RED = 1
    GREEN = 2


@dataclass(frozen=True)
class Tag:
    """A frozen (hashable) dataclass, usable as a key."""

    name: str
    weight: int


class Label(str):
    """A str subclass: equal to its str, but must come back a Label."""

    __slots__ = ()


# The edges of msgpack's native int range, and well past it, both signs.
BIG_INTS = [
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    -(2**64),
    2**200,
    -(2**200),
]
SPECIAL_FLOATS = [0.0, -0.0, 0.5, 1.0, math.inf, -math.inf, 2.0**53, 1e308, 5e-324]
# Pieces of text that stress the str path: a lone surrogate (what surrogateescape makes of
# undecodable bytes), NUL, multi-byte UTF-8 and a character outside the BMP.
TEXT_PIECES = ["", "a", "b", "\udcff", "\ud800", "\x00", "é", "€", "𝄞"]


def _ints() -> st.SearchStrategy[int]:
    """Any int: small, at msgpack's 64-bit edges, or far past them."""
    return st.integers() | st.sampled_from(BIG_INTS) | st.integers(-(2**300), 2**300)


def _floats(allow_nan: bool) -> st.SearchStrategy[float]:
    """Any float, with -0.0 and the infinities often; NaN only if asked."""
    special = SPECIAL_FLOATS + ([math.nan] if allow_nan else [])
    return st.floats(allow_nan=allow_nan) | st.sampled_from(special)


def _text() -> st.SearchStrategy[str]:
    """Any str, including lone surrogates, which ``st.text()`` almost never draws."""
    return st.text(max_size=12) | st.lists(st.sampled_from(TEXT_PIECES), max_size=5).map("".join)


def _atoms(allow_nan: bool) -> st.SearchStrategy[Any]:
    """The scalar SPEC section 4 types: None, bool, int, float, str, bytes."""
    return st.one_of(
        st.none(),
        st.booleans(),
        _ints(),
        _floats(allow_nan),
        _text(),
        st.binary(max_size=12),
    )


# One object of each type in the "other" key family (no order family of its own): the
# engine orders two of one such type by a canonical encoding that tests.oracle does not
# reproduce, so oracle tests draw these and no others of their types.
ONE_OF_EACH_OTHER_TYPE = [Tag("t", 1), datetime.datetime(2020, 2, 29, 12, 30), complex(1, -2)]


def _hashable_objects(one_per_other_type: bool = False) -> st.SearchStrategy[Any]:
    """Hashable picklable objects of other types: they travel by pickle."""
    others = (
        st.sampled_from(ONE_OF_EACH_OTHER_TYPE)
        if one_per_other_type
        else st.one_of(
            st.builds(Tag, _text(), st.integers()),
            st.datetimes(),
            st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e6),
        )
    )
    return st.one_of(
        st.builds(Point, st.integers(), _text()),
        st.sampled_from(Color),
        st.builds(Label, _text()),
        st.decimals(allow_nan=False, places=3),
        st.fractions(max_denominator=100),
        others,
    )


def keys(
    *, allow_nan: bool = False, max_leaves: int = 10, one_per_other_type: bool = False
) -> st.SearchStrategy[Any]:
    """Any hashable key: scalars, objects, and tuples and frozensets of keys, nested.

    NaN is left out unless asked: a NaN key is unequal to itself, so every occurrence is
    its own key, which no dict-based oracle reproduces. ``one_per_other_type``: of the
    types without an order family (see tests.oracle), only ``ONE_OF_EACH_OTHER_TYPE``.
    """
    base = _atoms(allow_nan) | _hashable_objects(one_per_other_type)
    return st.recursive(
        base,
        lambda children: (
            st.lists(children, max_size=4).map(tuple) | st.frozensets(children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def mixed_keys() -> st.SearchStrategy[Any]:
    """Shallow keys of every order family at once, for the key-order properties.

    ``keys()`` draws deep keys, and few of them in one example: two top-level keys of
    different families (say str and bytes) rarely meet. These do, often. Other types are
    ``ONE_OF_EACH_OTHER_TYPE`` only (see tests.oracle).
    """
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.floats(-3, 3),
        st.fractions(-3, 3, max_denominator=4),
        st.decimals(-3, 3, places=1),
        st.text("ab", max_size=2),
        st.binary(max_size=2),
        st.sampled_from(ONE_OF_EACH_OTHER_TYPE),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=3).map(tuple),
        st.frozensets(scalars, max_size=3),
    )


def _other_objects(allow_nan: bool) -> st.SearchStrategy[Any]:
    """Unhashable picklable objects of other types, for values."""
    small_dicts = st.dictionaries(_text(), _ints(), max_size=4)
    return st.one_of(
        small_dicts.map(OrderedDict),
        small_dicts.map(lambda d: defaultdict(int, d)),
        st.lists(_floats(allow_nan), max_size=3).map(lambda xs: Point(xs, None)),
    )


def values(*, allow_nan: bool = False, max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any value: keys, lists, tuples, dicts (any hashable keys), sets and frozensets, nested.

    NaN is left out unless asked, since ``nan != nan`` defeats ``==`` in oracles; ``same()``
    treats NaN as equal to NaN.
    """
    hashable = keys(allow_nan=allow_nan, max_leaves=4)
    base = _atoms(allow_nan) | _hashable_objects() | _other_objects(allow_nan)
    return st.recursive(
        base,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(hashable, children, max_size=4),
            st.sets(hashable, max_size=4),
            st.frozensets(hashable, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are equal with equal types all the way down.

    NaN is the same as NaN; -0.0 is not the same as 0.0. Sets and dicts are matched
    element by element, whatever their iteration order; OrderedDicts in order.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (set, frozenset)):
        return len(a) == len(b) and _match(list(a), list(b))
    if isinstance(a, dict):
        if isinstance(a, defaultdict) and a.default_factory is not b.default_factory:
            return False
        if isinstance(a, OrderedDict):
            return same(list(a.items()), list(b.items()))
        return len(a) == len(b) and _match(list(a.items()), list(b.items()))
    return bool(a == b)


def _match(xs: list[Any], ys: list[Any]) -> bool:
    """Whether each of ``xs`` is ``same`` as a distinct one of ``ys`` (an equivalence)."""
    unused = list(ys)
    for x in xs:
        for i, y in enumerate(unused):
            if same(x, y):
                del unused[i]
                break
        else:
            return False
    return not unused
