"""format_counts and write_text: the word count's output, against formatting row by row.

The reference formats each row on its own, the simple way (``str.translate`` for the TSV
escapes, ``json.dumps`` of a dict, ``csv.writer.writerow``); ``format_counts`` builds a
batch of rows at a time and must give the same text, on words holding what TSV escapes
(backslash, tab, newline, CR), what CSV quotes, non-ASCII characters and lone surrogates.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapred import formats
from mapred.formats import format_counts, write_text

ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
PIECES = ["a", "é", "東", "\\", "\t", "\n", "\r", "\\t", ",", '"', " ", "\udcff", "\ud800", "𝄞"]
WORDS = st.text(max_size=6) | st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
ROWS = st.lists(st.tuples(WORDS, st.integers(0, 3) | st.integers(-(2**70), 2**70)), max_size=30)


def reference(rows: list[tuple[str, int]], fmt: str) -> str:
    """The text of the rows formatted one by one."""
    if fmt == "tsv":
        return "".join(f"{word.translate(ESCAPES)}\t{count}\n" for word, count in rows)
    if fmt == "jsonl":
        return "".join(
            json.dumps({"word": word, "count": count}, ensure_ascii=False) + "\n"
            for word, count in rows
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("word", "count"))
    for row in rows:
        writer.writerow(row)
    return text.getvalue()


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
@settings(max_examples=300)  # cheap examples; words holding one escape among plain ones
@given(rows=ROWS, batch_lines=st.integers(1, 5))
def test_format_counts_matches_row_by_row(
    fmt: str, rows: list[tuple[str, int]], batch_lines: int
) -> None:
    with mock.patch.object(formats, "WRITE_BATCH_LINES", batch_lines):
        pieces = list(format_counts(rows, fmt))
    assert "".join(pieces) == reference(rows, fmt)
    # Pieces are whole lines, at most a batch of rows each (and the CSV header).
    assert all(piece.endswith("\n") for piece in pieces)
    assert len(pieces) == -(-len(rows) // batch_lines) + (fmt == "csv" and not rows)


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
def test_format_counts_takes_any_iterable(fmt: str) -> None:
    rows = [("b\\\r", 2), ("a\t", 1)]
    assert "".join(format_counts(iter(rows), fmt)) == reference(rows, fmt)


def test_tsv_escapes_only_words_and_each_once() -> None:
    """Backslashes and CRs of every word are escaped once, whether or not another word
    of the batch holds a tab or newline (which escapes the batch word by word)."""
    rows = [("a\\b", 10), ("c\rd", 2), ("e", 1)]
    assert "".join(format_counts(rows, "tsv")) == "a\\\\b\t10\nc\\rd\t2\ne\t1\n"
    rows.append(("f\tg\n", 1))
    expected = "a\\\\b\t10\nc\\rd\t2\ne\t1\nf\\tg\\n\t1\n"
    assert "".join(format_counts(rows, "tsv")) == expected


def test_write_text_writes_pieces_atomically_with_surrogateescape(tmp_path: Path) -> None:
    out = tmp_path / "counts.tsv"
    out.write_bytes(b"old")
    write_text(iter(["caf\udce9\t1\n", "ok\t2\n"]), str(out))
    assert out.read_bytes() == b"caf\xe9\t1\nok\t2\n"
    assert os.listdir(tmp_path) == ["counts.tsv"]


def test_write_text_leaves_the_file_as_it_was_when_a_piece_fails(tmp_path: Path) -> None:
    out = tmp_path / "counts.tsv"
    out.write_bytes(b"old")

    def pieces():
        yield "a\t1\n"
        raise RuntimeError("the job failed")

    with pytest.raises(RuntimeError):
        write_text(pieces(), str(out))
    assert out.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["counts.tsv"]


def test_write_text_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_text(["x\udcff\t1\n", "y\t2\n"], None)
    assert capsysbinary.readouterr().out == b"x\xff\t1\ny\t2\n"
