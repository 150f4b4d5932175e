"""The engine equals a plain sequential run of the same functions (SPEC 3).

Every example runs a real job on warm worker processes and compares the whole
result, key order included, with :func:`sequential`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred import Engine, mapreduce
from tests import strategies
from tests.oracle import in_order, sequential, total, words

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(workers=3, start_method="fork") as warm:
        yield warm


def concat(key: Any, values: Iterator[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for part in values:
        out.extend(part)
    return out


lines = st.lists(st.text(alphabet="abcde \n", max_size=30), max_size=60)
shapes = st.fixed_dictionaries(
    {"reducers": st.integers(1, 4), "chunksize": st.none() | st.integers(1, 9)}
)


@given(data=lines, shape=shapes)
def test_word_count_equals_sequential(
    engine: Engine, data: list[str], shape: dict[str, Any]
) -> None:
    """Word count with and without a combiner equals the sequential count, key order too."""
    expected = sequential(words, total, data)
    plain = engine.mapreduce(words, total, data, **shape)
    combined = engine.mapreduce(words, total, data, combiner=total, **shape)
    assert list(plain.items()) == expected
    assert list(combined.items()) == expected


@given(data=st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=80), shape=shapes)
def test_values_arrive_in_input_order(
    engine: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """An order-sensitive reducer sees each key's values in input order, combiner or not."""

    def pair(record: tuple[int, int]) -> list[tuple[int, Any]]:
        return [record]

    def listed(record: tuple[int, int]) -> list[tuple[int, Any]]:
        return [(record[0], [record[1]])]

    assert list(engine.mapreduce(pair, in_order, data, **shape).items()) == sequential(
        pair, in_order, data
    )
    assert list(
        engine.mapreduce(listed, concat, data, combiner=concat, **shape).items()
    ) == sequential(listed, concat, data)


@given(
    data=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=60),
    shape=shapes,
)
def test_float_sums_are_exact(engine: Engine, data: list[float], shape: dict[str, Any]) -> None:
    """Float sums without a combiner add in input order: bit-for-bit the sequential sum."""

    def keyed(x: float) -> list[tuple[str, float]]:
        return [("neg" if x < 0 else "pos", x)]

    result = engine.mapreduce(keyed, total, data, **shape)
    assert list(result.items()) == sequential(keyed, total, data)
    combined = engine.mapreduce(
        keyed, lambda k, vs: math.fsum(vs), data, combiner=lambda k, vs: math.fsum(vs), **shape
    )
    for key, value in sequential(keyed, lambda k, vs: math.fsum(vs), data):
        assert combined[key] == pytest.approx(value, rel=1e-12, abs=1e-9)


@given(pairs=st.lists(st.tuples(strategies.keys(), strategies.values()), max_size=25), shape=shapes)
def test_every_type_round_trips(
    engine: Engine, pairs: list[tuple[Any, Any]], shape: dict[str, Any]
) -> None:
    """Keys and values of every SPEC 4 type come back with their type and in total order."""

    def identity(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
        return [pair]

    result = engine.mapreduce(identity, in_order, pairs, **shape)
    expected = sequential(identity, in_order, pairs)
    assert len(result) == len(expected)
    for (key, values), (want_key, want_values) in zip(result.items(), expected, strict=True):
        assert strategies.same(key, want_key)
        assert strategies.same(values, want_values)


def test_empty_input_gives_empty_result(engine: Engine) -> None:
    """No records: an empty Result with zero counters, not an error."""
    result = engine.mapreduce(words, total, [])
    assert dict(result) == {}
    assert result.counters["mapred"]["input_records"] == 0


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_string_keys_partition_stably_under(method: str) -> None:
    """str keys land in one group per key under spawn/forkserver (no hash() randomization)."""
    data = [f"w{i % 17} w{i % 5}" for i in range(300)]
    result = mapreduce(words, total, data, workers=2, reducers=3, chunksize=10, start_method=method)
    assert list(result.items()) == sequential(words, total, data)
