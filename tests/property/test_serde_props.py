"""Properties of mapred.serde: exact round trips, hash/equality agreement, stable order."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mapred.serde import (
    decode,
    encode,
    make_packer,
    make_unpacker,
    sort_items,
    sort_keys,
    stable_hash,
    total_order_key,
)
from tests import strategies
from tests.strategies import Label, Point, same


@given(strategies.values(allow_nan=True))
def test_any_value_round_trips_exactly(value: Any) -> None:
    """Every SPEC 4 value, nested at any depth, decodes to the same types and values."""
    assert same(decode(encode(value)), value)


@given(st.lists(strategies.values(allow_nan=True), max_size=8), st.integers(1, 64))
def test_streams_round_trip_in_any_chunking(objs: list[Any], chunk: int) -> None:
    """A packed stream decodes to the same objects however its bytes are fed."""
    packer = make_packer()
    blob = b"".join(packer.pack(obj) for obj in objs)
    unpacker = make_unpacker()
    out: list[Any] = []
    for start in range(0, len(blob), chunk):
        unpacker.feed(blob[start : start + chunk])
        out.extend(unpacker)
    assert same(out, objs)


def equal_variant(key: Any, data: st.DataObject) -> Any:
    """A key equal to ``key`` but built from other types or in another order."""
    if isinstance(key, bool):
        return data.draw(st.sampled_from([key, int(key), float(key)]))
    if type(key) is int:
        choices: list[Any] = [key]
        if abs(key) <= 2**53:
            choices.append(float(key))
        if key in (0, 1):
            choices.append(bool(key))
        return data.draw(st.sampled_from(choices))
    if type(key) is float and math.isfinite(key) and key.is_integer():
        return data.draw(st.sampled_from([key, int(key), -key if key == 0 else key]))
    if type(key) is str:
        return data.draw(st.sampled_from([key, Label(key)]))
    if type(key) is tuple:
        items = [equal_variant(item, data) for item in key]
        if len(items) == 2 and data.draw(st.booleans()):
            return Point(*items)
        return tuple(items)
    if type(key) is frozenset:
        items = [equal_variant(item, data) for item in key]
        return frozenset(data.draw(st.permutations(items)))
    return key


@given(strategies.keys(), st.data())
def test_equal_keys_hash_equal(key: Any, data: st.DataObject) -> None:
    """stable_hash(a) == stable_hash(b) whenever a == b, across types and orders."""
    variant = equal_variant(key, data)
    assert variant == key
    assert stable_hash(variant) == stable_hash(key)


@given(strategies.keys(allow_nan=True))
def test_hash_survives_the_wire(key: Any) -> None:
    """A key hashes the same before and after an encode/decode round trip."""
    assert stable_hash(decode(encode(key))) == stable_hash(key)


@given(st.lists(strategies.keys(), unique=True, max_size=12), st.randoms(use_true_random=False))
def test_sort_keys_ignores_input_order(keys: list[Any], rng: random.Random) -> None:
    """Shuffling distinct mixed keys never changes the order sort_keys gives them."""
    first = keys.copy()
    sort_keys(first)
    shuffled = keys.copy()
    rng.shuffle(shuffled)
    sort_keys(shuffled)
    assert [id(k) for k in shuffled] == [id(k) for k in first]


@given(strategies.keys(allow_nan=True), strategies.keys(allow_nan=True))
def test_total_order_keys_always_compare(a: Any, b: Any) -> None:
    """Any two keys are comparable through total_order_key, antisymmetrically."""
    ka, kb = total_order_key(a), total_order_key(b)
    assert (ka < kb) + (kb < ka) + (ka == kb) == 1


FAMILIES = [
    st.lists(st.integers() | st.floats(allow_nan=False) | st.booleans()),
    st.lists(st.text()),
    st.lists(st.binary()),
    st.lists(st.tuples(st.integers(0, 3), st.text(max_size=2))),
    st.lists(st.lists(st.integers(0, 2), max_size=3).map(tuple)),
]


@given(st.one_of(FAMILIES))
def test_total_order_agrees_with_sorted_within_a_family(keys: list[Any]) -> None:
    """For mutually comparable keys of one family, sorting by total_order_key == sorted()."""
    assert sorted(keys, key=total_order_key) == sorted(keys)


@given(st.lists(st.tuples(strategies.keys(), st.integers()), max_size=20))
def test_sort_items_is_stable_for_equal_keys(items: list[tuple[Any, int]]) -> None:
    """sort_items keeps the values of equal keys in their input order."""
    items = [(key, i) for i, (key, _) in enumerate(items)]
    sort_items(items)
    for (k1, v1), (k2, v2) in itertools.pairwise(items):
        if k1 == k2:
            assert v1 < v2
