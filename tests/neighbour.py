"""A neighbour: another user's mapred job, running beside the test suite.

The suite must never touch files it did not make (others run mapred on this machine). To
check that, :class:`Neighbour` starts a real job in a subprocess, with its work directory in
the *system* temp directory (``MAPRED_TMPDIR`` unset), and holds it mid-job: one worker, and
the mapper of the last record waits on a FIFO that only :meth:`Neighbour.release` opens. By
then every other map task has written and closed its output in the work directory, so the
directory has content that a careless suite could delete or change.

Run as a script, this file is that job: ``python neighbour.py FIFO``. It prints the result's
items with ``repr`` on one line.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mapred.shuffle import map_output_path

RECORDS = 40
CHUNKSIZE = 5  # 8 map tasks; the last one holds the gated record
GATE = RECORDS - 1  # the record whose mapper waits on the FIFO
WORD = "released"  # what release() writes into the FIFO
GATE_ENV = "MAPRED_NEIGHBOUR_GATE"
DEADLINE = 60.0  # seconds to start, or to finish once released, on a loaded machine
SCRIPT = Path(__file__).resolve()


def expected_items() -> list[tuple[object, int]]:
    """The job's exact result, computed without mapred: numbers before str (SPEC 3)."""
    sums: dict[int, int] = {}
    for record in range(RECORDS):
        sums[record % 7] = sums.get(record % 7, 0) + record
    return [*sorted(sums.items()), (WORD, GATE)]


def _snapshot(directory: Path, skip: set[str]) -> dict[str, tuple[int, int]]:
    """``{name: (size, mtime_ns)}`` of the files under ``directory``, except ``skip``."""
    found = {}
    for path in directory.rglob("*"):
        if path.is_file() and str(path) not in skip:
            stat = path.stat()
            found[str(path.relative_to(directory))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _tree(pid: int) -> list[object]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _open_in_system_temp(pid: int) -> list[Path]:
    """Files that ``pid`` or its descendants hold open in a ``mapred-*`` system temp dir."""
    import psutil

    system_temp = Path(tempfile.gettempdir()).resolve()
    paths = []
    for proc in _tree(pid):
        try:
            files = proc.open_files()  # type: ignore[attr-defined]
        except psutil.Error:
            continue
        for file in files:
            path = Path(file.path)
            parts = path.relative_to(system_temp).parts if path.is_relative_to(system_temp) else ()
            if len(parts) >= 2 and parts[0].startswith("mapred-"):
                paths.append(path)
    return paths


def _name(path: Path) -> str:
    return path.name


@dataclass
class Neighbour:
    """The neighbour job's process, its FIFO, and its work directory as first seen."""

    process: subprocess.Popen[str]
    fifo: Path
    workdir: Path
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    output: tuple[str, str] | None = None

    @classmethod
    def start(cls, scratch: Path) -> Neighbour:
        """Start the job and wait until it holds, with finished map output on disk."""
        fifo = scratch / "gate"
        os.mkfifo(fifo)
        env = {key: value for key, value in os.environ.items() if key != "MAPRED_TMPDIR"}
        env[GATE_ENV] = str(fifo)
        # In the shared temp directory, the neighbour must not sweep other users' stale
        # work directories either: the suite touches only what it made.
        env["MAPRED_NO_SWEEP"] = "1"
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        end = time.monotonic() + DEADLINE
        # The gated task is the last: once its output file is open, every other task's is
        # written and closed (one worker). An earlier task's open file is not enough.
        gated = Path(map_output_path("", RECORDS // CHUNKSIZE - 1, 1)).name
        while gated not in map(_name, held := _open_in_system_temp(process.pid)):
            if process.poll() is not None or time.monotonic() > end:
                process.kill()
                out, err = process.communicate()
                raise AssertionError(f"the neighbour job did not start:\n{out}\n{err}")
            time.sleep(0.05)
        # One worker: the gated task runs last, so every other task's file is closed.
        system_temp = Path(tempfile.gettempdir()).resolve()
        workdir = system_temp / held[0].relative_to(system_temp).parts[0]
        job = cls(process, fifo, workdir)
        job.files = _snapshot(workdir, skip={str(path) for path in held})
        return job

    def changed_files(self) -> list[str]:
        """Files of the first snapshot now gone or changed, as "name: gone" or "name: changed"."""
        if not self.workdir.exists():
            return [f"{self.workdir}: gone (the whole work directory)"]
        now = _snapshot(self.workdir, skip=set())
        return sorted(
            f"{name}: {'gone' if name not in now else 'changed'}"
            for name, seen in self.files.items()
            if now.get(name) != seen
        )

    def release(self) -> tuple[str, str]:
        """Open the gate, let the job finish, and return its ``(stdout, stderr)``."""
        if self.output is not None:
            return self.output
        end = time.monotonic() + DEADLINE
        while self.process.poll() is None:
            try:  # non-blocking: fails (ENXIO) until the mapper has the FIFO open to read
                gate = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > end:
                    raise
                time.sleep(0.05)
                continue
            try:
                os.write(gate, WORD.encode())
            finally:
                os.close(gate)
            break
        self.output = self.process.communicate(timeout=DEADLINE)
        return self.output

    def stop(self) -> None:
        """Release the job if it still runs; past the deadline, stop its whole tree."""
        if self.process.poll() is not None:
            self.process.communicate()
            return
        try:
            self.release()
        except (OSError, subprocess.TimeoutExpired):
            for proc in reversed(_tree(self.process.pid)):
                try:
                    os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
                except ProcessLookupError:
                    continue
            self.process.communicate()


# -- the job itself ----------------------------------------------------------------------------


def mapper(record: int) -> Iterator[tuple[object, int]]:
    """``(record % 7, record)``; the gated record first waits for a word on the FIFO."""
    if record == GATE:
        with open(os.environ[GATE_ENV], encoding="utf-8") as gate:
            yield gate.read(), record
    yield record % 7, record


def total(key: object, values: Iterator[int]) -> int:
    return sum(values)


def main() -> None:
    from mapred import mapreduce

    result = mapreduce(mapper, total, range(RECORDS), workers=1, reducers=2, chunksize=CHUNKSIZE)
    print(repr(list(result.items())))


if __name__ == "__main__":
    main()
