"""Reading a split in a worker: a split's bytes, line boundaries, decoding, compression.

The driver plans splits (:mod:`mapred.splits`); each worker reads its own with
:func:`read_split`: the driver ships only a :class:`FileSplit`, never the bytes.
Streams (stdin, FIFOs, character devices such as ``/dev/fd/63``) cannot be seeked or
re-read by another process, so the driver reads them with :func:`iter_stream_lines`.

Invariants:

* A record is a line without its ``"\\n"`` and without one ``"\\r"`` before it; a
  final line without newline is a record; an empty file has none.
* A line belongs to the split holding its first byte. A split ``[s, e)`` with
  ``s > 0`` skips through the first ``b"\\n"`` at or after ``s - 1``, then yields
  every line starting before ``e``, reading a line that crosses ``e`` whole. The
  splits of a file therefore yield each of its lines exactly once, whatever the
  split size.
* This needs ``b"\\n"`` to be the encoding of ``"\\n"`` and never part of another
  character (true for UTF-8 and the ASCII-compatible legacy codecs). Other
  encodings (UTF-16/32, UTF-7, ISO-2022, ...) and compressed files are read as
  one split per file, through an incremental decoder.
* Hot path: blocks of :data:`BLOCK_BYTES` are cut at their last ``b"\\n"``, decoded
  at once and split with ``str.split``; a block's lines are handed out through
  ``itertools.chain`` so that the per-line cost is C code only. A multi-byte
  character never straddles two decoded blocks, so block edges never cause a
  false decode error.
* A split of a URL (``s3://``, ``gs://``, ...) is read the same way through
  :mod:`mapred.storage`, with ranged reads of its own bytes only; local paths never
  import fsspec.
* A split carries its file's identity as planned (:mod:`mapred.fileid`): a file that
  changed since (truncated, rewritten, replaced) is an ``InputChanged`` when the split
  is opened or, for a local file, once it has been read, never a mixed answer.

This module runs in workers: stdlib only (plus :mod:`mapred.errors`,
:mod:`mapred.fileid`, and :mod:`mapred.storage` for URLs).
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import itertools
import lzma
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import IO, Any

from mapred import storage
from mapred.errors import DecodeError, InputChanged
from mapred.fileid import FileIdentity, check_unchanged

# Bytes read per call. Each block costs some Python work (a read, a decode, a
# split, a generator step), so blocks must hold many lines; but all of a block's
# line objects exist at once, and past a few hundred KiB they no longer fit in the
# CPU cache. 64 KiB measured fastest: on 50 MB of short lines, as fast as
# ``for line in open(path)``, where 1 MiB blocks were about 35% slower.
BLOCK_BYTES = 64 * 1024

# Past a split's end only the line crossing it is still needed, and it is usually
# short: read in pieces of this size there instead of whole blocks, so that tiny
# splits do not each read a block of their neighbours' bytes.
OVERREAD_BYTES = 16 * 1024

ERROR_HANDLERS = ("strict", "replace", "ignore", "surrogateescape", "backslashreplace")

COMPRESSIONS = {".gz": "gz", ".bz2": "bz2", ".xz": "xz"}

# Codecs that keep a shift state between lines: decoding from a line start in
# the middle of a file would start in the wrong state, so never cut them.
STATEFUL_CODECS = frozenset({"utf-7", "hz"})
STATEFUL_CODEC_PREFIXES = ("iso2022",)

STDIN = "-"


@dataclass(frozen=True)
class FileSplit:
    """A byte range of one file, read by a worker itself.

    Attributes:
        path: the file, as given to :func:`read_text` (or joined to its directory);
            a URL such as ``s3://bucket/key`` for remote storage.
        start: byte offset of the range.
        end: byte offset where the range ends (exclusive); ``-1`` for the end of
            the file. A split read whole (a compressed file, an encoding that is
            never cut) starts at 0 and ends at ``-1`` or at the file's size.
        compression: ``None``, ``"gz"``, ``"bz2"`` or ``"xz"``.
        storage_options: for a URL, passed to fsspec (credentials, endpoint); left
            out of ``repr`` and comparisons so that secrets stay out of messages.
        identity: the file's identity when the splits were planned, checked by the
            worker that reads the split; ``None`` (a split made by hand) checks nothing.
    """

    path: str
    start: int
    end: int
    compression: str | None = None
    storage_options: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    identity: FileIdentity | None = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """The split for an error note.

        >>> FileSplit("books/a.txt", 0, 16777216).describe()
        'books/a.txt bytes 0-16777216'
        >>> FileSplit("logs/b.gz", 0, -1, "gz").describe()
        'logs/b.gz (whole file, gz)'
        """
        if self.compression is None and self.end >= 0:
            return f"{self.path} bytes {self.start}-{self.end}"
        if self.start:
            return f"{self.path} bytes {self.start}-end"
        kind = f", {self.compression}" if self.compression else ""
        return f"{self.path} (whole file{kind})"


def compression_of(path: str) -> str | None:
    """The compression named by the file extension, or ``None``.

    >>> compression_of("logs/2024.txt.GZ"), compression_of("s3://b/a.txt")
    ('gz', None)
    """
    return COMPRESSIONS.get(os.path.splitext(path)[1].lower())


def check_decoding(encoding: str, errors: str) -> None:
    """Raise if ``encoding`` is not a text encoding or ``errors`` not a known handler."""
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str, got {encoding!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    try:
        "\n".encode(encoding)  # bytes.decode skips this check for empty input
    except LookupError:
        raise ValueError(f"{encoding!r} is not a text encoding") from None
    except UnicodeError:
        pass
    if errors not in ERROR_HANDLERS:
        raise ValueError(f"errors must be one of {', '.join(ERROR_HANDLERS)}; got {errors!r}")


@lru_cache(maxsize=64)
def is_newline_safe(encoding: str) -> bool:
    """Whether files in ``encoding`` can be cut at any ``b"\\n"``.

    >>> is_newline_safe("utf-8"), is_newline_safe("latin-1"), is_newline_safe("utf-16")
    (True, True, False)
    """
    name = codecs.lookup(encoding).name
    if name in STATEFUL_CODECS or name.startswith(STATEFUL_CODEC_PREFIXES):
        return False
    try:
        return "\n".encode(encoding) == b"\n" and b"\n".decode(encoding) == "\n"
    except UnicodeError:
        return False


def read_split(split: FileSplit, encoding: str, errors: str) -> Iterator[str]:
    """The lines of one split, newline stripped.

    Args:
        split: from :meth:`TextInput.plan_splits` (or built by hand).
        encoding: the text encoding.
        errors: the decode error handler.

    Returns:
        A lazy iterator; the file is opened on the first ``next()`` and closed
        when the iterator is exhausted or discarded.

    Raises:
        DecodeError: (while iterating) undecodable bytes with ``errors="strict"``,
            naming the file and its 1-based line number.
        ValueError: a split that cannot be read as asked (a byte range of a
            compressed file or of a file in an encoding that is never cut).
    """
    check_decoding(encoding, errors)
    if split.compression is not None and split.compression not in COMPRESSIONS.values():
        raise ValueError(f"unknown compression {split.compression!r} in {split.describe()}")
    if split.start < 0 or split.end < -1 or 0 <= split.end < split.start:
        raise ValueError(f"bad byte range in {split.describe()}")
    whole = split.compression is not None or not is_newline_safe(encoding)
    if whole and split.start != 0:
        raise ValueError(
            f"{split.describe()}: a {split.compression or encoding} file is read whole; "
            "expected start=0 and end=-1 (or the file's size)"
        )
    return itertools.chain.from_iterable(_split_blocks(split, encoding, errors))


def read_split_blocks(split: FileSplit, encoding: str, errors: str) -> Iterator[list[str]]:
    """The lines of one split in blocks (lists of lines), as :func:`read_split` reads them.

    For callers that want to do something between blocks, like reporting progress.
    """
    lines = read_split(split, encoding, errors)  # checks the arguments
    del lines
    return _split_blocks(split, encoding, errors)


def iter_stream_lines(source: str, encoding: str, errors: str) -> Iterator[str]:
    """The lines of a stream, read block by block as they arrive (never whole).

    Args:
        source: ``"-"`` for ``sys.stdin.buffer``, else the path of a FIFO or
            character device.
        encoding: the text encoding.
        errors: the decode error handler.

    Returns:
        A lazy iterator of lines, newline stripped.

    Raises:
        DecodeError: (while iterating) undecodable bytes with ``errors="strict"``;
            the path is ``"<stdin>"`` for ``"-"``.
    """
    check_decoding(encoding, errors)
    return itertools.chain.from_iterable(_stream_blocks(source, encoding, errors))


def _stream_blocks(source: str, encoding: str, errors: str) -> Iterator[list[str]]:
    if source == STDIN:
        if sys.stdin is None:
            raise ValueError("cannot read '-': there is no stdin")
        # read1: hand out what has arrived instead of waiting for a full block.
        stdin: Any = sys.stdin.buffer
        yield from _blocks(getattr(stdin, "read1", stdin.read), encoding, errors, "<stdin>")
        return
    with open(source, "rb") as stream:
        yield from _blocks(stream.read1, encoding, errors, source)


def _blocks(
    read: Callable[[int], bytes], encoding: str, errors: str, where: str
) -> Iterator[list[str]]:
    """Lines of a whole stream, a block at a time, by the path its encoding needs."""
    if is_newline_safe(encoding):
        return _byte_blocks(read, 0, -1, b"", encoding, errors, where, lambda: 0)
    return _text_blocks(read, encoding, errors, where)


def _split_blocks(split: FileSplit, encoding: str, errors: str) -> Iterator[list[str]]:
    """The split's lines in blocks, its file checked against its planned identity.

    Checked when opened, and again once read (a local file, with one ``fstat``): a
    truncation or rewrite during the read is caught too. An error while reading (a
    decode error where a truncation cut a character, a gzip stream cut short) is an
    ``InputChanged`` if the file changed meanwhile.
    """
    whole = split.compression is not None or not is_newline_safe(encoding)
    with _open_bytes(split, whole) as raw:
        try:
            if split.compression is not None:
                with _decompress(raw, split.compression) as stream:
                    yield from _blocks(stream.read, encoding, errors, split.path)
            else:
                yield from _file_blocks(raw, split, whole, encoding, errors)
        except InputChanged:
            raise
        except Exception:
            _check_read(split, raw)  # a truncation can look like bad bytes, a cut stream
            raise
        _check_read(split, raw)


def _check_read(split: FileSplit, file: IO[bytes]) -> None:
    """After reading a local split: is its file still the planned one? (one ``fstat``)"""
    if split.identity is not None and not storage.is_url(split.path):
        now = FileIdentity.of_stat(os.fstat(file.fileno()))
        check_unchanged(split.path, split.identity, now, f"after reading {split.describe()}")


def _file_blocks(
    file: IO[bytes], split: FileSplit, whole: bool, encoding: str, errors: str
) -> Iterator[list[str]]:
    """The lines of a split of an uncompressed file, already open."""
    if whole:
        yield from _text_blocks(file.read, encoding, errors, split.path)
        return
    pos, end, head = split.start, split.end, b""
    if pos > 0:
        # The line holding byte pos-1 belongs to the previous split (or, if
        # that byte is a newline, ends there): skip through its newline.
        pos -= 1
        file.seek(pos)
        while True:
            block = file.read(_read_size(pos, end))
            if not block:
                return
            newline = block.find(b"\n")
            if newline >= 0:
                pos += newline + 1
                head = block[newline + 1 :]
                break
            pos += len(block)
    lines_before = partial(_count_newlines, split, pos)
    yield from _byte_blocks(file.read, pos, end, head, encoding, errors, split.path, lines_before)


def _open_bytes(split: FileSplit, whole: bool) -> IO[bytes]:
    """The split's file, unbuffered (blocks are already large): local, or ranged reads.

    Checked against the split's planned identity once open (an ``fstat`` of the
    descriptor; for a URL, what the store says of the object now).
    """
    file: IO[bytes]
    if not storage.is_url(split.path):
        file = open(split.path, "rb", buffering=0)  # noqa: SIM115 (closed by the caller)
    elif whole:
        file = storage.open_input(split.path, split.storage_options)
    else:
        file = storage.open_range(split.path, split.storage_options, split.start, split.end)
    if split.identity is None:
        return file
    try:
        if storage.is_url(split.path):
            now = FileIdentity.of_info(storage.info_of(file, split.path, split.storage_options))
        else:
            now = FileIdentity.of_stat(os.fstat(file.fileno()))
        check_unchanged(split.path, split.identity, now, f"opening {split.describe()}")
    except BaseException:
        file.close()
        raise
    return file


def _decompress(
    raw: IO[bytes], compression: str | None
) -> gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile:
    if compression == "gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "bz2":
        return bz2.BZ2File(raw, "rb")
    return lzma.LZMAFile(raw, "rb")


def _read_size(read_pos: int, end: int) -> int:
    """Bytes to ask for at ``read_pos``: a block, or less near the split's end."""
    if end < 0:
        return BLOCK_BYTES
    return min(BLOCK_BYTES, max(end - read_pos, 0) + OVERREAD_BYTES)


