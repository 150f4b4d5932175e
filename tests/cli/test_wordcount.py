"""``mapred wordcount`` in-process through ``main(argv)``: every option of SPEC 6 and its output.

Outputs are compared with an independent reference count (``conftest.reference_counts``) on
the KJV sample and on generated Unicode text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import Counter

import pytest

import mapred.progress
from tests.cli.conftest import SAMPLE, expected_tsv, reference_counts


def test_counts_the_sample_like_the_reference(cli, sample_text):
    """Default output on real text: word<TAB>count, count descending then word ascending."""
    run = cli("wordcount", "-w", "2", SAMPLE)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts([sample_text]))
    assert run.err == ""


@pytest.mark.parametrize("split_size", ["1KB", None], ids=["1KB-splits", "auto-splits"])
def test_counts_generated_unicode_like_the_reference(cli, corpus, split_size):
    """Accents, CJK, curly apostrophes, empty lines, CRLF, no final newline, compressed
    files and a line longer than the split size: every token is counted once."""
    directory, texts = corpus
    options = ["--split-size", split_size] if split_size else []
    run = cli("wordcount", "-w", "2", *options, directory)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts))


def test_the_tokenizer_follows_spec_6_on_tricky_words(cli, tmp_path):
    """Curly and straight apostrophes join words; str.lower() applies to the whole line.

    "İ".lower() is "i" + U+0307 (a combining dot), which \\w does not match in Python's re:
    the token is "i". A final capital sigma lowercases to "ς".
    """
    path = tmp_path / "tricky.txt"
    path.write_text("Don’t DON'T don’t ’tis O’Neil’s ΣΟΦΟΣ straße İ\nrock’n’roll café 東京\n")
    run = cli("wordcount", "-w", "1", "--sort", "key", path)
    assert run.status == 0, run
    rows = dict(line.split("\t") for line in run.out.splitlines())
    assert rows == {
        "don’t": "2", "don't": "1", "tis": "1", "o’neil’s": "1", "σοφος": "1",
        "straße": "1", "i": "1", "rock’n’roll": "1", "café": "1", "東京": "1",
    }  # fmt: skip


def test_no_lower_keeps_case(cli, corpus):
    """--no-lower: tokens keep their case."""
    directory, texts = corpus
    run = cli("wordcount", "-w", "2", "--no-lower", directory)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts, lower=False))


def test_pattern_replaces_the_token_regex(cli, corpus):
    """--pattern: a token is a match of REGEX (here: ASCII letters only)."""
    directory, texts = corpus
    run = cli("wordcount", "-w", "2", "--pattern", "[a-z]+", directory)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts, pattern="[a-z]+"))


def test_pattern_with_groups_counts_whole_matches_and_skips_empty_ones(cli, tmp_path):
    """Capturing groups do not change what a token is; empty matches are not tokens."""
    path = tmp_path / "t.txt"
    path.write_text("ab ab c\n\n")
    assert cli("wordcount", "-w", "1", "--pattern", r"(\w)\w*", path).out == "ab\t2\nc\t1\n"
    assert cli("wordcount", "-w", "1", "--pattern", r"\w*", path).out == "ab\t2\nc\t1\n"


def test_top_keeps_the_most_frequent(cli, sample_text):
    """--top N: the N most frequent words, in count order."""
    run = cli("wordcount", "-w", "2", "--top", "5", SAMPLE)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts([sample_text]), top=5)
    assert run.out.splitlines()[0] == "the\t13672"


def test_top_larger_than_the_vocabulary_prints_everything(cli, tmp_path):
    """--top N with fewer than N words prints all of them."""
    path = tmp_path / "t.txt"
    path.write_text("b a b\n")
    assert cli("wordcount", "-w", "1", "--top", "10", path).out == "b\t2\na\t1\n"


def test_sort_key_orders_by_word(cli, sample_text):
    """--sort key: by word (code point order), with or without --top."""
    counts = reference_counts([sample_text])
    run = cli("wordcount", "-w", "2", "--sort", "key", SAMPLE)
    assert run.out == "".join(f"{w}\t{c}\n" for w, c in sorted(counts.items()))
    run = cli("wordcount", "-w", "2", "--sort", "key", "--top", "3", SAMPLE)
    assert run.out == "and\t11671\nof\t7283\nthe\t13672\n"


def test_ties_are_broken_by_word(cli, tmp_path):
    """Equal counts: word ascending, also when --top cuts through a tie."""
    path = tmp_path / "t.txt"
    path.write_text("d c b a\nz\nz\n")
    assert cli("wordcount", "-w", "1", path).out == "z\t2\na\t1\nb\t1\nc\t1\nd\t1\n"
    assert cli("wordcount", "-w", "1", "--top", "2", path).out == "z\t2\na\t1\n"


def test_csv_format_has_a_header_and_quotes(cli, tmp_path):
    """--format csv: a word,count header; fields quoted where CSV needs it."""
    path = tmp_path / "t.txt"
    path.write_text('a,b "q" a,b\nplain\n')
    run = cli("wordcount", "-w", "1", "--format", "csv", "--pattern", r"[^ ]+", path)
    assert run.status == 0, run
    assert run.out.splitlines()[0] == "word,count"
    assert list(csv.reader(io.StringIO(run.out))) == [
        ["word", "count"],
        ["a,b", "2"],
        ['"q"', "1"],
        ["plain", "1"],
    ]


def test_jsonl_format(cli, corpus):
    """--format jsonl: one {"word": ..., "count": ...} object per line, same order."""
    directory, texts = corpus
    run = cli("wordcount", "-w", "2", "--format", "jsonl", directory)
    assert run.status == 0, run
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert all(list(row) == ["word", "count"] for row in rows)
    expected = sorted(reference_counts(texts).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(row["word"], row["count"]) for row in rows] == expected


def test_tsv_escapes_tabs_and_backslashes(cli, tmp_path):
    """A token holding a tab or a backslash stays one TSV field (escaped)."""
    path = tmp_path / "t.txt"
    path.write_text("a\tb\nc\\d\n")
    run = cli("wordcount", "-w", "1", "--pattern", ".+", "--sort", "key", path)
    assert run.out == "a\\tb\t1\nc\\\\d\t1\n"


def test_output_file_is_written_atomically(cli, tmp_path, sample_text):
    """-o FILE: the output goes to FILE, nothing to stdout, no temporary file left."""
    out = tmp_path / "out" / "counts.tsv"
    out.parent.mkdir()
    run = cli("wordcount", "-w", "2", "-o", out, SAMPLE)
    assert run.status == 0, run
    assert run.out == ""
    assert out.read_text(encoding="utf-8") == expected_tsv(reference_counts([sample_text]))
    assert os.listdir(out.parent) == ["counts.tsv"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_failed_run_leaves_the_output_file_as_it_was(cli, tmp_path):
    """-o FILE and a job that fails: FILE keeps its old content; no half file anywhere."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    out = tmp_path / "counts.tsv"
    out.write_text("old\n")
    run = cli("wordcount", "-w", "1", "-o", out, bad)
    assert run.status == 1
    assert out.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.txt", "counts.tsv"]


