"""read_parts_sorted: the driver's merge of sorted part files, against a plain sorted merge.

Parts are written as the reduce tasks write them (each one sorted by ``sort_keys``, in
blocks) and read back merged; the oracle is a stable sort of all pairs, in part order, by
the total order. Keys are of every family, mixed families included, and may repeat
across parts (a partitioner may send equal keys of two types to two partitions).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred.keys import key_family, merge_natively, partition_for, sort_keys, total_order_key
from mapred.output import PartWriter, read_parts_sorted
from tests.strategies import keys, mixed_keys, same

WORDS = st.text(alphabet="abcé\udcff", max_size=4)
FAMILIES = {
    "str": WORDS,
    "bytes": st.binary(max_size=3),
    "number": st.integers(-5, 5) | st.floats(-5, 5) | st.booleans(),
    "tuple:str": st.lists(WORDS, max_size=3).map(tuple),
    "nested": st.tuples(st.integers(0, 2), st.tuples(WORDS, st.integers(0, 2))),
    "mixed": mixed_keys(),
    "any": keys(max_leaves=4, one_per_other_type=True),
}


def write_part(pairs: dict[Any, Any], block_keys: int) -> bytes:
    """A part as a reduce task writes it: its distinct keys sorted, in blocks."""
    ordered = list(pairs)
    sort_keys(ordered)
    writer = PartWriter(None)
    for start in range(0, len(ordered), block_keys):
        block = ordered[start : start + block_keys]
        writer.write_block(block, [pairs[key] for key in block])
    writer.close()
    assert writer.data is not None
    return writer.data


def oracle(parts: list[dict[Any, Any]]) -> list[tuple[Any, Any]]:
    """All pairs, part after part, each part in key order, then stably sorted by key."""
    pairs = []
    for part in parts:
        ordered = sorted(part, key=total_order_key)
        pairs += [(key, part[key]) for key in ordered]
    return sorted(pairs, key=lambda pair: total_order_key(pair[0]))


@st.composite
def parts_of(draw: st.DrawFn, family: str) -> list[dict[Any, Any]]:
    """1-4 parts of distinct keys each; a key may be in two parts (with another value)."""
    drawn = draw(st.lists(st.tuples(FAMILIES[family], st.integers(0, 3)), max_size=40))
    parts: list[dict[Any, Any]] = [{} for _ in range(draw(st.integers(1, 4)))]
    for index, (key, part) in enumerate(drawn):
        parts[part % len(parts)].setdefault(key, (index, part))
    return parts


@pytest.mark.parametrize("family", list(FAMILIES))
@given(data=st.data())
def test_merge_matches_a_stable_sorted_merge(family: str, data: st.DataObject) -> None:
    parts = data.draw(parts_of(family))
    block_keys = data.draw(st.integers(1, 5))
    sources: list[str | bytes] = [write_part(part, block_keys) for part in parts]
    expected = oracle(parts)
    families = [key_family(list(part)) for part in parts]
    # None: the reader decides; False: the total order; and what the driver passes.
    for natural in (None, False, merge_natively(families)):
        got = list(read_parts_sorted(sources, natural))
        assert same(got, expected), (natural, got, expected)


def test_keys_of_two_families_that_python_cannot_compare_fall_back() -> None:
    """str and int keys in two parts: the native sort raises, the total order decides."""
    sources: list[str | bytes] = [
        write_part({"b": 1, 2: 2, "a": 3}, 2),
        write_part({1: 4, "c": 5}, 1),
    ]
    for natural in (None, True):  # True: as if the parts' families had said so
        got = list(read_parts_sorted(sources, natural))
        assert got == [(1, 4), (2, 2), ("a", 3), ("b", 1), ("c", 5)]


def test_a_nan_key_takes_the_total_order() -> None:
    """NaN compares with nothing: natively it would stay where it is."""
    nan = math.nan
    sources: list[str | bytes] = [write_part({2.0: "a", nan: "n"}, 4), write_part({1: "b"}, 4)]
    got = list(read_parts_sorted(sources))
    assert [value for _, value in got] == ["b", "a", "n"]


def test_equal_keys_of_two_parts_keep_part_order() -> None:
    """1, 1.0 and True are equal: the stable merge keeps them in part order."""
    sources: list[str | bytes] = [write_part({1.0: "p0"}, 1), write_part({True: "p1", 0: "z"}, 1)]
    got = list(read_parts_sorted(sources, True))
    assert same(got, [(0, "z"), (1.0, "p0"), (True, "p1")])


def test_many_words_in_two_parts() -> None:
    """The shape of a word count: thousands of str keys, blocks of 4096, two runs."""
    words = [f"w{i * 7919 % 10007:05d}" for i in range(10007)]
    parts = [{w: i for i, w in enumerate(words) if partition_for(w, 2) == p} for p in range(2)]
    sources: list[str | bytes] = [write_part(part, 4096) for part in parts]
    got = list(read_parts_sorted(sources, True))
    assert got == oracle(parts)
    assert [key for key, _ in got] == sorted(words)


def test_a_block_with_fewer_values_than_keys_is_an_error() -> None:
    writer = PartWriter(None)
    writer.write_block(["a", "b"], [1])
    writer.close()
    assert writer.data is not None
    with pytest.raises(ValueError, match="corrupt part: 2 keys, 1 values"):
        read_parts_sorted([writer.data, writer.data])
