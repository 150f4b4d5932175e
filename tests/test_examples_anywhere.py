"""The examples find their data from their own folder: they run from the repository root.

(tests/test_examples.py runs them from examples/, as the docs show, and checks their
answers; here only that they run from elsewhere and print the same.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Quick ones with fixed output; custom_counters kills a worker and dask_wordcount needs Dask.
NAMES = ["wordcount.py", "inverted_index.py", "join.py", "log_analysis.py", "pipeline.py"]


def run(name: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return re.sub(r"\d+(\.\d+)? s\b", "<time> s", proc.stdout)  # elapsed times differ


@pytest.mark.parametrize("name", NAMES)
def test_an_example_runs_from_the_repository_root(name: str) -> None:
    assert run(name, ROOT) == run(name, EXAMPLES)
