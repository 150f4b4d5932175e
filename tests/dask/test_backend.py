"""The Dask backend: the same jobs, results and guarantees as local processes (SPEC 7).

Runs on a module-scoped LocalCluster of two worker processes (see conftest.py).
"""

from __future__ import annotations

import gc
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import distributed

from mapred import Engine, JobTimeout, MapredError, increment, mapreduce, read_text
from mapred.backends.dask import DaskBackend
from mapred.errors import RemoteError, RemoteTraceback
from tests.dask.conftest import fresh_cluster
from tests.processes import wait_for

pytestmark = [pytest.mark.dask, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "data" / "sample.txt"


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.lower().split():
        yield word, 1


def total(key: Any, values: Iterator[int]) -> int:
    return sum(values)


def counted_words(line: str) -> Iterator[tuple[str, int]]:
    increment("lines")
    for word in line.split():
        increment("chars", len(word), group="sizes")
        yield word, 1


def counted_total(key: Any, values: Iterator[int]) -> int:
    increment("keys")
    return sum(values)


class Custom(Exception):
    """A user exception that must come back as itself."""


def fail_on_seven(n: int) -> list[tuple[int, int]]:
    if n == 7:
        raise Custom(f"bad record {n}")
    return [(n % 3, n)]


def mapped_keys(result: Any) -> list[tuple[Any, Any]]:
    return list(result.items())


def mapred_keys(client: Any) -> list[str]:
    """Keys of this client's futures that mapred made, after a moment to release them.

    A failed job's traceback (frames holding the driver and its futures) may sit in a
    reference cycle until the garbage collector runs: run it.
    """
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        keys = [k for k in client.refcount if str(k).startswith("mapred-")]
        if not keys or time.monotonic() > deadline:
            return keys
        time.sleep(0.05)


def test_word_count_equals_local_processes_counters_too(client: Any) -> None:
    """read_text splits, read by the Dask workers: result and every counter as local."""
    data = read_text(SAMPLE, split_size=100_000)
    on_dask = mapreduce(words, total, data, combiner=total, backend=client)
    local = mapreduce(words, total, data, combiner=total, workers=2)
    assert mapped_keys(on_dask) == mapped_keys(local)
    assert on_dask.counters == local.counters
    assert on_dask.counters["mapred"]["input_records"] == SAMPLE.read_text().count("\n")


def test_iterable_input_user_counters_and_several_reducers(client: Any) -> None:
    """Records sent chunk by chunk; user counters come back with the tasks, exactly."""
    data = [f"w{i % 11} x{i % 4} y" for i in range(2_000)]
    result = mapreduce(counted_words, counted_total, data, backend=client, reducers=3, chunksize=97)
    local = mapreduce(counted_words, counted_total, data, backend="serial", reducers=3)
    assert mapped_keys(result) == mapped_keys(local)
    assert result.counters["user"] == {"lines": 2_000, "keys": 16}
    assert result.counters["sizes"] == local.counters["sizes"]


def test_values_reach_the_reducer_in_input_order(client: Any) -> None:
    """Order-sensitive reducer over many small map tasks and partitions."""
    data = list(range(500))
    result = mapreduce(
        lambda n: [(n % 5, n)], lambda k, vs: list(vs), data, backend=client, chunksize=7
    )
    assert dict(result) == {k: [n for n in data if n % 5 == k] for k in range(5)}


def test_types_come_back_exact(client: Any) -> None:
    """Tuples stay tuples, big ints and sets survive; keys sorted (SPEC 3, 4)."""
    data = [(1, 2), (1, 2), ("a",), ()]
    result = mapreduce(
        lambda t: [(t, {len(t): 2**70})], lambda k, vs: list(vs), data, backend=client
    )
    assert list(result) == [(), (1, 2), ("a",)]
    assert result[(1, 2)] == [{2: 2**70}, {2: 2**70}]
    assert type(next(iter(result))) is tuple


def test_empty_input(client: Any) -> None:
    """No records: an empty Result, every reducer still answered."""
    result = mapreduce(words, total, [], backend=client, reducers=3)
    assert dict(result) == {}
    assert result.counters["mapred"]["input_records"] == 0


def test_slots_bound_the_read_ahead(client: Any) -> None:
    """Two tasks in flight per worker thread; an endless generator is never drained."""
    backend = DaskBackend(client)
    try:
        assert backend.threads() == 2
        assert backend.slots() == 4
    finally:
        backend.close()
    pulled = itertools.count()

    def endless() -> Iterator[int]:
        while True:
            yield next(pulled)

    with pytest.raises(Custom):
        mapreduce(fail_on_seven, total, endless(), backend=client, chunksize=10)
    assert next(pulled) < 10_000


def test_user_exception_keeps_type_note_and_cause(client: Any) -> None:
    """The mapper's exception: own type, the note naming task and record, worker traceback."""
    with pytest.raises(Custom, match="bad record 7") as info:
        mapreduce(fail_on_seven, total, range(20), backend=client, chunksize=5)
    notes = info.value.__notes__
    assert any("in the mapper, map task 1 attempt 1, record 3: 7" in note for note in notes)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "fail_on_seven" in info.value.__cause__.tb
    assert info.value.__traceback__ is not None
    frames = [code.co_name for code in _frames(info.value.__traceback__)]
    assert "fail_on_seven" not in frames  # the worker's frames travel as the cause only


def _frames(tb: Any) -> Iterator[Any]:
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next


def test_reducer_and_combiner_exceptions_name_the_key(client: Any) -> None:
    """Reduce and combine failures name their key, and stop the job."""

    def reducer(key: int, values: Iterator[int]) -> int:
        if key == 2:
            raise KeyError(key)
        return sum(values)

    with pytest.raises(KeyError) as info:
        mapreduce(lambda n: [(n % 3, n)], reducer, range(30), backend=client)
    assert any("in the reducer, reduce task" in n and "key 2" in n for n in info.value.__notes__)

    def combiner(key: int, values: Iterator[int]) -> int:
        raise ZeroDivisionError("in combiner")

    with pytest.raises(ZeroDivisionError) as combine_info:
        mapreduce(lambda n: [(n % 3, n)], total, range(30), combiner=combiner, backend=client)
    assert any("in the combiner" in note for note in combine_info.value.__notes__)


class Unpicklable(Exception):
    def __init__(self, lock: Any) -> None:
        super().__init__("holds a lock")
        self.lock = lock


def raise_unpicklable(n: int) -> list[tuple[int, int]]:
    import threading

    raise Unpicklable(threading.Lock())


def test_unpicklable_exception_falls_back_to_its_text(client: Any) -> None:
    """An exception that will not pickle comes back as RemoteError naming its type."""
    with pytest.raises(RemoteError, match="Unpicklable: holds a lock"):
        mapreduce(raise_unpicklable, total, range(3), backend=client)


def test_system_exit_in_user_code_fails_the_job_not_the_caller(client: Any) -> None:
    """sys.exit() in a mapper is a MapredError here, and the cluster keeps working."""
    with pytest.raises(MapredError, match="SystemExit"):
        mapreduce(lambda n: sys.exit(3), total, range(3), backend=client)
    assert dict(mapreduce(lambda n: [(n, 1)], total, range(3), backend=client)) == {
        0: 1,
        1: 1,
        2: 1,
    }


def test_bad_mapper_output_is_a_type_error(client: Any) -> None:
    """Contract violations are reported as locally: a TypeError saying what was expected."""
    with pytest.raises(TypeError, match="mapper must yield"):
        mapreduce(lambda n: [n], total, range(3), backend=client)


def test_engine_reuse_after_a_failed_job_and_no_futures_left(client: Any) -> None:
    """A warm engine runs job after job, failures included; no mapred futures outlive a job."""
    with Engine(backend=client) as engine:
        assert engine.workers == 2  # default reducers: the cluster's threads
        with pytest.raises(Custom):
            engine.mapreduce(fail_on_seven, total, range(50), chunksize=3)
        result = engine.mapreduce(lambda n: [(n % 2, n)], total, range(50), chunksize=3)
        assert dict(result) == {0: 600, 1: 625}
        assert mapred_keys(client) == []
    assert mapred_keys(client) == []
    assert client.status == "running"  # the caller's client stays open


def test_timeout_stops_the_job_promptly(client: Any, tmp_path: Path) -> None:
    """JobTimeout comes back while every mapper is still stuck (they wait for a file that
    only appears after the error), so the job did not wait for them. Then the stuck
    mappers are let go, and the test waits (polling, with a deadline) until each one that
    started has finished, so no busy worker thread is left for the next test."""
    release = tmp_path / "release"

    def stuck(n: int) -> list[tuple[int, int]]:
        (tmp_path / f"started-{n}").touch()
        try:
            while not release.exists():
                time.sleep(0.01)
        finally:
            (tmp_path / f"done-{n}").touch()
        return [(n, n)]

    with pytest.raises(JobTimeout):
        mapreduce(stuck, total, range(4), backend=client, chunksize=1, timeout=0.5)
    assert not list(tmp_path.glob("done-*"))  # no mapper had finished: the job did not wait
    release.touch()

    def settled() -> bool:
        started = {p.name.split("-")[1] for p in tmp_path.glob("started-*")}
        done = {p.name.split("-")[1] for p in tmp_path.glob("done-*")}
        return bool(started) and started == done

    wait_for(settled, "the cancelled mappers to finish")


def test_output_directory_written_by_the_workers(client: Any, tmp_path: Path) -> None:
    """output=DIR: part files committed and read back lazily, in key order."""
    out = tmp_path / "out"
    data = [f"a{i % 9} b{i % 4}" for i in range(300)]
    result = mapreduce(words, total, data, backend=client, reducers=3, output=out)
    assert sorted(os.listdir(out)) == [
        "_SUCCESS",
        "part-00000.msgpack",
        "part-00001.msgpack",
        "part-00002.msgpack",
    ]
    assert list(result.items()) == list(mapreduce(words, total, data, backend="serial").items())


def test_reduce_tasks_spill_on_the_workers(client: Any) -> None:
    """Past memory_limit a reduce task spills runs in the worker's local directory."""
    data = [f"k{i % 2000} {'v' * 30}{i}" for i in range(60_000)]

    def pair(line: str) -> list[tuple[str, str]]:
        key, value = line.split()
        return [(key, value)]

    result = mapreduce(
        pair, lambda k, vs: len(list(vs)), data, backend=client, memory_limit="2MB", reducers=2
    )
    assert result.counters["mapred"]["spilled_records"] > 0
    assert dict(result) == {f"k{i}": 30 for i in range(2000)}


def test_relative_paths_are_resolved_by_the_driver(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read_text path relative to the driver's cwd works on workers with another cwd."""
    (tmp_path / "in.txt").write_text("a b\nb\n")
    monkeypatch.chdir(tmp_path)
    result = mapreduce(words, total, read_text("in.txt"), backend=client)
    assert dict(result) == {"a": 1, "b": 2}


def test_progress_bar_is_fed_by_task_completions(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """progress=True draws the same bar on stderr, nothing on stdout."""
    result = mapreduce(
        words, total, read_text(SAMPLE, split_size=200_000), backend=client, progress=True
    )
    assert len(result) > 1000
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "map" in captured.err


def test_counters_of_tasks_sharing_a_worker_stay_apart() -> None:
    """Four tasks at once in one worker's threads: user counters still exact."""
    data = [f"w{i % 5}" for i in range(4_000)]
    with fresh_cluster(n_workers=1, threads_per_worker=4, processes=False) as threaded:
        result = mapreduce(counted_words, counted_total, data, backend=threaded, chunksize=50)
    assert result.counters["user"] == {"lines": 4_000, "keys": 5}
    assert result.counters["sizes"] == {"chars": 8_000}


def test_a_closed_client_is_refused(client: Any) -> None:
    """A client that is not connected gives a ValueError at once, not a hang."""
    closed = distributed.Client(client.scheduler.address, set_as_default=False)
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        mapreduce(words, total, ["a"], backend=closed)


def test_importing_mapred_does_not_import_dask() -> None:
    """Dask stays optional and costs nothing until a Client is passed."""
    code = (
        "import sys, mapred, mapred.engine, mapred.cli\n"
        "from mapred import mapreduce\n"
        "mapreduce(lambda x: [(x, 1)], lambda k, vs: sum(vs), [1], backend='serial')\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_without_distributed_the_error_names_the_extra() -> None:
    """No dask.distributed: asking for the backend is an ImportError naming the dask extra."""
    code = """
import sys
sys.modules["distributed"] = None  # as if not installed
import mapred

class Client:  # looks like distributed.Client to the engine
    pass
Client.__module__ = "distributed.client"
try:
    mapred.mapreduce(lambda x: [(x, 1)], lambda k, vs: sum(vs), [1], backend=Client())
except ImportError as exc:
    print(exc)
else:
    raise SystemExit("no ImportError")
"""
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "pip install '.[dask]'" in run.stdout


def thresholds_seen(record: Any) -> Iterator[tuple[str, tuple[int, ...]]]:
    yield "seen", gc.get_threshold()


def test_tasks_run_under_the_job_thresholds_and_restore_the_workers(client: Any) -> None:
    """A task on a Dask worker collects garbage at JOB_THRESHOLDS; the worker's own
    thresholds come back when it ends."""
    from mapred.collector import JOB_THRESHOLDS

    result = mapreduce(thresholds_seen, lambda key, values: next(values), [1], backend=client)
    assert result["seen"] == JOB_THRESHOLDS
    after = set(client.run(gc.get_threshold).values())
    assert JOB_THRESHOLDS not in after
