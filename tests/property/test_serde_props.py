"""Properties of mapred.serde and mapred.keys: exact round trips, hash/equality agreement,
stable order, and the C-level fast paths agreeing with the general ones."""

from __future__ import annotations

import heapq
import math
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mapred.keys import (
    key_family,
    merge_natively,
    partition_for,
    partition_indices,
    sort_keys,
    stable_hash,
    total_order_key,
)
from mapred.serde import (
    column,
    decode,
    encode,
    group_column,
    make_packer,
    make_unpacker,
    value_column,
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
    st.lists(st.lists(st.text(alphabet="ab\x00\x01", max_size=3), max_size=3).map(tuple)),
]


@given(st.one_of(FAMILIES))
def test_total_order_agrees_with_sorted_within_a_family(keys: list[Any]) -> None:
    """For mutually comparable keys of one family, sorting by total_order_key == sorted()."""
    assert sorted(keys, key=total_order_key) == sorted(keys)


@given(st.lists(strategies.keys(allow_nan=True), unique=True, max_size=20) | st.one_of(FAMILIES))
def test_sort_keys_gives_the_total_order(keys: list[Any]) -> None:
    """The native fast path and the fallback both give the documented total order."""
    keys = list({id(k): k for k in keys}.values())
    expected = sorted(keys, key=total_order_key)
    sort_keys(keys)
    assert [total_order_key(k) for k in keys] == [total_order_key(k) for k in expected]


@given(st.lists(st.one_of(FAMILIES), min_size=1, max_size=4))
def test_streams_of_one_family_merge_natively_in_the_total_order(runs: list[list[Any]]) -> None:
    """Where merge_natively says so, heapq.merge with < gives the total order."""
    runs = [sorted(run, key=total_order_key) for run in runs]
    if not merge_natively(key_family(run) for run in runs):
        return
    merged = list(heapq.merge(*runs))
    assert [total_order_key(k) for k in merged] == sorted(
        total_order_key(k) for run in runs for k in run
    )


@given(st.lists(strategies.keys(), max_size=20), st.integers(1, 9))
def test_partition_fast_paths_agree_with_partition_for(keys: list[Any], reducers: int) -> None:
    """However a key list is hashed, each key lands where partition_for puts it."""
    assert partition_indices(keys, reducers) == [partition_for(k, reducers) for k in keys]


@given(st.lists(st.lists(strategies.values(allow_nan=True), max_size=4), max_size=6))
def test_columns_round_trip_exactly(groups: list[list[Any]]) -> None:
    """A column or group column (tuple columns included) decodes to the same values."""
    flat = [value for group in groups for value in group]
    assert same(decode(encode(column(flat))), flat)
    assert same(decode(encode(group_column(groups))), groups)
    assert same(decode(encode(value_column(flat))), flat)
    assert same(decode(encode(value_column(groups))), groups)


@given(
    st.lists(
        st.tuples(st.text(max_size=3), st.integers() | st.floats() | st.none() | st.binary()),
        min_size=1,
        max_size=20,
    )
)
def test_flat_tuple_columns_round_trip_exactly(items: list[tuple[Any, Any]]) -> None:
    """The tuple column (one ext for many tuples) keeps every tuple and scalar type."""
    assert type(column(items)) is not list
    assert same(decode(encode(column(items))), items)
    assert same(decode(encode(group_column([items, items[:1]]))), [items, items[:1]])
