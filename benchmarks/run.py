"""The benchmark suite: mapred's workloads against their baselines and peers, and more.

One command (from the repository root, in the project's virtualenv)::

    python -m benchmarks                                # everything at 200 MB, 3 rounds
    python -m benchmarks --size 20MB --rounds 1 --skip scaling   # quick: a few minutes

What it does:

1. builds the corpus (``benchmarks/corpus.py``, real text whose vocabulary grows with
   its size) at each size it needs;
2. *workloads* (``benchmarks/workloads.py``): word count, bigram count (tuple and str
   keys, 1 and 2 workers), inverted index, a two-step and a four-step job, and a
   many-pairs job; each contender once per round, in an order that rotates; prints the
   median time of each, its speedup over the same functions run sequentially and over
   a one-process script, the peak RSS of its process tree, the engine's CPU per record,
   the driver's share, and the targets of issues #11 and #12 with pass/fail;
   with ``--dask``, each ``api`` entry runs again on a Dask cluster of ``--workers``
   worker processes and a scheduler process, started outside the clock (``api_dask``;
   the driver's CPU is then the contender process's alone);
3. *start-up*: a job of 10 records, worker processes started and stopped included;
4. *scaling*: ``mapred wordcount`` at 25/50/100/200 MB (and 1 GB with ``--big``), and
   at 1 and 2 workers;
5. *memory*: word count of 1 GB with 2 workers (target: total peak RSS < 300 MB) and 20 M
   distinct keys with ``memory_limit="256MB"`` (target: < 1 GB), with ``--big``;
6. writes the results as JSON to ``benchmarks/results/`` and, when the scaling section
   ran, the plot to ``docs/img/scaling.png`` (matplotlib, the ``bench`` extra).

Peers run from the virtualenv made by ``benchmarks/setup_peers.sh`` (``--peers-python``);
a peer that is not installed there is skipped with a note. mapred's own work directory
goes under ``benchmarks/results/tmp`` (``MAPRED_TMPDIR``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks import corpus, report
from benchmarks.measure import Run, measure

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONTENDERS_PY = os.path.join(HERE, "contenders.py")
RESULTS = os.path.join(HERE, "results")
PLOT = os.path.join(ROOT, "docs", "img", "scaling.png")
DEFAULT_PEERS_PYTHON = os.environ.get("MAPRED_BENCH_VENV", "/work/bench-venv") + "/bin/python"
MB = 10**6
TIMEOUT = [1800.0]  # --timeout, seconds per run


@dataclasses.dataclass(frozen=True)
class Entry:
    """One contender of a workload: what runs, where, and how it is labelled."""

    key: str  # unique within the workload; the targets name it
    label: str
    contender: str  # a name in contenders.py
    task: str  # a task of workloads.py
    where: str = "project"  # "project" (mapred's venv) or "peers"
    module: str = "mapred"  # must import there
    workers: int | None = None  # None: --workers


def _peers(task: str, *, spark: bool = True, dask: bool = True) -> list[Entry]:
    found = [
        Entry("single", "1 process: Counter/dict script", "single", task, "peers", "collections"),
        Entry("pool", "multiprocessing.Pool, hand-written", "pool", task, "peers", "collections"),
    ]
    if dask:
        found.append(Entry("dask", "Dask bag (processes)", "dask_bag", task, "peers", "dask.bag"))
    if spark:
        found.append(Entry("spark", "PySpark local[N]", "spark", task, "peers", "pyspark"))
    return found


def _mapred(task: str, tasks: bool = True) -> list[Entry]:
    found = [
        Entry("api", "mapreduce(), per-record generator", "mapred_api", task),
        Entry("seq", "  same functions, sequential", "sequential", task),
    ]
    if tasks:
        found += [
            Entry("tasks", "mapreduce(), @task_mapper", "mapred_tasks", task),
            Entry("seq_tasks", "  same functions, sequential", "sequential_tasks", task),
        ]
    return found


WORKLOADS: dict[str, list[Entry]] = {
    "wordcount": [
        Entry("cli", "mapred wordcount --pattern '\\S+'", "mapred_cli", "wordcount"),
        *_mapred("wordcount"),
        Entry(
            "api_skip", "mapreduce(), generator, max_skipped", "mapred_api_skipping", "wordcount"
        ),
        *_peers("wordcount"),
        Entry("mrjob", "mrjob (local runner)", "mrjob", "wordcount", "peers", "mrjob"),
    ],
    "bigrams": [
        *_mapred("bigrams"),
        Entry("api_str", "mapreduce(), generator, str keys", "mapred_api", "bigrams_str"),
        Entry("seq_str", "  same functions, sequential", "sequential", "bigrams_str"),
        Entry("tasks_str", "mapreduce(), @task_mapper, str keys", "mapred_tasks", "bigrams_str"),
        Entry("seq_tasks_str", "  same functions, sequential", "sequential_tasks", "bigrams_str"),
        Entry("api_w1", "mapreduce(), generator, workers=1", "mapred_api", "bigrams", workers=1),
        *_peers("bigrams"),
    ],
    "index": [*_mapred("index"), *_peers("index")],
    "twostep": [*_mapred("twostep"), *_peers("twostep")],
    "fourstep": _mapred("fourstep"),
    "pairs": _mapred("pairs", tasks=False),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", default="200MB", help="corpus size of the workloads")
    parser.add_argument("--index-size", default="25MB", help="the inverted index's input "
                        "(at most --size; 25 MB: about 3.6 M postings)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list")
    parser.add_argument("--scaling-sizes", default="25MB,50MB,100MB,200MB")
    parser.add_argument("--big", action="store_true", help="also 1 GB and 20 M distinct keys")
    parser.add_argument(
        "--skip", default="", help="comma list of: workloads,startup,scaling,memory"
    )
    parser.add_argument("--only", default="", help="comma list of entry keys (api,seq,...)")
    parser.add_argument("--peers-python", default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--mrjob-max-size", default="25MB", help="mrjob is slow: cap its input")
    parser.add_argument("--dask", action="store_true", help="also mapred's jobs on a Dask "
                        "cluster of --workers processes (entry key api_dask)")  # fmt: skip
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    TIMEOUT[0] = args.timeout
    os.makedirs(os.path.join(RESULTS, "tmp"), exist_ok=True)
    env = dict(os.environ, MAPRED_TMPDIR=os.path.join(RESULTS, "tmp"), PYTHONPATH=ROOT)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(args)}
    print(corpus.describe())
    pythons = {"project": sys.executable, "peers": args.peers_python}
    size = corpus.parse_mb(args.size)

    if "workloads" not in skip:
        only = set(filter(None, args.only.split(",")))
        measured: dict[str, list[Run]] = {}
        for name in filter(None, args.workloads.split(",")):
            nbytes = min(size, corpus.parse_mb(args.index_size)) if name == "index" else size
            path = corpus.build(nbytes)
            if name == "index":
                corpus.documents(path)
            words, bigrams = _vocabulary(path, results)
            print(
                f"\n== {name}, {corpus.label(nbytes)} ({words:,} distinct words, "
                f"{bigrams:,} distinct bigrams), workers={args.workers}, {args.rounds} rounds"
            )
            entries = [*WORKLOADS[name], *(_on_dask(WORKLOADS[name]) if args.dask else [])]
            entries = [e for e in entries if not only or e.key in only]
            entries = _runnable(entries, nbytes, args, pythons)
            measured[name] = rounds(entries, path, nbytes, args, pythons, env)
            report.table(name, nbytes, entries, measured[name])
            results[f"workload_{name}"] = [dataclasses.asdict(r) for r in measured[name]]
        results["targets"] = report.targets(measured)
    if "startup" not in skip:
        results["startup"] = startup(args, pythons, env)
    if "scaling" not in skip:
        sizes = [corpus.parse_mb(s) for s in args.scaling_sizes.split(",")]
        if args.big:
            sizes.append(1000 * MB)
        results["scaling"] = scaling(sizes, args, pythons, env)
    if "memory" not in skip and args.big:
        results["memory"] = memory(args, pythons, env)
    out = os.path.join(RESULTS, time.strftime("bench-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as file:
        json.dump(results, file, indent=1)
    print(f"\nresults: {out}")
    if "scaling" in results:
        report.plot(results, PLOT)
    return 0


def _on_dask(entries: list[Entry]) -> list[Entry]:
    """The workload's ``api`` entry again, on a Dask cluster (``--dask``)."""
    return [
        Entry(
            "api_dask",
            "mapreduce(), generator, on Dask",
            "mapred_dask",
            e.task,
            module="distributed",
        )
        for e in entries
        if e.key == "api"
    ]


