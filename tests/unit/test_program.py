"""Jobs as programs: Job subclasses from Python and from their own command line, and
output directories reopened with open_output."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest

from mapred import (
    OutputPairs,
    OutputResult,
    PairsResult,
    Result,
    mapreduce,
    open_output,
)
from mapred.errors import DecodeError, MapredError
from mapred.jsonlines import decode_pair
from tests.jobs.stepjobs import CountsByLength, SingleStep

TEXT = "a bb a ccc bb a\ndd a ccc\n"


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text(TEXT)
    return path


def expected_by_count(min_length: int) -> dict[int, list[str]]:
    counts: dict[str, int] = {}
    for word in TEXT.split():
        if len(word) >= min_length:
            counts[word] = counts.get(word, 0) + 1
    grouped: dict[int, list[str]] = {}
    for word in sorted(counts):
        grouped.setdefault(counts[word], []).append(word)
    return dict(sorted(grouped.items()))


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_a_job_runs_from_python_with_its_options(text_file: Path, backend: str) -> None:
    result = CountsByLength(["--min", "2", "--backend", backend, "-w", "2", str(text_file)]).run()
    assert isinstance(result, Result)
    assert dict(result) == expected_by_count(2)
    assert result.counters["mapred.step1"]["input_records"] == 2
    assert result.counters["mapred.step2"]["input_records"] == len(expected_by_count(2)) + 1


def test_default_steps_come_from_mapper_and_reducer(text_file: Path) -> None:
    result = SingleStep(["--backend", "serial", str(text_file)]).run()
    assert dict(result) == {"a": 4, "b": 2, "c": 2, "d": 1}


def test_main_writes_json_lines_and_counters(
    text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = CountsByLength.main(["--backend", "serial", "--counters", str(text_file)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert [decode_pair(line) for line in out.splitlines()] == list(expected_by_count(1).items())
    assert "mapred\tinput_records\t" in err


def test_main_writes_tsv_and_reports_errors(
    text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert SingleStep.main(["--backend", "serial", "--format", "tsv", str(text_file)]) == 0
    assert capsys.readouterr().out == "a\t4\nb\t2\nc\t2\nd\t1\n"
    assert SingleStep.main(["--backend", "serial", str(text_file) + ".missing"]) == 1
    assert "in.txt.missing" in capsys.readouterr().err
    assert SingleStep.main(["--no-such-option"]) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--scheduler", "banana"], "expected an address like tcp://HOST:8786"),
        (["--scheduler", "http://sched:8786"], "unknown protocol 'http'"),
        (["--backend", "serial", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with"),
        (["--memory-limit", "lots"], "expected a size like 512MB"),
        (["--split-size", "0"], "must be positive"),
        (["-w", "0"], "expected a whole number >= 1"),
        (["--encoding", "no-such-codec"], "no-such-codec"),
    ],
)
def test_malformed_engine_options_exit_2_at_once(
    options: list[str], message: str, text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked as mapred run checks them, before any connection or work (no Dask here)."""
    started = time.monotonic()
    assert SingleStep.main([*options, str(text_file)]) == 2
    assert message in capsys.readouterr().err
    assert time.monotonic() - started < 5  # no connection was tried


def test_input_options_reach_read_text(tmp_path: Path) -> None:
    """--encoding, --errors and --split-size shape the default input()."""
    path = tmp_path / "latin.txt"
    path.write_bytes("\u00e9t\u00e9 a\n".encode("latin-1") * 200)
    job = SingleStep(["--backend", "serial", "--encoding", "latin-1", "--split-size", "1KB"])
    job.options.files = [str(path)]
    assert dict(job.run()) == {"a": 200, "\u00e9": 200}
    assert len(list(job.input().plan_splits())) > 1
    with pytest.raises(DecodeError):
        SingleStep(["--backend", "serial", str(path)]).run()
    replaced = SingleStep(["--backend", "serial", "--errors", "replace", str(path)]).run()
    assert dict(replaced) == {"a": 200, "\ufffd": 200}


