"""The contenders: ``python contenders.py NAME TASK PATH WORKERS`` runs one and prints its result.

Each contender runs in a fresh interpreter (the runner measures the whole process tree)
and prints one ``BENCH-RESULT {json}`` line: the job's own wall time (``elapsed``; the
interpreter's start-up and imports excluded, the same for everyone), the CPU seconds
spent during the job by this process (``cpu_driver``) and by it and all the children it
waited for (``cpu_total``), and a summary of the answer that the runner checks against
the other contenders'. The jobs themselves (``TASK``) are in ``benchmarks/workloads.py``;
the peers (single process, ``multiprocessing.Pool``, Dask bag, PySpark, mrjob) in
``benchmarks/peers.py``.

mapred runs from the project's virtualenv; the peers from the benchmark one
(``benchmarks/setup_peers.sh``). Module-level imports are the standard library only.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import corpus, workloads

Answer = dict[str, Any]


def cpu() -> tuple[float, float]:
    """(this process's CPU s, CPU s of all its other processes), user + sys.

    The others: the children it waited for, plus any descendant still alive (a
    forkserver, whose own reaped children count in its ``children_*`` times).
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + _live()


def _live() -> float:
    try:
        import psutil
    except ImportError:
        return 0.0
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def timed(job: Callable[[], Answer]) -> Answer:
    """Run ``job``: its answer plus ``elapsed``, ``cpu_driver`` and ``cpu_total``.

    A job may time itself (PySpark leaves out starting its JVM): its ``elapsed`` wins.
    """
    own0, children0 = cpu()
    started = time.perf_counter()
    answer = job()
    elapsed = time.perf_counter() - started
    own1, children1 = cpu()
    return {
        "elapsed": elapsed,
        "cpu_driver": own1 - own0,
        "cpu_total": own1 - own0 + children1 - children0,
        **answer,
    }


def job_input(task: str, path: str) -> Any:
    """The records of a task: document paths for the index, else the file's lines."""
    if task == "index":
        return corpus.documents(path)
    from mapred import read_text

    return read_text(path)


def run_mapred(
    task: str, style: str, path: str, workers: int, backend: Any = None, max_skipped: int = 0
) -> Answer:
    """The job's steps through mapreduce(): one call per step, or ``steps=`` if it exists.

    ``backend``: a Dask client (then the cluster's workers are the job's), or None.
    ``max_skipped``: above 0, the per-record path that skips bad records (issue #14).
    """
    import mapred

    steps = workloads.JOBS[(task, style)]
    data = job_input(task, path)
    limit = os.environ.get("BENCH_MEMORY_LIMIT")
    # The index's records are a list of document paths: cut it into 16 map tasks, as
    # read_text cuts a file into 16 splits (an iterable's chunks start at 64 records).
    options: dict[str, Any] = {"chunksize": max(1, len(data) // 16)} if task == "index" else {}
    if max_skipped:  # issue #14: the per-record path that skips bad records (none here)
        options["max_skipped"] = max_skipped

    def mapper(step: workloads.Step) -> Any:
        return mapred.task_mapper(step.mapper) if step.task else step.mapper

    if backend is not None:
        options["backend"] = backend
    counters: list[dict[str, int]] = []
    if len(steps) > 1 and hasattr(mapred, "Step") and os.environ.get("BENCH_STEPS") != "calls":
        # Issue #12: the whole job in one call, step outputs staying with the workers.
        # The one place to adapt if mapred.Step's signature differs.
        chain = [mapred.Step(mapper(s), s.reducer, combiner=s.combiner) for s in steps]
        result = mapred.mapreduce(
            steps=chain,
            data=data,
            workers=None if backend is not None else workers,
            memory_limit=limit,
            **options,
        )
        counters.append(result.counters["mapred"])
        mode = "steps="
    else:
        records: Any = data
        for step in steps:
            result = mapred.mapreduce(mapper(step), step.reducer, records,
                                      combiner=step.combiner,
                                      workers=None if backend is not None else workers,
                                      memory_limit=limit, **options)  # fmt: skip
            counters.append(result.counters["mapred"])
            records = result.items()  # the next step reads this one's result
        mode = f"{len(steps)} mapreduce() calls" if len(steps) > 1 else ""
    return {
        "mode": mode,
        "map_output": sum(c["map_output_records"] for c in counters),
        "shuffle": sum(c["combine_output_records"] or c["map_output_records"] for c in counters),
        **workloads.summary(task, result.items()),
    }


def run_sequential(task: str, style: str, path: str) -> Answer:
    steps = workloads.JOBS[(task, style)]
    data = job_input(task, path)
    records = data if task == "index" else workloads.lines_of(path)
    return workloads.summary(task, workloads.sequential(steps, records))


def mapred_api(task: str, path: str, workers: int) -> Answer:
    """mapreduce() with per-record generator mappers (and a combiner where it applies)."""
    return timed(lambda: run_mapred(task, "api", path, workers))


def mapred_api_skipping(task: str, path: str, workers: int) -> Answer:
    """mapred_api with ``max_skipped``: what the per-record skipping wrapper costs."""
    return timed(lambda: run_mapred(task, "api", path, workers, max_skipped=1000))


def mapred_tasks(task: str, path: str, workers: int) -> Answer:
    """mapreduce() with a task_mapper that aggregates a whole map task in C."""
    return timed(lambda: run_mapred(task, "tasks", path, workers))


def mapred_dask(task: str, path: str, workers: int) -> Answer:
    """mapred_api's job on a Dask cluster: a scheduler process and ``workers`` worker
    processes of one thread, started (and stopped) outside the clock. ``cpu_driver`` is
    this process's alone (the driver and its Dask client); the scheduler's and the
    workers' CPU count in ``cpu_total``."""
    import distributed

    from benchmarks.dask_scheduler import start_cluster, stop

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as directory:
        processes, scheduler_file = start_cluster(directory, workers)
        try:
            with distributed.Client(scheduler_file=scheduler_file, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
                return timed(lambda: run_mapred(task, "api", path, workers, backend=client))
        finally:
            stop(processes)


def sequential(task: str, path: str, workers: int) -> Answer:
    """mapred_api's very functions, run in one process (no engine)."""
    return timed(lambda: run_sequential(task, "api", path))


def sequential_tasks(task: str, path: str, workers: int) -> Answer:
    """mapred_tasks's very functions, run in one process (one task over all the input)."""
    return timed(lambda: run_sequential(task, "tasks", path))


def mapred_cli(task: str, path: str, workers: int) -> Answer:
    """``python -m mapred wordcount --pattern '\\S+' -w N PATH -o FILE`` (word count only)."""
    if task != "wordcount":
        raise NotImplementedError("the CLI counts words only")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "counts.tsv")
        argv = [sys.executable, "-m", "mapred", "wordcount", "--pattern", r"\S+",
                "-w", str(workers), path, "-o", out]  # fmt: skip
        answer = timed(lambda: {"rc": subprocess.run(argv, check=True).returncode})
        with open(out, encoding="utf-8") as file:
            rows = [line.rstrip("\n").rsplit("\t", 1) for line in file]
    return {**answer, **workloads.summary(task, ((word, int(n)) for word, n in rows))}


def mapred_distinct(task: str, path: str, workers: int) -> Answer:
    """Many distinct keys under a small budget: each line is its own key, output=DIR."""
    from mapred import mapreduce, read_text

    limit = os.environ.get("BENCH_MEMORY_LIMIT", "256MB")
    with tempfile.TemporaryDirectory(dir=os.environ.get("MAPRED_TMPDIR")) as tmp:
        started = time.perf_counter()
        result = mapreduce(
            _line_key, workloads.add, read_text(path), combiner=workloads.add, workers=workers,
            memory_limit=limit, output=os.path.join(tmp, "out"),
        )  # fmt: skip
        keys = total = 0
        for _, count in result.items():  # streams the part files: never a dict  # noqa: PERF102
            keys += 1
            total += count
        elapsed = time.perf_counter() - started
        spilled = result.counters["mapred"]["spilled_bytes"]
    return {"elapsed": elapsed, "keys": keys, "total": total, "top": [], "spilled_bytes": spilled}


def mapred_small(task: str, path: str, workers: int) -> Answer:
    """A job of 10 records: what a small job costs, worker start-up and stop included."""
    from mapred import mapreduce

    started = time.perf_counter()
    result = mapreduce(_line_key, workloads.add, [f"r{i % 3}" for i in range(10)],
                       workers=workers)  # fmt: skip
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, **workloads.summary("wordcount", result.items())}


def _line_key(line: str) -> Iterator[tuple[str, int]]:
    yield line, 1


def contenders() -> dict[str, Callable[[str, str, int], Answer]]:
    from benchmarks import peers

    return {
        "mapred_cli": mapred_cli,
        "mapred_api": mapred_api,
        "mapred_api_skipping": mapred_api_skipping,
        "mapred_tasks": mapred_tasks,
        "mapred_dask": mapred_dask,
        "mapred_distinct": mapred_distinct,
        "mapred_small": mapred_small,
        "sequential": sequential,
        "sequential_tasks": sequential_tasks,
        **{name: lambda t, p, w, f=f: timed(lambda: f(t, p, w)) for name, f in peers.PEERS.items()},
    }


def main(argv: list[str]) -> None:
    name, task, path, workers = argv[0], argv[1], argv[2], int(argv[3])
    result = contenders()[name](task, path, workers)
    sys.stdout.flush()
    print("BENCH-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
