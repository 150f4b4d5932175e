"""Bounded memory: lazy input with bounded read-ahead, and the reduce-side budget.

The read-ahead bound (SPEC 2: "a generator of a billion records is never
materialized"): the driver pulls a chunk of records only when a worker slot is idle
to take it, so at most one chunk per slot is in flight. With one slot, a job whose
mapper raises at record N has pulled at most N + chunk size records from the input
(the failing chunk is the last one pulled). These tests count the records pulled by
the driver, never time.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from mapred import mapreduce
from mapred.job import JobSpec, LoadedJob
from mapred.output import read_part
from mapred.reducetask import REDUCE_COMBINE_VALUES, ReduceState, ReduceTask
from mapred.serde import dumps_function
from mapred.shuffle import encode_batch
from mapred.splits import MAX_CHUNK_RECORDS
from tests.oracle import total

FAIL_AT = 5_000


class Endless:
    """0, 1, 2, ... forever, counting what was pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    def __iter__(self) -> Iterator[int]:
        for n in itertools.count():
            self.pulled = n + 1
            yield n


def fail_at(n: int) -> list[tuple[int, int]]:
    if n == FAIL_AT:
        raise LookupError(f"record {n}")
    return [(n % 10, 1)]


@pytest.mark.parametrize(
    ("chunksize", "bound"), [(10, 10), (1_000, 1_000), (None, MAX_CHUNK_RECORDS)]
)
@pytest.mark.parametrize("backend", ["processes", "serial"])
def test_endless_input_stops_within_one_chunk_of_the_failure(
    backend: str, chunksize: int | None, bound: int
) -> None:
    """An endless generator feeds a job whose mapper raises at record N: the error
    comes back, and the driver pulled at most N + one chunk (one slot)."""
    data = Endless()
    with pytest.raises(LookupError, match=f"record {FAIL_AT}"):
        mapreduce(fail_at, total, data, workers=1, chunksize=chunksize, backend=backend)
    assert FAIL_AT < data.pulled <= FAIL_AT + bound


# The serial backend runs the mapper in this process, so a module-level mapper (pickled
# by reference) can look at the input's counter while it maps.
_watched: dict[str, Any] = {}


def watch(n: int) -> list[tuple[int, int]]:
    _watched["ahead"].append(_watched["data"].pulled - n)
    return [(0, 1)]


def test_read_ahead_stays_within_a_chunk_at_every_record() -> None:
    """While the mapper sees record i, the driver has pulled at most i + one chunk."""
    data = Endless()
    _watched.update(data=data, ahead=[])
    result = mapreduce(watch, total, itertools.islice(data, 30_000), backend="serial")
    assert result == {0: 30_000}
    assert len(_watched["ahead"]) == 30_000
    assert max(_watched["ahead"]) <= MAX_CHUNK_RECORDS


def test_a_generator_is_consumed_once_and_lazily() -> None:
    """A one-shot generator works as input, and nothing is pulled before the job runs."""
    seen: list[int] = []

    def numbers() -> Iterator[int]:
        for n in range(20_000):
            seen.append(n)
            yield n

    gen = numbers()
    assert seen == []
    result = mapreduce(lambda n: [(n % 3, n)], total, gen, workers=2)
    assert result == {r: sum(range(r, 20_000, 3)) for r in range(3)}
    assert len(seen) == 20_000


# -- the reduce-side budget ---------------------------------------------------------------


def _state(memory_limit: int, tmp_path: Any) -> ReduceState:
    spec = JobSpec(
        job_id="test",
        mapper=dumps_function(fail_at, "mapper"),
        reducer=dumps_function(total, "reducer"),
        combiner=None,
        partitioner=None,
        reducers=1,
        workdir=str(tmp_path),
        memory_limit=memory_limit,
    )
    return ReduceState(LoadedJob(spec), ReduceTask(partition=0, attempt=1, n_maps=1_000))


