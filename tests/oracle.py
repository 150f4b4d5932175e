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
