"""The engine equals a plain sequential run of the same functions (SPEC 3), on every backend.

Every example runs real jobs on the ``backend`` fixture's warm engines (serial, local
processes, a Dask cluster) and compares the whole result, key order and exact types
included, with :func:`tests.oracle.sequential`, which orders keys by its own reading of
the documentation. Each example draws the job's shape: workers (1-3), reducers, records
per map task, and a memory limit down to the per-task floor, with data large enough
(long values) to spill.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred import mapreduce
from mapred.launch import MIN_MEMORY_LIMIT
from tests import strategies
from tests.oracle import concat, in_order, key_order, sequential, total, words
from tests.property.conftest import Backend

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    # Hypothesis warns when the global `random` state changes while it draws an example:
    # on the dask backend, the client's and scheduler's threads do (jittered callbacks).
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

FLOOR = f"{MIN_MEMORY_LIMIT}B"  # the smallest per-task budget: spills soonest
PAD = 2_000  # characters of a padded value: ~1200 of them fill several 1 MiB budgets
SPILL_RECORDS = 2_400  # the spill property: 4.8 MB, over 1 MiB in the largest of 3 partitions

shapes = st.fixed_dictionaries(
    {
        "workers": st.integers(1, 3),
        "reducers": st.integers(1, 4),
        "chunksize": st.none() | st.integers(1, 9),
        "memory_limit": st.sampled_from([None, FLOOR, "3MiB"]),
    }
)
lines = st.lists(st.text(alphabet="abcde \n", max_size=30), max_size=60)


def identity(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [pair]


def listed(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [(pair[0], [pair[1]])]


def fsum(key: Any, values: Any) -> float:
    return math.fsum(values)


def assert_same_items(result: Any, expected: list[tuple[Any, Any]]) -> None:
    """Keys and values equal with equal types all the way down, in the same order."""
    got = list(result.items())
    assert len(got) == len(expected), (got, expected)
    for (key, value), (want_key, want_value) in zip(got, expected, strict=True):
        assert strategies.same(key, want_key), (key, want_key)
        assert strategies.same(value, want_value), (key, value, want_value)


def test_word_count_equals_sequential(backend: Backend) -> None:
    """Word count with and without a combiner equals the sequential count, key order too,
    and its counters are the serial backend's (a default memory limit: no spill)."""

    @backend.settings()
    @given(data=lines, shape=shapes)
    def check(data: list[str], shape: dict[str, Any]) -> None:
        expected = sequential(words, total, data)
        for combiner in (None, total):
            result = backend.mapreduce(words, total, data, combiner=combiner, **shape)
            assert list(result.items()) == expected
            if shape["memory_limit"] is None:
                reference = mapreduce(
                    words, total, data, combiner=combiner, backend="serial", **shape
                )
                assert result.counters == reference.counters

    check()


def test_values_arrive_in_input_order(backend: Backend) -> None:
    """An order-sensitive reducer sees each key's values in input order, combiner or not,
    spilled or not: values may be long, and copies of the input many."""

    @backend.settings(share=0.5)
    @given(
        data=st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=80),
        copies=st.integers(1, 15),
        pad=st.sampled_from([0, PAD]),
        shape=shapes,
    )
    def check(data: list[tuple[int, int]], copies: int, pad: int, shape: dict[str, Any]) -> None:
        records = [(k, (n, copy, "p" * pad)) for copy in range(copies) for k, n in data]
        result = backend.mapreduce(identity, in_order, records, **shape)
        assert_same_items(result, sequential(identity, in_order, records))
        combined = backend.mapreduce(listed, concat, records, combiner=concat, **shape)
        assert_same_items(combined, sequential(listed, concat, records))

    check()


def test_spilled_jobs_equal_sequential(backend: Backend) -> None:
    """At the per-task floor, 4.8 MB of values spill in every shape (spilled_records > 0),
    and keys of every type still come back merged from the runs in the oracle's order."""

    @backend.settings(share=0.3)
    @given(
        keys=st.lists(strategies.mixed_keys(), min_size=1, max_size=30),
        shape=shapes,
        chunksize=st.integers(20, 400),
    )
    def check(keys: list[Any], shape: dict[str, Any], chunksize: int) -> None:
        records = [(keys[i % len(keys)], (i, "s" * PAD)) for i in range(SPILL_RECORDS)]
        shape = {**shape, "chunksize": chunksize, "memory_limit": FLOOR}
        result = backend.mapreduce(identity, in_order, records, **shape)
        assert result.counters["mapred"]["spilled_records"] > 0
        assert_same_items(result, sequential(identity, in_order, records))

    check()


# Tuples of str travel joined by NUL into one str when all of a map task's keys allow it;
# these draw tuples that do not (NUL inside, the empty tuple) and str keys spelled like
# a joined tuple, so that tasks of both kinds meet in one reduce task.
STR_TUPLE_KEYS = st.one_of(
    st.lists(st.sampled_from(["a", "b", "", "é", "\x00", "a\x00b"]), max_size=3).map(tuple),
    st.sampled_from(["a\x00b", "a", "", "\x00"]),
)