def _vocabulary(path: str, results: dict[str, Any]) -> tuple[int, int]:
    """Distinct words and bigrams of a corpus file (computed once per run)."""
    stats = results.setdefault("corpus", {})
    if path not in stats:
        stats[path] = corpus.stats(path)
    return stats[path][1], stats[path][2]


def _runnable(entries: list[Entry], size: int, args: argparse.Namespace,
              pythons: dict[str, str]) -> list[Entry]:  # fmt: skip
    """The entries whose Python and module are there; print a note for the others."""
    kept = []
    for entry in entries:
        python = pythons[entry.where]
        note = ""
        if not os.path.exists(python):
            note = f"no {python} (run benchmarks/setup_peers.sh)"
        elif not _imports(python, entry.module):
            note = f"{entry.module} not installed in {python}"
        elif entry.contender == "spark" and not _java():
            note = "no java on PATH"
        elif entry.contender == "mrjob" and size > corpus.parse_mb(args.mrjob_max_size):
            note = f"skipped above --mrjob-max-size {args.mrjob_max_size}"
        if note:
            print(f"  skip {entry.label.strip()}: {note}")
        else:
            kept.append(entry)
    return kept


_IMPORTS: dict[tuple[str, str], bool] = {}


def _imports(python: str, module: str) -> bool:
    if (python, module) not in _IMPORTS:
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, cwd=ROOT)
        _IMPORTS[python, module] = probe.returncode == 0
    return _IMPORTS[python, module]


