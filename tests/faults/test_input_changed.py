"""An input file changed while the job reads it: InputChanged naming it, never a mixed answer.

The mapper itself changes the file on its first record (deterministic: no timing). With
one worker and many splits, the later splits are read after the change; the split being
read when it happens is caught by the check after reading it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from mapred import InputChanged, MapredError, WorkerLost, mapreduce, read_text
from tests.oracle import total

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

LINES = 4000


def write_lines(path: Path, prefix: str, lines: int = LINES) -> bytes:
    data = "".join(f"{prefix} {i:06d}\n" for i in range(lines)).encode()
    path.write_bytes(data)
    return data


def truncating(path: str, size: int, line: str) -> Iterator[tuple[str, int]]:
    """Truncate ``path`` to ``size`` bytes on the first record (if still longer)."""
    if os.path.getsize(path) > size:
        os.truncate(path, size)
    yield line[:1], 1


def replacing(path: str, data: bytes, trigger: str, line: str) -> Iterator[tuple[str, int]]:
    """Rename a new file holding ``data`` over ``path`` at the first record starting
    with ``trigger`` (once: a marker beside it says it was done)."""
    marker = path + ".replaced"
    if line.startswith(trigger) and not os.path.exists(marker):
        fresh = path + ".new"
        with open(fresh, "wb") as file:
            file.write(data)
        os.replace(fresh, path)
        open(marker, "wb").close()
    yield line[:1], 1


def run(mapper: object, data: object, start_method: str) -> object:
    return mapreduce(mapper, total, data, workers=1, start_method=start_method)


def test_a_file_truncated_while_the_job_reads_it(tmp_path: Path, start_method: str) -> None:
    path = tmp_path / "big.txt"
    data = write_lines(path, "x")
    text = read_text(str(path), split_size=len(data) // 16)
    mapper = partial(truncating, str(path), len(data) // 2)
    with pytest.raises(InputChanged) as info:
        run(mapper, text, start_method)
    error = info.value
    assert error.path == str(path)
    assert str(path) in str(error)
    assert f"size {len(data)} -> {len(data) // 2} bytes" in str(error)
    assert not isinstance(error, WorkerLost)
    assert error.__notes__ == ["mapred: raised reading the job's input, not by the mapper"]


def test_a_file_replaced_by_one_of_the_same_size(tmp_path: Path, start_method: str) -> None:
    """Same size, other inode: the splits read after the rename see another file."""
    path = tmp_path / "same.txt"
    data = write_lines(path, "x")
    other = data.replace(b"x", b"y")
    assert len(other) == len(data)
    text = read_text(str(path), split_size=len(data) // 8)
    with pytest.raises(InputChanged, match="replaced by another file") as info:
        run(partial(replacing, str(path), other, "x"), text, start_method)
    assert info.value.path == str(path)


def test_a_gz_file_replaced_before_its_turn(tmp_path: Path, start_method: str) -> None:
    """a.gz's first record replaces b.gz, read next (each .gz file is one split)."""
    first, second = tmp_path / "a.txt.gz", tmp_path / "b.txt.gz"
    first.write_bytes(gzip.compress(b"a line\n" * 100))
    second.write_bytes(gzip.compress(b"b line\n" * 100))
    text = read_text([str(first), str(second)])
    mapper = partial(replacing, str(second), gzip.compress(b"c line\n" * 100), "a")
    with pytest.raises(InputChanged) as info:
        run(mapper, text, start_method)
    assert info.value.path == str(second)
    assert "b.txt.gz" in str(info.value)


def test_a_gz_file_truncated_while_it_is_read(tmp_path: Path) -> None:
    """A cut gzip stream would be an EOFError; with the file changed it is InputChanged."""
    path = tmp_path / "big.txt.gz"
    body = b"".join(b"%d %s\n" % (i, os.urandom(8).hex().encode()) for i in range(200_000))
    packed = gzip.compress(body)
    path.write_bytes(packed)
    mapper = partial(truncating, str(path), len(packed) // 2)
    with pytest.raises(InputChanged, match="size") as info:
        mapreduce(mapper, total, read_text(str(path)), workers=1)
    assert info.value.path == str(path)


def test_an_unchanged_file_gives_the_exact_answer(tmp_path: Path) -> None:
    """The checks cost nothing to a file that stays put: same answer as ever."""
    path = tmp_path / "calm.txt"
    data = write_lines(path, "x")
    text = read_text(str(path), split_size=len(data) // 8)
    result = mapreduce(partial(truncating, str(path), len(data)), total, text, workers=2)
    assert dict(result) == {"x": LINES}


def test_serial_backend_too(tmp_path: Path) -> None:
    path = tmp_path / "serial.txt"
    data = write_lines(path, "x")
    text = read_text(str(path), split_size=len(data) // 8)
    mapper = partial(truncating, str(path), len(data) // 3)
    with pytest.raises(InputChanged):
        mapreduce(mapper, total, text, backend="serial")


def test_input_changed_is_a_mapred_error() -> None:
    assert issubclass(InputChanged, MapredError)
    assert not issubclass(InputChanged, WorkerLost)
