"""A record that kills its Dask worker (``max_skipped``): notes on the workers' hosts.

With local processes a map attempt keeps its *note* (the record it is on,
:class:`~mapred.skipping.RecordNote`) in the job's work directory, which the driver reads
after a death. A Dask cluster has no disk the driver sees, so:

1. *The note lives on the worker's host*: a file ``mapred-note-<job>-<task>-<attempt>-
   <pid>-<nanny>-<token>`` in mapred's temp root there (:func:`note_file`), the same
   memory-mapped 8 bytes, written per record with no message to anyone.
2. *A death shows as Dask's re-run* of the attempt. A re-run on the same host first
   looks for its attempt's notes whose process is gone (:func:`deaths_here`; a running
   or dying process is never taken for a dead one), takes them (a rename: one reader
   only) and ends the attempt at once with :class:`DeathFound` (record and exit code),
   without running the mapper: a deadly record costs two deaths, as with local
   processes. A re-run elsewhere announces its start (naming its host, note, nanny and
   pid: :class:`Start`); the backend then reads the dead start's note by a task pinned
   to that host (:class:`NoteReads`, :func:`read_dead_note`), unless a start there took
   it first (it reports the death itself). How the process ended comes from its nanny's
   log, so that the message is the one local processes give (``exit code 7``).
3. *The driver decides, as with local processes*: the event carries the record
   (``Death.record``); a restart's event waits until the note is read, in start order
   per task; the :class:`~mapred.quarantine.Quarantine` skips a record only after two
   deaths in a row on it, and the driver then replaces Dask's re-run with an attempt
   that skips it. A note that cannot be read (its host is gone) is a lost worker.

The job's notes (taken or not) are removed from its hosts when it ends
(:func:`remove_notes`, by a task pinned to each host).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from mapred.quarantine import read_note
from mapred.workdirs import temp_root

logger = logging.getLogger(__name__)

NOTE_PREFIX = "mapred-note-"
TAKEN = ".taken"  # a note claimed by its reader (removed with the job's notes)
READ_SECONDS = 60.0  # how long a restart waits for its note's host to run the read
CLEANUP_SECONDS = 30.0  # how long the end of a job waits for its notes to be removed
READ_PRIORITY = 100  # reads go before the tasks queued on the host (a re-run that dies)
DYING_SECONDS = 2.0  # how long a start waits for an earlier start's process to be gone
EXIT_SECONDS = 5.0  # how long the read waits for the dead start's process to be gone
EXIT_LOG_SECONDS = 1.0  # and then for its nanny to log how it ended
EXIT_LOG_LINES = 1000
_EXIT = r"Worker process {pid} (?:exited with status (\d+)|was killed by signal (\d+))"


@dataclass(frozen=True)
class Start:
    """Where one start of a map attempt ran, and where it keeps its note."""

    host: str
    note: str
    nanny: str | None
    pid: int


@dataclass(frozen=True)
class Restart:
    """Dask started an attempt again: the worker of its start before died."""

    phase: str
    index: int
    attempt: int
    dead: Start | None = None  # the start before, if it kept a note


class Starts:
    """The starts of one job's attempts, as the tasks announce them: a second start of
    one attempt is a Dask re-run, so the worker of the start before died (or lost the
    task's output). Written by the client's event loop thread, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job_id: str | None = None
        # (phase, index, attempt) -> its starts, and the last one's note (if any)
        self._starts: dict[tuple[str, int, int], tuple[int, Start | None]] = {}
        self._abandoned: set[tuple[str, int, int]] = set()  # given up: deaths ignored
        self._hosts: set[str] = set()  # where its attempts kept notes

    def job(self, job_id: str) -> None:
        """A new job starts: forget the last one's starts."""
        with self._lock:
            self.job_id = job_id
            self._starts = {}
            self._abandoned = set()
            self._hosts = set()

    def started(self, message: list[Any]) -> Restart | None:
        """An attempt's start announcement; the Restart if it is not its first start."""
        job_id, phase, index, attempt, where = message
        start = Start(*where) if where is not None else None
        with self._lock:
            if job_id != self.job_id:
                return None
            key = (phase, index, attempt)
            starts, last = self._starts.get(key, (0, None))
            self._starts[key] = (starts + 1, start)
            if start is not None:
                self._hosts.add(start.host)
        return Restart(phase, index, attempt, last) if starts else None

    def hosts(self) -> set[str]:
        """The hosts where the job's attempts kept notes."""
        with self._lock:
            return set(self._hosts)

    def abandon(self, phase: str, index: int, attempt: int) -> None:
        """The driver gave up the attempt (cancelled): its later deaths do not count."""
        with self._lock:
            self._abandoned.add((phase, index, attempt))

    def abandoned(self, restart: Restart) -> bool:
        with self._lock:
            return (restart.phase, restart.index, restart.attempt) in self._abandoned


def note_file(job_id: str, index: int, attempt: int, nanny: str | None) -> str:
    """A new note's path for one start of a map attempt, on this host: it names the
    worker process and its nanny, for whoever finds the note after a death."""
    who = f"{os.getpid()}-{(nanny or '').encode().hex()}-{uuid.uuid4().hex[:8]}"
    return os.path.join(temp_root(), f"{NOTE_PREFIX}{job_id}-{index}-{attempt}-{who}")


class DeathFound(Exception):
    """Raised by a start of a map attempt, before it runs, that found on its host the
    note of an earlier start of the same attempt whose process is gone: the attempt
    ends here (``"died"``, with the record), not with one more death on the record."""

    def __init__(self, record: int, exitcode: int | None) -> None:
        super().__init__(record, exitcode)
        self.record = record
        self.exitcode = exitcode


def deaths_here(job_id: str, index: int, attempt: int) -> tuple[int, int | None] | None:
    """Before a start of a map attempt runs (``max_skipped``): the death of an earlier
    start of the same attempt on this host, its note claimed (record, exit code); None
    if there is none (or only of processes still alive). Several: one death, with their
    record if they agree (else 0: not a record's fault, as far as anyone can tell)."""
    pattern = f"{glob.escape(temp_root())}/{NOTE_PREFIX}{job_id}-{index}-{attempt}-*"
    deaths = []
    for path in sorted(glob.glob(pattern)):
        if path.endswith(TAKEN):
            continue
        pid, nanny = _writer(path)
        if pid is None or not _gone(pid, path):
            continue
        record = _claim(path)
        if record is not None:
            deaths.append((record, nanny, pid))
    if not deaths:
        return None
    records = {record for record, _, _ in deaths}
    record, nanny, pid = deaths[-1]
    if len(records) > 1 or not record:
        return 0, None
    return _death(record, nanny, pid) or (0, None)


def read_dead_note(note: str, nanny: str | None, pid: int) -> tuple[int, int | None] | None:
    """The ``mapred-readnote-…`` task, on the host of a start whose worker the scheduler
    lost: the record it was on (0: none, or the process is still alive: the scheduler
    gave up on a worker that did not die) and its exit code, if its nanny logged it
    (negative: a signal). None: a start on that host claimed the note first and
    reports the death itself (:class:`DeathFound`)."""
    record = _claim(note)
    if record is None:
        return None if os.path.exists(note + TAKEN) else (0, None)
    if not record:
        return 0, None
    return _death(record, nanny, pid) or (0, None)


def _writer(path: str) -> tuple[int | None, str | None]:
    """The worker process and nanny named by a note's file name (:func:`note_file`)."""
    try:
        _, pid, nanny, _ = os.path.basename(path).rsplit("-", 3)
        return int(pid), bytes.fromhex(nanny).decode() or None
    except ValueError:
        return None, None


def _gone(pid: int, note: str) -> bool:
    """Whether the process that wrote ``note`` is gone; one that is dying (inside the
    mapper, by its note) gets a moment to be so: the scheduler may hear of a death
    before the process has quite ended."""
    deadline = time.monotonic() + DYING_SECONDS
    while _alive(pid):
        if not read_note(note) or time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _claim(note: str) -> int | None:
    """Take a note, atomically (one reader only): its record; None if it is not there."""
    try:
        os.rename(note, note + TAKEN)
    except FileNotFoundError:
        return None
    return read_note(note + TAKEN)


def _death(record: int, nanny: str | None, pid: int) -> tuple[int, int | None] | None:
    """Once process ``pid`` is gone: ``record`` and its exit code from its nanny's log,
    if logged; None if it stays alive (not a death)."""
    deadline = time.monotonic() + EXIT_SECONDS
    gone: float | None = None  # when the process was first seen gone
    while True:
        exitcode = _logged_exit(nanny, pid) if nanny is not None else None
        if exitcode is not None:
            return record, exitcode
        now = time.monotonic()
        if gone is None and not _alive(pid):
            gone = now
        if gone is not None and (nanny is None or now - gone >= EXIT_LOG_SECONDS):
            return record, None  # dead, but its nanny did not log how
        if gone is None and now >= deadline:
            return None
        time.sleep(0.05)


def _logged_exit(nanny: str, pid: int) -> int | None:
    """How worker process ``pid`` ended, from its nanny's log (it logs it as it reaps it)."""
    from distributed import get_worker
    from distributed.utils import sync

    worker = get_worker()
    try:
        logs = sync(worker.loop, worker.rpc(nanny).get_logs, n=EXIT_LOG_LINES)
    except Exception:  # the nanny is gone too
        return None
    pattern = re.compile(_EXIT.format(pid=pid))
    for _, line in logs:
        found = pattern.search(str(line))
        if found is not None:
            status, signal = found.groups()
            return int(status) if status is not None else -int(signal)
    return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, dead but not yet
    reaped by its nanny, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: it exists
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            state = file.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: alive, as far as anyone can tell
    return state not in (b"Z", b"X")


def remove_notes(job_ids: list[str]) -> int:
    """Run on every worker when a job ends: remove its notes on this host (of deaths
    nobody read); how many."""
    removed = 0
    for job_id in job_ids:
        for path in glob.glob(os.path.join(glob.escape(temp_root()), f"{NOTE_PREFIX}{job_id}-*")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed += 1
    return removed


@dataclass
class _Read:
    restart: Restart
    future: Any  # of read_dead_note
    deadline: float


class NoteReads:
    """The driver's reads of dead starts' notes, handed back in start order per task.

    Args:
        client: the backend's Dask client.
        wake: called (in Dask's callback thread) when a read finishes.
    """

    def __init__(self, client: Any, wake: Any) -> None:
        self.client = client
        self.wake = wake
        self._pending: dict[int, deque[_Read]] = {}  # map task -> its restarts, in order
        self._jobs: list[str] = []  # jobs that may have left notes on the hosts

    def read(self, job_id: str, restart: Restart) -> None:
        """Start reading the note of ``restart``'s dead start, on its host."""
        dead = restart.dead
        assert dead is not None
        if job_id not in self._jobs:
            self._jobs.append(job_id)
        future = self.client.submit(
            read_dead_note,
            dead.note,
            dead.nanny,
            dead.pid,
            key=f"mapred-readnote-{uuid.uuid4().hex}",
            workers=[dead.host],
            allow_other_workers=False,
            priority=READ_PRIORITY,
            pure=False,
        )
        future.add_done_callback(lambda _: self.wake())
        read = _Read(restart, future, time.monotonic() + READ_SECONDS)
        self._pending.setdefault(restart.index, deque()).append(read)

    def deaths(self, job_id: str) -> None:
        """A job saw deaths it may not read the notes of: clean up its hosts at the end."""
        if job_id not in self._jobs:
            self._jobs.append(job_id)

    def pending(self, index: int) -> bool:
        """Whether map task ``index`` has a restart whose note is not read yet: its
        attempt's result or failure waits (a task's events stay in order)."""
        return index in self._pending

    def ready(self) -> list[tuple[Restart, tuple[int, int | None] | None]]:
        """The restarts whose notes are read (or past waiting): each with the record its
        dead start was on (0: none, or unknown) and its exit code, if known; None if a
        start on that host took the note first and reports the death itself. One per task
        at a time: the driver may give the attempt up on it, and then the next is void."""
        now = time.monotonic()
        done: list[tuple[Restart, tuple[int, int | None] | None]] = []
        for index in list(self._pending):
            reads = self._pending[index]
            if reads[0].future.done() or now >= reads[0].deadline:
                read = reads.popleft()
                done.append((read.restart, self._outcome(read.future)))
                if reads and reads[0].future.done():
                    self.wake()  # the next one at the next wait
            if not reads:
                del self._pending[index]
        return done

    def _outcome(self, future: Any) -> tuple[int, int | None] | None:
        if future.status != "finished":  # erred, or its host has no worker any more
            self._cancel([future])
            return 0, None
        try:
            outcome = future.result(timeout=READ_SECONDS)
        except Exception:
            return 0, None
        if outcome is None:
            return None
        record, exitcode = outcome
        return int(record), exitcode

    def clear(self, hosts: set[str]) -> None:
        """The job is over: drop the reads not done; if it saw deaths, remove its notes
        on each of ``hosts`` (where its attempts ran), by a task pinned there: its
        workers may all be dead just now, their nannies starting new ones."""
        futures = [read.future for reads in self._pending.values() for read in reads]
        self._pending = {}
        self._cancel(futures)
        jobs, self._jobs = self._jobs, []
        if not jobs or not hosts:
            return
        deadline = time.monotonic() + CLEANUP_SECONDS
        cleanups: list[Any] = []
        try:
            for host in sorted(hosts):
                cleanup = self.client.submit(
                    remove_notes,
                    jobs,
                    key=f"mapred-removenotes-{uuid.uuid4().hex}",
                    workers=[host],
                    allow_other_workers=False,
                    priority=READ_PRIORITY,
                    pure=False,
                )
                cleanups.append(cleanup)
            for future in cleanups:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:  # the client or cluster is closing, or a host is gone
            logger.debug("could not remove the notes of jobs %s", jobs, exc_info=True)
            self._cancel(cleanups)

    def _cancel(self, futures: list[Any]) -> None:
        if futures:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
