"""The sequential oracle and the small job functions the property tests share.

:func:`sequential` is what every engine run is compared with: the same functions in a
plain loop, one dict grouping values in input order, keys in SPEC 3's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mapred.keys import total_order_key


def sequential(mapper: Any, reducer: Any, data: Any) -> list[tuple[Any, Any]]:
    """The oracle: group in input order in one dict, reduce, sort the keys."""
    groups: dict[Any, list[Any]] = {}
    for record in data:
        for key, value in mapper(record):
            groups.setdefault(key, []).append(value)
    items = [(key, reducer(key, iter(values))) for key, values in groups.items()]
    # SPEC 3: sorted keys; the total order agrees with sorted() wherever that is defined.
    items.sort(key=lambda item: total_order_key(item[0]))
    return items


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
    keys = sorted(groups, key=total_order_key)
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
