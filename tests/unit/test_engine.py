"""The driver: argument checks, errors from user code, counters, Engine reuse, output=DIR."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import mapred
from mapred import Engine, MapredError, increment, mapreduce, read_text
from mapred.backends.processes import exit_reason
from mapred.engine import parse_size
from mapred.errors import RemoteError, RemoteTraceback
from tests.oracle import total, words

# -- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"workers": 0}, ValueError, "workers must be an int >= 1"),
        ({"workers": 1.5}, TypeError, "workers must be an int"),
        ({"reducers": 0}, ValueError, "reducers must be an int >= 1"),
        ({"chunksize": -1}, ValueError, "chunksize"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"timeout": 0}, ValueError, "timeout must be a positive"),
        ({"memory_limit": "lots"}, ValueError, "is not a size"),
        ({"memory_limit": -5}, ValueError, "must be positive"),
        ({"start_method": "vfork"}, ValueError, "start_method must be"),
        ({"backend": "threads"}, ValueError, "backend must be"),
        ({"combiner": 3}, TypeError, "combiner must be callable"),
        ({"partitioner": "x"}, TypeError, "partitioner must be callable"),
    ],
)
def test_bad_arguments_say_what_was_expected(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    """Each bad argument is a TypeError/ValueError naming it and what was expected."""
    with pytest.raises(error, match=message):
        mapreduce(words, total, ["a"], **kwargs)


def test_non_callable_mapper_is_a_type_error() -> None:
    """A mapper that is not callable fails before any worker starts."""
    with pytest.raises(TypeError, match="mapper must be callable"):
        mapreduce("words", total, ["a"])  # type: ignore[arg-type]


def test_unpicklable_function_is_a_clear_error() -> None:
    """A function closing over a lock cannot travel: TypeError naming the mapper."""
    lock = threading.Lock()

    def locked(line: str) -> list[tuple[str, int]]:
        with lock:
            return [(line, 1)]

    with pytest.raises(TypeError, match="mapper"):
        mapreduce(locked, total, ["a"])


def test_a_string_is_not_data() -> None:
    """Passing a path string as data points at read_text instead of counting characters."""
    with pytest.raises(TypeError, match="read_text"):
        mapreduce(words, total, "books.txt")


def test_parse_size_units() -> None:
    """Decimal and binary units, case-insensitive."""
    assert parse_size("1kb") == 1000
    assert parse_size("1KiB") == 1024
    assert parse_size("1.5G") == int(1.5 * 2**30)


def test_exit_reason_names_signals() -> None:
    """Negative exit codes are named after their signal."""
    assert exit_reason(-11) == "signal SIGSEGV (-11)"


# -- contract breaches in the mapper ---------------------------------------------------------


def test_non_pair_output_is_a_type_error(engine: Engine) -> None:
    """A mapper yielding a bare value gets a TypeError showing the value and the record."""
    with pytest.raises(TypeError, match=r"mapper must yield \(key, value\) pairs, got 'a'"):
        engine.mapreduce(lambda line: iter(line.split()), total, ["a b"])


def test_unhashable_key_is_a_type_error_naming_it(engine: Engine) -> None:
    """A list as key is a TypeError that names the key and suggests a tuple."""
    with pytest.raises(TypeError, match=r"unhashable key \[1, 2\].*tuple"):
        engine.mapreduce(lambda r: [([1, 2], r)], total, [1])


def test_mapper_returning_none_is_a_type_error(engine: Engine) -> None:
    """A mapper that forgets to return is told it must return an iterable of pairs."""
    with pytest.raises(TypeError, match="iterable of"):
        engine.mapreduce(lambda r: None, total, [1])


# -- user exceptions ----------------------------------------------------------------------


class Custom(Exception):
    pass


def fail_on_seven(n: int) -> list[tuple[str, int]]:
    if n == 7:
        raise Custom(f"bad record {n}")
    return [("n", n)]


def test_user_exception_keeps_type_cause_and_note(engine: Engine) -> None:
    """A mapper's exception comes back with its type, the worker traceback and a note."""
    with pytest.raises(Custom, match="bad record 7") as info:
        engine.mapreduce(fail_on_seven, total, range(20), chunksize=4)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "fail_on_seven" in info.value.__cause__.tb
    notes = "\n".join(info.value.__notes__)
    assert "in the mapper" in notes
    assert "map task 1" in notes
    assert "record 4: 7" in notes


def test_reducer_exception_names_the_key(engine: Engine) -> None:
    """A reducer's exception carries a note naming the reduce task and the key."""

    def picky(key: str, values: Iterator[int]) -> int:
        if key == "b":
            raise KeyError("no b")
        return sum(values)

    with pytest.raises(KeyError) as info:
        engine.mapreduce(words, picky, ["a b c"])
    assert "in the reducer" in info.value.__notes__[0]
    assert "key 'b'" in info.value.__notes__[0]


