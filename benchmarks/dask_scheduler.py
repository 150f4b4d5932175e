"""What the Dask scheduler spends on a mapred job of many tiny map tasks.

    python -m benchmarks.dask_scheduler [--maps 2000] [--partitions 64] [--workers 4]

Starts a Dask scheduler and ``--workers`` worker processes (one thread each) as
subprocesses on 127.0.0.1, like a ``LocalCluster`` of processes, but with the scheduler
in a process of its own so that its CPU time can be read alone (psutil). Then runs a
word-count-like job whose map tasks do almost nothing (``--maps`` map tasks of 10
records, a few keys per record, ``--partitions`` reduce tasks): the point is the
scheduling cost, not the data. Prints, per run, the wall time, the Dask tasks the
scheduler ran (by key prefix), its transitions, the results the workers fetched from each
other (by kind: how many, bytes), the scheduler's CPU time and that CPU per task.

The figures are in docs/distributed.md. On a shared machine they are noisy: compare the
counts, and the ratios of several runs, not one wall time.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import psutil

RECORDS_PER_TASK = 10
KEYS = 1000


def mapper(n: int) -> Iterator[tuple[int, int]]:
    for k in range(3):
        yield (n * 7 + k) % KEYS, 1


def add(key: int, values: Iterator[int]) -> int:
    return sum(values)


def expected(maps: int) -> dict[int, int]:
    counts: collections.Counter[int] = collections.Counter()
    for n in range(maps * RECORDS_PER_TASK):
        for key, one in mapper(n):
            counts[key] += one
    return dict(counts)


class TaskCounter:
    """A scheduler plugin: tasks that finished, by the prefix of their key."""

    name = "mapred-benchmark-task-counter"

    def __init__(self) -> None:
        self.finished: collections.Counter[str] = collections.Counter()

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start == "processing" and finish == "memory":
            name = str(key)
            self.finished[name.split("-")[1] if name.startswith("mapred-") else "other"] += 1


def _install(dask_scheduler: Any) -> None:
    dask_scheduler.add_plugin(TaskCounter(), name=TaskCounter.name)


def _read(dask_scheduler: Any) -> tuple[dict[str, int], int]:
    plugin = dask_scheduler.plugins[TaskCounter.name]
    return dict(plugin.finished), dask_scheduler.transition_counter


def start_cluster(directory: str, workers: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    scheduler_file = os.path.join(directory, "scheduler.json")
    python = sys.executable
    # Workers log every fetch from a peer (1,000 by default): counted after each run.
    env = {**os.environ, "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "10000000"}
    common = {
        "cwd": os.getcwd(),
        "env": env,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    scheduler = subprocess.Popen(
        [
            python,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            scheduler_file,
        ],
        **common,  # type: ignore[call-overload]
    )
    worker = subprocess.Popen(
        [
            python,
            "-m",
            "distributed.cli.dask_worker",
            "--scheduler-file",
            scheduler_file,
            "--nworkers",
            str(workers),
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            directory,
            "--host",
            "127.0.0.1",
        ],
        **common,  # type: ignore[call-overload]
    )
    deadline = time.monotonic() + 60
    while not os.path.exists(scheduler_file):
        if time.monotonic() > deadline:
            raise RuntimeError("the Dask scheduler did not start")
        time.sleep(0.1)
    return [worker, scheduler], scheduler_file


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forget_fetches(dask_worker: Any) -> None:
    dask_worker.transfer_incoming_log.clear()


def _fetches(dask_worker: Any) -> dict[str, list[int]]:
    """Results this worker fetched from other workers, by kind: [how many, bytes]."""
    kinds: dict[str, list[int]] = {}
    for fetch in dask_worker.transfer_incoming_log:
        for key, size in fetch["keys"].items():
            kind = kinds.setdefault(str(key).split("-")[1], [0, 0])
            kind[0] += 1
            kind[1] += size
    return kinds


def fetches(client: Any) -> dict[str, list[int]]:
    """Results fetched worker to worker during the run (not by the driver), by kind."""
    total: dict[str, list[int]] = {}
    for kinds in client.run(_fetches).values():
        for kind, (count, size) in kinds.items():
            entry = total.setdefault(kind, [0, 0])
            entry[0] += count
            entry[1] += size
    return total


def run_once(client: Any, scheduler: psutil.Process, maps: int, partitions: int) -> dict[str, Any]:
    from mapred import mapreduce

    client.run_on_scheduler(_install)
    transitions_before = client.run_on_scheduler(_read)[1]
    client.run(_forget_fetches)
    cpu = scheduler.cpu_times()
    driver_cpu = time.process_time()
    start = time.perf_counter()
    result = mapreduce(
        mapper,
        add,
        range(maps * RECORDS_PER_TASK),
        combiner=add,
        chunksize=RECORDS_PER_TASK,
        reducers=partitions,
        backend=client,
        progress=False,
    )
    wall = time.perf_counter() - start
    after = scheduler.cpu_times()
    driver = time.process_time() - driver_cpu
    finished, transitions = client.run_on_scheduler(_read)
    if dict(result) != expected(maps):
        raise AssertionError("the job's result is wrong")
    tasks = dict(finished)
    total = sum(tasks.values())
    scheduler_cpu = (after.user + after.system) - (cpu.user + cpu.system)
    return {
        "wall_s": round(wall, 2),
        "tasks": total,
        "by_kind": tasks,
        "transitions": transitions - transitions_before,
        "fetched_by_workers": fetches(client),  # kind: [results, bytes]
        "scheduler_cpu_s": round(scheduler_cpu, 2),
        "scheduler_cpu_per_task_us": round(1e6 * scheduler_cpu / max(total, 1)),
        "driver_cpu_s": round(driver, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maps", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    from distributed import Client

    with tempfile.TemporaryDirectory(prefix="mapred-bench-dask-") as directory:
        processes, scheduler_file = start_cluster(directory, args.workers)
        try:
            with Client(scheduler_file=scheduler_file, set_as_default=False) as client:
                client.wait_for_workers(args.workers, timeout=120)
                scheduler = psutil.Process(processes[1].pid)
                for run in range(args.repeat):
                    figures = run_once(client, scheduler, args.maps, args.partitions)
                    print(
                        f"maps={args.maps} partitions={args.partitions} "
                        f"workers={args.workers} run={run + 1}: {figures}",
                        flush=True,
                    )
        finally:
            stop(processes)


if __name__ == "__main__":
    main()
