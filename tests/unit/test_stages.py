"""The stage functions on their own, in this process: map task, shuffle, reduce task,
part files. The engine wires them together; these tests pin each one's contract."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapred.job import JobSpec, LoadedJob
from mapred.keys import checked_partitioner, partition_for
from mapred.maptask import MapTask, execute_map_task
from mapred.output import merge_parts, part_name, read_part
from mapred.reducetask import ReduceState, ReduceTask, execute_reduce_task
from mapred.serde import dumps_function
from mapred.shuffle import Batch, read_batch
from mapred.splits import FileSplit
from tests.oracle import total, words


def batch_groups(batch: Batch) -> tuple[list[Any], list[list[Any]]]:
    """A batch's keys and each key's list of values, whatever its layout."""
    keys, values, single, _ = read_batch(batch)
    return keys, [[value] for value in values] if single else values


def listed(key: Any, values: Iterator[Any]) -> list[Any]:
    return list(values)


def make_job(
    workdir: str | None,
    reducers: int = 2,
    combiner: Any = None,
    reducer: Any = listed,
    memory_limit: int = 1 << 30,
) -> LoadedJob:
    return LoadedJob(
        JobSpec(
            job_id="test",
            mapper=dumps_function(words, "mapper"),
            reducer=dumps_function(reducer, "reducer"),
            combiner=dumps_function(combiner, "combiner") if combiner else None,
            partitioner=None,
            reducers=reducers,
            workdir=workdir,
            memory_limit=memory_limit,
        )
    )


def test_map_task_groups_in_order_and_partitions_stably(tmp_path: Path) -> None:
    """Each key lands in partition_for(key); its values keep the order they were made."""
    job = make_job(str(tmp_path), reducers=3)
    result = execute_map_task(job, MapTask(0, 1, records=["b a b", "c a", "b"]))
    seen: dict[str, list[int]] = {}
    for partition, batches in enumerate(result.batches):
        for batch in batches:
            keys, values = batch_groups(batch)
            for key, key_values in zip(keys, values, strict=True):
                assert partition_for(key, 3) == partition
                seen[key] = key_values
    assert seen == {"a": [1, 1], "b": [1, 1, 1], "c": [1]}
    layouts = {read_batch(batch).single for batches in result.batches for batch in batches}
    assert False in layouts  # keys with several values travel as lists
    assert result.counters["mapred"]["input_records"] == 3
    assert result.counters["mapred"]["map_output_records"] == 6
    assert os.path.basename(result.batches[partition_for("a", 3)][0][0]) == "map-000000-1.bin"


def test_map_task_applies_the_combiner(tmp_path: Path) -> None:
    """With a combiner each key leaves the task as one combined value."""
    job = make_job(str(tmp_path), reducers=1, combiner=total)
    result = execute_map_task(job, MapTask(4, 2, records=["x x y", "x"]))
    keys, values = batch_groups(result.batches[0][0])
    assert dict(zip(keys, values, strict=True)) == {"x": [3], "y": [1]}
    assert read_batch(result.batches[0][0]).single  # one value per key: no list per key
    assert result.counters["mapred"]["combine_output_records"] == 2


def test_map_task_without_workdir_keeps_segments_in_memory() -> None:
    """workdir=None (the Dask backend) returns bytes batches instead of file references."""
    job = make_job(None, reducers=1)
    result = execute_map_task(job, MapTask(0, 1, records=["q"]))
    assert isinstance(result.batches[0][0], bytes)
    assert read_batch(result.batches[0][0]) == (["q"], [1], True, False)


def test_map_task_reads_its_file_split(tmp_path: Path) -> None:
    """A map task over a FileSplit opens the file itself and reports the bytes read."""
    path = tmp_path / "in.txt"
    path.write_text("one two\nthree\n")
    job = make_job(str(tmp_path), reducers=1)
    split = FileSplit(str(path), 0, path.stat().st_size)
    result = execute_map_task(job, MapTask(0, 1, split=split))
    keys = read_batch(result.batches[0][0]).keys
    assert keys == ["one", "two", "three"]
    assert result.input_bytes == path.stat().st_size


def test_reduce_state_ingests_in_map_order_whatever_the_arrival_order(tmp_path: Path) -> None:
    """Map outputs arriving 2, 0, 1 are ingested 0, 1, 2: values stay in input order."""
    job = make_job(str(tmp_path), reducers=1)
    outputs = [
        execute_map_task(job, MapTask(i, 1, records=[f"k {i}"])).batches[0] for i in range(3)
    ]
    state = ReduceState(job, ReduceTask(0, 1, n_maps=3))
    state.add(2, outputs[2])
    assert not state.complete
    state.add(0, outputs[0])
    assert not state.complete
    state.add(1, outputs[1])
    assert state.complete
    result = state.finish()
    assert result.path is not None
    assert list(read_part(result.path)) == [("0", [1]), ("1", [1]), ("2", [1]), ("k", [1, 1, 1])]
    assert result.counters["mapred"]["output_keys"] == 4
    assert result.family == "str"


def test_reduce_spills_and_merges_keeping_input_order(tmp_path: Path) -> None:
    """A tiny budget forces spills; the merged values are still in input order."""
    job = make_job(str(tmp_path), reducers=1, memory_limit=1)
    batches = []
    for i in range(6):
        job_out = execute_map_task(job, MapTask(i, 1, records=[f"a b{i} c", "a"]))
        batches.append((i, job_out.batches[0]))
    task = ReduceTask(0, 1, n_maps=6)
    result = execute_reduce_task(make_job(str(tmp_path), reducers=1, memory_limit=1), task, batches)
    assert result.counters["mapred"]["spilled_records"] > 0
    parts = dict(read_part(result.path or ""))
    assert parts["a"] == [1] * 12
    assert list(parts) == sorted(parts)
    assert not [name for name in os.listdir(tmp_path) if name.startswith("run-")]


def test_reduce_without_workdir_returns_bytes() -> None:
    """workdir=None: the part comes back as bytes."""
    job = make_job(None, reducers=1, reducer=total)
    batches = execute_map_task(job, MapTask(0, 1, records=["z z"])).batches[0]
    result = execute_reduce_task(job, ReduceTask(0, 1, n_maps=1, committed=((0, tuple(batches)),)))
    assert result.data is not None
    assert list(read_part(result.data)) == [("z", 2)]


def test_checked_partitioner_rejects_out_of_range() -> None:
    """A user partitioner returning a bad index is a ValueError naming the key."""
    partition = checked_partitioner(lambda key, n: n, 4)
    with pytest.raises(ValueError, match=r"returned 4 for key 'k'; expected an int in range\(4\)"):
        partition("k")
    assert checked_partitioner(lambda key, n: 3, 4)("k") == 3


def test_merge_parts_streams_in_key_order(tmp_path: Path) -> None:
    """Part files merge into one stream sorted by key."""
    job = make_job(str(tmp_path), reducers=1, reducer=total)
    paths = []
    for index, records in enumerate([["b d"], ["a c e"]]):
        batches = execute_map_task(job, MapTask(index, 1, records=records)).batches[0]
        result = execute_reduce_task(job, ReduceTask(0, index + 1, 1, ((0, tuple(batches)),)))
        final = tmp_path / part_name(index)
        os.replace(result.path or "", final)
        paths.append(str(final))
    assert [key for key, _ in merge_parts(paths, natural=True)] == ["a", "b", "c", "d", "e"]