def test_combiner_exception_names_the_key(engine: Engine) -> None:
    """A combiner's exception carries a note naming the combiner and the key (one with two
    values: a key with one value is never combined)."""

    def broken(key: str, values: Iterator[int]) -> int:
        raise ZeroDivisionError(key)

    with pytest.raises(ZeroDivisionError) as info:
        engine.mapreduce(words, total, ["a b a"], combiner=broken)
    assert any("in the combiner" in note and "key 'a'" in note for note in info.value.__notes__)


def test_unpicklable_exception_falls_back_to_its_text(engine: Engine) -> None:
    """An exception that cannot be pickled arrives as RemoteError with its type and message."""

    def raise_unpicklable(r: int) -> list[tuple[int, int]]:
        error = ValueError("holds a lock")
        error.lock = threading.Lock()  # type: ignore[attr-defined]
        raise error

    with pytest.raises(RemoteError, match="ValueError: holds a lock") as info:
        engine.mapreduce(raise_unpicklable, total, [1])
    assert type(info.value) is RemoteError
    assert isinstance(info.value.__cause__, RemoteTraceback)


def test_system_exit_in_user_code_fails_the_job_not_the_caller(engine: Engine) -> None:
    """sys.exit() inside a mapper is an error of that task, raised as MapredError."""

    def leave(r: int) -> list[tuple[int, int]]:
        raise SystemExit(3)

    with pytest.raises(MapredError, match=r"SystemExit\(3\)"):
        engine.mapreduce(leave, total, [1])


def test_engine_still_works_after_a_failed_job(engine: Engine) -> None:
    """A failed job leaves the warm engine usable for the next one."""
    with pytest.raises(Custom):
        engine.mapreduce(fail_on_seven, total, range(10))
    assert engine.mapreduce(words, total, ["x y x"]) == {"x": 2, "y": 1}


# -- counters -----------------------------------------------------------------------------


def test_builtin_and_user_counters(engine: Engine) -> None:
    """Built-in counters count records and keys; user counters add up across tasks."""

    def counting(line: str) -> Iterator[tuple[str, int]]:
        increment("lines")
        for word in line.split():
            yield word, 1

    def reduce_counting(key: str, values: Iterator[int]) -> int:
        increment("keys", group="reduce")
        return sum(values)

    data = ["a b", "b c", "c c"] * 10
    result = engine.mapreduce(counting, reduce_counting, data, chunksize=4, reducers=3)
    built = result.counters["mapred"]
    assert built["input_records"] == 30
    assert built["map_output_records"] == 60
    assert built["reduce_input_records"] == 60
    assert built["output_keys"] == 3
    assert built["task_retries"] == 0
    assert built["shuffle_bytes"] > 0
    assert result.counters["user"] == {"lines": 30}
    assert result.counters["reduce"] == {"keys": 3}
    assert result.elapsed > 0


def test_combiner_reduces_shuffled_records(engine: Engine) -> None:
    """With a combiner, fewer records reach the reducers than the mappers made."""
    data = ["a a a a"] * 50
    result = engine.mapreduce(words, total, data, combiner=total, chunksize=10)
    built = result.counters["mapred"]
    assert built["map_output_records"] == 200
    assert built["reduce_input_records"] == built["combine_output_records"] == 5
    assert result == {"a": 200}


def test_increment_outside_a_task_is_an_error() -> None:
    """increment() in the driver raises MapredError."""
    with pytest.raises(MapredError, match="inside a mapper"):
        increment("x")


# -- partitioner, output, serial ----------------------------------------------------------


def test_custom_partitioner_and_its_range_check(engine: Engine) -> None:
    """A partitioner decides the partition; out of range is a ValueError naming the key."""
    result = engine.mapreduce(words, total, ["a b c"], reducers=2, partitioner=lambda k, n: 0)
    assert result == {"a": 1, "b": 1, "c": 1}
    with pytest.raises(ValueError, match=r"partitioner returned 5 for key"):
        engine.mapreduce(words, total, ["a b c"], reducers=2, partitioner=lambda k, n: 5)


def test_output_directory_is_lazy_sorted_and_complete(engine: Engine, tmp_path: Any) -> None:
    """output=DIR writes one part per partition plus _SUCCESS, and reads back sorted."""
    out = tmp_path / "out"
    data = [f"w{i % 50} w{i % 7}" for i in range(500)]
    result = engine.mapreduce(words, total, data, reducers=3, output=out)
    assert isinstance(result, mapred.OutputResult)
    assert sorted(os.listdir(out)) == [
        "_SUCCESS",
        "part-00000.msgpack",
        "part-00001.msgpack",
        "part-00002.msgpack",
    ]
    expected = mapreduce(words, total, data, backend="serial")
    assert list(result.items()) == list(expected.items())
    assert len(result) == len(expected)
    assert result["w3"] == expected["w3"]
    with pytest.raises(KeyError):
        result["nope"]


