"""Unit tests for mapred.serde: the wire format, stable hashing, total order, pickling."""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
import os
import random
import subprocess
import sys
import threading
from collections import OrderedDict, defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgpack
import pytest

from mapred import serde
from mapred.serde import (
    EXT_BIGINT,
    EXT_FROZENSET,
    EXT_PICKLE,
    EXT_SET,
    EXT_TUPLE,
    decode,
    dumps,
    dumps_function,
    encode,
    loads,
    loads_function,
    make_packer,
    make_unpacker,
    sort_items,
    sort_keys,
    stable_hash,
    total_order_key,
)
from tests.strategies import Color, Label, Point, Tag, same

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------
# Round trips

ROUND_TRIP_CASES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**64),
    -(2**63) - 1,
    2**200,
    -(2**200),
    1.5,
    math.inf,
    -math.inf,
    -0.0,
    "",
    "word",
    "\udcff",
    "a\ud800b",
    "é€𝄞",
    b"",
    b"\x00\xff",
    [],
    [1, "a", None],
    (),
    (1,),
    (True, 1, 1.0),
    ((1, 2), [3, (4,)]),
    {},
    {"a": 1},
    {1: "a", None: 2, (1, "a"): 3, frozenset({1}): 4, 2**70: 5, b"k": 6, 1.5: 7, 0: 8},
    set(),
    {1, 2},
    {(1, "a"), (2, "b")},
    frozenset({(1,), frozenset({2})}),
    [{(1, ("a", b"b")): [{3}, (frozenset({-(2**80)}),)]}],
    {(1, 2): {(3, 4): ((5,),)}},
    Point(1, "a"),
    Color.RED,
    Tag("x", 3),
    Label("word"),
    OrderedDict([("b", 1), ("a", 2)]),
    defaultdict(list, {"a": [1]}),
    datetime.datetime(2024, 2, 29, 12, 30),
    Decimal("1.25"),
    Fraction(1, 3),
    complex(1, -2),
    [Point(Color.GREEN, Label("x")), (Tag("y", 1),)],
]


@pytest.mark.parametrize("obj", ROUND_TRIP_CASES, ids=repr)
def test_round_trip_keeps_type_and_value(obj: Any) -> None:
    """Every SPEC 4 type, nested or not, decodes to the same type and value."""
    assert same(decode(encode(obj)), obj)


def test_nan_round_trips_as_float_nan() -> None:
    """NaN comes back a float NaN, alone and as a dict key."""
    out = decode(encode([math.nan, {math.nan: 1}]))
    assert isinstance(out[0], float)
    assert math.isnan(out[0])
    assert math.isnan(next(iter(out[1])))


def test_bytearray_and_memoryview_arrive_as_bytes() -> None:
    """msgpack packs buffers natively as bin, even with strict_types: they decode as bytes."""
    assert same(decode(encode([bytearray(b"ab"), memoryview(b"cd")])), [b"ab", b"cd"])


def test_tuple_dict_keys_stay_tuples_and_hashable() -> None:
    """A dict keyed by tuples decodes with tuple keys usable for lookup."""
    out = decode(encode({(1, "a"): 1, ("b", (2, 3)): 2}))
    assert out[(1, "a")] == 1
    assert out[("b", (2, 3))] == 2


def test_local_class_round_trips_via_cloudpickle() -> None:
    """An instance of a class defined inside a function travels (cloudpickle by value)."""

    @dataclasses.dataclass
    class Local:
        a: int
        b: tuple[str, ...]

    out = decode(encode({"k": (Local(1, ("x",)),)}))
    value = out["k"][0]
    assert type(value).__name__ == "Local"
    assert (value.a, value.b) == (1, ("x",))


def test_unpicklable_value_raises_type_error_naming_type() -> None:
    """A value that is neither msgpack nor picklable is a TypeError naming its type."""
    with pytest.raises(TypeError, match=r"lock.*msgpack types.*picklable") as info:
        encode([1, {"k": threading.Lock()}])
    assert info.value.__cause__ is not None


def test_native_types_pack_without_ext() -> None:
    """str, int, bytes pack as msgpack's own types (the C fast path), tuples as ext 1."""
    packer = make_packer()
    assert packer.pack("word") == b"\xa4word"
    assert packer.pack(1) == b"\x01"
    assert packer.pack(b"x") == b"\xc4\x01x"
    assert msgpack.unpackb(packer.pack((1,))) == msgpack.ExtType(EXT_TUPLE, b"\x91\x01")


@pytest.mark.parametrize(
    ("obj", "code"),
    [
        ((1, 2), EXT_TUPLE),
        ({1}, EXT_SET),
        (frozenset({1}), EXT_FROZENSET),
        (2**64, EXT_BIGINT),
        (-(2**63) - 1, EXT_BIGINT),
        (Color.RED, EXT_PICKLE),
    ],
)
def test_ext_codes(obj: Any, code: int) -> None:
    """Each non-native type is carried by its documented ext code."""
    assert msgpack.unpackb(encode(obj)).code == code


