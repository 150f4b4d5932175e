"""The benchmark corpus: real public-domain English text, concatenated to a target size.

Sources, in this order (each present one is used; the first always is):

* ``examples/data/sample.txt``: the KJV Pentateuch shipped with the repository (~800 KB);
* the English fortune-cookie files of Debian's ``fortunes`` package
  (``/usr/share/games/fortunes``: quotations, songs, definitions, computing lore, ~2.8 MB);
* the Jargon File of Debian's ``dict-jargon`` package (``/usr/share/dictd/jargon.dict.dz``,
  dictzip is gzip-readable, ~1.5 MB).

``apt-get install fortunes dict-jargon`` adds the last two; without them the corpus is the
KJV alone (a note says so). The sources are joined once into a *seed* text, which is then
repeated, whole, until the file reaches the requested size: the vocabulary is that of the
seed (tens of thousands of words, hundreds of thousands of bigrams), word frequencies are
real. Files are written to ``benchmarks/corpus/`` (gitignored) and reused when present.

A second, generated input serves the many-keys job: ``distinct_keys(n)`` lines, each a
unique token, for the "20 M distinct keys within 256 MB" target.
"""

from __future__ import annotations

import glob
import gzip
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS_DIR = os.path.join(HERE, "corpus")
SAMPLE = os.path.join(ROOT, "examples", "data", "sample.txt")
FORTUNES = "/usr/share/games/fortunes"
JARGON = "/usr/share/dictd/jargon.dict.dz"

MB = 10**6


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


def seed_sources() -> list[str]:
    """Names of the sources found on this machine (the seed's parts)."""
    found = ["examples/data/sample.txt"]
    if _fortune_files():
        found.append("fortunes (Debian)")
    if os.path.exists(JARGON):
        found.append("Jargon File (Debian dict-jargon)")
    return found


def _fortune_files() -> list[str]:
    paths = sorted(glob.glob(os.path.join(FORTUNES, "*")))
    return [p for p in paths if os.path.isfile(p) and "." not in os.path.basename(p)]


def seed_text() -> bytes:
    """The seed: every source's text, UTF-8, each ending with a newline."""
    parts = []
    with open(SAMPLE, "rb") as file:
        parts.append(file.read())
    for path in _fortune_files():
        with open(path, "rb") as file:
            # "%" lines separate the cookies: drop them, keep the text.
            text = file.read().decode("utf-8", "replace")
            parts.append("\n".join(ln for ln in text.splitlines() if ln != "%").encode())
    if os.path.exists(JARGON):
        with gzip.open(JARGON, "rb") as file:
            parts.append(file.read().decode("utf-8", "replace").encode())
    return b"".join(part if part.endswith(b"\n") else part + b"\n" for part in parts)


def build(nbytes: int, directory: str = CORPUS_DIR) -> str:
    """The path of a corpus file of about ``nbytes`` (whole seeds, then a cut at a line).

    Reuses the file when it exists.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"text-{label(nbytes)}.txt")
    if os.path.exists(path):
        return path
    seed = seed_text()
    tmp = path + ".tmp"
    with open(tmp, "wb") as file:
        written = 0
        while written + len(seed) <= nbytes:
            file.write(seed)
            written += len(seed)
        rest = seed[: nbytes - written]
        rest = rest[: rest.rfind(b"\n") + 1]
        file.write(rest)
    os.replace(tmp, path)
    return path


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


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["200MB"]:
        print(build(parse_mb(arg)))
