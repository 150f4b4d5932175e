"""Real ``python -m mapred`` processes: stdin, compressed files, ``| head``, exit statuses
0/1/2/130, Ctrl-C with every worker stopped, and ``run`` with a job file.

Nothing here sleeps blindly: a test that must catch a job while it runs waits for a marker
file written by the job's mapper (``tests/jobs/marked.py``) or for the progress bar.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tests.cli.conftest import ROOT, SAMPLE, expected_tsv, reference_counts
from tests.processes import DEADLINE, gone, wait_for

pytestmark = pytest.mark.timeout(120)

MAPRED = [sys.executable, "-m", "mapred"]
JOBS = ROOT / "tests" / "jobs"


def mapred(*args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mapred ARGS`` to completion."""
    kwargs.setdefault("cwd", ROOT)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(
        [*MAPRED, *map(str, args)], capture_output=True, text=True, check=False, **kwargs
    )


@contextmanager
def started(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A running ``python -m mapred`` with a pipe on stdin; killed if the test fails."""
    proc = subprocess.Popen(
        [*MAPRED, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def feed_forever(proc: subprocess.Popen[bytes], line: bytes = b"endless stdin\n") -> None:
    """Write to the process's stdin from a thread until it stops reading."""

    def feed() -> None:
        try:
            while True:
                proc.stdin.write(line * 1000)
                proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return

    threading.Thread(target=feed, daemon=True).start()


def test_stdin(sample_text):
    """Text piped into stdin is counted like the reference; no bar when stderr is a pipe."""
    result = mapred("wordcount", "-w", "2", input=sample_text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_tsv(reference_counts([sample_text]))
    assert result.stderr == ""


def test_stdin_is_streamed_not_read_whole(tmp_path):
    """Map tasks run while stdin is still open: the driver reads it in chunks."""
    markers = tmp_path / "markers"
    markers.mkdir()
    job = JOBS / "marked.py"
    args = ["run", f"{job}:mapper", f"{job}:reducer", "-w", "2", "-"]
    with started(args, env={"MAPRED_TEST_MARKERS": str(markers)}) as proc:
        proc.stdin.write(b"early\n" * 500)
        proc.stdin.flush()
        wait_for(lambda: any(markers.iterdir()) or proc.poll() is not None, "a map task")
        assert proc.poll() is None
        proc.stdin.write(b"late\n" * 300)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == b"early\t500\nlate\t300\n"


def test_directory_with_compressed_files(corpus):
    """A directory with .gz, .bz2 and .xz files in a subdirectory, tiny splits, 2 workers."""
    directory, texts = corpus
    result = mapred("wordcount", "-w", "2", "--split-size", "4KB", directory)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_tsv(reference_counts(texts))


def test_head_ends_quietly(tmp_path):
    """| head -n 3: three lines, nothing on stderr, status 0 (under pipefail too), and no
    process of the job left behind."""
    path = tmp_path / "many-words.txt"
    path.write_text("".join(f"word{i} " * (1 + i % 3) + "\n" for i in range(30_000)))
    command = f"set -o pipefail; {sys.executable} -m mapred wordcount -w 2 {path} | head -n 3"
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr == ""
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["word10001\t3", "word10004\t3", "word10007\t3"]
    leftovers = [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if str(path) in " ".join(proc.info["cmdline"] or ())
    ]
    assert not leftovers


@pytest.mark.parametrize(
    ("args", "status", "stderr_start"),
    [
        (["wordcount", "--top", "1", str(SAMPLE)], 0, ""),
        (["wordcount", "no/such/file.txt"], 2, "mapred: error: no/such/file.txt: no such file"),
        (["wordcount", "--top", "x", str(SAMPLE)], 2, "usage: mapred wordcount"),
        (
            ["run", "no_such_module_q:f", "no_such_module_q:g", str(SAMPLE)],
            2,
            "mapred: error: MAPPER",
        ),
        (["--version"], 0, ""),
    ],
)
def test_exit_statuses(args, status, stderr_start):
    """0 success, 2 usage errors; stderr as documented."""
    result = mapred(*args)
    assert result.returncode == status, result.stderr
    assert result.stderr.startswith(stderr_start)
    if status:
        assert result.stdout == ""


def test_failed_job_exits_1_with_one_line(tmp_path):
    """Undecodable input: status 1, one line naming the file and line, no traceback."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\n" * 10 + b"caf\xe9\n")
    result = mapred("wordcount", "-w", "2", path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"mapred: error: cannot decode {path} line 11 as utf-8: invalid continuation byte "
        "0xe9 at byte 4 of the line (try --errors replace)"
    ]


def test_ctrl_c_exits_130_and_stops_every_worker(tmp_path):
    """SIGINT while map tasks run: status 130 within seconds, no traceback, no process left."""
    markers = tmp_path / "markers"
    markers.mkdir()
    job = JOBS / "marked.py"
    args = ["run", f"{job}:slow_mapper", f"{job}:reducer", "-w", "2"]
    with started(args, env={"MAPRED_TEST_MARKERS": str(markers)}) as proc:
        feed_forever(proc)
        wait_for(lambda: any(markers.iterdir()) or proc.poll() is not None, "a map task")
        assert proc.poll() is None
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        assert children
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 130
        assert time.monotonic() - sent < 5
        assert b"Traceback" not in err
        wait_for(lambda: gone(children), "the workers to stop", deadline=5)


def test_ctrl_c_while_reading_endless_stdin(tmp_path):
    """wordcount on stdin that never ends: Ctrl-C stops it (130) with the workers."""
    with started(["wordcount", "-w", "2", "--progress"]) as proc:
        feed_forever(proc)
        err = bytearray()

        def read_stderr() -> None:
            while chunk := proc.stderr.read1(4096):
                err.extend(chunk)

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        wait_for(lambda: b"records" in err or proc.poll() is not None, "map tasks to commit")
        assert proc.poll() is None
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=DEADLINE) == 130
        reader.join(DEADLINE)
        assert b"Traceback" not in err
        wait_for(lambda: gone(children), "the workers to stop", deadline=5)


def test_run_with_a_job_file(sample_text):
    """mapred run path/to/file.py:function over a file."""
    job = JOBS / "wordjob.py"
    result = mapred("run", f"{job}:mapper", f"{job}:reducer", "--combiner", f"{job}:combiner",
                    "-w", "2", SAMPLE)  # fmt: skip
    assert result.returncode == 0, result.stderr
    counts = reference_counts([sample_text])
    assert result.stdout == "".join(f"{w}\t{c}\n" for w, c in sorted(counts.items()))


def test_run_with_a_module_from_the_current_directory(tmp_path):
    """module:function finds modules in the current directory, as python -m does."""
    (tmp_path / "localjob_q.py").write_text(
        "def m(line):\n    yield len(line), 1\n\ndef r(k, vs):\n    return sum(vs)\n"
    )
    (tmp_path / "in.txt").write_text("ab\ncd\ne\n")
    result = mapred("run", "localjob_q:m", "localjob_q:r", "-w", "2", "in.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\t1\n2\t2\n"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_job_files_travel_by_value_under_every_start_method(tmp_path, method):
    """Under spawn and forkserver the workers never import the job file: it travels by value."""
    job = JOBS / "wordjob.py"
    code = (
        "import multiprocessing, sys; "
        f"multiprocessing.set_start_method({method!r}); "
        "from mapred.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    (tmp_path / "in.txt").write_text("b a\na\n")
    result = subprocess.run(
        [sys.executable, "-c", code, "run", f"{job}:mapper", f"{job}:reducer", "-w", "2", "in.txt"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a\t2\nb\t1\n"


def test_console_script():
    """The installed ``mapred`` script runs the same main()."""
    script = shutil.which("mapred", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the console script is not installed (pip install -e .)")
    result = subprocess.run(
        [script, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("mapred ")
