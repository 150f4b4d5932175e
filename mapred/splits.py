"""Input splitting: chunks of an iterable, and byte-range splits of text files.

Two kinds of input reach a map task:

* records of a user iterable, cut by :func:`iter_record_splits` into lists on a
  deterministic schedule (it never depends on timing or on the number of workers);
* lines of text files, described by :func:`read_text` as a :class:`TextInput`.
  :meth:`TextInput.plan_splits` cuts each plain file into :class:`FileSplit` byte
  ranges and every worker reads its own split from disk with :func:`read_split`;
  the driver ships only the ``(path, start, end)`` triple. Streams (stdin, FIFOs,
  character devices such as ``/dev/fd/63``) cannot be seeked or re-read by another
  process, so the driver reads them with :func:`iter_stream_lines`.

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

This module runs in workers: stdlib only (plus :mod:`mapred.errors`).
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import glob
import gzip
import itertools
import lzma
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, TypeVar

from mapred.errors import DecodeError

T = TypeVar("T")

MIB = 1 << 20

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

# Automatic split size: about TARGET_SPLITS splits per job, each between
# MIN_SPLIT_BYTES and MAX_SPLIT_BYTES. Smaller splits balance load across workers
# and show progress sooner; larger ones amortize the per-task cost (a process
# round trip, one output file per task) and, above all, shuffle less: a combined
# split emits one pair per distinct key, so a word count's shuffle grows with the
# number of splits times the vocabulary. The size
# depends only on the input, never on the number of workers, so the same input
# always gives the same splits.
TARGET_SPLITS = 16
MIN_SPLIT_BYTES = MIB
MAX_SPLIT_BYTES = 32 * MIB

# Automatic chunk sizes for iterable input: FIRST_CHUNK_RECORDS, then doubling up
# to MAX_CHUNK_RECORDS. Small first chunks let a tiny job (a few hundred records
# of heavy work) still spread over the workers; bigger later chunks amortize the
# per-task cost (pickling, a process round trip) on large inputs. The schedule is
# fixed: it never depends on timing or on the number of workers.
FIRST_CHUNK_RECORDS = 64
MAX_CHUNK_RECORDS = 8192

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
        path: the file, as given to :func:`read_text` (or joined to its directory).
        start: byte offset of the range.
        end: byte offset where the range ends (exclusive); ``-1`` for the end of
            the file. Compressed files are always ``0..-1``.
        compression: ``None``, ``"gz"``, ``"bz2"`` or ``"xz"``.
    """

    path: str
    start: int
    end: int
    compression: str | None = None

    def describe(self) -> str:
        """The split for an error note.

        >>> FileSplit("books/a.txt", 0, 16777216).describe()
        'books/a.txt bytes 0-16777216'
        >>> FileSplit("logs/b.gz", 0, -1, "gz").describe()
        'logs/b.gz (whole file, gz)'
        """
        if self.end >= 0:
            return f"{self.path} bytes {self.start}-{self.end}"
        if self.start:
            return f"{self.path} bytes {self.start}-end"
        kind = f", {self.compression}" if self.compression else ""
        return f"{self.path} (whole file{kind})"


@dataclass(frozen=True)
class TextInput:
    """The lines of text files and streams, as returned by ``read_text``.

    Pass it to ``mapreduce`` as ``data``. The engine recognises this type as input:
    it plans the file splits and has workers read them, then reads the streams in
    the driver.

    Attributes:
        sources: the regular files in read order (as given, or joined to the
            directory they were found in), then the streams.
        encoding: the text encoding, as given.
        errors: the decode error handler.
        split_size: bytes per split; ``None`` for ``auto_split_size``.
        streams: the sources that are not regular files: ``"-"`` (stdin),
            FIFOs and character devices, read by the driver.
    """

    sources: tuple[str, ...]
    encoding: str = "utf-8"
    errors: str = "strict"
    split_size: int | None = None
    streams: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """The regular files among the sources, in read order."""
        streams = set(self.streams)
        return tuple(source for source in self.sources if source not in streams)

    def total_bytes(self) -> int:
        """The size on disk of all regular files (streams are not counted)."""
        return sum(os.stat(path).st_size for path in self.files)

    def plan_splits(self) -> list[FileSplit]:
        """Cut every regular file into splits, in file order.

        Plain files in a newline-safe encoding are cut every ``split_size`` bytes
        (the last split ends at the file size); compressed files and other
        encodings give one whole-file split; empty files give none.
        """
        files = self.files
        sizes = [os.stat(path).st_size for path in files]
        size = self.split_size or auto_split_size(sum(sizes))
        cuttable = is_newline_safe(self.encoding)
        splits: list[FileSplit] = []
        for path, nbytes in zip(files, sizes, strict=True):
            if nbytes == 0:
                continue
            compression = compression_of(path)
            if compression is not None or not cuttable:
                splits.append(FileSplit(path, 0, -1, compression))
                continue
            splits.extend(
                FileSplit(path, start, min(start + size, nbytes))
                for start in range(0, nbytes, size)
            )
        return splits


