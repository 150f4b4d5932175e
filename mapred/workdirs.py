"""Jobs' private work directories: made with an owner mark, swept once the owner is gone.

A job's directory is ``<root>/mapred-XXXXXXXX`` (mode 0700), removed by the driver on
every exit path it can see. When nobody can (the driver and its workers SIGKILLed
together, as a container stop does), the directory stays: so each one carries an
``OWNER_FILE`` naming its driver process (host, pid namespace, boot, pid and the
process's start time), and :func:`sweep_stale` removes the directories under a root
whose owner is gone. It runs at most once a minute per process when a job makes its
directory, and as ``mapred clean``.

It removes only what mapred made and nobody uses: a directory named ``mapred-*``, owned
by this user, holding a valid owner mark written on this host, in this pid namespace,
whose process is gone (its pid is free, or taken by a process that started later). A
directory without a valid mark (another program's, or one being made) is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

TMPDIR_ENV = "MAPRED_TMPDIR"  # where private work directories go (default: tempfile's)
NO_SWEEP_ENV = "MAPRED_NO_SWEEP"  # set (to anything but "" or "0"): jobs never sweep
PREFIX = "mapred-"
OWNER_FILE = "mapred-owner.json"
SWEEP_EVERY_SECONDS = 60.0  # a process sweeps its temp root at most this often

_last_sweep: dict[str, float] = {}  # root -> when this process last swept it
_sweep_lock = threading.Lock()


def temp_root() -> str:
    """The directory where jobs make their work directories."""
    return os.environ.get(TMPDIR_ENV) or tempfile.gettempdir()


def make_workdir() -> str:
    """A private (0700) directory for a job's map output and spill files, marked as ours.

    Sweeps the root of stale directories first, at most once a minute per process.
    """
    root = temp_root()
    if os.environ.get(NO_SWEEP_ENV, "") in ("", "0"):
        _sweep_now_and_then(root)
    workdir = tempfile.mkdtemp(prefix=PREFIX, dir=root)
    try:  # a half-written mark is not valid JSON: a sweep leaves the directory alone
        with open(os.path.join(workdir, OWNER_FILE), "w") as file:
            json.dump(_owner(os.getpid()), file)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir


def remove_workdir(path: str) -> None:
    """Remove a work directory, its owner mark last: if this process is killed halfway,
    what is left is still marked, so a later sweep finishes the job."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        if name != OWNER_FILE:
            entry = os.path.join(path, name)
            if os.path.isdir(entry) and not os.path.islink(entry):
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry)
    shutil.rmtree(path, ignore_errors=True)


def sweep_stale(root: str | None = None, dry_run: bool = False) -> list[str]:
    """Remove the work directories under ``root`` whose owner is gone; return their paths."""
    root = root or temp_root()
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    removed = []
    for name in names:
        path = os.path.join(root, name)
        if name.startswith(PREFIX) and _is_stale(path):
            if not dry_run:
                remove_workdir(path)
            removed.append(path)
    return removed


def _sweep_now_and_then(root: str) -> None:
    with _sweep_lock:
        now = time.monotonic()
        last = _last_sweep.get(root)
        if last is not None and now - last < SWEEP_EVERY_SECONDS:
            return
        _last_sweep[root] = now
    with contextlib.suppress(OSError):
        sweep_stale(root)


def _is_stale(path: str) -> bool:
    """Whether ``path`` is a marked work directory of ours whose owner process is gone."""
    try:
        info = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid():
            return False
        with open(os.path.join(path, OWNER_FILE)) as file:
            mark = json.load(file)
        pid, start = mark["pid"], mark["start"]
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return False
        here = _owner(pid)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if any(mark.get(k) != here[k] for k in ("host", "pidns")):
        return False  # another machine or container: its processes are not ours to judge
    if mark.get("boot") != here["boot"]:
        return True  # made before this machine last booted
    if not _alive(pid):
        return True
    return start is not None and here["start"] is not None and start != here["start"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process holds the pid
        return True
    return True


def _owner(pid: int) -> dict[str, object]:
    """The mark of process ``pid``: what tells it apart from a later one with its pid."""
    return {
        "host": socket.gethostname(),
        "pidns": _read_link("/proc/self/ns/pid"),
        "boot": _read_text("/proc/sys/kernel/random/boot_id"),
        "pid": pid,
        "start": _start_time(pid),
    }


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (Linux); None where unknown."""
    if not sys.platform.startswith("linux"):
        return None
    stat = _read_text(f"/proc/{pid}/stat")
    if stat is None:
        return None
    try:  # the command name may hold spaces and parentheses: count from the last ")"
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _read_text(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None


def _read_link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None