def _byte_blocks(
    read: Callable[[int], bytes],
    pos: int,
    end: int,
    head: bytes,
    encoding: str,
    errors: str,
    where: str,
    lines_before: Callable[[], int],
) -> Iterator[list[str]]:
    """Lists of lines starting in ``[pos, end)`` (``end=-1``: to EOF).

    ``pos`` is a line start; ``head`` holds bytes already read from ``pos`` on and
    ``read`` continues after them. ``lines_before()`` counts the lines before
    ``pos`` and is only called to number a decode error.
    """
    pieces = [head] if head else []  # bytes read from pos on, not yet decoded
    read_pos = pos + len(head)
    done = 0  # lines yielded so far
    while end < 0 or pos < end:
        block = read(_read_size(read_pos, end))
        if block:
            read_pos += len(block)
            cut = block.rfind(b"\n") + 1
            if not cut:
                pieces.append(block)
                continue
            if pieces:
                pieces.append(block[:cut])
                chunk = b"".join(pieces)
            else:
                chunk = block[:cut] if cut < len(block) else block
            pieces = [block[cut:]] if cut < len(block) else []
        else:
            chunk = b"".join(pieces)
            if not chunk:
                return
        last = not block
        if end >= 0 and pos + len(chunk) > end:
            # Keep the lines that start before end: through the first newline at
            # or after end-1 (a chunk read before EOF always ends with one).
            newline = chunk.find(b"\n", end - pos - 1)
            if newline >= 0:
                chunk = chunk[: newline + 1]
            last = True
        try:
            lines = split_lines(chunk.decode(encoding, errors))
        except UnicodeDecodeError as exc:
            cause = exc
        else:
            yield lines
            if last:
                return
            pos += len(chunk)
            done += len(lines)
            continue
        # Hand out the lines before the bad one first: the records a job sees must
        # not depend on where the blocks happen to be cut.
        line_start = chunk.rfind(b"\n", 0, cause.start) + 1
        good = split_lines(chunk[:line_start].decode(encoding, errors))
        line = lines_before() + done + len(good) + 1
        column = f" at byte {cause.start - line_start + 1} of the line"
        yield good
        raise _decode_error(where, line, encoding, cause, column) from cause