def read_text(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    split_size: int | None = None,
) -> TextInput:
    """Describe the lines of text files as job input.

    Args:
        paths: a path or a list of them. Each is a regular file, a directory
            (every regular file below it, recursively, sorted by path), a glob
            (expanded with ``recursive=True``, matches sorted), ``"-"`` for stdin,
            a FIFO or a character device. Files keep the order given.
        encoding: any text encoding known to ``codecs``.
        errors: how to handle undecodable bytes: ``"strict"`` (a ``DecodeError``
            naming the file and line), ``"replace"``, ``"ignore"``,
            ``"surrogateescape"`` or ``"backslashreplace"``.
        split_size: bytes per split, or ``None`` to choose from the total size.

    Returns:
        The ``TextInput`` to pass as ``data``; files are only listed here, not read.

    Raises:
        FileNotFoundError: a path does not exist or a glob matches nothing.
        ValueError: a path is some other kind of file (a socket), an unknown
            encoding or error handler, a split size below 1, no paths.
        TypeError: a path or split size of the wrong type.
    """
    check_decoding(encoding, errors)
    if split_size is not None and (not isinstance(split_size, int) or isinstance(split_size, bool)):
        raise TypeError(f"split_size must be an int or None, got {split_size!r}")
    if split_size is not None and split_size < 1:
        raise ValueError(f"split_size must be a positive number of bytes, got {split_size}")
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ValueError("read_text() needs at least one path")
    files: list[str] = []
    streams: list[str] = []
    for item in items:
        path = os.fspath(item)
        if not isinstance(path, str):
            raise TypeError(f"paths must be str or os.PathLike[str], got {item!r}")
        _expand(path, files, streams)
    return TextInput(tuple(files + streams), encoding, errors, split_size, tuple(streams))


def _expand(path: str, files: list[str], streams: list[str]) -> None:
    """Append the files and streams that ``path`` names."""
    if path == STDIN:
        streams.append(path)
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if not any(char in path for char in "*?["):
            raise FileNotFoundError(2, "no such file or directory", path) from None
        matches = sorted(glob.glob(path, recursive=True), key=_path_order)
        if not matches:
            raise FileNotFoundError(2, "no file matches the pattern", path) from None
        for match in matches:
            _add_existing(match, os.stat(match).st_mode, files, streams)
        return
    _add_existing(path, mode, files, streams)


def _add_existing(path: str, mode: int, files: list[str], streams: list[str]) -> None:
    if stat.S_ISREG(mode):
        files.append(path)
    elif stat.S_ISDIR(mode):
        files.extend(_walk(path))
    elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        streams.append(path)
    else:
        raise ValueError(
            f"{path}: not a regular file, directory, FIFO or character device; cannot read it"
        )


def _walk(top: str) -> list[str]:
    """Every regular file below ``top``, sorted by path (broken links are skipped)."""

    def fail(exc: OSError) -> None:  # an unreadable directory must not vanish silently
        raise exc

    found = []
    for root, _dirs, names in os.walk(top, onerror=fail):
        for name in names:
            path = os.path.join(root, name)
            try:
                if stat.S_ISREG(os.stat(path).st_mode):
                    found.append(path)
            except FileNotFoundError:
                continue
    return sorted(found, key=_path_order)


