"""Fixtures and settings shared by the whole test suite.

- Hypothesis profiles: ``dev`` (the default on a workstation) and ``ci`` (chosen when the ``CI``
  environment variable is set). ``HYPOTHESIS_PROFILE=<name>`` picks one explicitly. Both turn
  the per-example deadline off: an example that runs a job starts worker processes, and how long
  that takes depends on the machine's load, not on the code under test.
- ``mapred_tmpdir`` (session, autouse): the session's own temp root under pytest's
  ``tmp_path_factory``, exported as ``MAPRED_TMPDIR``. The suite touches no file it did not
  make: other mapred jobs may be running in the system temp directory.
- ``no_leaks`` (autouse): SPEC 5 promises that after every job, finished or failed, no child
  process is left running and no temporary file is left behind. This fixture checks that after
  every test (processes by ancestry, ``mapred-*`` entries in the session's root only), so a
  leak fails the test that caused it instead of a later, innocent one.
- ``neighbour`` (session): a real mapred job held mid-run beside the suite; its check,
  tests/test_neighbour.py, runs last.
- ``engine`` / ``module_engine``: a warm two-worker Engine per test / per module.
- ``start_method``: parametrizes a test over ``fork``, ``forkserver`` and ``spawn``.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, settings

from mapred import Engine
from tests.neighbour import Neighbour

# ---------------------------------------------------------------------------------------------
# Hypothesis

settings.register_profile(
    "dev",
    deadline=None,
    max_examples=50,
    print_blob=True,
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,  # CI runs on 2 cores with a time limit; each example may start processes
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,  # a failure prints the line that reproduces it with @reproduce_failure
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# ---------------------------------------------------------------------------------------------
# No leaked processes or temporary files

# How long a test's child processes and temporary directories get to go away after the test:
# a worker may still be exiting, or the engine's cleanup still running, when the test returns.
LEAK_GRACE_SECONDS = 2.0
LEAK_POLL_SECONDS = 0.05

# The engine names its temporary and spill directories "mapred-*" (SPEC 5).
TEMP_PREFIX = "mapred-"

FORKSERVER_MAIN = "multiprocessing.forkserver import main"


def _cmdline(proc: psutil.Process) -> str:
    """Return the command line of ``proc`` as one string, or "" if it cannot be read."""
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def _is_multiprocessing_helper(proc: psutil.Process) -> bool:
    """Tell whether ``proc`` is multiprocessing's resource tracker or forkserver server.

    Python keeps these alive for the life of the interpreter by design, so they are not leaks.
    A worker forked *by* the forkserver inherits the forkserver's command line, though: it is
    told apart by its parent, which is the forkserver itself.
    """
    cmdline = _cmdline(proc)
    if "resource_tracker" not in cmdline and "forkserver" not in cmdline:
        return False
    try:
        parent = proc.parent()
    except psutil.Error:
        return False
    # The server runs `python -c 'from multiprocessing.forkserver import main; ...'`. Match that,
    # not the bare word, so that `pytest -k forkserver` does not look like a forkserver.
    return parent is None or FORKSERVER_MAIN not in _cmdline(parent)


def _alive_children(ignore: set[tuple[int, float]]) -> list[psutil.Process]:
    """Return this process's descendants, except helpers and those whose key is in ``ignore``.

    A key is ``(pid, create_time)``, so a recycled pid is not mistaken for an old process.
    An exited child that nobody has waited for (a zombie) counts: the engine must join its
    workers.
    """
    alive = []
    for proc in psutil.Process().children(recursive=True):
        try:
            key = (proc.pid, proc.create_time())
        except psutil.NoSuchProcess:
            continue
        if key in ignore or _is_multiprocessing_helper(proc):
            continue
        alive.append(proc)
    return alive


def _process_keys() -> set[tuple[int, float]]:
    """Return ``(pid, create_time)`` of every descendant of this process."""
    keys = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            keys.add((proc.pid, proc.create_time()))
        except psutil.NoSuchProcess:
            continue
    return keys


def _temp_entries(root: Path) -> set[str]:
    """Return the names in ``root`` (the session's private temp root) starting ``TEMP_PREFIX``."""
    try:
        return {name for name in os.listdir(root) if name.startswith(TEMP_PREFIX)}
    except FileNotFoundError:
        return set()


def _describe(proc: psutil.Process) -> str:
    """Return a one-line description of ``proc`` for a failure message."""
    try:
        status = proc.status()
    except psutil.NoSuchProcess:
        return f"pid {proc.pid} (gone)"
    if status == psutil.STATUS_ZOMBIE:
        return f"pid {proc.pid} (zombie: it exited, but nobody waited for it; join your workers)"
    return f"pid {proc.pid} ({status}): {_cmdline(proc)[:200] or '?'}"


def _kill(procs: list[psutil.Process]) -> None:
    """SIGKILL ``procs`` and wait briefly, so the next test starts clean."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=LEAK_GRACE_SECONDS)


TMPDIR_ENV = "MAPRED_TMPDIR"  # where the engine makes its work directories (SPEC 5)


@pytest.fixture(scope="session", autouse=True)
def mapred_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own temp root, exported as ``MAPRED_TMPDIR`` for every job it starts.

    Set in ``os.environ``, so CLI subprocesses and worker processes inherit it. The leak
    check looks here and only here: the system temp directory belongs to everyone, and other
    mapred jobs may be running on this machine (see tests/test_neighbour.py).
    """
    root = tmp_path_factory.mktemp("mapred-tmpdir")
    previous = os.environ.get(TMPDIR_ENV)
    os.environ[TMPDIR_ENV] = str(root)
    try:
        yield root
    finally:
        if previous is None:
            os.environ.pop(TMPDIR_ENV, None)
        else:
            os.environ[TMPDIR_ENV] = previous


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest, mapred_tmpdir: Path) -> Iterator[None]:
    """Fail the test if it leaves a child process or a ``mapred-*`` entry in the temp root.

    Child processes that already existed when the test started are not the test's doing: they
    belong to fixtures of a wider scope (a module-scoped Dask cluster, the neighbour job), which
    pytest sets up before this function-scoped fixture. A leaked process is killed, so it is
    never carried into the next test's baseline. A leaked temp entry is reported, and removed
    only because it lies in the session's own root, which nobody else uses.

    Stragglers get ``LEAK_GRACE_SECONDS`` to go away; the check polls, so a clean test costs
    almost nothing.
    """
    if request.session.config.stash.get(_COLLECTED, False):
        request.getfixturevalue("neighbour")  # started before the first test's baseline
    processes_before = _process_keys()
    temp_before = _temp_entries(mapred_tmpdir)

    yield

    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    while True:
        procs = _alive_children(ignore=processes_before)
        temps = sorted(_temp_entries(mapred_tmpdir) - temp_before)
        if (not procs and not temps) or time.monotonic() >= deadline:
            break
        time.sleep(LEAK_POLL_SECONDS)

    problems = []
    if procs:
        lines = "\n".join(f"  {_describe(proc)}" for proc in procs)
        problems.append(f"{len(procs)} child process(es) still alive after the test:\n{lines}")
        _kill(procs)
    if temps:
        lines = "\n".join(f"  {mapred_tmpdir / name}" for name in temps)
        problems.append(f"{len(temps)} temporary entr(ies) left behind:\n{lines}")
        for name in temps:  # inside the session's own root: ours to remove
            path = mapred_tmpdir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    if problems:
        pytest.fail("leak check (SPEC 5): " + "\n".join(problems), pytrace=False)


