"""Timeouts, Ctrl-C, SIGTERM and a SIGKILLed driver: every child stops, nothing is left.

The driver runs in a subprocess (tests/faults/hang.py) whose workers announce their
pids in marker files and then hang; the test waits for the markers (polling with a
deadline, never a blind sleep), delivers the signal, and checks the process tree and
the job's private directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mapred import Engine, JobTimeout, mapreduce
from mapred.workdirs import sweep_stale
from tests.processes import DEADLINE, gone, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def start_driver(
    tmp_path: Path, start_method: str, progress: bool = False
) -> tuple[subprocess.Popen[str], list[int], Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    workdir = tmp_path / "work"
    workdir.mkdir()
    # The driver must own its SIGTERM: the engine leaves SIGTERM to any handler already set,
    # and coverage (measuring subprocesses in CI) would set one. So it is not measured.
    env = {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_")}
    env |= {"MAPRED_TMPDIR": str(workdir), "MAPRED_START_METHOD": start_method}
    script = (
        "import multiprocessing, os, sys; "
        "multiprocessing.set_start_method(os.environ['MAPRED_START_METHOD']); "
        "sys.argv = ['hang', sys.argv[1], '2', sys.argv[2]]; "
        "from tests.faults.hang import main; main()"
    )
    driver = subprocess.Popen(
        [sys.executable, "-c", script, str(markers), "progress" if progress else "quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: len(list(markers.glob("pid-*"))) == 2 or driver.poll() is not None, "workers")
    assert driver.poll() is None, driver.communicate()
    pids = [int(p.name.split("-")[1]) for p in markers.glob("pid-*")]
    return driver, pids, workdir


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_every_worker_and_cleans_up(
    signum: int, start_method: str, tmp_path: Path
) -> None:
    """Ctrl-C (or SIGTERM) in the driver: workers stopped, the private directory removed,
    KeyboardInterrupt raised (exit 130) or exit 143. (How fast is for benchmarks: the
    deadline only turns a hang into a failure.)"""
    driver, pids, workdir = start_driver(tmp_path, start_method)
    assert list(workdir.iterdir())  # the job's private directory exists while it runs
    driver.send_signal(signum)
    wait_for(lambda: gone(pids), "the workers to stop")
    out, err = driver.communicate(timeout=DEADLINE)
    if signum == signal.SIGINT:
        assert driver.returncode == 130, err
        assert "KeyboardInterrupt" in out
    else:
        assert driver.returncode == 143, err
    assert list(workdir.iterdir()) == []


def test_a_second_ctrl_c_during_cleanup_still_cleans_up(tmp_path: Path) -> None:
    """Two Ctrl-C in a row: cleanup still completes and leaves nothing behind."""
    driver, pids, workdir = start_driver(tmp_path, "fork")
    driver.send_signal(signal.SIGINT)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=DEADLINE)
    assert driver.returncode == 130, err
    wait_for(lambda: gone(pids), "the workers to stop")
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("progress", [False, True], ids=["quiet", "progress"])
def test_workers_exit_when_the_driver_is_sigkilled(
    start_method: str, progress: bool, tmp_path: Path
) -> None:
    """A SIGKILLed driver cannot clean up, so its workers (and, with a progress bar,
    the Manager process) exit on their own: on Linux the kernel kills them at once
    (PR_SET_PDEATHSIG), elsewhere their watchdog removes the job's directory first. A
    directory left behind is stale: the next job's sweep (here called directly) removes it."""
    driver, workers, workdir = start_driver(tmp_path, start_method, progress)
    children = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
    assert set(workers) <= set(children), (workers, children)  # the workers, and any helper
    assert list(workdir.iterdir())  # the job's private directory exists while it runs
    driver.kill()
    driver.communicate(timeout=DEADLINE)
    wait_for(lambda: gone(children), "orphaned workers to exit")
    sweep_stale(str(workdir))
    assert list(workdir.iterdir()) == []


def endless_hang(record: int) -> Iterator[tuple[int, int]]:
    threading.Event().wait()
    yield record, record


def test_timeout_stops_a_hung_mapper_promptly(start_method: str) -> None:
    """A mapper that hangs forever never hangs the caller: JobTimeout comes back.

    No wall-clock bound (that judges the machine's load): a hang is what fails, through
    the module's pytest-timeout.
    """
    with pytest.raises(JobTimeout, match=r"timeout of 0\.5 s"):
        mapreduce(
            endless_hang,
            lambda k, vs: 0,
            range(10),
            workers=2,
            timeout=0.5,
            start_method=start_method,
        )


def test_engine_is_usable_after_a_timeout() -> None:
    """After JobTimeout the same Engine runs the next job (its hung workers replaced)."""
    with Engine(workers=2) as engine:
        with pytest.raises(JobTimeout):
            engine.mapreduce(endless_hang, lambda k, vs: 0, range(4), timeout=0.3)
        assert engine.mapreduce(lambda r: [(r % 2, 1)], lambda k, vs: sum(vs), range(10)) == {
            0: 5,
            1: 5,
        }