def test_tuples_of_str_equal_sequential_joined_or_not(backend: Backend) -> None:
    """Tuples of str, which the shuffle carries joined into one str where it can, come
    back grouped, ordered and typed as the oracle's, whether or not their map task could
    join them (and it changes within a reduce task, before or after a spill), with and
    without a combiner."""

    @backend.settings(share=0.5)
    @given(
        keys=st.lists(STR_TUPLE_KEYS, min_size=1, max_size=20),
        shape=shapes,
        chunksize=st.integers(1, 400),
        spill=st.booleans(),
    )
    def check(keys: list[Any], shape: dict[str, Any], chunksize: int, spill: bool) -> None:
        n = SPILL_RECORDS if spill else 300
        pad = "s" * (PAD if spill else 1)
        # Each key's records in a row: the first map tasks see only the first keys.
        records = [(keys[i * len(keys) // n], (i, pad)) for i in range(n)]
        shape = {**shape, "chunksize": chunksize}
        if spill:
            shape["memory_limit"] = FLOOR
        result = backend.mapreduce(identity, in_order, records, **shape)
        if spill:
            assert result.counters["mapred"]["spilled_records"] > 0
        assert_same_items(result, sequential(identity, in_order, records))
        combined = backend.mapreduce(listed, concat, records, combiner=concat, **shape)
        assert_same_items(combined, sequential(listed, concat, records))

    check()


def test_keys_of_every_family_come_back_in_order(backend: Backend) -> None:
    """Keys of all families together: the documented total order (or Python's, for a
    chain), whatever the partitions; equal keys (1, 1.0, True) are one key."""

    @backend.settings()
    @given(keys=st.lists(strategies.mixed_keys(), min_size=2, max_size=40), shape=shapes)
    def check(keys: list[Any], shape: dict[str, Any]) -> None:
        pairs = [(key, n) for n, key in enumerate(keys)]
        result = backend.mapreduce(identity, in_order, pairs, **shape)
        assert_same_items(result, sequential(identity, in_order, pairs))

    check()


def test_float_sums_are_exact(backend: Backend) -> None:
    """Float sums without a combiner add in input order: bit-for-bit the sequential sum."""

    @backend.settings(share=0.5)
    @given(
        data=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=60),
        shape=shapes,
    )
    def check(data: list[float], shape: dict[str, Any]) -> None:
        def keyed(x: float) -> list[tuple[str, float]]:
            return [("neg" if x < 0 else "pos", x)]

        assert_same_items(
            backend.mapreduce(keyed, total, data, **shape), sequential(keyed, total, data)
        )
        combined = backend.mapreduce(keyed, fsum, data, combiner=fsum, **shape)
        for key, value in sequential(keyed, fsum, data):
            assert combined[key] == pytest.approx(value, rel=1e-12, abs=1e-9)

    check()


def test_every_type_round_trips(backend: Backend) -> None:
    """Keys and values of every SPEC 4 type come back with their type, in the oracle's order."""

    @backend.settings(share=0.5)
    @given(
        pairs=st.lists(
            st.tuples(strategies.keys(one_per_other_type=True), strategies.values()),
            max_size=25,
        ),
        shape=shapes,
    )
    def check(pairs: list[tuple[Any, Any]], shape: dict[str, Any]) -> None:
        result = backend.mapreduce(identity, in_order, pairs, **shape)
        assert_same_items(result, sequential(identity, in_order, pairs))

    check()


def test_empty_input_gives_empty_result(backend: Backend) -> None:
    """No records: an empty Result with zero counters, not an error."""
    result = backend.mapreduce(words, total, [], workers=2)
    assert dict(result) == {}
    assert result.counters["mapred"]["input_records"] == 0


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_string_keys_partition_stably_under(method: str) -> None:
    """str keys land in one group per key under spawn/forkserver (no hash() randomization)."""
    data = [f"w{i % 17} w{i % 5}" for i in range(300)]
    result = mapreduce(words, total, data, workers=2, reducers=3, chunksize=10, start_method=method)
    assert list(result.items()) == sequential(words, total, data)


# -- the oracle's own order, against the documentation's examples ---------------------------


def test_the_oracle_orders_keys_as_documented() -> None:
    """docs/determinism.md and the total_order_key docstring, by the oracle alone."""
    mixed = [b"b", "a", (1, "x"), 2.5, None, frozenset({3}), True, (1,)]
    assert key_order(mixed) == [None, True, 2.5, "a", b"b", (1,), (1, "x"), frozenset({3})]
    assert key_order([3, "b", None, (1, 2), "a", 1.5]) == [None, 1.5, 3, "a", "b", (1, 2)]
    nan = float("nan")
    assert key_order([nan, 1, -math.inf])[:2] == [-math.inf, 1]
    # Not a chain of subsets: sorted elements, then length; {1, 2} before {2}.
    assert key_order([frozenset({2}), frozenset({1, 2}), frozenset({3})]) == [
        frozenset({1, 2}),
        frozenset({2}),
        frozenset({3}),
    ]
    # A chain that Python sorts keeps Python's order (subsets first).
    assert key_order([frozenset({1, 2}), frozenset({2})]) == [frozenset({2}), frozenset({1, 2})]
