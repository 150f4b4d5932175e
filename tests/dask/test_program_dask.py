"""``python my_job.py --scheduler ADDRESS``: a Job program on a real Dask cluster (the
module's LocalCluster of worker processes), from Python, from ``main()`` and as a
program of its own; an address nobody answers at is one line and exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from distributed import get_task_stream

import mapred.cli.commands
from tests.jobs.stepjobs import CountsByLength

pytestmark = [pytest.mark.dask, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
TEXT = "a bb a ccc bb a\ndd a ccc\n" * 50


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text(TEXT)
    return path


@pytest.fixture
def address(client: Any) -> str:
    """The address of the module's LocalCluster (tests/dask/conftest.py)."""
    return str(client.scheduler.address)


def ran_on_the_cluster(stream: Any) -> list[str]:
    """The mapred map tasks the cluster ran while ``stream`` recorded."""
    return [str(t["key"]) for t in stream.data if str(t["key"]).startswith("mapred-map-")]


def test_run_with_scheduler_runs_on_the_cluster(client: Any, address: str, text_file: Path) -> None:
    local = CountsByLength(["--backend", "serial", "--min", "2", str(text_file)]).run()
    with get_task_stream(client) as stream:
        result = CountsByLength(["--scheduler", address, "--min", "2", str(text_file)]).run()
    assert ran_on_the_cluster(stream), "no map task ran on the Dask cluster"
    assert list(result.items()) == list(local.items())
    assert result.counters["mapred.step1"]["input_records"] == TEXT.count("\n")


def test_main_with_scheduler_writes_the_same_lines(
    client: Any, address: str, text_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert CountsByLength.main(["--backend", "serial", str(text_file)]) == 0
    local = capsys.readouterr().out
    with get_task_stream(client) as stream:
        status = CountsByLength.main(["--scheduler", address, "--counters", str(text_file)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert ran_on_the_cluster(stream)
    assert captured.out == local
    assert "mapred\tinput_records\t" in captured.err


def test_a_job_program_runs_on_the_cluster(address: str, text_file: Path) -> None:
    """``python job_class.py --scheduler ADDRESS``, a process of its own."""
    program = ROOT / "examples" / "job_class.py"
    command = [sys.executable, str(program), "--top", "2", "--min-length", "1", str(text_file)]
    local = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    on_dask = subprocess.run(
        [*command, "--scheduler", address], capture_output=True, text=True, timeout=120, check=False
    )
    assert local.returncode == 0, local.stderr
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.stdout == local.stdout
    assert [json.loads(line) for line in on_dask.stdout.splitlines()] == [["a", 200], ["bb", 100]]


def test_an_unreachable_scheduler_is_one_line_and_exit_1(
    text_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mapred.cli.commands, "SCHEDULER_CONNECT_SECONDS", 1)
    started = time.monotonic()
    status = CountsByLength.main(["--scheduler", "tcp://127.0.0.1:9", str(text_file)])
    waited = time.monotonic() - started
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("mapred: error: cannot connect to the Dask scheduler at tcp://")
    assert err.count("\n") == 1, err
    assert waited < 30  # the connection's own time limit, not Dask's default wait
