"""``mapred run MAPPER REDUCER [--combiner F]`` in-process: loading functions and the output."""

from __future__ import annotations

import json
import sys

import pytest

from tests.cli.conftest import ROOT, SAMPLE, reference_counts

JOBS = ROOT / "tests" / "jobs"
WORDJOB = JOBS / "wordjob.py"


def parse_tsv(text: str) -> dict[str, str]:
    return dict(line.split("\t") for line in text.splitlines())


def test_job_file_functions_run_by_path(cli, sample_text):
    """path/to/file.py:function: key<TAB>value in key order, same counts as the reference."""
    run = cli("run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "-w", "2", SAMPLE)
    assert run.status == 0, run
    expected = reference_counts([sample_text])
    assert run.out == "".join(f"{w}\t{c}\n" for w, c in sorted(expected.items()))


def test_combiner_is_used(cli, sample_text):
    """--combiner F runs inside the map tasks (the result is the same)."""
    run = cli(
        "run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "--combiner", f"{WORDJOB}:combiner",
        "-w", "2", SAMPLE,
    )  # fmt: skip
    assert run.status == 0, run
    assert parse_tsv(run.out) == {w: str(c) for w, c in reference_counts([sample_text]).items()}


def test_relative_job_file_path(cli, monkeypatch, tmp_path):
    """A relative path to a job file, from the current directory."""
    (tmp_path / "job.py").write_text(
        "def m(line):\n    yield line.upper(), 1\n\ndef r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("a\nb\na\n")
    monkeypatch.chdir(tmp_path)
    run = cli("run", "job.py:m", "job.py:r", "-w", "1", "in.txt")
    assert run.out == "A\t2\nB\t1\n"


def test_job_file_can_import_its_siblings(cli, tmp_path):
    """Like a script, a job file can import modules next to it."""
    (tmp_path / "helper_for_mapred_test.py").write_text("def key(line):\n    return line[:1]\n")
    (tmp_path / "job.py").write_text(
        "from helper_for_mapred_test import key\n\n"
        "def m(line):\n    yield key(line), 1\n\n"
        "def r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("ab\nac\nb\n")
    run = cli("run", f"{tmp_path}/job.py:m", f"{tmp_path}/job.py:r", "-w", "1", tmp_path / "in.txt")
    assert run.out == "a\t2\nb\t1\n", run
    assert str(tmp_path) not in sys.path
    sys.modules.pop("helper_for_mapred_test", None)


def test_module_functions_run_by_name(cli, tmp_path):
    """module:function: non-str keys and values are written as JSON."""
    path = tmp_path / "t.txt"
    path.write_text("to be or not\nto be\n")
    run = cli("run", "tests.jobs.letters:mapper", "tests.jobs.letters:reducer", "-w", "2", path)
    assert run.status == 0, run
    assert run.out == '2\t[5, ["b", "o", "t"]]\n3\t[1, ["n"]]\n'


def test_values_json_cannot_hold_are_still_one_line(cli, tmp_path):
    """Tuples become arrays, sets sorted arrays, bytes and others their repr; str stays
    as is (TSV-escaped), so every line has exactly two fields."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    run = cli("run", "tests.jobs.letters:pairs", "tests.jobs.letters:last", "-w", "1", path)
    assert run.status == 0, run
    lines = run.out.splitlines()
    assert all(line.count("\t") == 1 for line in lines), lines
    assert lines == [
        "null\t\"b'bytes'\"",
        '1.5\t[1, 3]',
        '7\t"{(1, 2): \'tuple key\'}"',
        'tab\\there\tplain str',
        '["tuple", 1]\t{"a": [1, 2]}',
    ]  # fmt: skip
    assert json.loads(lines[4].split("\t")[0]) == ["tuple", 1]


def test_output_file_and_stdin(cli, monkeypatch, tmp_path):
    """run takes the same input and output options: stdin, -o FILE."""
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"b a\na\n")))
    out = tmp_path / "out.tsv"
    run = cli("run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "-w", "1", "-o", out)
    assert run.status == 0, run
    assert out.read_text() == "a\t2\nb\t1\n"


def test_loading_leaves_no_trace(cli, tmp_path):
    """sys.path, sys.modules and cloudpickle's by-value registry are restored afterwards."""
    import cloudpickle

    path = tmp_path / "t.txt"
    path.write_text("x\n")
    modules, syspath = set(sys.modules), list(sys.path)
    assert cli("run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "-w", "1", path).status == 0
    assert sys.path == syspath
    assert not {m for m in set(sys.modules) - modules if m.startswith("_mapred_job")}
    assert not any(
        "_mapred_job" in name for name in cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES
    )


@pytest.mark.parametrize(
    ("mapper", "message"),
    [
        ("no_such_module_xyz:mapper", "no module named 'no_such_module_xyz'"),
        ("tests.jobs.letters:nope", "tests.jobs.letters has no function 'nope'"),
        ("tests.jobs.letters:NOT_A_FUNCTION", "NOT_A_FUNCTION is a int, not a function"),
        ("tests/jobs/missing.py:mapper", "no such file 'tests/jobs/missing.py'"),
        (f"{WORDJOB}:nope", "has no function 'nope'"),
        ("justaname", "expected module:function or path/to/file.py:function"),
        ("module:", "expected module:function"),
    ],
)
def test_unknown_module_or_function_exits_2_naming_it(cli, tmp_path, mapper, message):
    """A function that cannot be found is a usage error (2) that names it; nothing runs."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    run = cli("run", mapper, "tests.jobs.letters:reducer", path)
    assert run.status == 2
    assert run.out == ""
    assert run.err.startswith("mapred: error: MAPPER ")
    assert message in run.err
    assert run.err.count("\n") == 1


def test_unknown_reducer_and_combiner_are_named(cli, tmp_path):
    """The role is named: REDUCER, --combiner."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    run = cli("run", f"{WORDJOB}:mapper", "tests.jobs.letters:nope", path)
    assert (run.status, run.err.split("'")[0]) == (2, "mapred: error: REDUCER ")
    run = cli("run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "--combiner", "nomod_q:f", path)
    assert run.status == 2
    assert "--combiner 'nomod_q:f'" in run.err


def test_a_module_that_fails_to_import_exits_2(cli, monkeypatch, tmp_path):
    """An error while importing the job is reported in one line (exit 2); --debug adds the
    traceback."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    monkeypatch.setenv("MAPRED_TEST_IMPORT_FAILS", "1")
    monkeypatch.delitem(sys.modules, "tests.jobs.failing", raising=False)
    job = JOBS / "failing.py"
    run = cli("run", f"{job}:mapper", f"{job}:reducer", path)
    assert run.status == 2
    assert "RuntimeError: this module refuses to load" not in run.err  # the message only...
    assert "this module refuses to load" in run.err  # ...in one line
    assert "Traceback" not in run.err
    run = cli("run", "tests.jobs.failing:mapper", "tests.jobs.failing:reducer", "--debug", path)
    assert run.status == 2
    assert "Traceback" in run.err
    assert "this module refuses to load" in run.err
    monkeypatch.delitem(sys.modules, "tests.jobs.failing", raising=False)


def test_an_exception_in_the_mapper_exits_1_with_one_line(cli, tmp_path):
    """A user exception: its type, message and where it happened, one line, no traceback."""
    path = tmp_path / "t.txt"
    path.write_text("fine\nBOOM\n")
    job = JOBS / "failing.py"
    run = cli("run", f"{job}:mapper", f"{job}:reducer", "-w", "1", path)
    assert run.status == 1
    assert run.out == ""
    assert run.err.count("\n") == 1
    assert run.err.startswith("mapred: error: ValueError: cannot map 'BOOM' (in the mapper, ")
    assert "record 2: 'BOOM'" in run.err
    assert "--debug" in run.err
    assert "Traceback" not in run.err


def test_debug_shows_the_workers_traceback(cli, tmp_path):
    """--debug: the traceback, the worker's included, then the one line."""
    path = tmp_path / "t.txt"
    path.write_text("BOOM\n")
    job = JOBS / "failing.py"
    run = cli("run", f"{job}:mapper", f"{job}:reducer", "-w", "1", "--debug", path)
    assert run.status == 1
    assert "Traceback in the worker process" in run.err
    worker_part = run.err.split("Traceback in the worker process")[1]
    assert ", in mapper\n" in worker_part  # by value, the file shows as <dynamic-code>
    assert "ValueError: cannot map 'BOOM'" in worker_part
    assert run.err.rstrip().splitlines()[-1].startswith("mapred: error: ValueError")


def test_run_needs_mapper_and_reducer(cli):
    """Both functions are required: usage error."""
    run = cli("run", f"{WORDJOB}:mapper")
    assert run.status == 2
    assert "REDUCER" in run.err


def test_run_help_has_an_example(cli):
    """run --help shows an example."""
    run = cli("run", "--help")
    assert run.status == 0
    assert "examples:" in run.out
    assert "mapred run jobs.py:mapper jobs.py:reducer" in run.out


def test_path_is_checked_before_loading(cli, tmp_path):
    """A missing input path is reported before the job's modules are imported."""
    run = cli("run", "no_such_module_xyz:f", "no_such_module_xyz:g", tmp_path / "missing.txt")
    assert run.status == 2
    assert "missing.txt: no such file or directory" in run.err


def test_mapper_breaking_the_contract_exits_1(cli, tmp_path):
    """A mapper that does not yield pairs: the engine's TypeError, in one line."""
    (tmp_path / "job.py").write_text(
        "def m(line):\n    return [line]\n\ndef r(k, vs):\n    return 0\n"
    )
    (tmp_path / "in.txt").write_text("abc\n")
    run = cli("run", f"{tmp_path}/job.py:m", f"{tmp_path}/job.py:r", "-w", "1", tmp_path / "in.txt")
    assert run.status == 1
    assert run.err.startswith("mapred: error: TypeError: mapper must yield (key, value) pairs")
    assert run.err.count("\n") == 1


def test_job_file_path_is_resolved_once(cli, tmp_path):
    """MAPPER and REDUCER from one file share one module (loaded once)."""
    counter = tmp_path / "loads.txt"
    (tmp_path / "job.py").write_text(
        f"with open({str(counter)!r}, 'a') as f:\n    f.write('x')\n"
        "def m(line):\n    yield line, 1\n\ndef r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("a\n")
    run = cli("run", f"{tmp_path}/job.py:m", f"{tmp_path}/job.py:r", "-w", "1", tmp_path / "in.txt")
    assert run.out == "a\t1\n"
    assert counter.read_text() == "x"


def test_dotted_function_names(cli, tmp_path):
    """module:Class.method works (a staticmethod here)."""
    (tmp_path / "job.py").write_text(
        "class Job:\n"
        "    @staticmethod\n    def m(line):\n        yield len(line), line\n"
        "    @staticmethod\n    def r(k, vs):\n        return list(vs)\n"
    )
    (tmp_path / "in.txt").write_text("aa\nb\ncc\n")
    job = f"{tmp_path}/job.py"
    run = cli("run", f"{job}:Job.m", f"{job}:Job.r", "-w", "1", tmp_path / "in.txt")
    assert run.out == '1\t["b"]\n2\t["aa", "cc"]\n', run


def test_functions_need_not_be_importable_by_workers(cli, tmp_path):
    """A job file's functions travel by value (cloudpickle), even closures over its globals."""
    (tmp_path / "job.py").write_text(
        "SUFFIX = '!'\n"
        "def make():\n    def m(line):\n        yield line + SUFFIX, 1\n    return m\n"
        "mapper = make()\n"
        "def r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("a\n")
    job = f"{tmp_path}/job.py"
    run = cli("run", f"{job}:mapper", f"{job}:r", "-w", "2", tmp_path / "in.txt")
    assert run.out == "a!\t1\n", run


def test_job_file_output_matches_wordcount(cli, corpus):
    """The same job through run and through wordcount: the same counts."""
    directory, _ = corpus
    run = cli("run", f"{WORDJOB}:mapper", f"{WORDJOB}:reducer", "-w", "2", directory)
    words = cli("wordcount", "-w", "2", "--sort", "key", directory)
    assert run.status == words.status == 0
    assert run.out == words.out


def test_function_spec_with_windows_like_colons_uses_the_last_colon(cli, tmp_path):
    """The function name is after the last colon."""
    weird = tmp_path / "a:b"
    weird.mkdir()
    (weird / "job.py").write_text(
        "def m(line):\n    yield line, 1\n\ndef r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("z\n")
    job = f"{weird}/job.py"
    assert cli("run", f"{job}:m", f"{job}:r", "-w", "1", tmp_path / "in.txt").out == "z\t1\n"
