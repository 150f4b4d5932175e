"""The stage functions of steps, run directly: emitting reducers, map-only map tasks,
origins across a multi-partition step, sorted values with spills, and task context."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapred import MapredError
from mapred.context import task_context
from mapred.job import JobSpec, LoadedJob, pair_reducer, task_reducer
from mapred.maptask import MapResult, MapTask, execute_map_task
from mapred.output import read_parts_sorted
from mapred.pairs import read_emitted
from mapred.reducetask import ReduceResult, ReduceTask, execute_reduce_task
from mapred.shuffle import read_batch
from mapred.splits import read_text


def make_job(tmp_path: Path, name: str, functions: dict[str, Any], **spec: Any) -> LoadedJob:
    workdir = tmp_path / name
    workdir.mkdir()
    fields: dict[str, Any] = {
        "job_id": name,
        "mapper": b"",
        "reducer": b"",
        "combiner": None,
        "partitioner": None,
        "reducers": 2,
        "workdir": str(workdir),
        "memory_limit": 1 << 20,
    }
    fields.update(spec)
    return LoadedJob(JobSpec(**fields), {"reducer": None, **functions})


def run_maps(job: LoadedJob, tasks: list[MapTask]) -> list[MapResult]:
    return [execute_map_task(job, task) for task in tasks]


def run_reduces(job: LoadedJob, maps: list[MapResult]) -> list[ReduceResult]:
    return [
        execute_reduce_task(
            job,
            ReduceTask(p, 1, len(maps), tuple((m.index, tuple(m.batches[p])) for m in maps)),
        )
        for p in range(job.spec.reducers)
    ]


def record_tasks(records: list[Any], size: int) -> list[MapTask]:
    return [
        MapTask(i, 1, records=records[start : start + size])
        for i, start in enumerate(range(0, len(records), size))
    ]


@pair_reducer
def invert(key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]]:
    for value in values:
        yield value, key


def test_map_only_parts_hold_pairs_in_input_order(tmp_path: Path) -> None:
    job = make_job(tmp_path, "m", {"mapper": lambda n: [(n % 3, n), (n % 3, -n)]}, reducers=0)
    maps = run_maps(job, record_tasks(list(range(20)), 6))
    parts = [m.part.path for m in maps if m.part is not None]
    expected = [pair for n in range(20) for pair in ((n % 3, n), (n % 3, -n))]
    assert read_emitted(list(parts)) == expected
    assert maps[0].counters["mapred"]["output_keys"] == 12


@pytest.mark.parametrize("memory_limit", [1, 1 << 20])
def test_pair_reducer_then_a_step_with_origins_keeps_input_order(
    tmp_path: Path, memory_limit: int
) -> None:
    """Step 1 emits pairs over 3 partitions; step 2 regroups them: values in step 1's
    output order, spilled or not."""
    step1 = make_job(
        tmp_path, "s1", {"mapper": lambda n: [(n % 7, n)], "reducer": invert}, reducers=3
    )
    out1 = run_reduces(step1, run_maps(step1, record_tasks(list(range(60)), 9)))
    pairs = read_emitted([r.path or b"" for r in out1])
    assert pairs == [(n, k) for k in range(7) for n in range(60) if n % 7 == k]
    step2 = make_job(
        tmp_path,
        "s2",
        {"mapper": lambda kv: [(kv[0] % 2, kv)], "reducer": lambda k, vs: list(vs)},
        tagged=True,
        memory_limit=memory_limit,
    )
    tasks = [MapTask(i, 1, part=r.path, layout="emitted") for i, r in enumerate(out1)]
    parts = [r.path or b"" for r in run_reduces(step2, run_maps(step2, tasks))]
    out2 = list(read_parts_sorted(parts))
    expected: dict[int, list[Any]] = {}
    for pair in pairs:
        expected.setdefault(pair[0] % 2, []).append(pair)
    assert out2 == sorted(expected.items())


@pytest.mark.parametrize("memory_limit", [1, 1 << 20])
def test_sorted_values_are_stable_and_survive_spills(tmp_path: Path, memory_limit: int) -> None:
    rng = random.Random(7)
    records = [(rng.randrange(3), rng.randrange(5), i) for i in range(300)]
    job = make_job(
        tmp_path,
        "sv",
        {
            "mapper": lambda r: [(r[0], (r[1], r[2]))],
            "reducer": lambda k, vs: list(vs),
            "value_key": lambda v: v[0],
        },
        memory_limit=memory_limit,
    )
    parts = [r.path or b"" for r in run_reduces(job, run_maps(job, record_tasks(records, 40)))]
    got = list(read_parts_sorted(parts))
    expected: dict[int, list[Any]] = {}
    for key, first, index in records:
        expected.setdefault(key, []).append((first, index))
    assert got == [(k, sorted(vs, key=lambda v: v[0])) for k, vs in sorted(expected.items())]


def test_task_reducer_emits_around_its_groups(tmp_path: Path) -> None:
    @task_reducer
    def totals(groups: Iterator[tuple[Any, Iterator[int]]]) -> Iterator[tuple[Any, int]]:
        grand = 0
        for key, values in groups:
            n = sum(values)
            grand += n
            yield key, n
        yield "total", grand

    job = make_job(
        tmp_path, "tr", {"mapper": lambda n: [(n % 4, n)], "reducer": totals}, reducers=1
    )
    got = read_emitted(
        [r.path or b"" for r in run_reduces(job, run_maps(job, record_tasks(list(range(10)), 3)))]
    )
    assert got == [(0, 12), (1, 15), (2, 8), (3, 10), ("total", 45)]


def test_a_pair_reducer_yielding_no_pairs_is_a_clear_error(tmp_path: Path) -> None:
    job = make_job(
        tmp_path, "bad", {"mapper": lambda n: [(n, n)], "reducer": pair_reducer(lambda k, vs: [k])}
    )
    with pytest.raises(TypeError, match=r"pair reducer must yield \(key, value\) pairs"):
        run_reduces(job, run_maps(job, record_tasks([1, 2], 2)))


def test_task_context_gives_the_file_and_line_of_each_record(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    rng = random.Random(3)
    lines = ["y" * rng.randrange(12) for _ in range(150)]
    path.write_text("".join(line + "\n" for line in lines))

    def mapper(line: str) -> Iterator[tuple[Any, Any]]:
        context = task_context()
        yield context.line, (line, context.path, context.phase, context.step)

    for split_size in (1, 5, 64, 1 << 20):
        job = make_job(tmp_path, f"ctx{split_size}", {"mapper": mapper}, reducers=1)
        got = []
        splits = read_text(str(path), split_size=split_size).plan_splits()
        for result in run_maps(job, [MapTask(i, 1, split=s) for i, s in enumerate(splits)]):
            for batch in result.batches[0]:
                keys, values, single, _ = read_batch(batch)
                assert single  # distinct keys: one value each, no list per key
                got += list(zip(keys, values, strict=True))
        assert got == [(n, (line, str(path), "map", 1)) for n, line in enumerate(lines, 1)]


def test_with_path_records_and_context_outside_a_task(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\n")
    job = make_job(tmp_path, "wp", {"mapper": lambda record: [record]}, reducers=0)
    (split,) = read_text(str(path)).plan_splits()
    (result,) = run_maps(job, [MapTask(0, 1, split=split, with_path=True)])
    assert result.part is not None
    assert read_emitted([result.part.path or b""]) == [(str(path), "one"), (str(path), "two")]
    with pytest.raises(MapredError, match="inside a mapper"):
        task_context()
    assert os.path.exists(result.part.path or "")
