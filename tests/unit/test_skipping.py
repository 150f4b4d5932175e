"""``max_skipped``: what is skipped and what is not, the limit, the quarantine's forms
(``result.skipped``, the counter, ``_skipped.jsonl`` with ``output=DIR``) and the argument
checks. The oracle properties are in tests/property/test_skip_oracle.py, the deaths in
tests/faults/test_skip_deaths.py."""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapred import (
    Engine,
    Job,
    MapredError,
    SkippedRecord,
    Step,
    TooManySkipped,
    mapreduce,
    open_output,
    pair_reducer,
    read_text,
    task_mapper,
)
from mapred.quarantine import QUARANTINE_FILE


def parse(line: str) -> Iterator[tuple[str, int]]:
    """``"word n"`` -> (word, n); anything else raises (int() of a bad count)."""
    word, count = line.split()
    yield word, int(count)


def total(key: Any, values: Iterator[int]) -> int:
    return sum(values)


def picky(key: str, values: Iterator[int]) -> int:
    """The sum, except for the key "bad"."""
    if key == "bad":
        raise ZeroDivisionError("no sum for bad")
    return sum(values)


LINES = ["a 1", "b 2", "a x", "bad 3", "c", "a 4"]


def test_without_max_skipped_the_first_error_fails_the_job() -> None:
    """The default, 0: SPEC 5's error, with its type, as before."""
    with pytest.raises(ValueError, match="invalid literal") as caught:
        mapreduce(parse, total, LINES, backend="serial")
    assert "mapred: in the mapper" in "\n".join(caught.value.__notes__)


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_bad_records_and_keys_are_skipped_and_listed(backend: str) -> None:
    result = mapreduce(parse, picky, LINES, max_skipped=3, backend=backend, workers=2)
    assert dict(result) == {"a": 5, "b": 2}
    assert [(s.phase, s.index, s.key, s.error_type) for s in result.skipped] == [
        ("map", 2, None, "ValueError"),
        ("map", 4, None, "ValueError"),
        ("reduce", None, "bad", "ZeroDivisionError"),
    ]
    assert result.skipped[0].record == "'a x'"
    assert "invalid literal" in result.skipped[0].message
    assert result.skipped[2].message == "no sum for bad"
    assert result.skipped[2].describe() == "reduce: key 'bad': ZeroDivisionError: no sum for bad"
    assert result.counters["mapred"]["skipped_records"] == 3
    assert result.counters["mapred"]["output_keys"] == 2
    assert len(result) == 2


def test_one_skip_too_many_fails_with_the_limit_and_the_last_record() -> None:
    with pytest.raises(TooManySkipped) as caught:
        mapreduce(parse, picky, LINES, max_skipped=2, backend="serial")
    error = caught.value
    assert isinstance(error, MapredError)
    assert error.limit == 2
    assert "more than max_skipped=2" in str(error)
    assert "key 'bad'" in str(error)  # the last one: the third skip
    assert len(error.skipped) == 3
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.limit, again.skipped) == (str(error), 2, error.skipped)


def test_a_record_that_raises_half_way_leaves_no_pair() -> None:
    def half(record: int) -> Iterator[tuple[int, int]]:
        yield 0, record
        if record == 2:
            raise RuntimeError("half way")
        yield 1, record

    result = mapreduce(half, lambda k, vs: list(vs), range(4), max_skipped=1, backend="serial")
    assert dict(result) == {0: [0, 1, 3], 1: [0, 1, 3]}
    assert result.counters["mapred"]["map_output_records"] == 6


def test_file_lines_are_named_by_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "counts.txt"
    path.write_text("".join(line + "\n" for line in LINES * 20))
    result = mapreduce(parse, total, read_text(str(path), split_size=40), max_skipped=50, workers=2)
    assert [(s.path, s.line) for s in result.skipped] == [
        (str(path), 6 * n + line) for n in range(20) for line in (3, 5)
    ]
    assert result.skipped[0].where == f"{path} line 3"


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_output_dir_gets_the_quarantine_file(tmp_path: Path, backend: str) -> None:
    out = tmp_path / "out"
    result = mapreduce(
        parse, picky, LINES, max_skipped=5, output=str(out), backend=backend, workers=2
    )
    lines = (out / QUARANTINE_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {**dataclasses.asdict(s), "key": None if s.phase == "map" else repr(s.key)}
        for s in result.skipped
    ]
    assert len(lines) == 3
    assert dict(result.items()) == {"a": 5, "b": 2}
    reopened = open_output(out)  # the quarantine file is not a part
    assert dict(reopened.items()) == {"a": 5, "b": 2}
    assert reopened["a"] == 5


def test_output_dir_without_skips_gets_an_empty_quarantine(tmp_path: Path) -> None:
    out = tmp_path / "out"
    mapreduce(parse, total, ["a 1"], max_skipped=5, output=str(out), backend="serial")
    assert (out / QUARANTINE_FILE).read_text() == ""
    plain = tmp_path / "plain"
    mapreduce(parse, total, ["a 1"], output=str(plain), backend="serial")
    assert not (plain / QUARANTINE_FILE).exists()  # without max_skipped: as before


def test_broken_contracts_are_not_bad_records() -> None:
    """A mapper that returns no iterable, or yields what is not a pair, is a bug the
    same on every record: the job fails as without ``max_skipped``."""
    with pytest.raises(TypeError, match="not iterable"):
        mapreduce(lambda r: None, total, [1, 2], max_skipped=5, backend="serial")
    with pytest.raises(TypeError, match="pairs"):
        mapreduce(lambda r: [r], total, [1, 2], max_skipped=5, backend="serial")


