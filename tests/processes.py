"""Waiting on processes in tests: polling with a deadline, never a blind sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

DEADLINE = 20.0  # seconds a subprocess gets to reach the point under test


def wait_for(predicate: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` past the deadline."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def gone(pids: list[int]) -> bool:
    """Whether every process in ``pids`` has exited (a zombie counts as exited)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True