@pytest.mark.parametrize("single", [False, True], ids=["value-lists", "one-value-each"])
def test_ingest_never_holds_more_than_the_budget(tmp_path: Any, single: bool) -> None:
    """After every ingested batch the estimate is within the budget: past it the
    task spills, and the runs it wrote are removed when it finishes. Both layouts of a
    batch count."""
    budget = 1 << 20
    state = _state(budget, tmp_path)
    for index in range(200):
        keys = [f"id-{index:04d}-{i:05d}" for i in range(500)]
        values: list[Any] = list(range(500)) if single else [[i] for i in range(500)]
        state.add(index, [encode_batch(keys, values, single=single)])
        assert state.buffered <= budget
    assert len(state.runs) > 3
    state.task = ReduceTask(partition=0, attempt=1, n_maps=200)
    result = state.finish()
    assert result.keys == 100_000
    assert result.counters["mapred"]["spilled_records"] > 0
    assert [name for name in tmp_path.iterdir() if name.name.startswith("run-")] == []


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        ([f"w{i}" for i in range(20_000)], [[1] * 10 for _ in range(20_000)]),  # word counts
        ([f"k{i:011x}" for i in range(20_000)], [[1] for _ in range(20_000)]),  # distinct ids
        ([(i, "t") for i in range(20_000)], [[0.5, 1.5] for _ in range(20_000)]),  # tuples
        (["hot"], [list(range(100_000))]),  # one key, many values
        ([f"s{i}" for i in range(2_000)], [["x" * 1_000] for _ in range(2_000)]),  # big values
        ([(f"w{i}", f"v{i % 977}") for i in range(20_000)], [[3] for _ in range(20_000)]),
        ([f"w{i}" for i in range(5_000)], [[(f"doc{i % 50}", i)] * 4 for i in range(5_000)]),
        ([i for i in range(200)], [[bytes(50_000)] for _ in range(200)]),  # 50 KB values
    ],
    ids=["words", "ids", "tuples", "hot-key", "big-values", "bigrams", "postings", "blobs"],
)
def test_memory_estimate_is_close_to_what_the_groups_take(
    tmp_path: Any, keys: list[Any], values: list[list[Any]]
) -> None:
    """The budget check's estimate is within a factor of 1.5 of the memory the groups
    really take (tracemalloc), for the shapes the shuffle sees most: it measures a
    sample of each batch (mapred.sizes). Keys with one value each travel as a column of
    values (no list per key), as a map task sends them."""
    state = _state(1 << 40, tmp_path)
    single = all(len(key_values) == 1 for key_values in values)
    batch = encode_batch(keys, [v[0] for v in values] if single else values, single=single)
    tracemalloc.start()
    try:
        state.add(0, [batch])
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used / 1.5 <= state.buffered <= used * 1.5


def concat(key: Any, values: Iterator[list[int]]) -> list[int]:
    return [x for value in values for x in value]


def test_reduce_side_combine_bounds_values_per_key_and_keeps_order(tmp_path: Any) -> None:
    """With a combiner, a key's values never pile up past REDUCE_COMBINE_VALUES however
    many map tasks send one, and an order-sensitive combiner still sees input order."""
    spec = JobSpec(
        job_id="test",
        mapper=dumps_function(fail_at, "mapper"),
        reducer=dumps_function(concat, "reducer"),
        combiner=dumps_function(concat, "combiner"),
        partitioner=None,
        reducers=1,
        workdir=str(tmp_path),
        memory_limit=1 << 40,
    )
    state = ReduceState(LoadedJob(spec), ReduceTask(partition=0, attempt=1, n_maps=500))
    for index in range(500):
        state.add(index, [encode_batch(["a", "b"], [[[index]], [[-index]]])])
        assert max(len(values) for values in state.groups.values()) < REDUCE_COMBINE_VALUES
    result = state.finish()
    assert result.keys == 2
    assert list(read_part(result.data or result.path or b"")) == [
        ("a", list(range(500))),
        ("b", [-i for i in range(500)]),
    ]


def test_reduce_side_combine_through_the_api() -> None:
    """Many map tasks, a combiner that concatenates: the result is the sequential one."""
    data = [(i % 7, i) for i in range(20_000)]
    result = mapreduce(
        lambda kv: [(kv[0], [kv[1]])], concat, data, combiner=concat, chunksize=100, workers=2
    )
    assert result == {k: [i for i in range(20_000) if i % 7 == k] for k in range(7)}
