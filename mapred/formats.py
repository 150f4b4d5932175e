"""Output of the command line: rows as TSV, CSV or JSON lines, written atomically.

Fields are escaped so that every row stays one line; output goes to stdout in batches,
or to a temporary file renamed over ``-o FILE`` once it is complete.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, repeat
from json.encoder import encode_basestring
from operator import itemgetter
from typing import IO, Any

FORMATS = ("tsv", "csv", "jsonl")

# Output lines joined into one write: fewer write calls, a bounded amount of text in hand.
WRITE_BATCH_LINES = 4096

# TSV fields cannot hold a tab or a newline; escape them (and the escape character) so
# every line stays two fields and the text can be recovered, as PostgreSQL's COPY does.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_WORD = itemgetter(0)
_COUNT = itemgetter(1)


class ReaderGone(Exception):
    """Whoever read our stdout stopped (``| head``): end quietly."""


def tsv_field(text: str) -> str:
    r"""A str as one TSV field: backslash, tab, newline and CR escaped.

    >>> print(tsv_field("a\tb\\c"))
    a\tb\\c
    """
    return text.translate(_TSV_ESCAPES)


def json_field(value: Any) -> str:
    """A value as JSON on one line; what JSON lacks becomes a list or a string.

    >>> json_field((1, "é")), json_field({2, 1}), json_field(b"x"), json_field(None)
    ('[1, "é"]', '[1, 2]', '"b\\'x\\'"', 'null')
    """
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):  # a dict with tuple keys, a cycle: say what it was
        return json.dumps(repr(value), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    return repr(value)


def pair_field(value: Any) -> str:
    r"""A key or value of ``run``'s output: a str as is (TSV-escaped), anything else as JSON.

    >>> pair_field("to be"), pair_field(3), pair_field(("a", 1)), pair_field("1")
    ('to be', '3', '["a", 1]', '1')
    """
    if isinstance(value, str):
        return tsv_field(value)
    return json_field(value)


def format_counts(rows: Iterable[tuple[str, int]], fmt: str) -> Iterator[str]:
    """The text of a word count in format ``fmt``: tsv, csv (with a header) or jsonl.

    The text comes in pieces of up to ``WRITE_BATCH_LINES`` whole lines, each made by
    C-level passes over its rows (a word count may have millions of rows): the same text
    as formatting row by row.

    >>> list(format_counts([("a,b", 2)], "csv"))
    ['word,count\\n"a,b",2\\n']
    >>> list(format_counts([("é", 1), ("a\\tb", 2)], "jsonl"))
    ['{"word": "é", "count": 1}\\n{"word": "a\\\\tb", "count": 2}\\n']
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if fmt == "csv":
        return _csv_text(rows)
    return _text_pieces(rows, _tsv_text if fmt == "tsv" else _jsonl_text)


def _text_pieces(
    rows: list[tuple[str, int]], text_of: Callable[[Sequence[str], Sequence[str]], str]
) -> Iterator[str]:
    """``text_of(words, counts)`` of each batch of rows, counts as text: one str per
    distinct count."""
    count_texts = {count: str(count) for count in set(map(_COUNT, rows))}
    for start in range(0, len(rows), WRITE_BATCH_LINES):
        batch = rows[start : start + WRITE_BATCH_LINES]
        counts = list(map(count_texts.__getitem__, map(_COUNT, batch)))
        yield text_of(list(map(_WORD, batch)), counts)


def _tsv_text(words: Sequence[str], counts: Sequence[str]) -> str:
    r"""``word<TAB>count`` lines, words TSV-escaped (:func:`tsv_field`).

    The text is built unescaped first. If it holds one tab and one newline per row, no
    word holds either, and every backslash and CR in it is a word's: one ``replace`` of
    each escapes them all. Otherwise the words are escaped one by one.
    """
    text = _join_rows(words, repeat("\t"), counts, repeat("\n"))
    if text.count("\t") != len(words) or text.count("\n") != len(words):
        return _join_rows(map(tsv_field, words), repeat("\t"), counts, repeat("\n"))
    return text.replace("\\", "\\\\").replace("\r", "\\r")


