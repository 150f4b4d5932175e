"""The sequential oracle, its own key order, and the small job functions tests share.

:func:`sequential` is what every engine run is compared with: the same functions in a
plain loop, one dict grouping values in input order, keys in SPEC 3's order.

That order is written here from its documentation (docs/determinism.md), not imported from
the code under test, so a bug in the engine's order cannot hide in the oracle too:

- keys that Python can sort into a chain (``sorted()`` succeeds and every neighbour is
  ``<=`` the next) come back in ``sorted()`` order;
- otherwise the total order: families ``None < numbers < str < bytes < tuple < frozenset <
  other``; numbers by value with NaN after every number (NaNs by repr); str and bytes by
  value; tuples element by element, a prefix first; frozensets by their sorted elements,
  then length; other types by ``module.qualname``. Within one "other" type the engine orders
  by a canonical encoding this oracle does not reproduce: it refuses two distinct keys of one
  such type, and the strategies draw at most one (``tests.strategies.keys(one_per_other_type)``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

# -- job functions shared by many test files ---------------------------------------------------


def words(line: str) -> Iterator[tuple[str, int]]:
    """Mapper: (word, 1) for each whitespace-separated word."""
    for word in line.split():
        yield word, 1


def total(key: Any, values: Iterator[Any]) -> Any:
    """Reducer and combiner: the sum."""
    return sum(values)


def in_order(key: Any, values: Iterator[Any]) -> list[Any]:
    """Reducer that shows the order values arrived in."""
    return list(values)


def concat(key: Any, values: Iterator[list[Any]]) -> list[Any]:
    """Reducer and combiner over lists: their concatenation, in order."""
    out: list[Any] = []
    for part in values:
        out.extend(part)
    return out


# -- the oracle --------------------------------------------------------------------------------


def sequential(mapper: Any, reducer: Any, data: Any) -> list[tuple[Any, Any]]:
    """The oracle: group in input order in one dict, reduce, sort the keys."""
    groups: dict[Any, list[Any]] = {}
    for record in data:
        for key, value in mapper(record):
            groups.setdefault(key, []).append(value)
    return [(key, reducer(key, iter(groups[key]))) for key in key_order(list(groups))]


def key_order(keys: list[Any]) -> list[Any]:
    """``keys`` (distinct) in SPEC 3's order: Python's where it is a chain, else the total."""
    try:
        natural = sorted(keys)
    except TypeError:
        pass
    else:
        if all(a <= b for a, b in itertools.pairwise(natural)):
            return natural
    return sorted(keys, key=functools.cmp_to_key(compare))


FAMILIES = ["none", "number", "str", "bytes", "tuple", "frozenset", "other"]


def family(key: Any) -> str:
    """The family of ``key`` in the total order (subclasses go with their base)."""
    if key is None:
        return "none"
    if isinstance(key, (bool, int, float, Fraction, Decimal)):
        return "number"
    for kind in (str, bytes, tuple, frozenset):
        if isinstance(key, kind):
            return kind.__name__
    return "other"


def _sign(less: bool, greater: bool) -> int:
    return -1 if less else 1 if greater else 0


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1: how ``a`` and ``b`` compare in the documented total order."""
    fa, fb = family(a), family(b)
    if fa != fb:
        return -1 if FAMILIES.index(fa) < FAMILIES.index(fb) else 1
    if fa == "none":
        return 0
    if fa == "number":
        nan_a = isinstance(a, (float, Decimal)) and math.isnan(a)
        nan_b = isinstance(b, (float, Decimal)) and math.isnan(b)
        if nan_a or nan_b:
            if nan_a and nan_b:
                return _sign(repr(a) < repr(b), repr(a) > repr(b))
            return 1 if nan_a else -1
        return _sign(a < b, a > b)
    if fa in ("str", "bytes"):
        return _sign(a < b, a > b)
    if fa == "tuple":
        return _compare_sequences(list(a), list(b))
    if fa == "frozenset":
        return _compare_sequences(
            sorted(a, key=functools.cmp_to_key(compare)),
            sorted(b, key=functools.cmp_to_key(compare)),
        )
    name_a = f"{type(a).__module__}.{type(a).__qualname__}"
    name_b = f"{type(b).__module__}.{type(b).__qualname__}"
    if name_a != name_b:
        return _sign(name_a < name_b, name_a > name_b)
    if a == b:
        return 0
    raise AssertionError(f"the oracle cannot order two distinct {name_a} keys: {a!r}, {b!r}")


def _compare_sequences(a: list[Any], b: list[Any]) -> int:
    """Element by element; a prefix comes first."""
    for x, y in zip(a, b, strict=False):  # a prefix is shorter
        order = compare(x, y)
        if order:
            return order
    return _sign(len(a) < len(b), len(a) > len(b))


# ---------------------------------------------------------------------------------------
# Multi-step jobs, emitting reducers, map-only jobs, sorted values (issue 12)


def sequential_step(step: Any, records: list[Any]) -> list[tuple[Any, Any]]:
    """One step in a plain loop: the oracle of a Step (SPEC 8).

    Map-only: the mapper's pairs in input order. Otherwise group in input order, sort
    each key's values if asked (stable), reduce the keys in SPEC 3's order; an emitting
    reducer's pairs come key by key, in the order it yielded them.
    """
    from mapred.job import emits_pairs

    if step.reducer is None:
        return [pair for record in records for pair in step.mapper(record)]
    groups: dict[Any, list[Any]] = {}
    for record in records:
        for key, value in step.mapper(record):
            groups.setdefault(key, []).append(value)
    value_key = step.value_key or ((lambda v: v) if step.sort_values else None)
    keys = key_order(list(groups))
    out: list[tuple[Any, Any]] = []
    for key in keys:
        values = groups[key]
        if value_key is not None:
            values = sorted(values, key=value_key)
        if emits_pairs(step.reducer):
            out.extend((k, v) for k, v in step.reducer(key, iter(values)))
        else:
            out.append((key, step.reducer(key, iter(values))))
    return out


def sequential_steps(steps: list[Any], data: Any) -> list[tuple[Any, Any]]:
    """A multi-step job in a plain loop: each step's output is the next step's records."""
    records = list(data)
    for step in steps:
        records = sequential_step(step, records)
    return records
