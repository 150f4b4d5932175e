"""Multi-step jobs, emitting reducers, map-only jobs and sorted values equal a plain
sequential run of the same functions (SPEC 3 and 8), on every backend.

Every example runs real jobs on the ``backend`` fixture's warm engines (serial, local
processes, a Dask cluster) and compares the whole result, order included, with
:func:`tests.oracle.sequential_steps`. Each example draws the job's shape (workers,
reducers, records per map task, memory limit down to the per-task floor), so later steps
read the parts of one or several partitions.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred import PairsResult, Step, pair_reducer, task_mapper
from mapred.launch import MIN_MEMORY_LIMIT
from tests import strategies
from tests.oracle import in_order, sequential_steps, total, words
from tests.property.conftest import Backend

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

FLOOR = f"{MIN_MEMORY_LIMIT}B"

# Module-level functions: they travel by reference under every start method and to Dask.


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


def by_length(pair: tuple[Any, list[Any]]) -> list[tuple[int, Any]]:
    return [(len(pair[1]), pair[0])]


def second(value: tuple[int, int]) -> int:
    return value[1]


@task_mapper
def sum_by_parity(pairs: Iterator[tuple[Any, Any]]) -> list[tuple[int, int]]:
    """A task mapper in a later step: aggregates its part, one pair per parity."""
    totals: dict[int, int] = {}
    for _, value in pairs:
        for number in value if isinstance(value, list) else [value]:
            totals[number % 2] = totals.get(number % 2, 0) + number
    return list(totals.items())


@pair_reducer
def keys_of_values(key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    """Emit the key once per value, under the value's parity: origins of every family."""
    for value in values:
        yield value % 2, key


def by_count(pair: tuple[Any, list[Any]]) -> list[tuple[int, Any]]:
    return [(len(pair[1]) % 2, pair[0])]


def as_list(result: Any) -> list[tuple[Any, Any]]:
    return list(result) if isinstance(result, PairsResult) else list(result.items())


def run(backend: Backend, steps: list[Step], data: Any, shape: dict[str, Any]) -> Any:
    options = dict(shape)
    return backend.engines[options.pop("workers")].mapreduce(steps=steps, data=data, **options)


lines = st.lists(st.text(alphabet="abc \n", max_size=20), max_size=40)
pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(-20, 20)), max_size=60)
shapes = st.fixed_dictionaries(
    {
        "workers": st.integers(1, 3),
        "reducers": st.integers(1, 4),
        "chunksize": st.none() | st.integers(1, 9),
        "memory_limit": st.sampled_from([None, FLOOR]),
    }
)


def test_two_steps_rekeyed_equal_sequential(backend: Backend) -> None:
    """Count words, re-key by count (emitting), then list each count's words in order."""

    @backend.settings(share=0.5)
    @given(data=lines, shape=shapes, second_reducers=st.none() | st.integers(1, 3))
    def check(data: list[str], shape: dict[str, Any], second_reducers: int | None) -> None:
        steps = [
            Step(words, count_then_rekey, combiner=total),
            Step(identity, in_order, reducers=second_reducers),
        ]
        assert as_list(run(backend, steps, data, shape)) == sequential_steps(steps, data)

    check()


def test_three_steps_keep_input_order_across_partitions(backend: Backend) -> None:
    """Order-sensitive reducers after emitting and plain multi-partition steps."""

    @backend.settings(share=0.5)
    @given(data=pairs, shape=shapes)
    def check(data: list[tuple[int, int]], shape: dict[str, Any]) -> None:
        steps = [Step(by_first, each_value), Step(identity, in_order), Step(by_length, in_order)]
        assert as_list(run(backend, steps, data, shape)) == sequential_steps(steps, data)

    check()


def test_map_only_jobs_and_steps_equal_sequential(backend: Backend) -> None:
    """reducer=None: the mapper's pairs in input order, alone, first, last or between."""

    @backend.settings(share=0.5)
    @given(data=pairs, shape=shapes)
    def check(data: list[tuple[int, int]], shape: dict[str, Any]) -> None:
        options = dict(shape)
        alone = backend.mapreduce(bucket_pairs, None, data, **options)
        assert isinstance(alone, PairsResult)
        assert list(alone) == sequential_steps([Step(bucket_pairs)], data)
        for steps in (
            [Step(bucket_pairs), Step(identity, in_order)],
            [Step(by_first, each_value), Step(swap)],
            [Step(by_first, in_order), Step(by_length), Step(identity, in_order)],
        ):
            assert as_list(run(backend, steps, data, shape)) == sequential_steps(steps, data)

    check()


def test_sorted_values_equal_sequential(backend: Backend) -> None:
    """sort_values and value_key: stable sorts, in a single-step job and a later step."""

    @backend.settings(share=0.5)
    @given(data=pairs, shape=shapes)
    def check(data: list[tuple[int, int]], shape: dict[str, Any]) -> None:
        by_value = backend.mapreduce(by_first, in_order, data, sort_values=True, **shape)
        expected = sequential_steps([Step(by_first, in_order, sort_values=True)], data)
        assert list(by_value.items()) == expected
        steps = [Step(by_first, each_value), Step(identity, in_order, value_key=second)]
        assert as_list(run(backend, steps, data, shape)) == sequential_steps(steps, data)

    check()


def test_task_mappers_and_combiners_in_later_steps(backend: Backend) -> None:
    """Order-insensitive reducers after a multi-partition step: a task mapper, a combiner."""

    @backend.settings(share=0.5)
    @given(data=pairs, shape=shapes)
    def check(data: list[tuple[int, int]], shape: dict[str, Any]) -> None:
        steps = [Step(by_first, in_order), Step(sum_by_parity, total, combiner=total)]
        expected: dict[int, int] = {}
        for _, value in data:
            expected[value % 2] = expected.get(value % 2, 0) + value
        assert dict(run(backend, steps, data, shape)) == expected

    check()


def test_sorted_values_spill_and_merge_in_order(backend: Backend) -> None:
    """More values than the reduce tasks' memory: runs are sorted, then merged, stably."""
    rng = random.Random(12)
    data = [(rng.randrange(3), rng.randrange(1000)) for _ in range(150_000)]
    steps = [Step(by_first, in_order, value_key=abs)]
    result = run(backend, steps, data, {"workers": 2, "reducers": 2, "memory_limit": "2MB"})
    assert result.counters["mapred"]["spilled_records"] > 0
    assert list(result.items()) == sequential_steps(steps, data)


def test_origins_of_every_family_keep_the_total_order(backend: Backend) -> None:
    """A later step whose origins (the previous step's keys) are of several families,
    NaN and 1/1.0/True included: values and emitted pairs follow the total order, as
    when origins compare natively (int and str keys above)."""

    @backend.settings(share=0.5)
    @given(keys=st.lists(strategies.mixed_keys(), min_size=1, max_size=30), shape=shapes)
    def check(keys: list[Any], shape: dict[str, Any]) -> None:
        data = [(key, n) for n, key in enumerate(keys)]
        for steps in (
            [Step(identity, in_order), Step(by_count, in_order)],
            [Step(identity, keys_of_values)],
            [Step(identity, keys_of_values), Step(identity, in_order)],
        ):
            got = as_list(run(backend, steps, data, shape))
            expected = sequential_steps(steps, data)
            assert strategies.same(got, expected), (got, expected)

    check()
