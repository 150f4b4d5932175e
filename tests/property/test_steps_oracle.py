"""Multi-step jobs, emitting reducers, map-only jobs and sorted values equal a plain
sequential run of the same functions (SPEC 3 and 8), on warm local worker processes.

Each example runs real jobs and compares the whole result, order included, with
:func:`tests.oracle.sequential_steps`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapred import Engine, PairsResult, Step, pair_reducer, task_mapper
from tests.oracle import in_order, sequential_steps, total, words

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(workers=3, start_method="fork") as warm:
        yield warm


# Module-level functions: they travel by reference under every start method.


@pair_reducer
def count_then_rekey(word: str, ones: Iterator[int]) -> Iterator[tuple[Any, Any]]:
    """Emit (count, word): the next step groups words by count."""
    yield sum(ones), word


@pair_reducer
def each_value(key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    """Emit every value under a new key, keeping the old one: order shows."""
    for value in values:
        yield value % 3, (key, value)


def identity(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [pair]


def swap(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [(pair[1], pair[0])]


def by_first(record: tuple[int, int]) -> list[tuple[int, int]]:
    return [(record[0], record[1])]


def bucket_pairs(record: tuple[int, int]) -> list[tuple[int, tuple[int, int]]]:
    return [(record[0] % 2, record), (record[1] % 2, (record[1], record[0]))]


def second(value: tuple[int, int]) -> int:
    return value[1]


def by_length(pair: tuple[Any, list[Any]]) -> list[tuple[int, Any]]:
    return [(len(pair[1]), pair[0])]


lines = st.lists(st.text(alphabet="abc \n", max_size=20), max_size=40)
pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(-20, 20)), max_size=60)
shapes = st.fixed_dictionaries(
    {"reducers": st.integers(1, 4), "chunksize": st.none() | st.integers(1, 9)}
)


def as_list(result: Any) -> list[tuple[Any, Any]]:
    return list(result) if isinstance(result, PairsResult) else list(result.items())


@settings(max_examples=25, deadline=None)
@given(data=lines, shape=shapes, second_reducers=st.none() | st.integers(1, 3))
def test_two_steps_rekeyed_equal_sequential(
    engine: Engine, data: list[str], shape: dict[str, Any], second_reducers: int | None
) -> None:
    """Count words, re-key by count (emitting), then list each count's words in order."""
    steps = [
        Step(words, count_then_rekey, combiner=total),
        Step(identity, in_order, reducers=second_reducers),
    ]
    assert as_list(engine.mapreduce(steps=steps, data=data, **shape)) == sequential_steps(
        steps, data
    )


@settings(max_examples=25, deadline=None)
@given(data=pairs, shape=shapes)
def test_three_steps_keep_input_order_across_partitions(
    engine: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """Order-sensitive reducers after emitting and plain multi-partition steps."""
    steps = [
        Step(by_first, each_value),
        Step(identity, in_order),
        Step(by_length, in_order),
    ]
    assert as_list(engine.mapreduce(steps=steps, data=data, **shape)) == sequential_steps(
        steps, data
    )


@settings(max_examples=25, deadline=None)
@given(data=pairs, shape=shapes)
def test_map_only_jobs_and_steps_equal_sequential(
    engine: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """reducer=None: the mapper's pairs in input order, alone, first, last or between."""
    alone = engine.mapreduce(bucket_pairs, None, data, **shape)
    assert isinstance(alone, PairsResult)
    assert list(alone) == sequential_steps([Step(bucket_pairs)], data)
    for steps in (
        [Step(bucket_pairs), Step(identity, in_order)],
        [Step(by_first, each_value), Step(swap)],
        [Step(by_first, in_order), Step(by_length), Step(identity, in_order)],
    ):
        got = as_list(engine.mapreduce(steps=steps, data=data, **shape))
        assert got == sequential_steps(steps, data)


@settings(max_examples=25, deadline=None)
@given(data=pairs, shape=shapes)
def test_sorted_values_equal_sequential(
    engine: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """sort_values and value_key: stable sorts, in a single-step job and a later step."""
    by_value = engine.mapreduce(by_first, in_order, data, sort_values=True, **shape)
    assert list(by_value.items()) == sequential_steps(
        [Step(by_first, in_order, sort_values=True)], data
    )
    steps = [
        Step(by_first, each_value),
        Step(identity, in_order, value_key=second),
    ]
    assert as_list(engine.mapreduce(steps=steps, data=data, **shape)) == sequential_steps(
        steps, data
    )


def random_pairs(n: int) -> list[tuple[int, int]]:
    import random

    rng = random.Random(12)
    return [(rng.randrange(3), rng.randrange(1000)) for _ in range(n)]


def test_sorted_values_spill_and_merge_in_order(engine: Engine) -> None:
    """More values than the reduce tasks' memory: runs are sorted, then merged, stably."""
    data = random_pairs(150_000)
    steps = [Step(by_first, in_order, value_key=abs)]
    result = engine.mapreduce(steps=steps, data=data, reducers=2, memory_limit="2MB")
    assert result.counters["mapred"]["spilled_records"] > 0
    assert list(result.items()) == sequential_steps(steps, data)


@task_mapper
def sum_by_parity(pairs: Iterator[tuple[Any, Any]]) -> list[tuple[int, int]]:
    """A task mapper in a later step: aggregates its part, one pair per parity."""
    totals: dict[int, int] = {}
    for _, value in pairs:
        for number in value if isinstance(value, list) else [value]:
            totals[number % 2] = totals.get(number % 2, 0) + number
    return list(totals.items())


@settings(max_examples=20, deadline=None)
@given(data=pairs, shape=shapes)
def test_task_mappers_and_combiners_in_later_steps(
    engine: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """Order-insensitive reducers after a multi-partition step: a task mapper, a combiner."""
    steps = [Step(by_first, in_order), Step(sum_by_parity, total, combiner=total)]
    got = engine.mapreduce(steps=steps, data=data, **shape)
    expected: dict[int, int] = {}
    for _, value in data:
        expected[value % 2] = expected.get(value % 2, 0) + value
    assert dict(got) == expected
