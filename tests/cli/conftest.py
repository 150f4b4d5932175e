"""Helpers for the CLI tests: an independent reference word count and generated corpora.

The reference is deliberately written from SPEC 6, not from ``mapred.cli``: a Counter over
the same regex, applied to ``str.lower()`` of each line, with lines cut at ``"\\n"``.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from mapred.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "data" / "sample.txt"

SPEC_PATTERN = r"\w+(?:['’]\w+)*"  # SPEC 6, copied here on purpose

# Words that stress tokenizing: accents (precomposed and decomposed), CJK, curly and
# straight apostrophes, a final sigma, characters whose lowercase is longer, digits.
VOCABULARY = [
    "café", "naïve", "Ünïcödé", "re\u0301sume\u0301", "東京", "日本語", "한국어",
    "don’t", "l'homme", "O’Neil", "rock’n’roll", "ΣΟΦΟΣ", "Straße", "İstanbul", "ǅemal",
    "ﬁne", "x_y", "42", "3.14", "the", "The", "THE", "word", "Word", "ÉCOLE", "école",
    "Ωmega", "Москва", "москва", "привет", "it’s", "it's", "’quoted’", "'single'",
]  # fmt: skip
SEPARATORS = [" ", "  ", ", ", ". ", "; ", " — ", "\t", " (", ") ", " “", "” ", "! ", " 🙂 "]


def reference_counts(
    texts: Iterable[str], pattern: str = SPEC_PATTERN, lower: bool = True
) -> Counter[str]:
    """Count tokens the way SPEC 6 describes, in one process."""
    regex = re.compile(pattern)
    counts: Counter[str] = Counter()
    for text in texts:
        for line in text.split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            counts.update(
                m.group() for m in regex.finditer(line.lower() if lower else line) if m.group()
            )
    return counts


def expected_tsv(counts: Counter[str], top: int | None = None) -> str:
    """The default output: count descending, ties by word ascending."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return "".join(f"{word}\t{count}\n" for word, count in rows)


def random_lines(rng: random.Random, n_lines: int, words_per_line: int = 12) -> list[str]:
    """Lines of random words and separators, with empty lines here and there."""
    lines = []
    for _ in range(n_lines):
        if rng.random() < 0.1:
            lines.append("")
            continue
        parts = []
        for _ in range(rng.randint(1, words_per_line)):
            parts.append(rng.choice(VOCABULARY))
            parts.append(rng.choice(SEPARATORS))
        lines.append("".join(parts))
    return lines


def write_corpus(directory: Path, seed: int = 6) -> list[str]:
    """Write a directory of generated Unicode text; return the text of every file.

    Files: plain UTF-8, one without a trailing newline, one with CRLF line ends, one
    holding a single line of about 60 KB (longer than a small split), an empty one, and
    .gz, .bz2 and .xz files in a subdirectory.
    """
    rng = random.Random(seed)
    texts: dict[str, str] = {
        "plain.txt": "\n".join(random_lines(rng, 400)) + "\n",
        "no-final-newline.txt": "\n".join(random_lines(rng, 50)),
        "crlf.txt": "\r\n".join(random_lines(rng, 50)) + "\r\n",
        "long-line.txt": "short line first\n" + " ".join(random_lines(rng, 800, 8)) + "\nlast\n",
        "empty.txt": "",
    }
    for name, text in texts.items():
        (directory / name).write_text(text, encoding="utf-8", newline="")
    packed = directory / "packed"
    packed.mkdir()
    openers = {"a.txt.gz": gzip.open, "b.txt.bz2": bz2.open, "c.txt.xz": lzma.open}
    for name, opener in openers.items():
        text = "\n".join(random_lines(rng, 200)) + "\n"
        with opener(packed / name, "wb") as file:
            file.write(text.encode("utf-8"))
        texts[f"packed/{name}"] = text
    return list(texts.values())


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, list[str]]:
    """A generated Unicode corpus directory and the texts of its files."""
    directory = tmp_path / "corpus"
    directory.mkdir()
    return directory, write_corpus(directory)


@pytest.fixture
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


class Run:
    """What one in-process ``main(argv)`` call did."""

    def __init__(self, status: int, out: str, err: str) -> None:
        self.status = status
        self.out = out
        self.err = err

    def __repr__(self) -> str:
        return f"Run(status={self.status}, out={self.out[:200]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Call ``main(argv)`` in this process; return its status, stdout and stderr."""

    def call(*argv: str | Path) -> Run:
        status = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return call