def test_output_directory_must_be_empty(engine: Engine, tmp_path: Any) -> None:
    """mapred never writes into a non-empty directory."""
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        engine.mapreduce(words, total, ["a"], output=tmp_path)


def test_failed_job_leaves_no_part_files(engine: Engine, tmp_path: Any) -> None:
    """A job that fails removes its part files and writes no _SUCCESS."""
    out = tmp_path / "out"
    with pytest.raises(Custom):
        engine.mapreduce(fail_on_seven, total, range(20), output=out)
    assert os.listdir(out) == []


def test_serial_backend_matches_processes(engine: Engine) -> None:
    """backend='serial' runs the same stage functions with the same answer."""
    data = [f"{i % 3} {i % 11}" for i in range(200)]
    assert list(mapreduce(words, total, data, backend="serial").items()) == list(
        engine.mapreduce(words, total, data).items()
    )


def test_read_text_input(engine: Engine, tmp_path: Any) -> None:
    """read_text input: workers read the file splits and count every line's words."""
    path = tmp_path / "t.txt"
    path.write_text("".join(f"w{i % 13} x\n" for i in range(5000)))
    result = engine.mapreduce(words, total, read_text(str(path), split_size=4096))
    assert result["x"] == 5000
    assert sum(result.values()) == 10000
    assert result.counters["mapred"]["input_records"] == 5000


def test_module_level_mapreduce_closes_its_workers() -> None:
    """mapreduce() makes a temporary engine and stops its processes (checked by no_leaks)."""
    assert mapreduce(words, total, ["a a"], workers=2) == {"a": 2}


def test_job_arguments_on_engine_reject_engine_arguments(engine: Engine) -> None:
    """Engine.mapreduce() takes job arguments only; workers belong to the Engine."""
    with pytest.raises(TypeError, match="belong to the Engine"):
        engine.mapreduce(words, total, ["a"], workers=3)


def merge_groups(key: Any, values: Iterator[tuple[tuple[int, ...], ...]]) -> tuple[Any, ...]:
    """A combiner that keeps the values' kind (a tuple of groups) and shows its groups."""
    return (tuple(item for groups in values for group in groups for item in group),)


def group_sizes(key: Any, values: Iterator[tuple[tuple[int, ...], ...]]) -> list[int]:
    return [len(group) for groups in values for group in groups]


def test_combiner_groups_do_not_depend_on_workers_or_reducers() -> None:
    """SPEC 3: with a combiner too, the answer is the same for every workers/reducers,
    even when a small memory_limit makes map tasks flush their buffers early."""
    data = [f"{i}" for i in range(40)]

    def many(line: str) -> Iterator[tuple[int, tuple[tuple[int, ...], ...]]]:
        for i in range(1000):
            yield i % 3, ((int(line),),)

    answers = [
        list(
            mapreduce(
                many,
                group_sizes,
                data,
                combiner=merge_groups,
                workers=w,
                reducers=r,
                chunksize=40,
                memory_limit="4MB",
            ).items()
        )
        for w, r in [(1, 1), (3, 5), (2, 2)]
    ]
    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0][0][1]) > 1  # the buffer really flushed more than once


SEEN: list[str] = []


def remember(line: str) -> Iterator[tuple[str, int]]:
    SEEN.append(line)
    yield line, 1


def explode(line: str) -> Iterator[tuple[str, int]]:
    raise ZeroDivisionError(line)
    yield line, 1


def test_serial_backend_runs_the_very_functions() -> None:
    """backend='serial' calls the caller's own function objects: globals change, and
    even a function that cannot be pickled runs (it never leaves the process)."""
    SEEN.clear()
    lock = threading.Lock()

    def locked_total(key: str, values: Iterator[int]) -> int:
        with lock:
            return sum(values)

    assert mapreduce(remember, locked_total, ["a", "b"], backend="serial") == {"a": 1, "b": 1}
    assert SEEN == ["a", "b"]


def test_serial_backend_raises_with_the_real_traceback() -> None:
    """In serial mode the exception is the original object, its traceback reaching into
    the mapper's frame (what pdb's post-mortem needs), with the usual note."""
    with pytest.raises(ZeroDivisionError) as info:
        mapreduce(explode, total, ["x"], backend="serial")
    frames = [entry.name for entry in info.traceback]
    assert frames[-1] == "explode"
    assert not isinstance(info.value.__cause__, RemoteTraceback)
    assert "in the mapper" in info.value.__notes__[0]


def test_elapsed_covers_the_whole_call() -> None:
    """Result.elapsed includes starting and stopping the workers and building the result."""
    import time as _time

    before = _time.monotonic()
    result = mapreduce(words, total, ["a b"], workers=2)
    call = _time.monotonic() - before
    assert 0 < result.elapsed <= call
    assert result.elapsed >= 0.8 * call - 0.05  # nothing of substance was left out