def test_open_output_reopens_values_and_pairs(tmp_path: Path) -> None:
    data = ["b a", "c a", "a"]
    values_dir, pairs_dir = tmp_path / "values", tmp_path / "pairs"
    written = mapreduce(
        lambda line: ((w, 1) for w in line.split()),
        lambda w, ones: sum(ones),
        data,
        output=values_dir,
        reducers=2,
        backend="serial",
    )
    reopened = open_output(values_dir)
    assert isinstance(written, OutputResult)
    assert isinstance(reopened, OutputResult)
    assert dict(reopened.items()) == {"a": 3, "b": 1, "c": 1} == dict(written.items())
    assert reopened["a"] == 3
    assert len(reopened) == 3
    assert reopened.counters == {"mapred": {"output_keys": 3}}
    mapreduce(lambda line: [(len(line), line)], None, data, output=pairs_dir, backend="serial")
    pairs = open_output(pairs_dir)
    assert isinstance(pairs, OutputPairs)
    assert list(pairs) == [(3, "b a"), (3, "c a"), (1, "a")]
    with pytest.raises(MapredError, match="not the output of a finished mapred job"):
        open_output(tmp_path)


def test_a_custom_partitioner_is_needed_again_for_lookups(tmp_path: Path) -> None:
    def first_letter(word: str, reducers: int) -> int:
        return ord(word[0]) % reducers

    mapreduce(
        lambda w: [(w, 1)],
        lambda w, ones: sum(ones),
        ["x", "y", "x"],
        reducers=2,
        partitioner=first_letter,
        output=tmp_path / "out",
        backend="serial",
    )
    with pytest.raises(MapredError, match="partitioner"):
        open_output(tmp_path / "out")["x"]
    assert open_output(tmp_path / "out", partitioner=first_letter)["x"] == 2
    assert dict(open_output(tmp_path / "out").items()) == {"x": 2, "y": 1}


def test_pairs_results_pickle_with_their_attributes() -> None:
    result = mapreduce(lambda n: [(n % 2, n)], None, [1, 2, 3], backend="serial")
    assert isinstance(result, PairsResult)
    back = pickle.loads(pickle.dumps(result))
    assert back == [(1, 1), (0, 2), (1, 3)]
    assert back.counters == result.counters


def test_steps_take_their_own_functions_not_the_engines_defaults() -> None:
    from mapred import Engine, Step

    with Engine(backend="serial", combiner=lambda k, vs: sum(vs)) as engine:
        result = engine.mapreduce(
            steps=[Step(lambda n: [(n % 2, n)], lambda k, vs: list(vs))], data=[1, 2, 3]
        )
        assert dict(result) == {0: [2], 1: [1, 3]}
        with pytest.raises(TypeError, match="belong to each Step"):
            engine.mapreduce(steps=[Step(lambda n: [(n, n)])], data=[1], sort_values=True)
        with pytest.raises(TypeError, match="not both"):
            engine.mapreduce(lambda n: [(n, n)], steps=[Step(lambda n: [(n, n)])], data=[1])
        with pytest.raises(TypeError, match="needs a mapper"):
            engine.mapreduce(data=[1])
        with pytest.raises(TypeError, match="step 1: reducer must be callable"):
            engine.mapreduce(steps=[Step(lambda n: [(n, n)], 3)], data=[1])  # type: ignore[arg-type]


def test_a_map_only_job_refuses_what_it_would_never_use() -> None:
    with pytest.raises(ValueError, match=r"map-only .*combiner"):
        mapreduce(lambda n: [(n, n)], None, [1], combiner=lambda k, vs: 0, backend="serial")
    with pytest.raises(ValueError, match=r"map-only .*sort_values"):
        mapreduce(lambda n: [(n, n)], None, [1], sort_values=True, backend="serial")
