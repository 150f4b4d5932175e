"""Run one contender in a fresh process and measure it: wall time and peak RSS of the tree.

The memory of a run is the sum of the resident set sizes of the process and all its
descendants (workers, a JVM, Dask's pool), sampled every ``SAMPLE_SECONDS``; its peak
is what the suite reports. RSS counts pages shared after ``fork`` once per process, so
the sum errs high, never low.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

SAMPLE_SECONDS = 0.05


@dataclass
class Run:
    """One measured run."""

    contender: str
    task: str
    size: int  # input bytes
    workers: int
    wall: float  # the process, start to exit
    elapsed: float  # the job, as the contender timed it (imports excluded)
    peak_rss: int  # bytes, summed over the process tree
    answer: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    key: str = ""  # the workload entry it measures (run.py)


def tree_rss(root: psutil.Process) -> int:
    """The RSS of ``root`` and all its descendants, in bytes."""
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(
    argv: list[str],
    contender: str,
    task: str,
    size: int,
    workers: int,
    env: dict[str, str] | None = None,
    timeout: float = 1800.0,
) -> Run:
    """Run ``argv``; its last ``BENCH-RESULT {json}`` line is the contender's answer."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            peak = max(peak, tree_rss(root))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\ntimed out after {timeout} s"
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    answer: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            answer = json.loads(line[len("BENCH-RESULT ") :])
    error = "" if answer and proc.returncode == 0 else (stderr.strip().splitlines() or ["?"])[-1]
    return Run(
        contender,
        task,
        size,
        workers,
        wall,
        float(answer.get("elapsed", wall)),
        peak,
        answer,
        error[:300],
    )
