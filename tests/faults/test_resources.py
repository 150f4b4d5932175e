"""Resources (SPEC 5): nothing leaks across many jobs, and a full disk is a clear error."""

from __future__ import annotations

import gc
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mapred import MapredError, mapreduce
from tests.oracle import total, words

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


def fail_at_three(line: str) -> Iterator[tuple[str, int]]:
    if line == "3":
        raise LookupError("three")
    yield line, 1


def snapshot(workdirs: Path) -> tuple[int, int, int, set[str]]:
    gc.collect()
    me = psutil.Process()
    return (
        len(me.children(recursive=True)),
        threading.active_count(),
        me.num_fds(),
        set(os.listdir(workdirs)),
    )


@pytest.mark.slow
def test_no_process_thread_fd_or_file_leaks_across_200_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 consecutive jobs, one in five failing: no process, thread, fd or temp file stays."""
    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))  # ours alone, whatever else runs
    data = [str(i % 10) for i in range(50)]
    mapreduce(words, total, data, workers=2)  # warm-up: lazily created module state
    before = snapshot(tmp_path)
    for job in range(200):
        if job % 5 == 4:
            with pytest.raises(LookupError):
                mapreduce(fail_at_three, total, data, workers=2, chunksize=5)
        else:
            assert mapreduce(words, total, data, workers=2, chunksize=5)["3"] == 5
    after = snapshot(tmp_path)
    children, threads, fds, temps = after
    assert children == before[0]
    assert threads == before[1]
    assert fds <= before[2]
    assert temps == before[3] == set()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a really full disk (skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_clear_mapred_error(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Map output that does not fit the disk: MapredError naming the cause, no hang,
    and the job's directory removed."""
    monkeypatch.setenv("MAPRED_TMPDIR", str(tiny_disk))
    data = [f"key{i:07d} {'x' * 40}{i}" for i in range(60_000)]  # several MB of map output
    with pytest.raises(MapredError, match="No space left on device"):
        mapreduce(words, total, data, workers=2, chunksize=20_000)
    assert os.listdir(tiny_disk) == []