def _java() -> bool:
    try:
        return subprocess.run(["java", "-version"], capture_output=True).returncode == 0
    except OSError:
        return False


def _run(contender: str, task: str, path: str, size: int, workers: int, python: str,
         env: dict[str, str], extra_env: dict[str, str] | None = None) -> Run:  # fmt: skip
    argv = [python, CONTENDERS_PY, contender, task, path, str(workers)]
    return measure(argv, contender, task, size, workers, env={**env, **(extra_env or {})},
                   timeout=TIMEOUT[0])  # fmt: skip


def rounds(entries: list[Entry], path: str, size: int, args: argparse.Namespace,
           pythons: dict[str, str], env: dict[str, str]) -> list[Run]:  # fmt: skip
    """Every entry once per round, in an order that rotates from round to round."""
    runs: list[Run] = []
    for round_no in range(args.rounds):
        shift = round_no % max(1, len(entries))
        for entry in entries[shift:] + entries[:shift]:
            workers = entry.workers or args.workers
            run = _run(entry.contender, entry.task, path, size, workers,
                       pythons[entry.where], env)  # fmt: skip
            run.key = entry.key
            status = f"{run.elapsed:7.2f} s" if not run.error else f"FAILED {run.error}"
            print(f"  round {round_no + 1}: {entry.key:13} {status}  "
                  f"rss {run.peak_rss / MB:6.0f} MB", flush=True)  # fmt: skip
            runs.append(run)
    return runs


