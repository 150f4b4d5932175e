"""Unit tests for mapred.keys: stable hashing, partitioning, the total order and its fast path."""

from __future__ import annotations

import datetime
import math
import os
import random
import subprocess
import sys
import threading
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred.keys import (
    join_str_tuples,
    key_family,
    merge_natively,
    natively_ordered,
    partition_for,
    partition_indices,
    sort_keys,
    split_joined,
    split_joined_key,
    stable_hash,
    total_order_key,
)
from tests.strategies import Color, Label, Point, Tag

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------
# stable_hash


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (1, True),
        (0, -0.0),
        (0, False),
        (0.0, -0.0),
        ((1, "a"), (1.0, "a")),
        ((True, (0.0,)), (1, (0,))),
        (Label("a"), "a"),
        ((Label("a"), 1), ("a", 1)),
        (Point(1, 2), (1, 2)),
        (Color.RED, 1),
        (Fraction(1, 2), 0.5),
        (Decimal("0.5"), 0.5),
        (Decimal(3), 3),
        (Decimal("Infinity"), math.inf),
        (complex(2, 0), 2),
        (2**100, float(2**100)),
        (frozenset({1, 2}), frozenset({2.0, True})),
        (frozenset({"a", "b", "c"}), frozenset(["c", "b", "a"])),
    ],
    ids=repr,
)
def test_equal_keys_hash_equal(a: Any, b: Any) -> None:
    """Keys that are equal in Python hash equal, whatever their types."""
    assert a == b
    assert stable_hash(a) == stable_hash(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("ab", "c"), ("a", "bc")),
        ((1, "a"), ("a", 1)),
        ("1", 1),
        (b"a", "a"),
        ((1,), [1]),
        (0.5, 0.25),
        (-1, 1),
        (2**64, -(2**64)),
        (Tag("a", 1), Tag("a", 2)),
    ],
    ids=repr,
)
def test_different_keys_hash_differently(a: Any, b: Any) -> None:
    """Unequal keys that a sloppy encoding would confuse get different hashes."""
    assert stable_hash(a) != stable_hash(b)


def test_str_hash_is_crc32_of_utf8() -> None:
    """A str hashes to the CRC-32 of its UTF-8 bytes (surrogates passed through)."""
    assert stable_hash("word") == 3287381265
    assert stable_hash("\udcff") == stable_hash(Label("\udcff"))


@pytest.mark.parametrize("key", ["", "word", -(2**70), math.nan, (None,), Tag("t", 0)], ids=repr)
def test_stable_hash_is_a_non_negative_32_bit_int(key: Any) -> None:
    """stable_hash returns an int in range(2**32)."""
    value = stable_hash(key)
    assert type(value) is int
    assert 0 <= value < 2**32


