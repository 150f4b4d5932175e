"""Bytes to records: cutting blocks at newlines, decoding them, numbering a bad line.

Whatever the bytes come from (a split of a local or remote file, a decompressed
stream, stdin), they become records here, a block at a time:

* A record is a line without its ``"\\n"`` and without one ``"\\r"`` before it; a
  final line without newline is a record; an empty input has none.
* Hot path (:func:`byte_blocks`): blocks of :data:`BLOCK_BYTES` are cut at their last
  ``b"\\n"``, decoded at once and split with ``str.split``; the caller hands a block's
  lines out through ``itertools.chain`` so that the per-line cost is C code only. A
  multi-byte character never straddles two decoded blocks, so block edges never cause a
  false decode error. This needs ``b"\\n"`` to be the encoding of ``"\\n"`` and never
  part of another character (:func:`is_newline_safe`).
* Other encodings (UTF-16/32, UTF-7, ISO-2022, ...) go through an incremental decoder
  (:func:`text_blocks`), and are never cut into byte ranges.
* A decode error hands out the lines before the bad one first, then raises a
  ``DecodeError`` naming the place, its line and the bad bytes.

Opening a split, seeking to its first line and checking its file belong to
:mod:`mapred.splitreader`; this module only turns bytes into lines, so that the two
concerns (where the bytes are, what they say) each have one owner.

Runs in workers: stdlib only (plus :mod:`mapred.errors`).
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Callable, Iterator
from functools import lru_cache

from mapred.errors import DecodeError

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


# Codecs that keep a shift state between lines: decoding from a line start in
# the middle of a file would start in the wrong state, so never cut them.
STATEFUL_CODECS = frozenset({"utf-7", "hz"})
STATEFUL_CODEC_PREFIXES = ("iso2022",)


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


def whole_stream_blocks(
    read: Callable[[int], bytes], encoding: str, errors: str, where: str
) -> Iterator[list[str]]:
    """Lines of a whole stream, a block at a time, by the path its encoding needs."""
    if is_newline_safe(encoding):
        return byte_blocks(read, 0, -1, b"", encoding, errors, where, lambda: 0)
    return text_blocks(read, encoding, errors, where)


def read_size(read_pos: int, end: int) -> int:
    """Bytes to ask for at ``read_pos``: a block, or less near the split's end."""
    if end < 0:
        return BLOCK_BYTES
    return min(BLOCK_BYTES, max(end - read_pos, 0) + OVERREAD_BYTES)


def byte_blocks(
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
        block = read(read_size(read_pos, end))
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


def text_blocks(
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
            # As in byte_blocks: first the lines before the bad one.
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