def startup(args: argparse.Namespace, pythons: dict[str, str], env: dict[str, str]) -> float:
    """A 10-record job, worker start-up included (target: under 0.5 s)."""
    runs = [_run("mapred_small", "small", "-", 0, args.workers, pythons["project"], env)
            for _ in range(5)]  # fmt: skip
    seconds = statistics.median(r.elapsed for r in runs)
    print(f"\n== start-up: a 10-record job with {args.workers} workers takes {seconds:.3f} s "
          f"(median of 5; target < 0.5 s)")  # fmt: skip
    return seconds


def scaling(sizes: list[int], args: argparse.Namespace, pythons: dict[str, str],
            env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """mapred wordcount over sizes (2 workers), and at 1 and 2 workers on the largest <= 200 MB."""
    print("\n== scaling: mapred wordcount (CLI)")
    by_size = []
    for size in sizes:
        path = corpus.build(size, repeat=True)
        runs = [_run("mapred_cli", "wordcount", path, size, args.workers, pythons["project"], env)
                for _ in range(1 if size > 200 * MB else args.rounds)]  # fmt: skip
        med = report.median(runs, "mapred_cli")
        if med:
            by_size.append({"size": size, "seconds": med[0], "peak_rss": med[1]})
            print(f"  {corpus.label(size):>6}: {med[0]:6.2f} s  {size / MB / med[0]:5.1f} MB/s  "
                  f"peak RSS {med[1] / MB:5.0f} MB")  # fmt: skip
    by_workers = []
    size = max(s for s in sizes if s <= 200 * MB)
    path = corpus.build(size)
    for workers in (1, 2):
        runs = [_run("mapred_cli", "wordcount", path, size, workers, pythons["project"], env)
                for _ in range(args.rounds)]  # fmt: skip
        med = report.median(runs, "mapred_cli")
        if med:
            by_workers.append({"workers": workers, "seconds": med[0], "peak_rss": med[1]})
    if len(by_workers) == 2:
        print(f"  {corpus.label(size)} at 1 worker {by_workers[0]['seconds']:.2f} s, 2 workers "
              f"{by_workers[1]['seconds']:.2f} s: speedup "
              f"{by_workers[0]['seconds'] / by_workers[1]['seconds']:.2f}x")  # fmt: skip
    return {"by_size": by_size, "by_workers": by_workers, "workers_size": size}


def memory(
    args: argparse.Namespace, pythons: dict[str, str], env: dict[str, str]
) -> dict[str, Any]:
    """The two memory targets, once each."""
    print("\n== memory targets")
    size = 1000 * MB
    wc = _run(
        "mapred_cli", "wordcount", corpus.build(size, repeat=True), size, 2, pythons["project"], env
    )
    print(f"  word count 1 GB, 2 workers: {wc.elapsed:.1f} s, total peak RSS "
          f"{wc.peak_rss / MB:.0f} MB (target < 300 MB) {wc.error}")  # fmt: skip
    n = 20_000_000
    keys_path = corpus.distinct_keys(n)
    distinct = _run("mapred_distinct", "distinct", keys_path, os.path.getsize(keys_path), 2,
                    pythons["project"], env, {"BENCH_MEMORY_LIMIT": "256MB"})  # fmt: skip
    print(f"  {n / 1e6:.0f} M distinct keys, memory_limit=256MB, output=DIR: "
          f"{distinct.elapsed:.1f} s, total peak RSS {distinct.peak_rss / MB:.0f} MB "
          f"(target < 1000 MB), keys {distinct.answer.get('keys')}, spilled "
          f"{distinct.answer.get('spilled_bytes', 0) / MB:.0f} MB {distinct.error}")  # fmt: skip
    return {"wordcount_1gb": dataclasses.asdict(wc), "distinct": dataclasses.asdict(distinct)}


if __name__ == "__main__":
    sys.exit(main())