HASH_KEYS_SOURCE = """[
    "word", "\\udcff", "é𝄞", ("a", 1, None), frozenset({"x", "y", "z", "w", "v", "u"}),
    (frozenset({"a", "b", "c"}), b"bytes", 2**70, -1.5), Tag("name", 2), Color.GREEN,
    frozenset({("p", 1), ("q", 2), ("r", 3)}), datetime.date(2020, 1, 2),
]"""


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_stable_hash_is_the_same_in_a_process_with_another_hash_seed(seed: str) -> None:
    """A fresh interpreter with another PYTHONHASHSEED computes the same hashes."""
    setup = "import datetime\nfrom tests.strategies import Color, Tag\n"
    code = (
        f"{setup}from mapred.keys import stable_hash\n"
        f"print([stable_hash(k) for k in {HASH_KEYS_SOURCE}])"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    namespace = {"datetime": datetime, "Color": Color, "Tag": Tag}
    local = [stable_hash(k) for k in eval(HASH_KEYS_SOURCE, namespace)]
    assert proc.stdout.strip() == str(local)


def test_stable_hash_spreads_words_over_partitions() -> None:
    """10,000 words split over 8 partitions within 10% of an even share each."""
    counts = [0] * 8
    for i in range(10_000):
        counts[stable_hash(f"word{i}") % 8] += 1
    assert min(counts) > 1125
    assert max(counts) < 1375


def test_stable_hash_of_self_referencing_object() -> None:
    """An object whose state refers to itself hashes (via pickle bytes) consistently."""
    point = Point([], None)
    point.x.append(point)
    assert stable_hash(point) == stable_hash(point)


def test_stable_hash_of_unpicklable_key_is_type_error() -> None:
    """A key that can be neither walked nor pickled is a TypeError naming its type."""

    class Opaque:
        def __reduce_ex__(self, protocol: Any) -> Any:
            raise TypeError("no reduction")

    with pytest.raises(TypeError, match="Opaque"):
        stable_hash(Opaque())


# ---------------------------------------------------------------------------------------
# Total order


def test_mixed_keys_sort_in_documented_family_order() -> None:
    """None < numbers < NaN < str < bytes < tuple < frozenset < other types."""
    keys: list[Any] = [
        Tag("t", 1),
        frozenset({1, 2}),
        (1, "a"),
        b"x",
        "b",
        math.nan,
        2,
        None,
        frozenset({1}),
        "a",
        (1,),
        -1.5,
        True,
        ("a",),
    ]
    sort_keys(keys)
    assert keys[:4] == [None, -1.5, True, 2]
    assert math.isnan(keys[4])
    assert keys[5:] == [
        "a",
        "b",
        b"x",
        (1,),
        (1, "a"),
        ("a",),
        frozenset({1}),
        frozenset({1, 2}),
        Tag("t", 1),
    ]


def test_sort_keys_ignores_input_order() -> None:
    """Shuffled copies of one mixed key set always sort to the same sequence."""
    keys: list[Any] = [
        None,
        3,
        -2.5,
        math.inf,
        "x",
        "",
        b"",
        (1, "a"),
        (1, 2),
        ("a", (None,)),
        frozenset({"a"}),
        frozenset({1, "a"}),
        Tag("a", 1),
        Tag("a", 0),
        Point(0, "z"),
        complex(0, 1),
        datetime.date(2020, 1, 1),
    ]
    rng = random.Random(7)
    orders = set()
    for _ in range(50):
        shuffled = keys.copy()
        rng.shuffle(shuffled)
        sort_keys(shuffled)
        orders.add(tuple(id(k) for k in shuffled))
    assert len(orders) == 1


@pytest.mark.parametrize(
    "keys",
    [
        [3, -1, 2.5, True, 0, -0.5, 2**70, -(2**70), Fraction(1, 3), Decimal("0.1")],
        ["b", "a", "", "ab", "\udcff", "é", "Z"],
        [b"b", b"a", b"", b"ab", b"\xff"],
        [(1, "b"), (1, "a"), (1,), (0, "z", 1), (), (2,)],
        [("a", (1, 2)), ("a", (1,)), ("b",), ("a", (0, 5))],
    ],
    ids=["numbers", "str", "bytes", "tuples", "nested tuples"],
)
def test_total_order_agrees_with_natural_order_within_a_family(keys: list[Any]) -> None:
    """For mutually comparable keys of one family, total order == sorted()."""
    assert sorted(keys, key=total_order_key) == sorted(keys)


def test_nan_sorts_after_every_number() -> None:
    """NaN, which natural sort leaves wherever it was, goes after all numbers."""
    keys: list[Any] = [2.0, math.nan, -math.inf, 1, math.inf]
    sort_keys(keys)
    assert keys[:4] == [-math.inf, 1, 2.0, math.inf]
    assert math.isnan(keys[4])


def test_frozensets_sort_by_sorted_elements_whatever_the_input_order() -> None:
    """Frozensets (only partially ordered by <) sort by their sorted elements."""
    expected = [frozenset({1}), frozenset({1, 2}), frozenset({2}), frozenset({3})]
    for order in ([3, 2, 1, 0], [0, 1, 2, 3], [2, 0, 3, 1]):
        keys = [expected[i] for i in order]
        sort_keys(keys)
        assert keys == expected


def test_other_types_sort_by_type_name_then_state() -> None:
    """Objects of other types group by type name and order deterministically within."""
    keys: list[Any] = [Tag("b", 1), datetime.date(2020, 1, 1), Tag("a", 1), complex(1, 1)]
    sort_keys(keys)
    assert keys == [complex(1, 1), datetime.date(2020, 1, 1), Tag("a", 1), Tag("b", 1)]


def test_total_order_key_of_unpicklable_other_is_type_error() -> None:
    """An object of another type that cannot be walked or pickled cannot be ordered."""
    with pytest.raises(TypeError, match="lock"):
        total_order_key(threading.Lock())


# ---------------------------------------------------------------------------------------
# The native fast path: where list.sort() gives the total order


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["b", "a"], True),
        ([("a", 1), ("b", 2.5, b"x")], True),
        ([(("a",), 1)], True),
        ([1, True, 2.5], True),
        ([None], False),
        ([1.0, math.nan], False),
        ([("a", math.nan)], False),
        ([frozenset({1})], False),
        ([Label("a")], False),
        ([Point(1, 2)], False),
        ([], True),
    ],
    ids=repr,
)
def test_natively_ordered(keys: list[Any], expected: bool) -> None:
    """Only keys whose leaves are str, bytes, int, bool or non-NaN float sort natively."""
    assert natively_ordered(keys) is expected