def _jsonl_text(words: Sequence[str], counts: Sequence[str]) -> str:
    # encode_basestring is what json.dumps(word, ensure_ascii=False) returns: a JSON string.
    words = list(map(encode_basestring, words))
    return _join_rows(repeat('{"word": '), words, repeat(', "count": '), counts, repeat("}\n"))


def _join_rows(*fields: Iterable[str]) -> str:
    """The text of rows made of the fields' items in turn, with no str per row: the
    rows end with the shortest field (the others repeat a constant)."""
    return "".join(chain.from_iterable(zip(*fields, strict=False)))


def _csv_text(rows: list[tuple[str, int]]) -> Iterator[str]:
    lines: list[str] = []
    writer = csv.writer(_ListWriter(lines), lineterminator="\n")
    writer.writerow(("word", "count"))
    for start in range(0, len(rows), WRITE_BATCH_LINES):
        writer.writerows(rows[start : start + WRITE_BATCH_LINES])
        yield "".join(lines)
        lines.clear()
    if lines:  # no rows: the header alone
        yield "".join(lines)


class _ListWriter:
    """A file-like ``write`` that appends to a list, for :func:`csv.writer`."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


def format_pairs(pairs: Iterable[tuple[Any, Any]]) -> Iterator[str]:
    r"""The lines of ``run``'s output: ``key<TAB>value``.

    >>> list(format_pairs([("a", [1, 2]), (None, "x")]))
    ['a\t[1, 2]\n', 'null\tx\n']
    """
    return (f"{pair_field(key)}\t{pair_field(value)}\n" for key, value in pairs)


def write_lines(lines: Iterable[str], output: str | None) -> None:
    """Write ``lines`` as UTF-8 to stdout, or atomically to the file ``output``, joined
    ``WRITE_BATCH_LINES`` at a time (see :func:`write_text`)."""
    write_text(_batches(lines), output)


def write_text(pieces: Iterable[str], output: str | None) -> None:
    """Write ``pieces`` of text (whole lines each) as UTF-8 to stdout, or atomically to
    the file ``output``: one write per piece.

    Raises:
        ReaderGone: stdout was closed by its reader.
        OSError: the file could not be written; it is left as it was.
    """
    if output is None or output == "-":
        stdout = sys.stdout
        if stdout is None:  # started with stdout closed (>&-)
            raise OSError(errno.EBADF, "standard output is closed")
        stream: IO[bytes] | None = getattr(stdout, "buffer", None)
        try:
            stdout.flush()
            if stream is None:  # a text-only stdout (replaced by a caller): no bytes to write
                for piece in pieces:
                    stdout.write(piece)
                stdout.flush()
                return
            _write_pieces(pieces, stream)
            stream.flush()
        except BrokenPipeError:
            raise ReaderGone from None
        return
    directory = os.path.dirname(os.path.abspath(output))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", dir=directory)
    try:
        with open(fd, "wb") as file:
            _write_pieces(pieces, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, _new_file_mode(output))
        os.replace(temp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _batches(lines: Iterable[str]) -> Iterator[str]:
    it = iter(lines)
    while batch := list(itertools.islice(it, WRITE_BATCH_LINES)):
        yield "".join(batch)


def _write_pieces(pieces: Iterable[str], stream: IO[bytes]) -> None:
    # surrogateescape: bytes that --errors surrogateescape let through go out as they came.
    for piece in pieces:
        stream.write(piece.encode("utf-8", "surrogateescape"))


def _new_file_mode(path: str) -> int:
    """The mode for ``path``: the file's own if it exists, else 0o666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again.

    The recipe of the Python docs for SIGPIPE (library/signal.html, "Note on SIGPIPE").
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
