"""Every program in examples/ runs as documented and prints the right answer.

Each example runs as a user runs it: ``python NAME.py`` in a subprocess, from the
``examples/`` folder, with no arguments. Its output is checked against an independent
computation of the same answer in plain Python (collections.Counter, csv, str.split), never
against numbers copied from an earlier run.
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"

# Each example must finish well within a minute on a 2-core machine; they take about a
# second. The limit turns a hang into a failure with the output so far.
EXAMPLE_TIMEOUT_SECONDS = 60

# The same word rule as the examples (and `mapred wordcount`): tested through its results.
WORD = re.compile(r"\w+(?:['’]\w+)*")

# Examples owned elsewhere, or needing extras, with their own tests below.
OPTIONAL = {"dask_wordcount.py"}


def run_example(name: str, *args: str) -> str:
    """Run ``examples/NAME`` like a user would and return its stdout; fail on a non-zero exit.

    The example must not leave files behind in examples/.
    """
    before = sorted(EXAMPLES.rglob("*"))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [sys.executable, name, *args],
        cwd=EXAMPLES,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_SECONDS,
        check=False,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stderr}"
    after = [p for p in sorted(EXAMPLES.rglob("*")) if "__pycache__" not in p.parts]
    assert after == [p for p in before if "__pycache__" not in p.parts], f"{name} left files"
    return proc.stdout


def sample_words() -> collections.Counter[str]:
    """Word counts of data/sample.txt, computed without mapred."""
    text = (DATA / "sample.txt").read_text(encoding="utf-8")
    return collections.Counter(WORD.findall(text.lower()))


def test_every_example_is_tested() -> None:
    """A new example needs a test here: each examples/*.py has a test_<name> function."""
    names = {p.stem for p in EXAMPLES.glob("*.py")} - {Path(n).stem for n in OPTIONAL}
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert names <= tested, f"examples without a test: {sorted(names - tested)}"


def test_wordcount() -> None:
    """wordcount.py prints the ten most frequent words (ties alphabetical) and the totals."""
    out = run_example("wordcount.py").splitlines()
    counts = sample_words()
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [line.split() for line in out[:10]] == [[str(n), w] for w, n in expected]
    lines = len((DATA / "sample.txt").read_text(encoding="utf-8").splitlines())
    summary = out[10]
    assert summary.startswith(f"{len(counts)} distinct words in {lines} lines; ")
    assert f"{sum(counts.values())} pairs" in summary


def test_inverted_index() -> None:
    """inverted_index.py finds each queried word on exactly the lines that hold it."""
    files = ["data/sample.txt", "data/access.log"]
    index: dict[str, dict[str, list[int]]] = {}
    for path in files:
        with open(EXAMPLES / path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                for word in set(WORD.findall(line.lower())):
                    index.setdefault(word, {}).setdefault(path, []).append(number)

    def expected_lines(word: str) -> list[str]:
        found = index.get(word.lower(), {})
        if not found:
            return [f"{word}: not found"]
        lines = []
        for path, numbers in found.items():
            first = ", ".join(map(str, numbers[:5]))
            more = ", ..." if len(numbers) > 5 else ""
            lines.append(f"{word}: {path}: {len(numbers)} lines: {first}{more}")
        return lines

    out = run_example("inverted_index.py").splitlines()
    assert out[0] == f"{len(index)} distinct words in {', '.join(files)}"
    assert out[1:] == [line for w in ("firmament", "search", "word") for line in expected_lines(w)]

    out = run_example("inverted_index.py", "Egypt", "xyzzy").splitlines()
    assert out[1:] == expected_lines("Egypt") + expected_lines("xyzzy")


def test_log_analysis() -> None:
    """log_analysis.py: requests and bytes per status, and the top five paths."""
    statuses: dict[int, list[int]] = {}
    paths: collections.Counter[str] = collections.Counter()
    no_request = 0
    for line in (DATA / "access.log").read_text(encoding="utf-8").splitlines():
        _, request, tail = line.split('"')  # host - user [time] "request" status bytes
        status, size = tail.split()
        entry = statuses.setdefault(int(status), [0, 0])
        entry[0] += 1
        entry[1] += 0 if size == "-" else int(size)
        if request == "-":
            no_request += 1
        else:
            paths[request.split()[1]] += 1

    out = run_example("log_analysis.py").splitlines()
    table = out[1 : 1 + len(statuses)]
    assert [list(map(int, line.split())) for line in table] == [
        [status, *statuses[status]] for status in sorted(statuses)
    ]
    top = sorted(paths.items(), key=lambda item: (-item[1], item[0]))[:5]
    start = 2 + len(statuses)
    assert [line.split() for line in out[start : start + 5]] == [[str(n), p] for p, n in top]
    assert out[-1] == f"odd lines: {{'lines without a request': {no_request}}}"


def test_join() -> None:
    """join.py: each customer with its number of orders and their total; unknown ones counted."""
    with open(DATA / "customers.csv", newline="", encoding="utf-8") as file:
        customers = {row["customer_id"]: row for row in csv.DictReader(file)}
    orders: dict[str, list[str]] = collections.defaultdict(list)
    with open(DATA / "orders.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            orders[row["customer_id"]].append(row["amount"])

    out = run_example("join.py").splitlines()
    rows = [re.split(r"\s{2,}", line.strip()) for line in out[1:-1]]
    expected = []
    for customer_id in sorted(customers):
        amounts = orders.get(customer_id, [])
        total = sum(int(a.replace(".", "")) for a in amounts)  # amounts have two decimals
        name, country = customers[customer_id]["name"], customers[customer_id]["country"]
        expected.append([customer_id, name, country, str(len(amounts)), f"{total / 100:.2f}"])
    assert rows == expected
    unknown = sum(len(v) for k, v in orders.items() if k not in customers)
    assert unknown > 0  # the data set has some, so the counter is exercised
    assert out[-1] == f"orders without a customer: {unknown}"


def test_pipeline() -> None:
    """pipeline.py: for every first letter, its three most frequent words."""
    by_letter: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    for word, count in sample_words().items():
        by_letter[word[0]].append((-count, word))
    expected = []
    for letter in sorted(by_letter):
        best = sorted(by_letter[letter])[:3]
        expected.append(f"{letter}  " + ", ".join(f"{w} ({-n})" for n, w in best))
    assert run_example("pipeline.py").splitlines() == expected


def test_two_step() -> None:
    """two_step.py: for the ten words that start the most bigrams, the best follower."""
    followers: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in (DATA / "sample.txt").read_text(encoding="utf-8").splitlines():
        words = WORD.findall(line.lower())
        for first, second in itertools.pairwise(words):
            followers[first][second] += 1
    ranked = sorted(followers.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    expected = []
    for word, counts in ranked[:10]:
        follower, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
        expected.append(f"{word}\t{follower}\t{count}")
    assert run_example("two_step.py").splitlines() == expected


def test_job_class() -> None:
    """job_class.py: a Job with options; JSON lines by default, TSV, counters on stderr."""
    counts = sample_words()

    def top(n: int, min_length: int) -> list[tuple[str, int]]:
        long = [(w, c) for w, c in counts.items() if len(w) >= min_length]
        return sorted(long, key=lambda item: (-item[1], item[0]))[:n]

    lines = run_example("job_class.py").splitlines()
    assert [json.loads(line) for line in lines] == [[w, c] for w, c in top(10, 4)]
    tsv = run_example("job_class.py", "--top", "3", "--min-length", "6", "--format", "tsv")
    assert tsv.splitlines() == [f"{w}\t{c}" for w, c in top(3, 6)]


def test_custom_counters() -> None:
    """custom_counters.py: exact counters, the same again after a worker was killed."""
    lines = (DATA / "sample.txt").read_text(encoding="utf-8").splitlines()
    questions = sum("?" in line for line in lines)
    lords = sum(line.count("LORD") for line in lines)
    once = sum(1 for n in sample_words().values() if n == 1)

    def block(retries: int) -> list[str]:
        return [
            f"  verses/questions: {questions}",
            f"  words/LORD: {lords}",
            f"  words/used once: {once}",
            f"  mapred/task_retries: {retries}",
        ]

    out = run_example("custom_counters.py").splitlines()
    assert out == [
        "counters:",
        *block(0),
        "after a worker was killed mid-task:",
        *block(1),
        "same result and counters: True",
    ]


@pytest.mark.dask
def test_dask_wordcount() -> None:
    """dask_wordcount.py (the Dask example) starts a LocalCluster and prints the ten most
    frequent words (ties alphabetical) and the totals, as computed here without mapred."""
    if importlib.util.find_spec("distributed") is None:
        pytest.skip("needs the dask extra: pip install '.[dask]'")
    out = run_example("dask_wordcount.py").splitlines()
    counts = sample_words()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    lines = (DATA / "sample.txt").read_text(encoding="utf-8").splitlines()
    assert out[0].startswith("dashboard: "), out
    assert out[1:11] == [f"{n:>8}  {word}" for word, n in ranked]
    summary = re.fullmatch(
        r"(\d+) distinct words in (\d+) lines, \d+ bytes shuffled between workers; [\d.]+ s",
        out[11],
    )
    assert summary, out[11]
    assert (int(summary[1]), int(summary[2])) == (len(counts), len(lines))
    assert len(out) == 12, out