def test_unknown_ext_code_is_rejected() -> None:
    """Bytes with an ext type mapred never writes fail loudly instead of decoding."""
    with pytest.raises(ValueError, match="ext type 99"):
        decode(msgpack.packb(msgpack.ExtType(99, b"")))


def _many_objects() -> list[Any]:
    """A long stream mixing every round-trip case with a word count's pairs."""
    pairs: list[Any] = [[f"w{i}", i] for i in range(500)]
    return ROUND_TRIP_CASES * 3 + pairs + [(f"k{i}", (i, -i)) for i in range(200)]


def test_stream_round_trip_fed_in_small_chunks() -> None:
    """Objects packed one by one decode in order from an unpacker fed 7 bytes at a time."""
    objs = _many_objects()
    packer = make_packer()
    stream = io.BytesIO()
    for obj in objs:
        stream.write(packer.pack(obj))
    blob = stream.getvalue()
    unpacker = make_unpacker()
    out: list[Any] = []
    for start in range(0, len(blob), 7):
        unpacker.feed(blob[start : start + 7])
        out.extend(unpacker)
    assert same(out, objs)


def test_stream_round_trip_from_file_like() -> None:
    """An unpacker over a file object reads every packed object back."""
    objs = _many_objects()
    packer = make_packer()
    blob = b"".join(packer.pack(obj) for obj in objs)
    assert same(list(make_unpacker(io.BytesIO(blob))), objs)


def test_unpacker_takes_batches_past_msgpack_default_limit() -> None:
    """A batch larger than msgpack's default 100 MiB buffer limit still unpacks."""
    big = b"x" * (101 * 2**20)
    unpacker = make_unpacker()
    unpacker.feed(make_packer().pack([big, 1]))
    assert next(unpacker) == [big, 1]


def test_encode_from_several_threads() -> None:
    """Concurrent encode() calls of nested values never mix their packers' buffers."""
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(300):
            obj = [(n, i, (frozenset({n}), {i: (n,)}))]
            if not same(decode(encode(obj)), obj):
                errors.append(f"thread {n} item {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


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
        f"{setup}from mapred.serde import stable_hash\n"
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


def test_sort_items_natural_keys_keep_value_order() -> None:
    """Items with str keys sort by key, equal keys keeping their input order."""
    items = [("b", 1), ("a", 2), ("b", 0), ("a", 1)]
    sort_items(items)
    assert items == [("a", 2), ("a", 1), ("b", 1), ("b", 0)]


def test_sort_items_mixed_keys_keep_value_order() -> None:
    """With mixed key types the fallback sort is stable too: values stay in input order."""
    items: list[tuple[Any, Any]] = [(i % 3 if i % 2 else str(i % 3), i) for i in range(60)]
    sort_items(items)
    assert [k for k, _ in items] == [0] * 10 + [1] * 10 + [2] * 10 + ["0"] * 10 + ["1"] * 10 + [
        "2"
    ] * 10
    for key in (0, 1, 2, "0", "1", "2"):
        values = [v for k, v in items if k == key and type(k) is type(key)]
        assert values == sorted(values)


def test_total_order_key_of_unpicklable_other_is_type_error() -> None:
    """An object of another type that cannot be walked or pickled cannot be ordered."""
    with pytest.raises(TypeError, match="lock"):
        total_order_key(threading.Lock())


# ---------------------------------------------------------------------------------------
# Functions and the engine's messages


def test_dumps_function_rejects_non_callable() -> None:
    """A non-callable mapper is a TypeError saying what it got."""
    with pytest.raises(TypeError, match=r"^mapper must be callable, got int$"):
        dumps_function(3, "mapper")


def test_dumps_function_names_an_unpicklable_closure() -> None:
    """A closure over a lock is a TypeError naming the role, function and cause."""
    lock = threading.Lock()

    def guarded(key: Any, values: Any) -> Any:
        with lock:
            return sum(values)

    with pytest.raises(TypeError, match=r"reducer '.*guarded'.*cloudpickle") as info:
        dumps_function(guarded, "reducer")
    assert info.value.__cause__ is not None
    assert "lock" in str(info.value)


def test_functions_round_trip() -> None:
    """Lambdas and closures come back working."""
    offset = 10

    def add(x: int) -> int:
        return x + offset

    assert loads_function(dumps_function(add, "mapper"))(1) == 11
    assert loads_function(dumps_function(lambda k, vs: max(vs), "reducer"))("k", [1, 3]) == 3


def test_dumps_falls_back_to_cloudpickle() -> None:
    """Engine messages holding lambdas pickle through the cloudpickle fallback."""
    message = {"task": ("map", 0, 1), "fn": lambda x: x * 2}
    out = loads(dumps(message))
    assert out["task"] == ("map", 0, 1)
    assert out["fn"](4) == 8


def test_dumps_of_unpicklable_message_is_type_error() -> None:
    """A message that no pickler takes is a TypeError naming its type."""
    with pytest.raises(TypeError, match="lock"):
        dumps(threading.Lock())


def test_pickle_protocol_is_5() -> None:
    """Engine messages use pickle protocol 5 (out-of-band buffers, large bytes)."""
    assert serde.dumps(b"x")[:2] == b"\x80\x05"
