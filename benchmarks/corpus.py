"""The benchmark corpus: real English text whose vocabulary grows with its size.

The text comes from Debian packages of English prose and documentation (installed by
``benchmarks/setup_corpus.sh``): Webster's 1913 dictionary (GCIDE), WordNet, FOLDOC, the
Jargon File, The Devil's Dictionary, the fortune files, the Linux kernel's documentation,
the Python, Perl, PostgreSQL, SQLite, Git, Vim, Octave, Maxima and Java API manuals, the
manual pages and the info manuals, plus the KJV sample of ``examples/data/sample.txt``.
Each source is stripped to plain text once (markup, HTML tags and troff requests
removed) into ``benchmarks/corpus/sources/NAME.txt``.

A corpus of N bytes interleaves blocks of about 64 KB of every source, each source at a
rate proportional to its size, so that every prefix mixes all the sources in the same
proportions and the vocabulary grows with the size as a real corpus's does. Nothing is
repeated: past the total size of the sources (about 300 MB when all are installed) the
build stops with an error saying how much text there is. Files go to
``benchmarks/corpus/`` (gitignored) and are reused when present.

``python -m benchmarks.corpus 20MB 50MB 200MB`` builds corpora and prints their size,
distinct lowercase whitespace tokens and distinct bigrams.

Two generated inputs serve other jobs: ``documents()`` cuts a corpus into document
files (the inverted index's input), and ``distinct_keys(n)`` writes ``n`` lines of unique
tokens for the "20 M distinct keys within 256 MB" memory target.
"""

from __future__ import annotations

import gzip
import html
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import pairwise

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS_DIR = os.path.join(HERE, "corpus")
SOURCES_DIR = os.path.join(CORPUS_DIR, "sources")
BLOCK = 64 * 1024
MB = 10**6
DOC = "/usr/share/doc"


# name -> (Debian packages, a regex their files must match, kind of markup). A source's
# files are those the packages installed (``dpkg -L``), so that the corpus is the same on
# every machine that ran setup_corpus.sh, whatever else is installed there.
SOURCES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "gcide": (("dict-gcide",), r"/gcide\.dict\.dz$", "tags"),
    "wordnet": (("dict-wn",), r"/wn\.dict\.dz$", "plain"),
    "foldoc": (("dict-foldoc",), r"\.dict\.dz$", "plain"),
    "jargon": (("dict-jargon",), r"\.dict\.dz$", "plain"),
    "devil": (("dict-devil",), r"\.dict\.dz$", "plain"),
    "fortunes": (("fortunes", "fortunes-min"), r"/games/fortunes/[^./]+$", "fortune"),
    "linux": (("linux-doc-6.1",), r"/Documentation/.*\.(rst|txt)\.gz$", "plain"),
    "python": (("python3.11-doc",), r"/html/_sources/.*\.txt$", "plain"),
    "perl": (("perl-doc",), r"/pod/[^/]+\.pod$", "pod"),
    "postgresql": (("postgresql-doc-15",), r"/html/[^/]+\.html$", "html"),
    "sqlite": (("sqlite3-doc",), r"\.html$", "html"),
    "git": (("git-doc",), r"/git-doc/[^/]+\.txt$", "plain"),
    "vim": (("vim-runtime", "vim-doc"), r"/vim/vim\d+/doc/[^/]+\.txt(\.gz)?$", "plain"),
    "octave": (("octave-doc",), r"\.html$", "html"),
    "maxima": (("maxima-doc",), r"/html/.*\.html$", "html"),
    "abs": (("abs-guide",), r"/html/[^/]+\.html$", "html"),
    "java": (("openjdk-17-doc",), r"/api/.*\.html$", "html"),
    "man": (("manpages", "manpages-dev"), r"/man/man\d/[^/]+\.gz$", "troff"),
    "info": (
        (
            "octave-doc",
            "maxima-doc",
            "autoconf-doc",
            "groff",
            "gnu-standards",
            "findutils",
            "coreutils",
            "grep",
            "sed",
            "gzip",
            "diffutils",
        ),
        r"/info/[^/]+\.info(-\d+)?\.gz$",
        "texinfo",
    ),
}
# The KJV sample shipped with the repository is always a source.
KJV = os.path.join(ROOT, "examples", "data", "sample.txt")

_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_TROFF_ESCAPE = re.compile(r"\\f[BIRPC1-4]|\\f\(..|\\\(..|\\[&|^%e-]|\\s[+-]?\d")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")