def test_output_dash_is_stdout(cli, tmp_path):
    """-o - writes to stdout."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    assert cli("wordcount", "-w", "1", "-o", "-", path).out == "x\t1\n"


def test_stdin_is_the_default_input(cli, monkeypatch, sample_text):
    """No PATH (or -): read stdin."""
    data = SAMPLE.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    run = cli("wordcount", "-w", "2", "--top", "20")
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts([sample_text]), top=20)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a b\nb\n")))
    assert cli("wordcount", "-w", "1", "-").out == "b\t2\na\t1\n"


def test_stdin_and_files_together(cli, monkeypatch, tmp_path):
    """- among files: all of them are counted."""
    path = tmp_path / "t.txt"
    path.write_text("a b\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"b c\n")))
    assert cli("wordcount", "-w", "1", path, "-").out == "b\t2\na\t1\nc\t1\n"


def test_quoted_globs_are_expanded_by_mapred(cli, corpus):
    """A glob that the shell did not expand (quoted) is expanded by mapred, ** included."""
    directory, texts = corpus
    run = cli("wordcount", "-w", "2", str(directory / "**" / "*.gz"), str(directory / "*.txt"))
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts[:5] + texts[5:6]))


def test_options_and_paths_mix_in_any_order(cli, tmp_path):
    """Options may follow the paths."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x y\n")
    b.write_text("y\n")
    run = cli("wordcount", a, "--top", "1", b, "-w", "1")
    assert run.status == 0, run
    assert run.out == "y\t2\n"


def test_encoding_and_errors(cli, tmp_path):
    """--encoding decodes the input; --errors replace/ignore/surrogateescape handle bad bytes."""
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café olé\n".encode("latin-1"))
    assert cli("wordcount", "-w", "1", "--encoding", "latin-1", latin).out == "café\t1\nolé\t1\n"
    assert cli("wordcount", "-w", "1", "--errors", "replace", latin).out == "caf\t1\nol\t1\n"
    assert cli("wordcount", "-w", "1", "--errors", "ignore", latin).out == "caf\t1\nol\t1\n"
    run = cli("wordcount", "-w", "1", "--errors", "backslashreplace", "--pattern", r"\S+",
              "--format", "jsonl", "--sort", "key", latin)  # fmt: skip
    assert [json.loads(line)["word"] for line in run.out.splitlines()] == ["caf\\xe9", "ol\\xe9"]


def test_surrogateescape_writes_the_original_bytes_back(capsysbinary, tmp_path):
    """--errors surrogateescape: undecodable bytes come out as they went in (they are not
    \\w, so a token can only hold them with another --pattern)."""
    from mapred.cli import main

    path = tmp_path / "t.txt"
    path.write_bytes(b"caf\xe9 ok\n")
    status = main(
        ["wordcount", "-w", "1", "--errors", "surrogateescape", "--pattern", r"\S+", str(path)]
    )
    assert status == 0
    assert capsysbinary.readouterr().out == b"caf\xe9\t1\nok\t1\n"