def _path_order(path: str) -> list[str]:
    """Sort key comparing paths component by component, like ``pathlib``.

    >>> sorted(["a/b.txt", "a.txt", "a/a.txt"], key=_path_order)
    ['a/a.txt', 'a/b.txt', 'a.txt']
    """
    return path.split(os.sep)


def compression_of(path: str) -> str | None:
    """The compression named by the file extension, or ``None``.

    >>> compression_of("logs/2024.txt.GZ"), compression_of("a.txt")
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


def auto_split_size(total_bytes: int) -> int:
    """The default split size for ``total_bytes`` of input.

    ``total_bytes / TARGET_SPLITS`` rounded up to a whole MiB, clamped to
    ``[MIN_SPLIT_BYTES, MAX_SPLIT_BYTES]``.

    >>> auto_split_size(0) == MIN_SPLIT_BYTES
    True
    >>> auto_split_size(160 * MIB) // MIB
    10
    >>> auto_split_size(160 * MIB + 1) // MIB
    11
    >>> auto_split_size(10**12) == MAX_SPLIT_BYTES
    True
    """
    per_split = -(-total_bytes // TARGET_SPLITS)
    rounded = -(-per_split // MIB) * MIB
    return min(max(rounded, MIN_SPLIT_BYTES), MAX_SPLIT_BYTES)


def iter_record_splits(records: Iterable[T], chunksize: int | None) -> Iterator[list[T]]:
    """Cut ``records`` into lists, lazily: at most one chunk is pulled ahead.

    Args:
        records: any iterable; consumed as the chunks are consumed.
        chunksize: records per chunk, or ``None`` for the fixed growing schedule
            ``FIRST_CHUNK_RECORDS, x2, ... MAX_CHUNK_RECORDS, MAX_CHUNK_RECORDS, ...``.

    Returns:
        An iterator of non-empty lists.

    Raises:
        ValueError: ``chunksize`` is not a positive int (raised at once).

    >>> [len(c) for c in iter_record_splits(range(7), 3)]
    [3, 3, 1]
    >>> [len(c) for c in iter_record_splits(range(500), None)]
    [64, 128, 256, 52]
    """
    if chunksize is None:
        sizes: Iterator[int] = _auto_chunk_sizes()
    elif isinstance(chunksize, int) and not isinstance(chunksize, bool) and chunksize > 0:
        sizes = itertools.repeat(chunksize)
    else:
        raise ValueError(f"chunksize must be a positive int or None, got {chunksize!r}")
    return _chunks(iter(records), sizes)


def _auto_chunk_sizes() -> Iterator[int]:
    size = FIRST_CHUNK_RECORDS
    while size < MAX_CHUNK_RECORDS:
        yield size
        size *= 2
    yield from itertools.repeat(MAX_CHUNK_RECORDS)


def _chunks(records: Iterator[T], sizes: Iterator[int]) -> Iterator[list[T]]:
    for size in sizes:
        chunk = list(itertools.islice(records, size))
        if chunk:
            yield chunk
        if len(chunk) < size:  # exhausted: do not pull again (stdin could block)
            return


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
    if whole and (split.start != 0 or split.end != -1):
        raise ValueError(
            f"{split.describe()}: a {split.compression or encoding} file is read whole; "
            "expected start=0 and end=-1"
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
    if split.compression is not None:
        with _open_compressed(split.path, split.compression) as stream:
            yield from _blocks(stream.read, encoding, errors, split.path)
        return
    with open(split.path, "rb", buffering=0) as file:
        if not is_newline_safe(encoding):
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
        lines_before = partial(_count_newlines, split.path, pos)
        yield from _byte_blocks(
            file.read, pos, end, head, encoding, errors, split.path, lines_before
        )


def _open_compressed(path: str, compression: str) -> gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile:
    if compression == "gz":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    return lzma.open(path, "rb")


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


def _count_newlines(path: str, stop: int) -> int:
    """Count ``b"\\n"`` in the first ``stop`` bytes of a file (error path only)."""
    count = 0
    with open(path, "rb", buffering=0) as file:
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
