"""The benchmark suite: mapred against its peers, scaling, and the memory targets.

One command (from the repository root, in the project's virtualenv)::

    python -m benchmarks                     # the full suite at 200 MB, 3 rounds
    python -m benchmarks --size 50MB --rounds 1 --skip scaling,memory   # a quick look

What it does:

1. builds the corpus (``benchmarks/corpus.py``) at each size it needs;
2. *compare*: for word count and bigram count, runs every contender once per round,
   alternating the order from round to round, and prints the median time of each,
   its ratio to ``mapred``, MB/s and the peak RSS of its whole process tree;
3. *start-up*: a job of 10 records, worker processes started and stopped included;
   *engine*: ``mapreduce()`` with a generator mapper and combiner against the same
   functions run sequentially, at ``--engine-size`` (default 50 MB): the speedup, and
   the engine's overhead per input record;
4. *scaling*: ``mapred wordcount`` at 25/50/100/200 MB (and 1 GB with ``--big``), and
   at 1 and 2 workers;
5. *memory*: word count of 1 GB with 2 workers (target: total peak RSS < 300 MB) and 20 M
   distinct keys with ``memory_limit="256MB"`` (target: < 1 GB), with ``--big``;
6. writes the results as JSON to ``benchmarks/results/`` and the plot to
   ``docs/img/scaling.png`` (matplotlib, the ``bench`` extra).

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

from benchmarks import corpus
from benchmarks.measure import Run, measure

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONTENDERS_PY = os.path.join(HERE, "contenders.py")
RESULTS = os.path.join(HERE, "results")
PLOT = os.path.join(ROOT, "docs", "img", "scaling.png")
DEFAULT_PEERS_PYTHON = os.environ.get("MAPRED_BENCH_VENV", "/work/bench-venv") + "/bin/python"

BOTH = ("wordcount", "bigrams")
# (contender, label, which python, the module it needs there, tasks)
COMPARE = [
    ("mapred_cli", "mapred wordcount (CLI)", "project", "mapred.cli", ("wordcount",)),
    ("mapred_tasks", "mapred mapreduce(), task_mapper", "project", "mapred", BOTH),
    ("mapred_api", "mapred mapreduce(), per-line mapper", "project", "mapred", BOTH),
    ("single", "1 process: Counter + re.findall", "peers", "re", ("wordcount", "bigrams")),
    ("single_regex", "1 process: Counter + regex.findall", "peers", "regex", ("wordcount",)),
    ("pool", "multiprocessing.Pool, Counter/chunk", "peers", "re", ("wordcount", "bigrams")),
    ("dask_bag", "Dask bag (processes)", "peers", "dask.bag", ("wordcount", "bigrams")),
    ("spark", "PySpark local[N]", "peers", "pyspark", ("wordcount", "bigrams")),
    ("mrjob", "mrjob (local runner)", "peers", "mrjob", ("wordcount",)),
]
MB = 10**6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", default="200MB", help="corpus size for the comparison")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine-size", default="50MB")
    parser.add_argument("--scaling-sizes", default="25MB,50MB,100MB,200MB")
    parser.add_argument("--big", action="store_true", help="also 1 GB and 20 M distinct keys")
    parser.add_argument(
        "--skip", default="", help="comma list of: compare,startup,engine,scaling,memory"
    )
    parser.add_argument("--only", default="", help="comma list of contenders to compare")
    parser.add_argument("--peers-python", default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--mrjob-max-size", default="200MB", help="mrjob is slow: cap its input")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    os.makedirs(os.path.join(RESULTS, "tmp"), exist_ok=True)
    env = dict(os.environ, MAPRED_TMPDIR=os.path.join(RESULTS, "tmp"), PYTHONPATH=ROOT)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(args)}
    print(f"corpus seed: {', '.join(corpus.seed_sources())}")
    pythons = {"project": sys.executable, "peers": args.peers_python}
    available = _available(pythons)
    size = corpus.parse_mb(args.size)

    if "compare" not in skip:
        path = corpus.build(size)
        only = set(filter(None, args.only.split(",")))
        chosen = [c for c in COMPARE if not only or c[0] in only]
        for task in ("wordcount", "bigrams"):
            runs = compare(task, path, size, chosen, args, pythons, available, env)
            report[f"compare_{task}"] = [dataclasses.asdict(r) for r in runs]
    if "startup" not in skip:
        report["startup"] = startup(args, pythons, env)
    if "engine" not in skip:
        report["engine"] = engine(corpus.parse_mb(args.engine_size), args, pythons, env)
    if "scaling" not in skip:
        sizes = [corpus.parse_mb(s) for s in args.scaling_sizes.split(",")]
        if args.big:
            sizes.append(1000 * MB)
        report["scaling"] = scaling(sizes, args, pythons, env)
    if "memory" not in skip and args.big:
        report["memory"] = memory(args, pythons, env)
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, time.strftime("bench-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as file:
        json.dump(report, file, indent=1)
    print(f"\nresults: {out}")
    if "scaling" in report:
        plot(report, PLOT)
    return 0


def _available(pythons: dict[str, str]) -> dict[str, str]:
    """Which (python, module) pairs import: module -> "" if it does, else a note."""
    notes = {}
    for _, _, where, module, _ in COMPARE:
        python = pythons[where]
        if not os.path.exists(python):
            notes[f"{where}:{module}"] = f"no {python} (run benchmarks/setup_peers.sh)"
            continue
        probe = subprocess.run(
            [python, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT
        )
        notes[f"{where}:{module}"] = "" if probe.returncode == 0 else f"{module} not installed"
    if not _java():
        notes["peers:pyspark"] = notes.get("peers:pyspark") or "no java on PATH"
    return notes


def _java() -> bool:
    try:
        return subprocess.run(["java", "-version"], capture_output=True).returncode == 0
    except OSError:
        return False


def _run(contender: str, task: str, path: str, size: int, workers: int, python: str,
         env: dict[str, str], extra_env: dict[str, str] | None = None) -> Run:  # fmt: skip
    argv = [python, CONTENDERS_PY, contender, task, path, str(workers)]
    return measure(argv, contender, task, size, workers, env={**env, **(extra_env or {})})


def compare(task: str, path: str, size: int, chosen: list[Any], args: argparse.Namespace,
            pythons: dict[str, str], available: dict[str, str],
            env: dict[str, str]) -> list[Run]:  # fmt: skip
    """Every contender once per round, in an order that rotates; print the medians."""
    entries = []
    print(f"\n== {task}, {corpus.label(size)}, workers={args.workers}, {args.rounds} rounds")
    for name, label, where, module, tasks in chosen:
        if task not in tasks:
            continue
        note = available.get(f"{where}:{module}", "")
        if name == "mrjob" and size > corpus.parse_mb(args.mrjob_max_size):
            note = note or f"skipped above --mrjob-max-size {args.mrjob_max_size}"
        if note:
            print(f"  skip {label}: {note}")
            continue
        entries.append((name, label, pythons[where]))
    runs: list[Run] = []
    for round_no in range(args.rounds):
        shift = round_no % max(1, len(entries))
        for name, _, python in entries[shift:] + entries[:shift]:
            run = _run(name, task, path, size, args.workers, python, env)
            status = f"{run.elapsed:7.2f} s" if not run.error else f"FAILED {run.error}"
            print(f"  round {round_no + 1}: {name:14} {status}  rss {run.peak_rss / MB:6.0f} MB")
            runs.append(run)
    print_table(task, size, entries, runs)
    return runs


def _median(runs: list[Run], name: str) -> tuple[float, float] | None:
    ok = [r for r in runs if r.contender == name and not r.error]
    if not ok:
        return None
    return statistics.median(r.elapsed for r in ok), statistics.median(r.peak_rss for r in ok)


def print_table(task: str, size: int, entries: list[Any], runs: list[Run]) -> None:
    base = _median(runs, "mapred_cli" if task == "wordcount" else "mapred_tasks")
    answers = {
        json.dumps(r.answer.get("top")) for r in runs if r.answer and r.contender != "dask_bag"
    }
    print(f"\n{task}, {corpus.label(size)}: median of each; ratio = its time / mapred's "
          f"(above 1: mapred is faster)")  # fmt: skip
    print(
        f"| {'contender':38} | {'time s':>7} | {'ratio':>6} | {'MB/s':>6} | {'peak RSS MB':>11} |"
    )
    print(f"|{'-' * 40}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 13}|")
    for name, label, _ in entries:
        med = _median(runs, name)
        if med is None:
            print(f"| {label:38} | {'failed':>7} | {'':>6} | {'':>6} | {'':>11} |")
            continue
        seconds, rss = med
        ratio = f"{seconds / base[0]:.2f}" if base else "-"
        print(f"| {label:38} | {seconds:7.2f} | {ratio:>6} | {size / MB / seconds:6.1f} "
              f"| {rss / MB:11.0f} |")  # fmt: skip
    print(f"answers agree: {len(answers) <= 1} (Dask bag's whitespace tokens not compared)")


def startup(args: argparse.Namespace, pythons: dict[str, str], env: dict[str, str]) -> float:
    """A 10-record job, worker start-up included (target: under 0.5 s)."""
    runs = [_run("mapred_small", "small", "-", 0, args.workers, pythons["project"], env)
            for _ in range(5)]  # fmt: skip
    seconds = statistics.median(r.elapsed for r in runs)
    print(f"\n== start-up: a 10-record job with {args.workers} workers takes {seconds:.3f} s "
          f"(median of 5; target < 0.5 s)")  # fmt: skip
    return seconds


def engine(size: int, args: argparse.Namespace, pythons: dict[str, str],
           env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """mapreduce() word count against the same functions run sequentially."""
    path = corpus.build(size)
    print(f"\n== engine: mapreduce() vs sequential, word count, {corpus.label(size)}, "
          f"workers={args.workers}")  # fmt: skip
    runs: list[Run] = []
    for round_no in range(args.rounds):
        order = ["mapred_api", "sequential"] if round_no % 2 == 0 else ["sequential", "mapred_api"]
        for name in order:
            run = _run(name, "wordcount", path, size, args.workers, pythons["project"], env)
            print(f"  round {round_no + 1}: {name:12} {run.elapsed:7.2f} s {run.error}")
            runs.append(run)
    engine_s = _median(runs, "mapred_api")
    seq_s = _median(runs, "sequential")
    result: dict[str, Any] = {"runs": [dataclasses.asdict(r) for r in runs]}
    if engine_s and seq_s:
        records = next(r.answer["records"] for r in runs if r.contender == "sequential")
        overhead = (engine_s[0] * args.workers - seq_s[0]) / records
        result.update(speedup=seq_s[0] / engine_s[0], overhead_ns=overhead * 1e9, records=records)
        print(f"  mapreduce {engine_s[0]:.2f} s, sequential {seq_s[0]:.2f} s: "
              f"speedup {seq_s[0] / engine_s[0]:.2f}x with {args.workers} workers; "
              f"engine overhead {overhead * 1e9:.0f} ns per input record "
              f"({records} records; = (time x workers - sequential) / records)")  # fmt: skip
    return result


def scaling(sizes: list[int], args: argparse.Namespace, pythons: dict[str, str],
            env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """mapred wordcount over sizes (2 workers), and at 1 and 2 workers on the largest <= 200 MB."""
    print("\n== scaling: mapred wordcount (CLI)")
    by_size = []
    for size in sizes:
        path = corpus.build(size)
        runs = [_run("mapred_cli", "wordcount", path, size, args.workers, pythons["project"], env)
                for _ in range(1 if size > 200 * MB else args.rounds)]  # fmt: skip
        med = _median(runs, "mapred_cli")
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
        med = _median(runs, "mapred_cli")
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
    wc = _run("mapred_cli", "wordcount", corpus.build(size), size, 2, pythons["project"], env)
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


def plot(report: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install -e '.[bench]')")
        return
    data = report["scaling"]["by_size"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [d["size"] / MB for d in data]
    left.plot(sizes, [d["seconds"] for d in data], "o-", label="mapred wordcount, 2 workers")
    for key, label in (("compare_wordcount", "200 MB comparison"),):
        runs = [Run(**r) for r in report.get(key, [])]
        for name in sorted({r.contender for r in runs} - {"mapred_cli"}):
            med = _median(runs, name)
            if med:
                left.plot([runs[0].size / MB], [med[0]], "x", label=f"{name} ({label})")
    left.set_xlabel("input (MB)")
    left.set_ylabel("seconds")
    left.set_title("Word count: time")
    left.legend(fontsize=7)
    right.plot(sizes, [d["peak_rss"] / MB for d in data], "o-", color="tab:green")
    right.set_xlabel("input (MB)")
    right.set_ylabel("total peak RSS (MB)")
    right.set_ylim(bottom=0)
    right.set_title("Word count: memory of all processes")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    sys.exit(main())
