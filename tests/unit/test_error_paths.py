"""Errors that used to lose their way home (issue 14, item 6).

Each test runs a real job on worker processes and checks what the caller gets: the
exception's type, its message or notes, and how many attempts the task cost.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapred import MapredError, mapreduce, read_text
from mapred.errors import RemoteError, pack_exception, task_error, unpack_exception


class BrokenStr(Exception):
    """An exception whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class BrokenEverything(Exception):
    """An exception that neither prints nor pickles."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    def __reduce__(self) -> tuple[object, ...]:
        raise RuntimeError("no pickle for you")


class UnpicklableKey:
    """Hashable and comparable, but it holds a lock, so it does not pickle."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __hash__(self) -> int:
        return 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnpicklableKey)

    def __repr__(self) -> str:
        return "UnpicklableKey()"


def sum_values(key: object, values: Iterator[int]) -> int:
    return sum(values)


def raise_broken_str(attempts: str, record: int) -> Iterator[tuple[int, int]]:
    with open(attempts, "a") as file:
        file.write("attempt\n")
    raise BrokenStr()
    yield record, record


def yield_a_non_pair(record: int) -> Iterator[int]:
    yield 5


def yield_unpicklable_key(record: int) -> Iterator[tuple[UnpicklableKey, int]]:
    yield UnpicklableKey(), record


def reduce_to_a_lock(key: object, values: Iterator[int]) -> threading.Lock:
    return threading.Lock()


def nested_on_processes(record: int) -> Iterator[tuple[int, int]]:
    inner = mapreduce(lambda r: [(r, 1)], sum_values, [record, record], workers=1)
    yield from inner.items()


def nested_serial(record: int) -> Iterator[tuple[int, int]]:
    inner = mapreduce(lambda r: [(r, 1)], sum_values, [record, record], backend="serial")
    yield from inner.items()


def delete_then_count(path: str, line: str) -> Iterator[tuple[str, int]]:
    if os.path.exists(path):
        os.unlink(path)  # the job's own input, deleted while the job runs
    yield line[:1], 1


def notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


def test_an_exception_whose_str_raises_comes_back_after_one_attempt(
    start_method: str, tmp_path: Path
) -> None:
    """It used to crash the worker in pack_exception: retried, then WorkerLost."""
    import functools

    attempts = tmp_path / "attempts"
    with pytest.raises(BrokenStr) as caught:
        mapreduce(
            functools.partial(raise_broken_str, str(attempts)),
            sum_values,
            [1],
            workers=1,
            start_method=start_method,
        )
    assert attempts.read_text().count("attempt") == 1
    assert any("in the mapper" in note for note in notes(caught.value))


def test_pack_exception_never_raises() -> None:
    """An exception that neither prints nor pickles arrives as a RemoteError naming it."""
    packed = pack_exception(task_error(BrokenEverything(), "in map task 0 attempt 1"))
    exc = unpack_exception(packed)
    assert isinstance(exc, RemoteError)
    assert "BrokenEverything" in str(exc)
    assert "str() of BrokenEverything failed" in str(exc)

    exc = unpack_exception(pack_exception(BrokenStr()))
    assert type(exc) is BrokenStr  # it pickles: it keeps its type


def test_a_bare_exception_is_packed_with_its_type_when_formatting_fails() -> None:
    class Hostile(Exception):
        @property  # type: ignore[override]
        def __traceback__(self) -> None:  # traceback formatting itself fails
            raise RuntimeError("no traceback")

    packed = pack_exception(Hostile())
    _payload, fallback, _ = pickle.loads(packed)
    assert "Hostile" in fallback


@pytest.mark.parametrize(
    ("mapper", "reducer", "message"),
    [
        (yield_a_non_pair, sum_values, "mapper must yield"),
        (lambda r: [(r, 1)], reduce_to_a_lock, "cannot"),
    ],
    ids=["non-pair", "unpicklable-reduced-value"],
)
def test_contract_errors_do_not_claim_user_code_never_ran(
    mapper: object, reducer: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message) as caught:
        mapreduce(mapper, reducer, [1, 2], workers=2)  # type: ignore[arg-type]
    assert not any("before the task's user code ran" in n for n in notes(caught.value))
    assert any(n.startswith("mapred: ") and "task" in n for n in notes(caught.value))


def test_an_unpicklable_key_is_named_as_a_key_with_one_reducer() -> None:
    with pytest.raises(TypeError, match=r"the key UnpicklableKey\(\)") as caught:
        mapreduce(yield_unpicklable_key, sum_values, [1], workers=1, reducers=1)
    assert any("map task 0" in n for n in notes(caught.value))


def test_an_unpicklable_key_is_named_as_a_key_when_partitioned() -> None:
    with pytest.raises(TypeError, match=r"the key UnpicklableKey\(\)"):
        mapreduce(yield_unpicklable_key, sum_values, [1], workers=1, reducers=2)


def test_mapreduce_inside_a_mapper_says_what_to_do(start_method: str) -> None:
    with pytest.raises(MapredError, match="backend='serial'"):
        mapreduce(nested_on_processes, sum_values, [1, 2], workers=1, start_method=start_method)


def test_mapreduce_inside_a_mapper_works_with_the_serial_backend() -> None:
    assert mapreduce(nested_serial, sum_values, [1, 2, 3], workers=2) == {1: 2, 2: 2, 3: 2}


def test_a_file_deleted_mid_job_is_named_as_input(tmp_path: Path) -> None:
    """One worker: split 0 maps (and deletes the file) before split 1 is opened."""
    import functools

    path = tmp_path / "input.txt"
    path.write_text("".join(f"line {i}\n" for i in range(4000)))
    with pytest.raises(FileNotFoundError) as caught:
        mapreduce(
            functools.partial(delete_then_count, str(path)),
            sum_values,
            read_text(path, split_size=4096),
            workers=1,
        )
    assert caught.value.filename == str(path)
    text = " ".join(notes(caught.value))
    assert "reading the input of map task 1" in text
    assert "removed" in text
    assert "in the mapper" not in text
    assert "record 0: None" not in text
