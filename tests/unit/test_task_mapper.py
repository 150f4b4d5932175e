"""task_mapper: a mapper over all the records of its map task, like mapPartitions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred import Engine, mapreduce, read_text, task_mapper
from tests.oracle import in_order, total


@task_mapper
def count_words(lines: Iterator[str]) -> Iterable[tuple[str, int]]:
    return Counter(word for line in lines for word in line.split()).items()


@task_mapper
def tag_records(records: Iterator[int]) -> Iterator[tuple[str, int]]:
    for record in records:
        yield "all", record


@given(
    lines=st.lists(st.text(alphabet="ab \n", max_size=12), max_size=40),
    chunksize=st.none() | st.integers(1, 7),
)
def test_task_mapper_counts_like_a_plain_count(
    module_engine: Engine, lines: list[str], chunksize: int | None
) -> None:
    """Counting per task, then summing, equals counting every word of the input."""
    expected = Counter(word for line in lines for word in line.split())
    result = module_engine.mapreduce(count_words, total, lines, combiner=total, chunksize=chunksize)
    assert dict(result) == dict(expected)
    assert result.counters["mapred"]["input_records"] == len(lines)


@given(records=st.lists(st.integers(), max_size=60), chunksize=st.integers(1, 9))
def test_task_mapper_keeps_input_order(
    module_engine: Engine, records: list[int], chunksize: int
) -> None:
    """Records reach a task mapper in input order, and its pairs keep that order."""
    result = module_engine.mapreduce(tag_records, in_order, records, chunksize=chunksize)
    assert result.get("all", []) == records


def test_task_mapper_reads_a_whole_split(module_engine: Engine, tmp_path: Path) -> None:
    """Over read_text, a task mapper streams every line of its split, exactly once."""
    path = tmp_path / "words.txt"
    path.write_text("".join(f"w{i % 9} x\n" for i in range(20_000)))
    result = module_engine.mapreduce(
        count_words, total, read_text(str(path), split_size=8192), combiner=total
    )
    assert result["x"] == 20_000
    assert sum(result.values()) == 40_000
    assert result.counters["mapred"]["input_records"] == 20_000
    assert result.counters["mapred"]["map_output_records"] < 40_000  # counted per task


def test_an_error_in_a_task_mapper_names_the_task() -> None:
    """An exception in a task mapper keeps its type and names the task."""

    @task_mapper
    def broken(records: Iterator[int]) -> Iterator[tuple[int, int]]:
        for record in records:
            if record == 5:
                raise IndexError("five")
            yield record, 1

    with pytest.raises(IndexError) as info:
        mapreduce(broken, total, range(10), chunksize=3, workers=2)
    assert "map task 1" in info.value.__notes__[0]
    assert "task mapper" in info.value.__notes__[0]


def test_task_mapper_needs_a_function() -> None:
    """task_mapper() of something not callable is a TypeError."""
    with pytest.raises(TypeError, match="takes a function"):
        task_mapper(3)  # type: ignore[arg-type]


def test_task_mapper_runs_serially_too() -> None:
    """The serial backend gives the same answer."""
    data = ["a b", "b c", "c c"]
    assert mapreduce(count_words, total, data, backend="serial") == {"a": 1, "b": 2, "c": 3}


def test_a_task_mapper_breaking_the_contract_gets_a_type_error() -> None:
    """A task mapper returning non-pairs or unhashable keys is told so, as a mapper is."""

    @task_mapper
    def bare(records: Iterator[int]) -> list[int]:
        return list(records)

    @task_mapper
    def listy(records: Iterator[int]) -> list[tuple[list[int], int]]:
        return [([record], 1) for record in records]

    with pytest.raises(TypeError, match=r"mapper must yield \(key, value\) pairs, got 1"):
        mapreduce(bare, total, [1, 2], workers=1)
    with pytest.raises(TypeError, match=r"unhashable key \[1\]"):
        mapreduce(listy, total, [1, 2], workers=1)


def test_the_combiner_merges_only_keys_a_task_returned_twice(module_engine: Engine) -> None:
    """With a task mapper the combiner runs on repeated keys only: the mapper has
    already aggregated its task."""

    @task_mapper
    def twice_a(records: Iterator[int]) -> list[tuple[str, int]]:
        items = list(records)
        return [("a", len(items)), ("a", 1), ("b", 1)]

    def tagged(key: str, values: Iterator[int]) -> int:
        return sum(values) * 100  # shows whether it ran

    result = module_engine.mapreduce(twice_a, total, [1, 2, 3], combiner=tagged, chunksize=3)
    assert result == {"a": 400, "b": 1}
