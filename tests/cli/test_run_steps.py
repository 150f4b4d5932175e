"""``mapred run`` for the jobs of issue 12: Job classes with --arg, map-only jobs, JSON
lines that keep types, --output-dir and --counters."""

from __future__ import annotations

from mapred import open_output
from mapred.jsonlines import decode_pair
from tests.cli.conftest import ROOT

STEPJOBS = ROOT / "tests" / "jobs" / "stepjobs.py"


def test_a_job_class_runs_with_its_options(cli, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a bb a ccc bb a\ndd a ccc\n")
    run = cli("run", f"{STEPJOBS}:CountsByLength", "--arg", "min=2", "--format", "jsonl", path)
    assert run.status == 0, run
    assert [decode_pair(line) for line in run.out.splitlines()] == [
        (1, ["dd"]),
        (2, ["bb", "ccc"]),
    ]
    bad = cli("run", f"{STEPJOBS}:CountsByLength", "--arg", "nope=1", path)
    assert bad.status == 2
    assert "--arg" in bad.err


def test_map_only_jobs_keep_types_in_json_lines(cli, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("b a\nccc\n")
    run = cli("run", f"{STEPJOBS}:typed", "none", "--format", "jsonl", "--counters", path)
    assert run.status == 0, run
    assert [decode_pair(line) for line in run.out.splitlines()] == [
        (("b", 1), {b"b", 2**70}),
        (("a", 1), {b"a", 2**70}),
        (("ccc", 3), {b"ccc", 2**70}),
    ]
    assert "mapred\toutput_keys\t3" in run.err


def test_output_dir_is_reopened(cli, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("b a\na\n")
    out = tmp_path / "out"
    run = cli("run", f"{STEPJOBS}:words", f"{STEPJOBS}:total", "--output-dir", out, path)
    assert run.status == 0, run
    assert run.out == ""
    assert dict(open_output(out).items()) == {"a": 2, "b": 1}
    again = cli("run", f"{STEPJOBS}:words", f"{STEPJOBS}:words", "--output-dir", out, path)
    assert again.status == 2
    assert "not an empty directory" in again.err


def test_reducer_is_still_required_for_functions(cli, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\n")
    run = cli("run", f"{STEPJOBS}:words", path)
    assert run.status == 2
    assert "REDUCER" in run.err
