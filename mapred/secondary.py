"""Values in order: sorted values (secondary sort), and a step's origins.

A reduce task that sorts values (``sort_values``/``value_key``, or a step whose values
carry origins, see :mod:`mapred.stepmap`) sorts each key's values before a spill, so that
every run holds each key's values sorted; the final merge then merges, for each key, the
value streams of the runs (:func:`merge_runs_by_value`). Python's sort and
``heapq.merge`` are stable (for ties, earlier runs first), so equal values keep input order.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from mapred.keys import item_order, merge_natively, total_order_key
from mapred.spill import Item

ValueOrder = Callable[[Any], Any]


def value_order(
    value_key: ValueOrder | None, sort_values: bool, tagged: bool, origins_natural: bool = False
) -> ValueOrder | None:
    """The sort key of a key's values as the reduce task holds them, or None (input order).

    Tagged values are ``(origin, value)``: ordered by the user's key of the value, if any,
    then by origin (input order); ``origins_natural``: origins compare natively in the
    total order, so they sort in C.
    """
    user = value_key if value_key is not None else (_itself if sort_values else None)
    if not tagged:
        return user
    origin = untag_origin if origins_natural else _origin_order
    if user is None:
        return origin
    return lambda tagged_value: (user(tagged_value[1]), origin(tagged_value))


def _itself(value: Any) -> Any:
    return value


def _origin_order(tagged_value: tuple[Any, Any]) -> Any:
    return total_order_key(tagged_value[0])


untag = itemgetter(1)
untag_origin = itemgetter(0)


def merge_runs_by_value(
    runs: list[Iterable[Item]], families: Iterable[str], order: ValueOrder
) -> Iterator[tuple[Any, Iterator[Any]]]:
    """Merge sorted runs, each key's values sorted, into (key, values merged by ``order``).

    Each run's reader advances only while its own values of the current key are read,
    so a key with more values than memory still streams.
    """
    key_order = item_order(merge_natively(families))
    readers = [iter(run) for run in runs]
    heads: list[Item | None] = [next(reader, None) for reader in readers]

    def values_of(index: int, key: Any) -> Iterator[Any]:
        head = heads[index]
        while head is not None and head[0] == key:
            yield from head[1]
            head = heads[index] = next(readers[index], None)

    while True:
        live = [head for head in heads if head is not None]
        if not live:
            return
        key = min(live, key=key_order)[0]
        streams = [
            values_of(index, key)
            for index, head in enumerate(heads)
            if head is not None and head[0] == key
        ]
        yield key, heapq.merge(*streams, key=order)
        for stream in streams:  # what the reducer left unread
            deque(stream, maxlen=0)