def parse_mb(text: str) -> int:
    """Bytes from ``"200MB"``, ``"1GB"`` or ``"200"`` (megabytes, 10**6).

    >>> parse_mb("200MB"), parse_mb("1GB"), parse_mb("25")
    (200000000, 1000000000, 25000000)
    """
    text = text.strip().upper()
    if text.endswith("GB"):
        return int(float(text[:-2]) * 1000 * MB)
    if text.endswith("MB"):
        text = text[:-2]
    return int(float(text) * MB)


def label(nbytes: int) -> str:
    """``"200MB"`` or ``"1GB"`` for a size in bytes.

    >>> label(200 * MB), label(1000 * MB)
    ('200MB', '1GB')
    """
    if nbytes >= 1000 * MB and nbytes % (1000 * MB) == 0:
        return f"{nbytes // (1000 * MB)}GB"
    return f"{nbytes // MB}MB"


def _read(path: str) -> str:
    opener: Callable[..., object] = gzip.open if path.endswith((".gz", ".dz")) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as file:  # type: ignore[operator]
        return file.read()  # type: ignore[attr-defined,no-any-return]


def _plain(text: str, kind: str) -> str:
    """Text without its markup: good enough for counting words, not for reading."""
    if kind == "html":
        text = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", text)))
    elif kind == "tags":
        text = html.unescape(_TAG.sub("", text))
    elif kind == "fortune":
        text = "\n".join(line for line in text.splitlines() if line != "%")
    elif kind == "pod":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("="))
    elif kind == "troff":
        lines = (line for line in text.splitlines() if not line.startswith(("'", '.\\"')))
        text = _TROFF_ESCAPE.sub("", "\n".join(ln[ln.find(" ") + 1:] if ln.startswith(".")
                                               else ln for ln in lines))  # fmt: skip
    elif kind == "texinfo":
        text = text.replace("\x1f", "")
    text = "\n".join(line.strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", text).strip() + "\n"


def _files(packages: tuple[str, ...], pattern: str) -> list[str]:
    """The regular files of the installed ``packages`` whose path matches ``pattern``."""
    found: set[str] = set()
    match = re.compile(pattern).search
    for package in packages:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
        if listing.returncode == 0:
            found.update(p for p in listing.stdout.splitlines() if match(p) and os.path.isfile(p))
    return sorted(found)


def source_text(name: str) -> str:
    """The path of one source's plain text (extracted once), or "" if not installed."""
    path = os.path.join(SOURCES_DIR, f"{name}.txt")
    if os.path.exists(path):
        return path
    if name == "kjv":
        files, kind = [KJV], "plain"
    else:
        packages, pattern, kind = SOURCES[name]
        files = _files(packages, pattern)
    if not files:
        return ""
    os.makedirs(SOURCES_DIR, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        for file in files:
            out.write(_plain(_read(file), kind))
    os.replace(path + ".tmp", path)
    return path


def sources() -> dict[str, str]:
    """name -> plain-text path of every installed source."""
    found = {name: source_text(name) for name in [*SOURCES, "kjv"]}
    return {name: path for name, path in found.items() if path}


def _blocks(path: str) -> Iterator[bytes]:
    """Blocks of whole lines, about ``BLOCK`` bytes each."""
    with open(path, "rb") as file:
        while block := file.read(BLOCK):
            yield block if block.endswith(b"\n") else block + file.readline()


def build(nbytes: int, directory: str = CORPUS_DIR, repeat: bool = False) -> str:
    """The path of a corpus of about ``nbytes`` (cut at a line); reused when present.

    With ``repeat``, a size beyond the sources' total is reached by repeating the whole
    interleaved text (``text-1GB-repeated.txt``): for the memory targets only, whose
    vocabulary stops growing there.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"text-{label(nbytes)}.txt")
    if os.path.exists(path):
        return path
    found = sources()
    sizes = {name: os.path.getsize(p) for name, p in found.items()}
    total = sum(sizes.values())
    if repeat and total < nbytes:
        return _repeated(build(total // MB * MB, directory), nbytes)
    if total < nbytes:
        raise SystemExit(
            f"corpus: the installed sources hold {sum(sizes.values()) / MB:.0f} MB of text, "
            f"less than {label(nbytes)}; run benchmarks/setup_corpus.sh (as root) or ask for less"
        )
    readers = {name: _blocks(p) for name, p in found.items()}
    emitted = dict.fromkeys(found, 0)
    written = 0
    with open(path + ".tmp", "wb") as out:
        while written < nbytes and readers:
            # The source furthest behind its share goes next: every prefix has the mix.
            name = min(readers, key=lambda n: (emitted[n] / sizes[n], n))
            block = next(readers[name], None)
            if block is None:
                del readers[name]
                continue
            block = block[: nbytes - written]
            if written + len(block) >= nbytes:
                block = block[: block.rfind(b"\n") + 1]
            out.write(block)
            emitted[name] += len(block)
            written += len(block) or nbytes  # an empty cut ends the file
    os.replace(path + ".tmp", path)
    return path


def _repeated(base: str, nbytes: int) -> str:
    path = os.path.join(os.path.dirname(base), f"text-{label(nbytes)}-repeated.txt")
    if not os.path.exists(path):
        with open(base, "rb") as file:
            text = file.read()
        with open(path + ".tmp", "wb") as out:
            written = 0
            while written < nbytes:
                piece = text[: nbytes - written]
                piece = piece if len(piece) == len(text) else piece[: piece.rfind(b"\n") + 1]
                out.write(piece)
                written += len(piece) or nbytes
        os.replace(path + ".tmp", path)
    return path


def stats(path: str) -> tuple[int, int, int]:
    """Size in bytes, distinct lowercase whitespace tokens, distinct bigrams (within lines).

    Kept beside the corpus file (``.stats``), as counting takes a while at 200 MB.
    """
    cache = path + ".stats"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        with open(cache) as file:
            size, words_n, bigrams_n = map(int, file.read().split())
        return size, words_n, bigrams_n
    words: set[str] = set()
    bigrams: set[tuple[str, str]] = set()
    with open(path, encoding="utf-8") as file:
        for line in file:
            tokens = line.lower().split()
            words.update(tokens)
            bigrams.update(pairwise(tokens))
    found = os.path.getsize(path), len(words), len(bigrams)
    with open(cache + ".tmp", "w") as file:
        file.write(" ".join(map(str, found)))
    os.replace(cache + ".tmp", cache)
    return found


def documents(path: str, doc_bytes: int = 256 * 1024) -> list[str]:
    """The corpus cut at lines into files of about ``doc_bytes``: the index's documents."""
    directory = os.path.splitext(path)[0] + "-docs"
    if not os.path.isdir(directory):
        os.makedirs(directory + ".tmp", exist_ok=True)
        with open(path, "rb") as file:
            number = 0
            while block := file.read(doc_bytes):
                block += b"" if block.endswith(b"\n") else file.readline()
                with open(os.path.join(directory + ".tmp", f"doc{number:05}.txt"), "wb") as out:
                    out.write(block)
                number += 1
        os.replace(directory + ".tmp", directory)
    return sorted(os.path.join(directory, name) for name in os.listdir(directory))


def distinct_keys(n: int, directory: str = CORPUS_DIR) -> str:
    """A file of ``n`` lines, each a distinct 12-character token (``k`` + 11 hex digits).

    The tokens come in a scrambled order (a multiplicative permutation of ``range(n)``),
    so the shuffle really sorts.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"keys-{n}.txt")
    if os.path.exists(path):
        return path
    tmp = path + ".tmp"
    multiplier = 0x9E3779B1  # odd, so i -> i * m mod 2**44 is a bijection
    mask = (1 << 44) - 1
    with open(tmp, "w") as file:
        for start in range(0, n, 100_000):
            file.write(
                "".join(
                    f"k{(i * multiplier) & mask:011x}\n"
                    for i in range(start, min(n, start + 100_000))
                )
            )
    os.replace(tmp, path)
    return path


def describe() -> str:
    """One line per installed source: name and MB of plain text."""
    found = sources()
    total = sum(os.path.getsize(p) for p in found.values())
    parts = [f"{name} {os.path.getsize(p) / MB:.1f}" for name, p in found.items()]
    return f"corpus sources ({total / MB:.0f} MB of text, MB each): {', '.join(parts)}"


if __name__ == "__main__":
    print(describe())
    for arg in sys.argv[1:] or ["200MB"]:
        size, words, bigrams = stats(build(parse_mb(arg)))
        print(f"{label(parse_mb(arg)):>6}: {size:,} bytes, {words:,} distinct words, "
              f"{bigrams:,} distinct bigrams")  # fmt: skip
