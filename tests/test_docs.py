"""The documentation builds, and the code in it works.

- ``mkdocs build --strict`` succeeds: no warning, no broken link or #anchor, every page in
  the nav (mkdocs.yml turns those checks on), the API reference renders from docstrings.
- Every ``python`` code block in docs/ compiles. A block that includes a file with
  ``--8<-- "path"`` is checked with that file's text, as the site shows it.
- Every ``pycon`` block passes as a doctest. The blocks of one page share their names, in
  page order, like one interactive session; they run from the repository root.
- A ``python`` block right after the line ``<!-- test: run -->`` is a whole program: it
  runs in a subprocess from the repository root, and a ``text`` block right after the
  line ``<!-- test: output -->`` that follows it is its expected output (``...`` matches
  anything, whitespace is normalized).

Use ``python`` only for valid Python; shell sessions are ``sh``, output is ``text``.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

RUN_MARKER = "<!-- test: run -->"
OUTPUT_MARKER = "<!-- test: output -->"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.MULTILINE | re.DOTALL,
)
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
BUILD_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str  # path relative to docs/
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str  # the non-blank line before the fence, if it is a test marker

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        marker = before if before in (RUN_MARKER, OUTPUT_MARKER) else ""
        code = textwrap.dedent(match["body"])
        code = SNIPPET.sub(lambda m: (ROOT / m[1]).read_text(encoding="utf-8"), code)
        found.append(
            Block(
                page=path.relative_to(DOCS).as_posix(),
                line=text.count("\n", 0, match.start()) + 1,
                lang=match["info"].split()[0] if match["info"].strip() else "",
                code=code,
                marker=marker,
            )
        )
    return found


ALL_BLOCKS = [block for path in pages() for block in blocks_of(path)]


def runnable_blocks() -> list[tuple[Block, Block | None]]:
    """Each block marked runnable, with the output block marked after it, if any."""
    runs = []
    for i, block in enumerate(ALL_BLOCKS):
        if block.marker != RUN_MARKER:
            continue
        after = ALL_BLOCKS[i + 1] if i + 1 < len(ALL_BLOCKS) else None
        expected = (
            after if after and after.page == block.page and after.marker == OUTPUT_MARKER else None
        )
        runs.append((block, expected))
    return runs


def test_docs_have_code_of_each_kind() -> None:
    """The collection below finds blocks at all (a broken regex would skip every test)."""
    langs = {block.lang for block in ALL_BLOCKS}
    assert {"python", "pycon", "text", "sh"} <= langs
    assert runnable_blocks(), f"no block marked {RUN_MARKER}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """`mkdocs build --strict` passes: no warning, links and anchors resolve, all pages in nav."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"needs the docs extra ({module}): pip install -e '.[docs]'")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "WARNING" not in log, log
    for path in pages():
        built = site / path.relative_to(DOCS).with_suffix(".html")
        assert built.is_file(), f"{path.relative_to(ROOT)} was not built"
        # Browsable from disk (use_directory_urls: false): no link ends at a directory.
        html = built.read_text(encoding="utf-8")
        assert not re.search(r'href="(?!https?:|#)[^"]*/"', html), f"{built} links a directory"
    api = (site / "api.html").read_text(encoding="utf-8")
    for name in ("mapreduce", "Engine", "read_text", "increment", "Result", "WorkerLost"):
        assert f'id="mapred.{name}"' in api, f"the API reference lacks mapred.{name}"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.lang == "python"], ids=str)
def test_python_block_compiles(block: Block) -> None:
    """Every python block is valid Python."""
    compile(block.code, str(block), "exec")


@pytest.mark.parametrize("page", sorted({b.page for b in ALL_BLOCKS if b.lang == "pycon"}), ids=str)
def test_pycon_blocks_pass_as_doctests(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interactive examples of a page give the output the page shows."""
    monkeypatch.chdir(ROOT)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    globs: dict[str, object] = {"__name__": "__docs__"}
    report: list[str] = []
    for block in (b for b in ALL_BLOCKS if b.page == page and b.lang == "pycon"):
        test = parser.get_doctest(block.code, globs, str(block), page, block.line)
        runner.run(test, out=report.append, clear_globs=False)
        globs = test.globs  # a DocTest works on a copy: carry its names to the next block
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0


@pytest.mark.parametrize(("block", "expected"), runnable_blocks(), ids=lambda b: str(b))
def test_runnable_block_runs(block: Block, expected: Block | None, tmp_path: Path) -> None:
    """A program shown as runnable runs from the repository root and prints what is shown."""
    script = tmp_path / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert proc.returncode == 0, f"{block} exited {proc.returncode}:\n{proc.stderr}"
    if expected is not None:
        checker = doctest.OutputChecker()
        assert checker.check_output(expected.code, proc.stdout, DOCTEST_FLAGS), (
            f"{block} printed:\n{proc.stdout}\nbut {expected} shows:\n{expected.code}"
        )
