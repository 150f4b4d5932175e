"""Reading a split in a worker: finding a split's bytes, local or remote, and its lines.

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
* A split of a URL (``s3://``, ``gs://``, ...) is read the same way through
  :mod:`mapred.storage`, with ranged reads of its own bytes only; local paths never
  import fsspec.
* A split carries its file's identity as planned (:mod:`mapred.fileid`): a file that
  changed since (truncated, rewritten, replaced) is an ``InputChanged`` when the split
  is opened or, for a local file, once it has been read, never a mixed answer.

This module owns *where* the bytes are: opening a file or a ranged read of a URL,
decompressing, skipping to a split's first line, checking the file against its planned
identity. What the bytes say (cutting blocks at newlines, decoding, numbering a line
that does not decode) is :mod:`mapred.textlines`'s, whose names this module re-exports
for its importers. Every read runs through a generator of this module
(``_split_blocks`` or ``_stream_blocks``), so an error while reading passes
through a frame of ``mapred.splitreader``: that is how a map task tells a reading error
from its mapper's.

This module runs in workers: stdlib only (plus :mod:`mapred.errors`,
:mod:`mapred.fileid`, :mod:`mapred.textlines`, and :mod:`mapred.storage` for URLs).
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from mapred import storage
from mapred.errors import InputChanged
from mapred.fileid import FileIdentity, check_unchanged
from mapred.textlines import (
    BLOCK_BYTES,
    ERROR_HANDLERS,
    OVERREAD_BYTES,
    byte_blocks,
    check_decoding,
    is_newline_safe,
    read_size,
    split_lines,
    text_blocks,
    whole_stream_blocks,
)

__all__ = [
    "BLOCK_BYTES",
    "COMPRESSIONS",
    "ERROR_HANDLERS",
    "OVERREAD_BYTES",
    "STDIN",
    "FileSplit",
    "check_decoding",
    "compression_of",
    "is_newline_safe",
    "iter_stream_lines",
    "lines_before",
    "read_split",
    "read_split_blocks",
    "split_lines",
]

COMPRESSIONS = {".gz": "gz", ".bz2": "bz2", ".xz": "xz"}

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
        yield from whole_stream_blocks(
            getattr(stdin, "read1", stdin.read), encoding, errors, "<stdin>"
        )
        return
    with open(source, "rb") as stream:
        yield from whole_stream_blocks(stream.read1, encoding, errors, source)


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
                    yield from whole_stream_blocks(stream.read, encoding, errors, split.path)
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
        yield from text_blocks(file.read, encoding, errors, split.path)
        return
    pos, end, head = split.start, split.end, b""
    if pos > 0:
        # The line holding byte pos-1 belongs to the previous split (or, if
        # that byte is a newline, ends there): skip through its newline.
        pos -= 1
        file.seek(pos)
        while True:
            block = file.read(read_size(pos, end))
            if not block:
                return
            newline = block.find(b"\n")
            if newline >= 0:
                pos += newline + 1
                head = block[newline + 1 :]
                break
            pos += len(block)
    lines_before = partial(_count_newlines, split, pos)
    yield from byte_blocks(file.read, pos, end, head, encoding, errors, split.path, lines_before)


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


def lines_before(split: FileSplit) -> int:
    """The lines of ``split``'s file before its first line (a plain file cut in bytes).

    A split past byte 0 starts after the first newline at or after byte ``start - 1``,
    so the lines before it are the newlines before that byte, plus that newline. Reads
    the file up to the split: for :func:`mapred.task_context`'s line, on demand only.
    """
    if split.start == 0 or split.compression is not None:
        return 0
    return _count_newlines(split, split.start - 1) + 1
