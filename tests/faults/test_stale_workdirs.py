"""Stale work directories (issue 14, item 4): marked with their owner, swept once it is gone.

A driver subprocess (tests/faults/hang.py) runs in its own process group under a private
``MAPRED_TMPDIR``; the test SIGKILLs the whole group, as a container stop does, so
nobody is left to remove the job's directory. The next job, or ``mapred clean``, must
remove it, and leave alone a live job's directory and anything mapred did not mark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mapred import mapreduce, workdirs
from tests.processes import DEADLINE, gone, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


class Driver:
    """A hanging job in a subprocess of its own process group, under ``root``."""

    def __init__(self, root: Path, markers: Path, start_method: str) -> None:
        markers.mkdir()
        before = set(root.iterdir())
        env = {
            **os.environ,
            "MAPRED_TMPDIR": str(root),
            "MAPRED_START_METHOD": start_method,
            workdirs.NO_SWEEP_ENV: "1",  # only the sweeps under test may remove anything
        }
        script = (
            "import multiprocessing, os, sys; "
            "multiprocessing.set_start_method(os.environ['MAPRED_START_METHOD']); "
            "sys.argv = ['hang', sys.argv[1], '2']; "
            "from tests.faults.hang import main; main()"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, str(markers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_for(
            lambda: len(list(markers.glob("pid-*"))) == 2 or self.process.poll() is not None,
            "the workers to start",
        )
        assert self.process.poll() is None, self.process.communicate()
        self.pids = [self.process.pid] + [
            p.pid for p in psutil.Process(self.process.pid).children(recursive=True)
        ]
        (self.workdir,) = set(root.iterdir()) - before

    def kill_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=DEADLINE)
        wait_for(lambda: gone(self.pids), "the whole process group to die")

    def interrupt(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.communicate(timeout=DEADLINE)
        wait_for(lambda: gone(self.pids), "the live job's processes to stop")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temp root for this test's jobs, swept as if this process never had."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("MAPRED_TMPDIR", str(root))
    monkeypatch.delenv(workdirs.NO_SWEEP_ENV, raising=False)
    monkeypatch.setattr(workdirs, "_last_sweep", {})
    return root


def count(key: object, values: Iterator[int]) -> int:
    return sum(values)


def strangers(root: Path) -> list[Path]:
    """Directories a sweep must never touch: not mapred's, or without a valid mark."""
    unmarked = root / "mapred-unmarked"
    unmarked.mkdir()
    bad_mark = root / "mapred-badmark"
    bad_mark.mkdir()
    (bad_mark / workdirs.OWNER_FILE).write_text("not json")
    other = root / "other-dir"
    other.mkdir()
    (other / workdirs.OWNER_FILE).write_text(json.dumps({"pid": 999_999_999, "start": 1}))
    return [unmarked, bad_mark, other]


def test_each_workdir_is_marked_with_its_owner(root: Path) -> None:
    path = workdirs.make_workdir()
    try:
        mark = json.loads((Path(path) / workdirs.OWNER_FILE).read_text())
        assert mark["pid"] == os.getpid()
        assert Path(path).stat().st_mode & 0o777 == 0o700
        assert workdirs.sweep_stale(str(root)) == []  # we are alive
    finally:
        os.remove(Path(path) / workdirs.OWNER_FILE)
        os.rmdir(path)


def test_the_next_job_sweeps_a_killed_jobs_directory(start_method: str, root: Path) -> None:
    dead = Driver(root, root.parent / "dead-markers", start_method)
    dead.kill_group()
    assert dead.workdir.exists()  # nobody was left to remove it
    live = Driver(root, root.parent / "live-markers", start_method)
    try:
        assert dead.workdir.exists()
        keep = strangers(root)
        assert mapreduce(lambda r: [(r % 2, 1)], count, range(10), workers=2) == {0: 5, 1: 5}
        assert not dead.workdir.exists()
        assert live.workdir.exists()
        assert all(path.exists() for path in keep)
    finally:
        live.interrupt()


def test_mapred_clean_sweeps_a_killed_jobs_directory(root: Path) -> None:
    dead = Driver(root, root.parent / "dead-markers", "fork")
    dead.kill_group()
    live = Driver(root, root.parent / "live-markers", "fork")
    try:
        assert dead.workdir.exists()
        keep = strangers(root)
        command = [sys.executable, "-m", "mapred", "clean"]
        listed = subprocess.run(
            [*command, "--dry-run"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert listed.stdout.split() == [str(dead.workdir)]
        assert dead.workdir.exists()
        cleaned = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        assert cleaned.stdout.split() == [str(dead.workdir)]
        assert not dead.workdir.exists()
        assert live.workdir.exists()
        assert all(path.exists() for path in keep)
    finally:
        live.interrupt()


def test_a_reused_pid_does_not_keep_a_directory(root: Path) -> None:
    """The owner's pid now belongs to a later process (ours): still stale."""
    path = root / "mapred-reused"
    path.mkdir(mode=0o700)
    mark = workdirs._owner(os.getpid())
    mark["start"] = int(mark["start"] or 0) - 1 if mark["start"] is not None else None
    (path / workdirs.OWNER_FILE).write_text(json.dumps(mark))
    expected = [str(path)] if mark["start"] is not None else []
    assert workdirs.sweep_stale(str(root)) == expected


def dead_pid() -> int:
    """The pid of a process that has exited (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(mode=0o700)
    mark = workdirs._owner(os.getpid())
    mark["pid"] = dead_pid()
    (path / workdirs.OWNER_FILE).write_text(json.dumps(mark))
    return path


def test_a_process_sweeps_at_most_once_a_minute(root: Path) -> None:
    first = stale_dir(root, "mapred-first")
    made = [workdirs.make_workdir()]
    assert not first.exists()
    second = stale_dir(root, "mapred-second")
    made.append(workdirs.make_workdir())
    assert second.exists()  # the next sweep is due in a minute
    for path in made:
        os.remove(Path(path) / workdirs.OWNER_FILE)
        os.rmdir(path)
