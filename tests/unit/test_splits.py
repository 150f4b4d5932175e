"""Unit tests for mapred.splits, mapred.splitreader and mapred.textlines: planning, reading and
chunking input."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mapred import splitreader, textlines
from mapred.errors import DecodeError, InputChanged, MapredError
from mapred.fileid import FileIdentity
from mapred.recordsplits import _sized_chunks
from mapred.splits import (
    FIRST_CHUNK_RECORDS,
    MAX_CHUNK_RECORDS,
    MAX_RECORD_SPLIT_BYTES,
    MAX_SPLIT_BYTES,
    MIB,
    MIN_SPLIT_BYTES,
    TARGET_SPLITS,
    FileSplit,
    TextInput,
    auto_split_size,
    batch_bytes,
    iter_record_splits,
    iter_stream_lines,
    read_split,
    read_text,
    record_bytes,
)


def block_bytes(size: int) -> ExitStack:
    """Read in blocks of ``size`` bytes: the line reader's, and the newline count's."""
    stack = ExitStack()
    stack.enter_context(mock.patch.object(textlines, "BLOCK_BYTES", size))
    stack.enter_context(mock.patch.object(splitreader, "BLOCK_BYTES", size))
    return stack


# Text with the characters that matter: newlines, carriage returns, multi-byte UTF-8.
LINE_TEXT = st.lists(
    st.sampled_from(["a", "b", " ", "\n", "\r", "\r\n", "\n\n", "é", "€", "𝄞", "\t"]),
    max_size=120,
).map("".join)
SPLIT_SIZES = st.one_of(st.integers(1, 80), st.sampled_from([1, 2, 3, 7, 64, 10**9]))
FILE_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def reference_lines(data: bytes, encoding: str = "utf-8") -> list[str]:
    """The records of a file, computed independently of mapred."""
    parts = data.decode(encoding).split("\n")
    tail = parts.pop()  # after the last newline: "" if the text ends with one
    lines = [part[:-1] if part.endswith("\r") else part for part in parts]
    if tail:
        lines.append(tail)
    return lines


def read_all(text_input: TextInput) -> list[str]:
    """Every line of every planned split, in order."""
    return [
        line
        for split in text_input.plan_splits()
        for line in read_split(split, text_input.encoding, text_input.errors)
    ]


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


# --- byte-range splits -------------------------------------------------------------------------


@FILE_SETTINGS
@given(text=LINE_TEXT, split_size=SPLIT_SIZES)
@example(text="", split_size=1)
@example(text="a\n", split_size=1)
@example(text="a\n\nb", split_size=2)
@example(text="a\r\n\r\n€\r", split_size=3)
def test_splits_together_yield_every_line_once(tmp_path: Path, text: str, split_size: int) -> None:
    """For any text and split size, the splits' lines equal the file's lines."""
    data = text.encode()
    path = write(tmp_path / "data.txt", data)
    assert read_all(read_text(path, split_size=split_size)) == reference_lines(data)


@FILE_SETTINGS
@given(
    text=LINE_TEXT,
    split_size=SPLIT_SIZES,
    block=st.integers(1, 40),
    overread=st.integers(1, 20),
)
def test_block_edges_never_change_the_lines(
    tmp_path: Path, text: str, split_size: int, block: int, overread: int
) -> None:
    """Tiny read blocks (cutting lines and multi-byte chars) give the same lines."""
    data = text.encode()
    path = write(tmp_path / "data.txt", data)
    with (
        block_bytes(block),
        mock.patch.object(textlines, "OVERREAD_BYTES", overread),
    ):
        assert read_all(read_text(path, split_size=split_size)) == reference_lines(data)


def test_crlf_file_gives_the_same_lines_as_lf(tmp_path: Path) -> None:
    """A "\\r\\n" file and a "\\n" file with the same text give the same records."""
    lf = write(tmp_path / "lf.txt", b"one\ntwo\n\nthree\n")
    crlf = write(tmp_path / "crlf.txt", b"one\r\ntwo\r\n\r\nthree\r\n")
    assert read_all(read_text(lf, split_size=3)) == read_all(read_text(crlf, split_size=3))
    assert read_all(read_text(crlf)) == ["one", "two", "", "three"]


def test_plan_covers_the_file_contiguously(tmp_path: Path) -> None:
    """Plain splits tile [0, size) in order, the last one ending at the file size."""
    path = write(tmp_path / "a.txt", b"x\n" * 50)
    planned = read_text(path, split_size=7).plan_splits()
    assert [(s.start, s.end) for s in planned] == [(i, min(i + 7, 100)) for i in range(0, 100, 7)]
    assert all(s.path == path and s.compression is None for s in planned)


def test_long_line_goes_to_the_split_holding_its_first_byte(tmp_path: Path) -> None:
    """A line longer than the split size is read whole; splits with no line start yield nothing."""
    path = write(tmp_path / "a.txt", b"x" * 100 + b"\nend\n")
    per_split = [
        list(read_split(s, "utf-8", "strict")) for s in read_text(path, split_size=10).plan_splits()
    ]
    assert per_split[0] == ["x" * 100]
    assert per_split[10] == ["end"]  # "end" starts at byte 101
    assert all(lines == [] for lines in per_split[1:10] + per_split[11:])


def test_split_boundary_on_a_newline(tmp_path: Path) -> None:
    """A line starting exactly at a split's end belongs to the next split."""
    path = write(tmp_path / "a.txt", b"abc\ndef\n")
    assert list(read_split(FileSplit(path, 0, 4), "utf-8", "strict")) == ["abc"]
    assert list(read_split(FileSplit(path, 4, 8), "utf-8", "strict")) == ["def"]
    assert list(read_split(FileSplit(path, 3, 4), "utf-8", "strict")) == []
    assert list(read_split(FileSplit(path, 1, -1), "utf-8", "strict")) == ["def"]


