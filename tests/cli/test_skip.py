"""``--max-skipped N`` on ``mapred run`` and ``mapred wordcount``: bad records skipped, their
count and where they are listed on stderr, the limit as a one-line failure."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

JOB = (
    "def m(line):\n"
    "    word, count = line.split()\n"
    "    yield word, int(count)\n"
    "\n"
    "def r(key, values):\n"
    "    return sum(values)\n"
)
LINES = ["a 1", "b 2", "a x", "c", "a 4"]


@pytest.fixture
def job(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "in.txt").write_text("".join(line + "\n" for line in LINES))
    return tmp_path / "job.py", tmp_path / "in.txt"


def test_run_skips_and_lists_bad_records_on_stderr(cli, job):
    script, data = job
    run = cli("run", f"{script}:m", f"{script}:r", "-w", "2", "--max-skipped", "2", data)
    assert run.status == 0, run
    assert run.out == "a\t5\nb\t2\n"
    assert run.err.splitlines() == [
        "mapred: 2 bad records skipped:",
        f"mapred: skipped map: {data} line 3: ValueError: invalid literal for int() with "
        "base 10: 'x'",
        f"mapred: skipped map: {data} line 4: ValueError: not enough values to unpack "
        "(expected 2, got 1)",
    ]


def test_run_with_an_output_dir_names_the_quarantine_file(cli, job, tmp_path):
    script, data = job
    out = tmp_path / "out"
    run = cli(
        "run", f"{script}:m", f"{script}:r", "-w", "1", "--max-skipped", "5",
        "--output-dir", out, data,
    )  # fmt: skip
    assert run.status == 0, run
    assert run.err == f"mapred: 2 bad records skipped, listed in {out / '_skipped.jsonl'}\n"
    entries = [json.loads(line) for line in (out / "_skipped.jsonl").read_text().splitlines()]
    assert [(e["path"], e["line"]) for e in entries] == [(str(data), 3), (str(data), 4)]


def test_past_the_limit_run_fails_in_one_line(cli, job):
    script, data = job
    run = cli("run", f"{script}:m", f"{script}:r", "-w", "1", "--max-skipped", "1", data)
    assert run.status == 1
    assert run.out == ""
    assert run.err.startswith("mapred: error: more than max_skipped=1 records were skipped;")
    assert "line 4" in run.err
    assert len(run.err.splitlines()) == 1


def test_without_max_skipped_a_bad_record_fails_the_job(cli, job):
    script, data = job
    run = cli("run", f"{script}:m", f"{script}:r", "-w", "1", data)
    assert run.status == 1
    assert "invalid literal" in run.err


@pytest.mark.parametrize("value", ["-1", "x"])
def test_a_bad_max_skipped_is_a_usage_error(cli, job, value):
    script, data = job
    run = cli("run", f"{script}:m", f"{script}:r", "--max-skipped", value, data)
    assert run.status == 2
    assert "--max-skipped" in run.err


def test_wordcount_takes_max_skipped(cli, tmp_path):
    """Word count's own mapper does not raise: nothing is skipped, nothing is said."""
    data = tmp_path / "words.txt"
    data.write_text("b a b\n")
    run = cli("wordcount", "-w", "1", "--max-skipped", "3", data)
    assert run.status == 0, run
    assert run.out == "b\t2\na\t1\n"
    assert run.err == ""


def test_lines_of_stdin_are_named_as_stdin(cli, job, monkeypatch):
    script, _ = job
    text = "".join(line + "\n" for line in LINES).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    run = cli("run", f"{script}:m", f"{script}:r", "-w", "2", "--max-skipped", "2")
    assert run.status == 0, run
    assert run.out == "a\t5\nb\t2\n"
    assert [line.split(": ")[2] for line in run.err.splitlines()[1:]] == [
        "<stdin> line 3",
        "<stdin> line 4",
    ]
