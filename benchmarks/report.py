"""What the suite prints: the table of a workload, the targets of issues #11 and #12, the plot.

Ratios are speedups within one run (the machine is shared and noisy: absolute times
mean little, ratios hold): ``seq x`` is the time of the same functions run sequentially
over the contender's time, ``1-proc x`` the one-process script's time over it; above 1,
the contender is faster.

The engine's own CPU (summed over the driver and every worker, user + sys) is the job's
CPU minus the CPU of the same functions run sequentially; per record that crosses the
shuffle (combiner output, or map output without a combiner) for the task-mapper bigram
job (target <= 400 ns), and per pair for the many-pairs generator job ``pairs``, whose
shuffle is a few dozen keys (target <= 100 ns).
"""

from __future__ import annotations

import json
import os
import statistics
from typing import Any

from benchmarks import corpus
from benchmarks.measure import Run

MB = 10**6
# entry -> the entry running its functions sequentially (the CLI has its own mapper)
SEQ_OF = {"api": "seq", "api_str": "seq_str", "api_w1": "seq", "api_skip": "seq",
          "tasks": "seq_tasks", "tasks_str": "seq_tasks_str", "api_dask": "seq"}  # fmt: skip


def median(runs: list[Run], name: str, field: str = "contender") -> tuple[float, float] | None:
    """Median (elapsed, peak RSS) of the successful runs of one contender or entry key."""
    ok = [r for r in runs if getattr(r, field) == name and not r.error]
    if not ok:
        return None
    return statistics.median(r.elapsed for r in ok), statistics.median(r.peak_rss for r in ok)


def stat(runs: list[Run], key: str, name: str) -> float | None:
    """Median of ``answer[name]`` over the successful runs of an entry."""
    values = [r.answer[name] for r in runs if r.key == key and not r.error and name in r.answer]
    return statistics.median(values) if values else None


def table(task: str, size: int, entries: list[Any], runs: list[Run]) -> None:
    print(
        f"\n{task}, {corpus.label(size)}: medians; seq x / 1-proc x = speedup over the same "
        f"functions run sequentially / over the one-process script (above 1: faster)"
    )
    print(f"| {'contender':38} | {'time s':>7} | {'seq x':>6} | {'1-proc x':>8} | "
          f"{'peak RSS MB':>11} | {'driver CPU':>10} |")  # fmt: skip
    print(f"|{'-' * 40}|{'-' * 9}|{'-' * 8}|{'-' * 10}|{'-' * 13}|{'-' * 12}|")
    single = median(runs, "single", "key")
    for entry in entries:
        med = median(runs, entry.key, "key")
        if med is None:
            print(f"| {entry.label:38} | {'failed':>7} | {'':>6} | {'':>8} | {'':>11} | {'':>10} |")
            continue
        seq = median(runs, SEQ_OF.get(entry.key, "seq"), "key")
        seq_x = f"{seq[0] / med[0]:.2f}" if seq and entry.key in SEQ_OF else ""
        single_x = f"{single[0] / med[0]:.2f}" if single else ""
        share = ""
        driver, total = stat(runs, entry.key, "cpu_driver"), stat(runs, entry.key, "cpu_total")
        if entry.key in SEQ_OF and driver is not None and total:
            share = f"{100 * driver / total:.0f}%"
        print(f"| {entry.label:38} | {med[0]:7.2f} | {seq_x:>6} | {single_x:>8} "
              f"| {med[1] / MB:11.0f} | {share:>10} |")  # fmt: skip
    answers = {json.dumps([r.answer.get(k) for k in ("keys", "total", "top")])
               for r in runs if r.answer and not r.error}  # fmt: skip
    print(
        f"answers agree: {len(answers) <= 1}"
        + ("" if len(answers) <= 1 else f" ({len(answers)} different answers: see the JSON)")
    )
    engine_cpu(task, runs)


def engine_cpu(task: str, runs: list[Run]) -> None:
    """The engine's CPU per shuffle record and per map-output pair, for each mapred entry."""
    for key, seq_key in SEQ_OF.items():
        total, seq = stat(runs, key, "cpu_total"), stat(runs, seq_key, "cpu_total")
        shuffle, pairs = stat(runs, key, "shuffle"), stat(runs, key, "map_output")
        if total is None or seq is None or not shuffle or not pairs:
            continue
        engine = total - seq
        driver, elapsed = stat(runs, key, "cpu_driver") or 0.0, median(runs, key, "key")
        wall = f", driver {100 * driver / elapsed[0]:.0f}% of wall" if elapsed else ""
        print(f"  engine CPU, {key}: {engine:.2f} s = {engine / shuffle * 1e9:.0f} ns per "
              f"shuffle record ({shuffle:,.0f}), {engine / pairs * 1e9:.0f} ns per map "
              f"output pair ({pairs:,.0f}); driver CPU {driver:.2f} s of {total:.2f} s"
              f"{wall}")  # fmt: skip