def test_empty_file_has_no_splits(tmp_path: Path) -> None:
    """An empty file gives no splits, and no records."""
    path = write(tmp_path / "empty.txt", b"")
    assert read_text(path).plan_splits() == []


def test_default_split_size_follows_the_total(tmp_path: Path) -> None:
    """With split_size=None, a 3 MiB file is cut into 1 MiB splits (auto_split_size)."""
    path = write(tmp_path / "big.txt", b"0123456789abcde\n" * (3 * MIB // 16))
    planned = read_text(path).plan_splits()
    assert [(s.start, s.end) for s in planned] == [(0, MIB), (MIB, 2 * MIB), (2 * MIB, 3 * MIB)]
    assert read_text(path).total_bytes() == 3 * MIB


def test_auto_split_size_is_clamped_and_rounded() -> None:
    """The automatic split size is total/64 rounded up to a MiB, within the bounds."""
    assert auto_split_size(0) == MIN_SPLIT_BYTES == MIB
    assert auto_split_size(TARGET_SPLITS * MIB) == MIB
    assert auto_split_size(TARGET_SPLITS * MIB + 1) == 2 * MIB
    assert auto_split_size(TARGET_SPLITS * 5 * MIB) == 5 * MIB
    assert auto_split_size(10**13) == MAX_SPLIT_BYTES == 32 * MIB


def test_describe_names_the_file_and_range() -> None:
    """describe() gives the path and the byte range for error notes."""
    assert FileSplit("books/a.txt", 0, 16777216).describe() == "books/a.txt bytes 0-16777216"
    assert "whole file" in FileSplit("a.gz", 0, -1, "gz").describe()


# --- compressed files and other encodings ------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "compress", "name"),
    [(".gz", gzip.compress, "gz"), (".bz2", bz2.compress, "bz2"), (".xz", lzma.compress, "xz")],
)
def test_compressed_files_are_one_split_each(
    tmp_path: Path, suffix: str, compress: Callable[[bytes], bytes], name: str
) -> None:
    """.gz/.bz2/.xz files are one whole-file split, decompressed with the same line rules."""
    data = "a\r\nb\n\né€\nlast".encode()
    path = write(tmp_path / f"data.txt{suffix}", compress(data))
    text_input = read_text(path, split_size=2)
    assert text_input.plan_splits() == [FileSplit(path, 0, -1, name)]
    with block_bytes(3):
        assert read_all(text_input) == reference_lines(data) == ["a", "b", "", "é€", "last"]


def test_compressed_split_rejects_a_byte_range(tmp_path: Path) -> None:
    """A compressed file cannot be read from the middle: a byte range is a ValueError."""
    path = write(tmp_path / "a.gz", gzip.compress(b"a\n"))
    with pytest.raises(ValueError, match="read whole"):
        read_split(FileSplit(path, 5, 10, "gz"), "utf-8", "strict")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_non_cuttable_encodings_are_one_split_read_correctly(tmp_path: Path, encoding: str) -> None:
    """UTF-16 and friends are never cut at b"\\n" and still read line by line."""
    text = "first\r\nsecond\n\n€ 𝄞\nlast"
    path = write(tmp_path / "wide.txt", text.encode(encoding))
    text_input = read_text(path, encoding=encoding, split_size=3)
    assert text_input.plan_splits() == [FileSplit(path, 0, -1, None)]
    with block_bytes(5):
        assert read_all(text_input) == ["first", "second", "", "€ 𝄞", "last"]


def test_latin1_is_cut_like_utf8(tmp_path: Path) -> None:
    """A single-byte ASCII-compatible encoding is cut into byte ranges."""
    data = "café\nnaïve\n".encode("latin-1")
    path = write(tmp_path / "l1.txt", data)
    text_input = read_text(path, encoding="latin-1", split_size=4)
    assert len(text_input.plan_splits()) == 3
    assert read_all(text_input) == ["café", "naïve"]


# --- decode errors -----------------------------------------------------------------------------


def test_decode_error_names_file_and_line_in_a_later_split(tmp_path: Path) -> None:
    """A bad byte in a split starting mid-file reports the file's line number."""
    lines = [f"line {n}".encode() for n in range(1, 30)]
    lines[11] = b"bad \xff here"  # line 12
    path = write(tmp_path / "a.txt", b"\n".join(lines) + b"\n")
    bad_line_start = len(b"\n".join(lines[:11])) + 1
    planned = read_text(path, split_size=16).plan_splits()
    (bad,) = [s for s in planned if s.start <= bad_line_start < s.end]
    assert bad.start > 0
    assert all(list(read_split(s, "utf-8", "strict")) for s in planned if s.end <= bad.start)
    with pytest.raises(DecodeError) as info:
        list(read_split(bad, "utf-8", "strict"))
    assert info.value.path == path
    assert info.value.line == 12
    message = str(info.value)
    assert message.startswith(f"cannot decode {path} line 12 as utf-8: invalid start byte 0xff")
    assert "at byte 5 of the line" in message
    assert 'errors="replace"' in message
    assert isinstance(info.value, MapredError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("block", [1, 2, 7, MIB])
def test_decode_error_line_is_exact_whatever_the_blocks(tmp_path: Path, block: int) -> None:
    """The reported line does not depend on how blocks cut the file."""
    data = "é\n€\n\n𝄞\n".encode() * 5 + b"ok\n\xc3(\n"
    path = write(tmp_path / "a.txt", data)
    with block_bytes(block), pytest.raises(DecodeError) as info:
        read_all(read_text(path, split_size=5))
    assert info.value.line == 22


def test_errors_replace_substitutes_bad_bytes(tmp_path: Path) -> None:
    """errors="replace" turns undecodable bytes into U+FFFD instead of failing."""
    path = write(tmp_path / "a.txt", b"ok\nbad \xff\n")
    assert read_all(read_text(path, errors="replace", split_size=2)) == ["ok", "bad \ufffd"]


def test_errors_surrogateescape_round_trips(tmp_path: Path) -> None:
    """errors="surrogateescape" keeps the original bytes recoverable."""
    path = write(tmp_path / "a.txt", b"\xff\xfe\n")
    (line,) = read_all(read_text(path, errors="surrogateescape"))
    assert line.encode("utf-8", "surrogateescape") == b"\xff\xfe"


def test_decode_error_in_a_compressed_file(tmp_path: Path) -> None:
    """A bad byte inside a .gz file names the file and the line."""
    path = write(tmp_path / "a.gz", gzip.compress(b"one\ntwo\nthr\xffee\n"))
    with pytest.raises(DecodeError, match=r"line 3 as utf-8") as info:
        read_all(read_text(path))
    assert info.value.line == 3


def test_decode_error_in_utf16_names_the_line(tmp_path: Path) -> None:
    """A lone surrogate in a UTF-16 file reports its line number."""
    data = "l1\nl2\nl3\n".encode("utf-16") + b"\x00\xd8\x41\x00" + "\n".encode("utf-16-le")
    path = write(tmp_path / "a.txt", data)
    with block_bytes(3), pytest.raises(DecodeError) as info:
        read_all(read_text(path, encoding="utf-16"))
    assert info.value.line == 4
    assert f"{path} line 4 as utf-16" in str(info.value)


# --- read_text: paths, globs, directories, validation ------------------------------------------


def test_directory_is_read_recursively_in_path_order(tmp_path: Path) -> None:
    """A directory gives every regular file below it, hidden ones too, sorted by path."""
    root = tmp_path / "books"
    for name in ["b.txt", "a/z.txt", "a/b/c.txt", ".hidden", "a.txt"]:
        write(root / name, b"x\n")
    expected = [".hidden", "a/b/c.txt", "a/z.txt", "a.txt", "b.txt"]  # component by component
    assert read_text(root).sources == tuple(str(root / name) for name in expected)


def test_glob_is_expanded_recursively_and_sorted(tmp_path: Path) -> None:
    """A glob matches recursively with ** and its matches are sorted."""
    for name in ["b.txt", "a.txt", "sub/c.txt", "sub/d.md"]:
        write(tmp_path / name, b"x\n")
    pattern = str(tmp_path / "**" / "*.txt")
    assert read_text(pattern).sources == tuple(
        str(tmp_path / n) for n in ["a.txt", "b.txt", "sub/c.txt"]
    )


def test_list_input_keeps_the_given_order(tmp_path: Path) -> None:
    """A list of paths is read in the order given, and lines follow that order."""
    first = write(tmp_path / "z.txt", b"from z\n")
    second = write(tmp_path / "a.txt", b"from a\n")
    text_input = read_text([Path(first), second])
    assert text_input.sources == (first, second)
    assert read_all(text_input) == ["from z", "from a"]


def test_missing_path_names_it(tmp_path: Path) -> None:
    """A path that does not exist is a FileNotFoundError naming it."""
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_text([write(tmp_path / "ok.txt", b""), missing])


def test_glob_matching_nothing_names_it(tmp_path: Path) -> None:
    """A glob matching no file is a FileNotFoundError naming the pattern."""
    with pytest.raises(FileNotFoundError, match=r"no file matches.*\*\.md"):
        read_text(str(tmp_path / "*.md"))


def test_socket_is_rejected_with_its_name(tmp_path: Path) -> None:
    """A path that is neither file, directory, FIFO nor char device is a ValueError."""
    path = str(tmp_path / "s.sock")
    if len(path) > 100:
        pytest.skip("temporary path too long for an AF_UNIX socket")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
        with pytest.raises(ValueError, match=r"s\.sock"):
            read_text(path)


def test_streams_are_listed_after_files(tmp_path: Path) -> None:
    """stdin and FIFOs are streams for the driver, placed after the regular files."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    path = write(tmp_path / "a.txt", b"a\n")
    text_input = read_text(["-", fifo, path])
    assert text_input.streams == ("-", fifo)
    assert text_input.sources == (path, "-", fifo)
    assert text_input.plan_splits() == [FileSplit(path, 0, 2)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"encoding": "no-such-codec"}, ValueError, "unknown encoding"),
        ({"encoding": "rot13"}, ValueError, "not a text encoding"),
        ({"errors": "loud"}, ValueError, "errors must be one of"),
        ({"split_size": 0}, ValueError, "positive"),
        ({"split_size": "1MB"}, TypeError, "split_size must be an int"),
        ({"split_size": True}, TypeError, "split_size must be an int"),
    ],
)
def test_bad_arguments_say_what_was_expected(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    """Bad encoding, errors or split_size raise at once with a clear message."""
    path = write(tmp_path / "a.txt", b"a\n")
    with pytest.raises(error, match=match):
        read_text(path, **kwargs)  # type: ignore[arg-type]


def test_no_paths_is_an_error() -> None:
    """An empty list of paths is a ValueError, not a silently empty input."""
    with pytest.raises(ValueError, match="at least one path"):
        read_text([])


# --- streams -----------------------------------------------------------------------------------


def test_stream_lines_from_a_pipe_arrive_before_eof() -> None:
    """A pipe is read as data arrives: the first line comes before the writer closes."""
    if not os.path.exists("/dev/fd"):
        pytest.skip("needs /dev/fd")
    read_fd, write_fd = os.pipe()
    got_first = threading.Event()
    saw_reader = []

    def writer() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as pipe:
            pipe.write("first €\r\n".encode())
            saw_reader.append(got_first.wait(timeout=10))
            pipe.write(b"second\n\nthird")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        lines = iter_stream_lines(f"/dev/fd/{read_fd}", "utf-8", "strict")
        first = next(lines)
        got_first.set()
        rest = list(lines)
    finally:
        got_first.set()
        thread.join()
        os.close(read_fd)
    assert first == "first €"
    assert rest == ["second", "", "third"]
    assert saw_reader == [True]


def test_stdin_stream_and_its_decode_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "-" reads sys.stdin.buffer; a bad byte names "<stdin>" and the line."""
    stdin = io.TextIOWrapper(io.BytesIO(b"a\r\nb\n\xff\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    lines = iter_stream_lines("-", "utf-8", "strict")
    assert [next(lines), next(lines)] == ["a", "b"]
    with pytest.raises(DecodeError, match="cannot decode <stdin> line 3") as info:
        next(lines)
    assert (info.value.path, info.value.line) == ("<stdin>", 3)


def test_stdin_stream_in_utf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """A UTF-16 stream is decoded incrementally with the same line rules."""
    stdin = io.TextIOWrapper(io.BytesIO("x\r\ny\n\nz".encode("utf-16")))
    monkeypatch.setattr(sys, "stdin", stdin)
    with block_bytes(3):
        assert list(iter_stream_lines("-", "utf-16", "strict")) == ["x", "y", "", "z"]


# --- iter_record_splits ---------------------------------------------------------------------


def test_auto_chunks_follow_the_fixed_schedule() -> None:
    """chunksize=None gives 64, 128, ... up to MAX_CHUNK_RECORDS, then constant."""
    total = sum(64 << k for k in range(8)) + 2 * MAX_CHUNK_RECORDS + 5
    sizes = [len(chunk) for chunk in iter_record_splits(range(total), None)]
    assert sizes == [64, 128, 256, 512, 1024, 2048, 4096, 8192, 8192, 8192, 5]
    assert MAX_CHUNK_RECORDS == 8192


def test_chunks_keep_every_record_in_order() -> None:
    """Concatenating the chunks gives back the records, for given and automatic sizes."""
    for chunksize in (None, 1, 3, 1000):
        chunks = list(iter_record_splits(iter(range(1000)), chunksize))
        assert list(itertools.chain.from_iterable(chunks)) == list(range(1000))
        assert all(chunks)


def test_chunks_pull_at_most_one_chunk_ahead() -> None:
    """An infinite generator is consumed only as far as the chunks taken."""
    pulled = 0

    def forever() -> Iterator[int]:
        nonlocal pulled
        for n in itertools.count():
            pulled += 1
            yield n

    chunks = iter_record_splits(forever(), None)
    assert pulled == 0
    taken = list(itertools.islice(chunks, 3))
    assert [len(c) for c in taken] == [64, 128, 256]
    assert pulled == 64 + 128 + 256
    assert [len(c) for c in itertools.islice(iter_record_splits(forever(), 10), 2)] == [10, 10]


def test_short_chunk_stops_without_pulling_again() -> None:
    """After a short chunk the source is not asked again (a terminal stdin would block)."""

    class Source:
        calls = 0

        def __iter__(self) -> Source:
            return self

        def __next__(self) -> int:
            self.calls += 1
            if self.calls > 3:
                raise StopIteration
            return self.calls

    source = Source()
    assert list(iter_record_splits(source, 5)) == [[1, 2, 3]]
    assert source.calls == 4


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_bad_chunksize_is_a_value_error_at_once(bad: object) -> None:
    """A chunksize that is not a positive int fails when iter_record_splits is called."""
    with pytest.raises(ValueError, match="chunksize must be a positive int"):
        iter_record_splits([1, 2], bad)  # type: ignore[arg-type]


# --- URLs --------------------------------------------------------------------------------------


def test_a_url_without_fsspec_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(ImportError, match=r"s3://b/x\.txt: .*pip install '\.\[remote\]'"):
        read_text("s3://b/x.txt")


def test_local_paths_and_file_urls_never_import_fsspec(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"one\ntwo\n")
    code = (
        "import sys; from mapred.splits import read_text, read_split\n"
        f"t = read_text(['{path}', 'file://{path}'], split_size=3)\n"
        "lines = [l for s in t.plan_splits() for l in read_split(s, 'utf-8', 'strict')]\n"
        "assert lines == ['one', 'two'] * 2, lines\n"
        "assert 'fsspec' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_storage_options_stay_out_of_reprs_and_messages() -> None:
    options = {"secret": "hunter2"}
    split = FileSplit("s3://b/a.txt", 0, 10, None, options)
    text_input = TextInput(
        ("s3://b/a.txt",), remote_sizes={"s3://b/a.txt": 10}, storage_options=options
    )
    assert "hunter2" not in repr(split) + split.describe() + repr(text_input)
    assert split == FileSplit("s3://b/a.txt", 0, 10)
    assert text_input.plan_splits() == [split]
    assert text_input.plan_splits()[0].storage_options == options
    assert hash(text_input) == hash(TextInput(("s3://b/a.txt",)))


# ---------------------------------------------------------------------------------------------
# A file that changed since its splits were planned: InputChanged, never a mixed answer


def planned(path: Path, split_size: int) -> list[FileSplit]:
    return read_text(str(path), split_size=split_size).plan_splits()


def test_splits_carry_their_files_identity(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\ntwo\nthree\n")
    status = path.stat()
    identities = {split.identity for split in planned(path, 4)}
    assert identities == {FileIdentity(14, status.st_mtime_ns, status.st_ino, status.st_dev)}


def test_a_split_of_a_truncated_file_is_input_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"line\n" * 1000)
    splits = planned(path, 1000)
    os.truncate(path, 2000)
    for split in (splits[0], splits[-1]):  # before and past the new end alike
        with pytest.raises(InputChanged, match="size 5000 -> 2000 bytes") as info:
            list(read_split(split, "utf-8", "strict"))
        assert info.value.path == str(path)
        assert "opening" in str(info.value)


def test_a_truncation_during_the_read_is_caught_after_it(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"line\n" * 100_000)
    (split,) = planned(path, 10**6)
    lines = read_split(split, "utf-8", "strict")
    assert next(lines) == "line"  # the first block is read
    os.truncate(path, 100_000)
    with pytest.raises(InputChanged, match="after reading"):
        list(lines)


def test_a_file_replaced_by_one_of_the_same_size(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"old\n" * 100)
    (split,) = planned(path, 10**6)
    fresh = tmp_path / "fresh.txt"
    fresh.write_bytes(b"new\n" * 100)
    os.replace(fresh, path)
    with pytest.raises(InputChanged, match="replaced by another file"):
        list(read_split(split, "utf-8", "strict"))


def test_a_file_rewritten_in_place_with_the_same_size(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"old\n" * 100)
    (split,) = planned(path, 10**6)
    status = path.stat()
    with open(path, "r+b") as file:
        file.write(b"new\n")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1))  # coarse clocks
    with pytest.raises(InputChanged, match="modification time changed"):
        list(read_split(split, "utf-8", "strict"))


def test_a_cut_gzip_stream_of_a_changed_file_is_input_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.gz"
    packed = gzip.compress(b"".join(b"%d\n" % i for i in range(300_000)))
    path.write_bytes(packed)
    (split,) = planned(path, 10**6)
    lines = read_split(split, "utf-8", "strict")
    assert next(lines) == "0"
    os.truncate(path, len(packed) // 2)
    with pytest.raises(InputChanged) as info:
        list(lines)
    assert isinstance(info.value.__context__, EOFError)  # what it would have been


def test_an_unchanged_file_and_a_hand_made_split_read_as_ever(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"a\nb\nc\n")
    lines = [line for split in planned(path, 2) for line in read_split(split, "utf-8", "strict")]
    assert lines == ["a", "b", "c"]
    path.write_bytes(b"x\ny\n")  # a split made by hand carries no identity: not checked
    assert list(read_split(FileSplit(str(path), 0, -1), "utf-8", "strict")) == ["x", "y"]


def test_input_changed_pickles_with_its_path_and_notes() -> None:
    error = InputChanged("a.txt changed", "a.txt")
    error.add_note("mapred: a note")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.path) == (InputChanged, "a.txt changed", "a.txt")
    assert again.__notes__ == ["mapred: a note"]
    assert isinstance(again, MapredError)


def test_remote_identities_use_the_stores_stamp() -> None:
    info = {"size": 5, "LastModified": "2026-01-01", "ETag": '"e1"'}
    assert FileIdentity.of_info(info) == FileIdentity(5, stamp=("ETag", '"e1"'))
    assert FileIdentity(5, stamp=("ETag", '"e1"')).changes(
        FileIdentity(5, stamp=("ETag", '"e2"'))
    ) == ['ETag "e1" -> "e2"']
    assert FileIdentity(5).changes(FileIdentity(5, stamp=("ETag", "x"))) == []


# ---------------------------------------------------------------------------------------------
# Automatic record splits: bounded in bytes as well as records


class Counted:
    """An iterable that counts the records pulled from it."""

    def __init__(self, records: list[object]) -> None:
        self.records = records
        self.pulled = 0

    def __iter__(self) -> Iterator[object]:
        for record in self.records:
            self.pulled += 1
            yield record


def test_records_of_a_megabyte_make_splits_of_a_few_megabytes() -> None:
    records = [bytes([i]) * MIB for i in range(40)]
    sizes = [len(split) for split in iter_record_splits(records, None)]
    per_split = -(-MAX_RECORD_SPLIT_BYTES // record_bytes(records[0]))
    assert per_split == 4
    assert sizes == [per_split] * 10
    assert [r for split in iter_record_splits(records, None) for r in split] == records


def test_the_byte_bound_also_holds_for_records_inside_tuples() -> None:
    records = [(i, "v" * MIB) for i in range(12)]
    assert [len(split) for split in iter_record_splits(records, None)] == [4, 4, 4]


def test_large_records_are_not_read_far_ahead() -> None:
    """While a split of 1 MB records is handed out, little more than it was pulled."""
    source = Counted([b"r" * MIB for _ in range(30)])
    splits = iter_record_splits(source, None)
    first = next(splits)
    assert len(first) == 4
    assert source.pulled <= 2 * len(first)
    second = next(splits)
    assert source.pulled <= len(first) + 2 * len(second)


def test_an_explicit_chunksize_is_records_only() -> None:
    records = ["x" * MIB] * 10
    assert [len(split) for split in iter_record_splits(records, 3)] == [3, 3, 3, 1]


def test_small_records_keep_the_record_schedule() -> None:
    sizes = [len(split) for split in iter_record_splits(range(70_000), None)]
    assert sizes[:8] == [FIRST_CHUNK_RECORDS << k for k in range(8)]
    assert set(sizes[8:-1]) == {MAX_CHUNK_RECORDS}


def reference_splits(sizes: list[int], caps: list[int], limit: int) -> list[int]:
    """Split lengths, record by record: at the cap, or at the record reaching the limit."""
    lengths: list[int] = []
    position = 0
    for cap in caps:
        count = nbytes = 0
        while position < len(sizes) and count < cap and nbytes < limit:
            nbytes += sizes[position]
            count += 1
            position += 1
        if not count:
            break
        lengths.append(count)
    return lengths


@given(
    st.lists(st.integers(0, 3000), max_size=300),
    st.integers(1, 5000),
    st.lists(st.integers(1, 40), min_size=1, max_size=5),
)
@settings(max_examples=200, deadline=None)
def test_boundaries_depend_only_on_the_record_sizes(
    lengths: list[int], limit: int, caps: list[int]
) -> None:
    """Against a record-by-record oracle, whatever the records' sizes and order."""
    records = [b"x" * n for n in lengths]
    sizes = [record_bytes(r) for r in records]
    cap_list = caps * (len(records) + 1)
    got = [len(s) for s in _sized_chunks(iter(records), iter(cap_list), limit)]
    assert got == reference_splits(sizes, cap_list, limit)
    again = [len(s) for s in _sized_chunks(iter(list(records)), iter(cap_list), limit)]
    assert again == got


def test_batch_bytes_adds_up_record_bytes() -> None:
    class Mine:
        pass

    mixed: list[object] = [(1, "a"), [1, "é" * 5], {"k": b"v" * 9}, "s", 3.5, None, Mine()]
    for records in (mixed, [Mine(), Mine()], [(i, "ab") for i in range(100)], ["x"] * 9):
        assert batch_bytes(records) == sum(map(record_bytes, records))
    assert record_bytes(("key", "v" * MIB)) > MIB