def test_task_functions_and_combiners_are_not_skipped() -> None:
    """A task mapper sees every record in one call, a combiner partial groups: neither
    has a record to skip."""

    @task_mapper
    def whole(records: Iterator[str]) -> Iterator[tuple[str, int]]:
        for record in records:
            yield from parse(record)

    with pytest.raises(ValueError, match="invalid literal"):
        mapreduce(whole, total, LINES, max_skipped=5, backend="serial")

    def failing(key: str, values: Iterator[int]) -> int:
        raise OSError("combiner")

    with pytest.raises(OSError, match="combiner"):
        mapreduce(parse, total, ["a 1", "a 2"], combiner=failing, max_skipped=5, backend="serial")


def test_emitting_and_map_only_jobs_skip_too() -> None:
    @pair_reducer
    def emit(key: str, values: Iterator[int]) -> Iterator[tuple[str, int]]:
        yield key, 0
        yield key, picky(key, values)

    pairs = mapreduce(parse, emit, LINES, max_skipped=3, backend="serial")
    assert list(pairs) == [("a", 0), ("a", 5), ("b", 0), ("b", 2)]
    assert [s.phase for s in pairs.skipped] == ["map", "map", "reduce"]
    only = mapreduce(parse, None, LINES, max_skipped=3, backend="serial")
    assert list(only) == [("a", 1), ("b", 2), ("bad", 3), ("a", 4)]
    assert [s.index for s in only.skipped] == [2, 4]


def test_steps_share_one_limit_and_name_their_step() -> None:
    def second(pair: tuple[str, int]) -> Iterator[tuple[str, int]]:
        if pair[0] == "b":
            raise LookupError("second step")
        yield pair

    steps = [Step(parse, picky, reducers=2), Step(second, total)]
    result = mapreduce(steps=steps, data=LINES, max_skipped=4, backend="serial")
    assert dict(result) == {"a": 5}
    assert [(s.step, s.phase, s.error_type) for s in result.skipped] == [
        (1, "map", "ValueError"),
        (1, "map", "ValueError"),
        (1, "reduce", "ZeroDivisionError"),
        (2, "map", "LookupError"),
    ]
    assert result.skipped[3].describe().startswith("step 2 map: record ")
    with pytest.raises(TooManySkipped, match="step 2 map"):
        mapreduce(steps=steps, data=LINES, max_skipped=3, backend="serial")


def test_a_skipped_key_after_a_spill_leaves_the_next_key_intact() -> None:
    """Values stream from merged runs: a reducer that raises part way through one key's
    values must not shift the next key's."""
    data = [(f"k{n % 5}", "x" * 300) for n in range(6000)]

    def lengths(key: str, values: Iterator[str]) -> int:
        if key == "k2":
            next(values)
            raise ValueError("k2")
        return sum(map(len, values))

    result = mapreduce(
        lambda pair: [pair],
        lengths,
        data,
        max_skipped=1,
        memory_limit="1MiB",
        reducers=1,
        workers=2,
    )
    assert result.counters["mapred"]["spilled_records"] > 0
    assert dict(result) == {f"k{n}": 1200 * 300 for n in (0, 1, 3, 4)}


def test_results_pickle_with_their_skips() -> None:
    result = mapreduce(parse, picky, LINES, max_skipped=3, backend="serial")
    again = pickle.loads(pickle.dumps(result))
    assert again == result
    assert again.skipped == result.skipped
    assert SkippedRecord("map", "E", "m") == SkippedRecord("map", "E", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.skipped[0].message = "changed"  # type: ignore[misc]


def test_max_skipped_is_checked_and_may_be_an_engine_default() -> None:
    for bad, error in ((-1, ValueError), ("3", TypeError), (True, TypeError), (None, TypeError)):
        with pytest.raises(error, match="max_skipped"):
            mapreduce(parse, total, LINES, max_skipped=bad, backend="serial")
    with Engine(backend="serial", max_skipped=2) as engine:
        assert len(engine.mapreduce(parse, total, LINES).skipped) == 2
        with pytest.raises(ValueError, match="invalid literal"):
            engine.mapreduce(parse, total, LINES, max_skipped=0)


class ParseCounts(Job):
    """``word n`` lines summed by word; a line without a count is a bad record."""

    def mapper(self, line: str) -> Iterator[tuple[str, int]]:
        return parse(line)

    def reducer(self, key: str, values: Iterator[int]) -> int:
        return sum(values)


def test_job_programs_take_max_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "counts.txt"
    path.write_text("".join(line + "\n" for line in LINES))
    assert ParseCounts.main(["--backend", "serial", "--max-skipped", "2", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ['["a", 5]', '["b", 2]', '["bad", 3]']
    assert err.splitlines() == [
        "mapred: 2 bad records skipped:",
        f"mapred: skipped map: {path} line 3: ValueError: invalid literal for int() with "
        "base 10: 'x'",
        f"mapred: skipped map: {path} line 5: ValueError: not enough values to unpack "
        "(expected 2, got 1)",
    ]
    out_dir = tmp_path / "out"
    args = ["--backend", "serial", "--max-skipped", "2", "--output-dir", str(out_dir), str(path)]
    assert ParseCounts.main(args) == 0
    assert capsys.readouterr().err == (
        f"mapred: 2 bad records skipped, listed in {out_dir / QUARANTINE_FILE}\n"
    )
    assert ParseCounts.main(["--backend", "serial", "--max-skipped", "1", str(path)]) == 1
    assert "more than max_skipped=1 records were skipped" in capsys.readouterr().err