def targets(measured: dict[str, list[Run]]) -> list[dict[str, Any]]:
    """The targets of issues #11 and #12 that this run measured, with pass/fail."""
    rows: list[dict[str, Any]] = []

    def time_of(task: str, key: str) -> float | None:
        med = median(measured.get(task, []), key, "key")
        return med[0] if med else None

    def faster(issue: str, what: str, task: str, key: str, base: str, factor: float) -> None:
        mine, theirs = time_of(task, key), time_of(task, base)
        if mine and theirs:
            value = theirs / mine
            rows.append({"issue": issue, "target": what, "value": f"{value:.2f}x",
                         "pass": value >= factor})  # fmt: skip

    def at_most(issue: str, what: str, value: float | None, limit: float, unit: str) -> None:
        if value is not None:
            rows.append({"issue": issue, "target": what, "value": f"{value:.{0 if unit else 2}f}"
                         f"{unit}", "pass": value <= limit})  # fmt: skip

    faster("#11", "bigrams: generator >= 1.3x sequential", "bigrams", "api", "seq", 1.3)
    faster("#11", "bigrams: task mapper >= 1.5x 1-process", "bigrams", "tasks", "single", 1.5)
    for peer in ("dask", "spark", "pool"):
        faster("#11", f"bigrams: task mapper faster than {peer}", "bigrams", "tasks", peer, 1.0)
    for key, base in (("api", "api_str"), ("tasks", "tasks_str")):
        mine, theirs = time_of("bigrams", key), time_of("bigrams", base)
        at_most("#11", f"bigrams: tuple keys <= 1.2x str keys ({key})",
                mine / theirs if mine and theirs else None, 1.2, "")  # fmt: skip
    faster("#11", "bigrams: workers=2 not slower than workers=1", "bigrams", "api", "api_w1", 1.0)
    faster("#11", "index: generator >= 1.5x sequential", "index", "api", "seq", 1.5)
    faster("#11/#12", "two-step: generator >= 1.5x sequential", "twostep", "api", "seq", 1.5)
    twostep = measured.get("twostep", [])
    driver, med = stat(twostep, "api", "cpu_driver"), median(twostep, "api", "key")
    at_most("#11", "two-step: driver < 10% of wall",
            100 * driver / med[0] if driver is not None and med else None, 10, "%")  # fmt: skip
    first, both = median(measured.get("bigrams", []), "api", "key"), med
    if first and both:
        rows.append({"issue": "#12", "target": "two-step peak RSS <= bigram step's alone",
                     "value": f"{both[1] / MB:.0f} / {first[1] / MB:.0f} MB",
                     "pass": both[1] <= first[1]})  # fmt: skip
    four = measured.get("fourstep", [])
    driver, total = stat(four, "api", "cpu_driver"), stat(four, "api", "cpu_total")
    at_most("#12", "four-step: driver CPU < 10% of the job's",
            100 * driver / total if driver is not None and total else None, 10, "%")  # fmt: skip
    driver, total = stat(four, "api_dask", "cpu_driver"), stat(four, "api_dask", "cpu_total")
    if driver is not None:  # --dask
        at_most("#12", "four-step on Dask: driver CPU < 10% of the job's",
                100 * driver / total if total else None, 10, "%")  # fmt: skip
    for key in ("cli", "tasks"):
        faster("#11", f"word count: {key} >= 1.6x 1-process", "wordcount", key, "single", 1.6)
        faster("#11", f"word count: {key} faster than pool", "wordcount", key, "pool", 1.0)
    faster("#11", "word count: generator >= 1.3x sequential", "wordcount", "api", "seq", 1.3)

    def engine_ns(workload: str, key: str, seq_key: str, per: str) -> float | None:
        """The engine's CPU (the job's minus its sequential run's) per ``per`` record."""
        rows_of = measured.get(workload, [])
        total, seq = stat(rows_of, key, "cpu_total"), stat(rows_of, seq_key, "cpu_total")
        count = stat(rows_of, key, per)
        return (total - seq) / count * 1e9 if total and seq and count else None

    at_most("#11", "engine CPU per shuffle record (bigrams, task mapper) <= 400 ns",
            engine_ns("bigrams", "tasks", "seq_tasks", "shuffle"), 400, " ns")  # fmt: skip
    at_most("#11", "engine CPU per pair before the combiner (pairs job) <= 100 ns",
            engine_ns("pairs", "api", "seq", "map_output"), 100, " ns")  # fmt: skip
    if rows:
        print("\n== targets (issues #11 and #12), ratios within this run")
        print(f"| {'issue':7} | {'target':62} | {'value':>14} | {'':4} |")
        print(f"|{'-' * 9}|{'-' * 64}|{'-' * 16}|{'-' * 6}|")
        for row in rows:
            verdict = "pass" if row["pass"] else "FAIL"
            print(f"| {row['issue']:7} | {row['target']:62} | {row['value']:>14} | {verdict} |")
    return rows


def plot(results: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install -e '.[bench]')")
        return
    data = results["scaling"]["by_size"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = [d["size"] / MB for d in data]
    left.plot(sizes, [d["seconds"] for d in data], "o-", label="mapred wordcount, 2 workers")
    runs = [Run(**r) for r in results.get("workload_wordcount", [])]
    for key in sorted({r.key for r in runs} - {"cli"}):
        med = median(runs, key, "key")
        if med:
            left.plot([runs[0].size / MB], [med[0]], "x", label=f"{key} (word count)")
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
