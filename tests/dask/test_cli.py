"""``mapred ... --scheduler ADDRESS`` against a real cluster: ``dask scheduler`` and
``dask worker`` processes on 127.0.0.1, started by the test, the way a user starts them.

The worker runs in another directory than the tests, so nothing may depend on the driver's
working directory. The in-process LocalCluster variant is in tests/cli/test_scheduler.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import distributed

from mapred.cli import main

pytestmark = [pytest.mark.dask, pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "data" / "sample.txt"
BIN = Path(sys.executable).parent  # the virtualenv's `dask` command
START_SECONDS = 60  # a loaded CI machine may need a while to import Dask twice


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Dask's processes then close their workers), SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler with one worker process, all on 127.0.0.1."""
    base = tmp_path_factory.mktemp("cluster")
    info = base / "scheduler.json"
    workdir = base / "worker"
    workdir.mkdir()
    dask = str(BIN / "dask")
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)],
            cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        processes.append(
            subprocess.Popen(
                [dask, "worker", "--scheduler-file", str(info), "--nworkers", "1",
                 "--nthreads", "1", "--no-dashboard", "--local-directory", str(workdir)],
                cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        address = json.loads(info.read_text())["address"]
        with distributed.Client(address, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=START_SECONDS)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


def run_main(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_wordcount_on_the_cluster_equals_local_processes(
    scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same lines, byte for byte, as `mapred wordcount -w 2`; nothing on stderr."""
    status, out, err = run_main(capsys, "wordcount", "--scheduler", scheduler, SAMPLE)
    assert (status, err) == (0, "")
    local_status, local_out, _ = run_main(capsys, "wordcount", "-w", "2", SAMPLE)
    assert local_status == 0
    assert out == local_out
    assert out.startswith("the\t")


def test_relative_paths_and_options(
    scheduler: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path relative to the driver's directory; --top, --format and small splits."""
    monkeypatch.chdir(SAMPLE.parent)
    argv = ["--top", "5", "--format", "jsonl", "--split-size", "64KB", SAMPLE.name]
    status, out, _ = run_main(capsys, "wordcount", "--scheduler", scheduler, *argv)
    local_status, local_out, _ = run_main(capsys, "wordcount", "-w", "2", *argv)
    assert status == local_status == 0
    assert out == local_out
    assert len(out.splitlines()) == 5


def test_run_a_job_file_on_the_cluster(scheduler: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`mapred run file.py:mapper file.py:reducer`: the job file's functions reach the worker."""
    job = ROOT / "tests" / "jobs" / "wordjob.py"
    argv = ["run", f"{job}:mapper", f"{job}:reducer", SAMPLE]
    status, out, _ = run_main(capsys, *argv, "--scheduler", scheduler)
    local_status, local_out, _ = run_main(capsys, *argv, "-w", "2")
    assert status == local_status == 0
    assert out == local_out


def test_a_failing_job_exits_1_with_one_line(
    scheduler: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A mapper that raises on the cluster: exit 1, one line on stderr naming the error."""
    job = tmp_path / "failing_job.py"
    job.write_text(
        "def mapper(line):\n"
        "    raise ValueError('no good: ' + line)\n"
        "def reducer(key, values):\n"
        "    return sum(values)\n"
    )
    data = tmp_path / "in.txt"
    data.write_text("x\n")
    status, _, err = run_main(
        capsys, "run", f"{job}:mapper", f"{job}:reducer", "--scheduler", scheduler, data
    )
    assert status == 1
    assert "ValueError" in err
    assert "no good: x" in err
    assert err.count("\n") == 1


def test_python_m_mapred_subprocess(scheduler: str, tmp_path: Path) -> None:
    """The installed entry point, as a user runs it, from another directory."""
    run = subprocess.run(
        [sys.executable, "-m", "mapred", "wordcount", "--scheduler", scheduler, "--top", "3",
         str(SAMPLE)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error::UserWarning"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [line.split("\t")[0] for line in run.stdout.splitlines()] == ["the", "and", "of"]
