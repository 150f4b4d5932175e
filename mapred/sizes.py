"""What keys and values take in memory, estimated from a few of them.

Memory budgets (``memory_limit``) are in bytes, but counting every object's bytes would
cost a Python call per object on the hot path. A batch's keys and values are of a few
shapes, so a handful of them, evenly spaced, measured with ``sys.getsizeof`` through
their containers, gives the bytes per key and per value within tens of percent
(``tests/unit/test_memory.py`` holds the estimate against tracemalloc). The sample's
positions depend on the batch's length only, so spill decisions never depend on timing.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

SAMPLE = 16  # objects measured per batch
VALUES_SEEN = 64  # values measured per batch, spread over the sampled keys' lists
ITEMS_SEEN = 8  # items measured per container in a key or value; more are scaled up
DEPTH = 3  # containers opened, nested: deeper ones count as their own size
DICT_ENTRY = 64  # a dict entry (hash, key, value), its index slot, and the table's slack
LIST_HEADER = 56  # an empty list (a key's list of values)
SLOT = 8  # one reference in a list or tuple

_SINGLETONS = (type(None), bool)


def deep_size(obj: Any, depth: int = DEPTH) -> int:
    """The bytes of ``obj`` and what it holds (containers opened ``depth`` levels down,
    each measured from its first :data:`ITEMS_SEEN` items, scaled to all). Shared
    singletons (None, bools, small ints) count nothing.

    >>> deep_size(None), deep_size(7), deep_size("word") == sys.getsizeof("word")
    (0, 0, True)
    >>> deep_size(("ab", "cd")) == sys.getsizeof(("ab", "cd")) + 2 * sys.getsizeof("ab")
    True
    """
    kind = type(obj)
    if kind in _SINGLETONS or (kind is int and -5 <= obj <= 256):
        return 0
    size = sys.getsizeof(obj)
    if not depth:
        return size
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        items = obj
    elif kind is dict:
        items = itertools.chain.from_iterable(obj.items())
    else:
        return size
    n = len(obj) * (2 if kind is dict else 1)
    seen = list(itertools.islice(items, ITEMS_SEEN))
    if not seen:
        return size
    held = sum(deep_size(item, depth - 1) for item in seen)
    return size + held * n // len(seen)


def sample(items: list[Any], size: int = SAMPLE) -> list[Any]:
    """Up to ``size`` of ``items``, evenly spaced (the same for the same length).

    >>> sample(list(range(100)))[:4], len(sample(list(range(100))))
    ([0, 6, 12, 18], 16)
    """
    step = max(1, len(items) // size)
    return items[::step][:size]


def group_sizes(keys: list[Any], values: list[list[Any]]) -> tuple[int, int]:
    """The estimated bytes held per new key (the key, its dict entry and its list of
    values) and per value (the value and its list slot), for grouped keys and their
    lists of values.

    >>> per_key, per_value = group_sizes(["a" * 20], [[1.5]])
    >>> per_key == sys.getsizeof("a" * 20) + DICT_ENTRY + LIST_HEADER, per_value
    (True, 32)
    """
    if not keys:
        return 0, 0
    sampled = sample(keys)
    per_key = sum(map(deep_size, sampled)) // len(sampled) + DICT_ENTRY + LIST_HEADER
    lists = [key_values for key_values in sample(values) if key_values]
    if not lists:
        return per_key, SLOT
    each = max(1, VALUES_SEEN // len(lists))  # VALUES_SEEN in all: a batch costs the same
    counted = [sample(key_values, each) for key_values in lists]
    measured = sum(map(deep_size, itertools.chain.from_iterable(counted)))
    per_value = measured // sum(map(len, counted)) + SLOT
    return per_key, per_value