def _text_blocks(
    read: Callable[[int], bytes], encoding: str, errors: str, where: str
) -> Iterator[list[str]]:
    """Lists of lines of a whole stream, through an incremental decoder.

    For encodings whose newline is not the byte ``b"\\n"`` (UTF-16, ...) or that
    carry state across lines: the text is cut at ``"\\n"`` after decoding.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    pending: list[str] = []  # text after the last newline
    done = 0
    while True:
        block = read(BLOCK_BYTES)
        state = decoder.getstate()
        cause: UnicodeDecodeError | None = None
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            cause = exc
        if cause is not None:
            # As in _byte_blocks: first the lines before the bad one.
            text = "".join(pending) + _decoded_before(encoding, state, cause)
            good = split_lines(text[: text.rfind("\n") + 1])
            yield good
            raise _decode_error(where, done + len(good) + 1, encoding, cause, "") from cause
        if block:
            cut = text.rfind("\n") + 1
            if not cut:
                pending.append(text)
                continue
            pending.append(text[:cut])
            chunk = "".join(pending)
            pending = [text[cut:]]
        else:
            pending.append(text)
            chunk = "".join(pending)
        lines = split_lines(chunk)
        yield lines
        if not block:
            return
        done += len(lines)


def split_lines(text: str) -> list[str]:
    """Split text into records: strip each ``"\\n"`` and one ``"\\r"`` before it.

    >>> split_lines("a\\r\\n\\nb\\r")
    ['a', '', 'b\\r']
    >>> split_lines("a\\n"), split_lines("")
    (['a'], [])
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _decoded_before(encoding: str, state: tuple[bytes, int], exc: UnicodeDecodeError) -> str:
    """The text of the bytes before a decode error (error path only).

    ``exc.object`` is the decoder's buffered bytes plus the block: decode its part
    before the error again, from the state the decoder had before the block.
    """
    probe = codecs.getincrementaldecoder(encoding)("replace")
    with contextlib.suppress(TypeError, ValueError):  # a codec without decoder state
        probe.setstate((b"", state[1]))
    return probe.decode(bytes(exc.object[: exc.start]))