@pytest.mark.parametrize(
    "options",
    [["-r", "3"], ["-w", "1", "-r", "1"], ["--memory-limit", "1MiB"], ["--memory-limit", "64m"]],
)
def test_engine_options_do_not_change_the_counts(cli, corpus, options):
    """--workers, --reducers and --memory-limit change how, never what."""
    directory, texts = corpus
    run = cli("wordcount", "-w", "2", *options, directory)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts))


def test_progress_goes_to_stderr_only(cli, sample_text, monkeypatch):
    """--progress draws on stderr (splits, bytes, records/s, then the reduce phase);
    stdout is the same as without it."""
    monkeypatch.setattr(mapred.progress, "REFRESH_SECONDS", 0)  # draw every update
    with_bar = cli("wordcount", "-w", "2", "--progress", "--split-size", "64KB", SAMPLE)
    assert with_bar.status == 0, with_bar
    assert with_bar.out == expected_tsv(reference_counts([sample_text]))
    assert "map" in with_bar.err
    assert "splits" in with_bar.err
    assert "records/s" in with_bar.err
    assert "reduce" in with_bar.err
    assert "\r" not in with_bar.out


def test_progress_over_stdin_counts_map_tasks(cli, monkeypatch):
    """A stream has no known size: the bar counts map tasks and records."""
    monkeypatch.setattr(mapred.progress, "REFRESH_SECONDS", 0)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a b\n" * 5000)))
    run = cli("wordcount", "-w", "2", "--progress")
    assert run.status == 0, run
    assert run.out == "a\t5000\nb\t5000\n"
    assert "tasks" in run.err
    assert "records" in run.err


def test_progress_is_off_when_stderr_is_not_a_terminal(cli, tmp_path):
    """Default: no bar unless stderr is a TTY (here it is captured)."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    run = cli("wordcount", "-w", "1", path)
    assert run.err == ""
    assert cli("wordcount", "-w", "1", "--no-progress", path).err == ""


def test_progress_is_on_when_stderr_is_a_terminal(cli, monkeypatch, tmp_path):
    """Default: a bar when stderr is a TTY."""
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert "map" in cli("wordcount", "-w", "1", path).err
    assert cli("wordcount", "-w", "1", "--no-progress", path).err == ""


def test_empty_input_prints_nothing(cli, tmp_path):
    """An empty file or directory: no output, success (csv still has its header)."""
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert cli("wordcount", "-w", "1", empty).out == ""
    assert cli("wordcount", "-w", "1", "--format", "csv", empty).out == "word,count\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_reference_helper_counts_lines_like_the_spec():
    """The reference itself: CRLF, no final newline and empty lines."""
    assert reference_counts(["A a\r\n\r\nb’c"]) == Counter({"a": 2, "b’c": 1})


def test_the_words_of_different_files_add_up(cli, tmp_path):
    """The same word in two files is one row."""
    for name in "ab":
        (tmp_path / f"{name}.txt").write_text("same\n")
    assert cli("wordcount", "-w", "2", tmp_path).out == "same\t2\n"


def test_a_word_at_a_split_boundary_is_counted_once(cli, tmp_path):
    """Splits end at line ends: a word is never cut in two, whatever the split size."""
    path = tmp_path / "t.txt"
    lines = [f"w{i} shared" for i in range(2000)]
    path.write_text("\n".join(lines) + "\n")
    counts = reference_counts([path.read_text()])
    for size in ("100", "1000", "4096"):
        run = cli("wordcount", "-w", "2", "--split-size", size, path)
        assert run.out == expected_tsv(counts), size


def test_directories_are_read_recursively(cli, corpus):
    """A directory: every file below it, at any depth."""
    directory, texts = corpus
    deeper = directory / "packed" / "deeper"
    deeper.mkdir()
    (deeper / "more.txt").write_text("café\n")
    run = cli("wordcount", "-w", "2", directory)
    expected = reference_counts([*texts, "café\n"])
    assert run.out == expected_tsv(expected)


def test_relative_paths(cli, tmp_path, monkeypatch):
    """Relative paths are read from the current directory."""
    (tmp_path / "rel.txt").write_text("r\n")
    monkeypatch.chdir(tmp_path)
    assert cli("wordcount", "-w", "1", "rel.txt").out == "r\t1\n"


def test_whitespace_pattern_counts_what_the_regex_counts(cli, tmp_path):
    """--pattern '\\S+' runs as str.split() over blocks of lines: the same tokens as the
    regex, with Unicode whitespace (no-break space, vertical tab...) splitting alike."""
    text = "a b\u00a0c\n\u2003A\tb\x0bc \n\nd\u3000e\u00a0\x1c\n" * 50
    path = tmp_path / "ws.txt"
    path.write_text(text, encoding="utf-8")
    expected = Counter(match.group() for match in re.finditer(r"\S+", text.lower()))
    run = cli("wordcount", "--pattern", r"\S+", "--sort", "key", "-w", "2", path)
    assert run.status == 0, run
    rows = [line.split("\t") for line in run.out.splitlines()]
    assert {word: int(count) for word, count in rows} == dict(expected)