@pytest.mark.parametrize(
    "keys",
    [
        ["b", 1, "a", 2],
        [("a", 1), (1, "a"), ("a", "b")],
        [(1,), 1, "x"],
        [b"a", "a", 0],
    ],
    ids=repr,
)
def test_sort_keys_falls_back_when_families_meet(keys: list[Any]) -> None:
    """Keys of several families sort in the total order, whatever the input order."""
    expected = sorted(keys, key=total_order_key)
    for seed in range(5):
        shuffled = keys.copy()
        random.Random(seed).shuffle(shuffled)
        sort_keys(shuffled)
        assert shuffled == expected


@pytest.mark.parametrize(
    "keys",
    [
        [("ab",), ("a", "b"), ("a",), ("a", ""), ("", "z"), (), ("a\x01",), ("b",)],
        [("a\x00", "b"), ("a",), ("a", "\x00")],
        [("",), (), ("", ""), ("a",)],
    ],
    ids=["joined", "with the separator", "with the empty tuple"],
)
def test_tuples_of_str_sort_as_tuples(keys: list[tuple[str, ...]]) -> None:
    """The joined-string fast path for tuples of str gives the tuples' own order."""
    expected = sorted(keys)
    for seed in range(5):
        shuffled = keys.copy()
        random.Random(seed).shuffle(shuffled)
        assert sort_keys(shuffled) == "tuple:str"
        assert shuffled == expected


@given(
    st.lists(
        st.lists(st.text(alphabet="a\x00\x01\x02\U0001d11e", max_size=4), min_size=1, max_size=3),
        min_size=1,
        max_size=30,
    )
)
def test_joined_tuples_of_str_compare_and_come_back_as_the_tuples(items: list[list[str]]) -> None:
    """Joined, non-empty tuples of str (NUL, the separator's and the escape's characters
    inside) sort, group and compare as the tuples; split, they are the very tuples."""
    keys = [tuple(key) for key in items]
    joined = join_str_tuples(keys)
    assert joined is not None
    assert len(set(joined)) == len(set(keys))
    assert sorted(joined) == join_str_tuples(sorted(keys))
    back = split_joined(joined)
    assert back == keys
    assert [split_joined_key(key) for key in joined] == keys
    assert {type(key) for key in back} == {tuple}


@pytest.mark.parametrize(
    "keys",
    [
        [("a",), ()],  # the empty tuple would join as ("",) does
        [("a",), Point("a", "b")],  # a namedtuple must come back a namedtuple
        [("a",), (Label("a"),)],  # so must a str subclass
        [("a",), ("a", 1)],
        [("a",), "a"],
        [],
    ],
    ids=["empty tuple", "namedtuple", "str subclass", "int item", "str", "none"],
)
def test_keys_that_cannot_travel_joined(keys: list[Any]) -> None:
    assert join_str_tuples(keys) is None


@pytest.mark.parametrize(
    ("keys", "family"),
    [
        (["a"], "str"),
        ([b"a"], "bytes"),
        ([1, 2.5, False], "number"),
        ([("a", "b"), ("c",)], "tuple:str"),
        ([(1, 2.5)], "tuple:number"),
        ([("a", 1)], "mixed"),
        ([("a", ("b",))], "mixed"),
        (["a", ("a",)], "mixed"),
        ([math.nan], "mixed"),
        ([None], "mixed"),
        ([], ""),
    ],
    ids=repr,
)
def test_key_family(keys: list[Any], family: str) -> None:
    """Families name the key sets whose sorted streams merge natively."""
    assert key_family(keys) == family


def test_merge_natively_needs_one_family() -> None:
    assert merge_natively(["str", "", "str"])
    assert merge_natively([])
    assert not merge_natively(["str", "bytes"])
    assert not merge_natively(["mixed"])


# ---------------------------------------------------------------------------------------
# Partitioning


@pytest.mark.parametrize(
    "keys",
    [
        ["a", "b", "\udcff", "é𝄞"],
        [1, -5, 2**64, -(2**70), 0],
        [b"x", b""],
        [("a", 1), ("b", 2**70), (b"c", ("d", -1)), ()],
        [1.0, True, 2.5, None, ("a", 1.0), frozenset({1}), Label("x")],
        ["a", 1, ("a",)],
    ],
    ids=["str", "int", "bytes", "tuples", "odd", "mixed"],
)
def test_partition_indices_agree_with_partition_for(keys: list[Any]) -> None:
    """The C-level fast paths give exactly what the per-key hash gives."""
    for reducers in (1, 3, 8):
        assert partition_indices(keys, reducers) == [partition_for(k, reducers) for k in keys]


def test_equal_keys_of_other_types_share_a_partition_with_the_fast_path() -> None:
    """(1, "a") takes the fast path; (1.0, "a") and (True, "a") the canonical one."""
    fast = partition_indices([(1, "a")], 16)
    assert partition_indices([(1.0, "a")], 16) == fast
    assert partition_indices([(True, "a")], 16) == fast
    assert partition_indices([Point(1, "a")], 16) == fast