def _count_newlines(split: FileSplit, stop: int) -> int:
    """Count ``b"\\n"`` in the first ``stop`` bytes of a split's file (error path only)."""
    count = 0
    with _open_bytes(FileSplit(split.path, 0, stop, None, split.storage_options), False) as file:
        while stop > 0:
            block = file.read(min(BLOCK_BYTES, stop))
            if not block:
                break
            count += block.count(b"\n")
            stop -= len(block)
    return count


def _decode_error(
    where: str, line: int, encoding: str, exc: UnicodeDecodeError, column: str
) -> DecodeError:
    bad = " ".join(f"0x{byte:02x}" for byte in exc.object[exc.start : exc.end])
    return DecodeError(
        f"cannot decode {where} line {line} as {encoding}: {exc.reason} {bad}{column} "
        '(try errors="replace")',
        where,
        line,
    )


def lines_before(split: FileSplit) -> int:
    """The lines of ``split``'s file before its first line (a plain file cut in bytes).

    A split past byte 0 starts after the first newline at or after byte ``start - 1``,
    so the lines before it are the newlines before that byte, plus that newline. Reads
    the file up to the split: for :func:`mapred.task_context`'s line, on demand only.
    """
    if split.start == 0 or split.compression is not None:
        return 0
    return _count_newlines(split, split.start - 1) + 1
