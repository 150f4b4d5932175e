"""Workers never outlive their driver (issue 14, item 3).

The driver runs in a subprocess (tests/faults/orphans.py); its workers announce their
pids in marker files. The test SIGKILLs the driver and polls, with a deadline, until
every process it had started is gone.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.processes import DEADLINE, gone, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")


def start(
    tmp_path: Path, mode: str, start_method: str, workers: int, *extra: str
) -> tuple[subprocess.Popen[bytes], list[int]]:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {
        **os.environ,
        "MAPRED_TMPDIR": str(tmp_path),
        "MAPRED_START_METHOD": start_method,
        "MAPRED_NO_SWEEP": "1",
    }
    log = (tmp_path / "driver.log").open("wb")
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.orphans", mode, str(markers), *extra],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()
    wait_for(
        lambda: len(list(markers.glob("pid-*"))) == workers or driver.poll() is not None,
        "the workers to start",
    )
    assert driver.poll() is None, (tmp_path / "driver.log").read_text()
    children = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
    return driver, children


def kill_and_wait(driver: subprocess.Popen[bytes], pids: list[int]) -> None:
    driver.kill()
    driver.wait(DEADLINE)
    wait_for(lambda: gone(pids), "every process of the killed driver to exit", deadline=10)


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux only")
def test_a_worker_holding_the_gil_dies_with_its_driver(start_method: str, tmp_path: Path) -> None:
    """A catastrophic regex holds the GIL: only the kernel can end the worker."""
    driver, pids = start(tmp_path, "regex", start_method, 2)
    kill_and_wait(driver, pids)


def pipe_ends(pid: int) -> set[str]:
    """The pipes and sockets process ``pid`` holds open, as ``pipe:[inode]``."""
    ends = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("pipe:", "socket:")):
            ends.add(target)
    return ends


@pytest.mark.skipif(not LINUX, reason="reads /proc")
@pytest.mark.parametrize("progress", [False, True], ids=["quiet", "progress"])
def test_two_engines_started_at_once_share_no_pipes(progress: bool, tmp_path: Path) -> None:
    """Under fork, a worker of one engine used to inherit the other engine's lifeline
    ends, and kept its workers alive after the driver's death."""
    extra = ["progress"] if progress else []
    driver, pids = start(tmp_path, "two-engines", "fork", 4, *extra)
    try:
        held = {pid: pipe_ends(pid) for pid in pids}
        for a, b in itertools.combinations(pids, 2):
            assert not held[a] & held[b], f"processes {a} and {b} share {held[a] & held[b]}"
    finally:
        kill_and_wait(driver, pids)


def test_two_engines_started_at_once_die_with_their_driver(
    start_method: str, tmp_path: Path
) -> None:
    driver, pids = start(tmp_path, "two-engines", start_method, 4)
    kill_and_wait(driver, pids)
