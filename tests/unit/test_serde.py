"""Unit tests for mapred.serde: the wire format, tuple columns, pickling."""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
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


def test_an_unpicklable_value_says_what_the_shuffle_takes() -> None:
    """A value that neither msgpack nor (cloud)pickle takes is a TypeError naming its
    type, what the shuffle takes, and why pickling failed."""
    import threading

    from mapred.serde import pickle_value

    with pytest.raises(TypeError) as info:
        pickle_value(threading.Lock())
    message = str(info.value)
    assert "_thread.lock" in message
    assert "through the shuffle" in message
    assert "cannot pickle" in message  # the reason, from the pickler
