"""Hostile input (SPEC 5-6): each case gives the exact answer or the promised clear error."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapred import DecodeError, Engine, read_text
from tests.oracle import total, words

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def lines(line: str) -> Iterator[tuple[str, int]]:
    yield line, 1


def reference(text: str) -> dict[str, int]:
    body = text.replace("\r\n", "\n")
    records = body.split("\n")
    if records and records[-1] == "":
        records.pop()
    return dict(Counter(records))


@pytest.mark.parametrize("split_size", [1, 2, 3, 5, 8, 64])
def test_split_boundaries_inside_multibyte_characters_and_crlf(
    engine: Engine, tmp_path: Path, split_size: int
) -> None:
    """Tiny splits cut through UTF-8 sequences and \\r\\n pairs: every line arrives once."""
    text = "naïve café\r\n日本語のテキスト\r\n\r\nemoji 🎉🎉\r\nlast line without newline ’quote’"
    path = tmp_path / "mixed.txt"
    path.write_bytes(text.encode())
    result = engine.mapreduce(lines, total, read_text(str(path), split_size=split_size))
    assert dict(result) == reference(text)


def test_a_line_longer_than_the_split_size(engine: Engine, tmp_path: Path) -> None:
    """A 100 kB line with 1 kB splits is read whole, exactly once."""
    text = "short\n" + "y" * 100_000 + "\nend\n"
    path = tmp_path / "long.txt"
    path.write_text(text)
    result = engine.mapreduce(lines, total, read_text(str(path), split_size=1024))
    assert dict(result) == reference(text)


def test_undecodable_bytes_name_the_file_and_line(engine: Engine, tmp_path: Path) -> None:
    """Bad UTF-8 on line 3000 (in a later split): DecodeError with file and line."""
    path = tmp_path / "bad.txt"
    body = b"".join(b"line %d\n" % i for i in range(1, 3000)) + b"bad \xff byte\nafter\n"
    path.write_bytes(body)
    with pytest.raises(DecodeError) as info:
        engine.mapreduce(words, total, read_text(str(path), split_size=4096))
    assert info.value.line == 3000
    assert str(path) in str(info.value)
    assert "line 3000" in str(info.value)
    replaced = engine.mapreduce(words, total, read_text(str(path), errors="replace"))
    assert replaced["\ufffd"] == 1
    assert replaced["after"] == 1


def test_empty_files_and_devices_give_an_empty_result(engine: Engine, tmp_path: Path) -> None:
    """An empty file and /dev/null are empty input, not an error."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert dict(engine.mapreduce(words, total, read_text(str(empty)))) == {}
    assert dict(engine.mapreduce(words, total, read_text("/dev/null"))) == {}


def test_a_fifo_is_streamed_by_the_driver(engine: Engine, tmp_path: Path) -> None:
    """A named pipe (like bash's <(...)) is read as a stream: the exact count."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    text = "".join(f"w{i % 7} common\n" for i in range(10_000))

    def feed() -> None:
        with open(fifo, "w") as writer:
            writer.write(text)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        result = engine.mapreduce(words, total, read_text(str(fifo)))
    finally:
        writer.join(timeout=10)
    assert result["common"] == 10_000
    assert sum(result.values()) == 20_000


def test_a_missing_path_is_file_not_found_naming_it(tmp_path: Path) -> None:
    """read_text of a missing path fails at once, naming the path."""
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_text(str(missing))


def test_a_value_neither_msgpack_nor_pickle_can_carry(engine: Engine) -> None:
    """A lock as a value is a TypeError naming its key, not a crash or a hang."""

    def locked(record: int) -> Iterator[tuple[str, object]]:
        yield "the-key", threading.Lock()

    with pytest.raises(TypeError, match="the-key"):
        engine.mapreduce(locked, lambda k, vs: 0, [1])


def test_a_reducer_result_that_cannot_be_stored(engine: Engine) -> None:
    """A reducer returning an unpicklable object: TypeError naming the key."""
    with pytest.raises(TypeError, match="cannot be stored for key 'a'"):
        engine.mapreduce(words, lambda k, vs: threading.Lock(), ["a"])