# ---------------------------------------------------------------------------------------------
# A neighbour: another mapred job running beside the suite, in the system temp directory

NEIGHBOUR_TEST = (
    Path(__file__).parent / "test_neighbour.py",
    "test_a_neighbour_job_survives_the_suite",
)
_COLLECTED = pytest.StashKey[bool]()


def _is_neighbour_test(item: pytest.Item) -> bool:
    return (item.path, item.name) == NEIGHBOUR_TEST


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the neighbour's final check last, so that every other test ran beside the job."""
    last = [item for item in items if _is_neighbour_test(item)]
    items[:] = [item for item in items if not _is_neighbour_test(item)] + last
    config.stash[_COLLECTED] = bool(last)


@pytest.fixture(scope="session")
def neighbour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neighbour]:
    """A real mapred job in a subprocess, kept alive across the suite (see test_neighbour.py).

    Its work directory is in the system temp directory, as any user's job would be: the
    suite must neither delete nor change it. The job is released by the last test; if that
    test did not run (``-x``, ``-k``), it is released here so that no process outlives us.
    """
    job = Neighbour.start(tmp_path_factory.mktemp("neighbour"))
    try:
        yield job
    finally:
        job.stop()


# ---------------------------------------------------------------------------------------------
# Engines shared by many test files (their job functions live in tests/oracle.py)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A warm two-worker engine per test: a failed job replaces workers, which must not
    outlive the test that failed it."""
    with Engine(workers=2) as warm:
        yield warm


@pytest.fixture(scope="module")
def module_engine() -> Iterator[Engine]:
    """A warm two-worker engine per module, for hypothesis tests (one per example is slow)."""
    with Engine(workers=2) as warm:
        yield warm


# ---------------------------------------------------------------------------------------------
# Start methods

START_METHODS = ["fork", "forkserver", "spawn"]


@pytest.fixture(params=START_METHODS, ids=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    """Return each multiprocessing start method in turn; skip those the platform lacks."""
    method: str = request.param
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"start method {method!r} is not available on this platform")
    return method
