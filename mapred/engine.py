"""The public API: ``mapreduce``, ``Engine`` and ``parse_size``, with their argument checks.

A checked job goes to :func:`mapred.launch.launch_job`, which sets it up and runs the
:class:`~mapred.driver.Driver` loop (see :mod:`mapred.driver` for the data flow).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from mapred.backends import is_dask_client, open_backend
from mapred.backends.base import Backend
from mapred.collector import job_thresholds
from mapred.errors import JobTimeout, MapredError
from mapred.launch import launch_job
from mapred.pairs import OutputPairs, PairsResult
from mapred.result import OutputResult, Result
from mapred.splits import TextInput
from mapred.step import Step, check_steps

# What a job returns: a dict by key (in memory, or over output=DIR), or pairs in order.
JobResult = Result | OutputResult | PairsResult | OutputPairs

# Shuffle memory budget when memory_limit is None, shared by the reduce tasks that run
# at once. Past it they spill sorted runs to disk: enough to keep most jobs in memory,
# small enough for a laptop running several workers.
DEFAULT_MEMORY_LIMIT = 1 << 30

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def parse_size(size: int | str) -> int:
    """Bytes from an int or a string like ``"512MB"`` (10**6) or ``"2GiB"`` (2**30).

    ``K``/``M``/``G``/``T`` alone are binary units, like ``sort -S``.

    >>> parse_size("512MB"), parse_size("2GiB"), parse_size("64m"), parse_size(1000)
    (512000000, 2147483648, 67108864, 1000)
    """
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        raise TypeError(f"memory_limit must be an int or a str like '512MB', got {size!r}")
    if isinstance(size, int):
        value = size
    else:
        match = _SIZE.match(size)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"memory_limit {size!r} is not a size; expected e.g. '512MB', '2GiB' or 1000000"
            )
        value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"memory_limit must be positive, got {size!r}")
    return value


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


class Engine:
    """Warm worker processes that run one job after another.

    The workers start when the ``with`` block begins and stop when it ends; each job
    run with ``engine.mapreduce(...)`` in between uses them, saving the start-up of a
    process pool per job. The engine stays usable after a failed job, and after ``close()``
    (workers start again on the next job).

    It runs one job at a time, and is safe to share between threads: a job started while
    another thread's job runs waits its turn, and its ``timeout`` counts the wait (past
    it, :class:`~mapred.JobTimeout`). ``close()`` waits for the running job too. A job
    started from inside one of the engine's own jobs (a mapper run by
    ``backend="serial"``) would wait for itself: it is a ``MapredError`` at once.

    Args:
        workers: worker processes; default ``os.cpu_count()``, or with a Dask client
            the cluster's worker threads (it is the default number of reducers).
        backend: ``None``/``"processes"`` (local processes), ``"serial"`` (everything
            in this process, for pdb), or a ``dask.distributed.Client``.
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"``; default: the platform's.
        **defaults: default job arguments (``combiner``, ``reducers``, ``memory_limit``,
            ...) for the engine's jobs; a job's own arguments override them.

    Raises:
        TypeError, ValueError: a bad argument, or an unknown default.

    Examples:
        >>> with Engine(workers=2, backend="serial") as engine:
        ...     engine.mapreduce(lambda n: [(n % 2, n)], lambda k, vs: sum(vs), range(10))
        Result({0: 20, 1: 25})
    """

    def __init__(
        self,
        workers: int | None = None,
        backend: Any = None,
        start_method: str | None = None,
        **defaults: Any,
    ) -> None:
        _check_int("workers", workers, 1)
        if start_method not in (None, "fork", "forkserver", "spawn"):
            raise ValueError(
                f"start_method must be 'fork', 'forkserver' or 'spawn', got {start_method!r}"
            )
        if backend not in (None, "processes", "serial") and not is_dask_client(backend):
            raise ValueError(
                "backend must be None, 'processes', 'serial' or a dask.distributed.Client, "
                f"got {backend!r}"
            )
        unknown = set(defaults) - _JOB_ARGUMENTS
        if unknown:
            raise TypeError(f"Engine() got unexpected arguments: {', '.join(sorted(unknown))}")
        self.workers = workers or os.cpu_count() or 1  # the backend's count, once it starts
        self._workers_asked = workers
        self._backend_choice = backend  # None, "processes", "serial" or a Dask Client
        self.start_method = start_method
        self.defaults = defaults
        self._backend: Backend | None = None
        self._turn = threading.Lock()  # held by the thread whose job runs (or that closes)
        self._turn_holder: int | None = None

    @contextmanager
    def _one_job(self, timeout: float | None = None, started: float = 0.0) -> Iterator[None]:
        """Hold the engine for one job (or a start or close), waiting for another thread's.

        With ``timeout``, the wait ends at ``started + timeout`` with :class:`JobTimeout`.
        """
        if self._turn_holder == threading.get_ident():
            raise MapredError(
                "this Engine is already running a job in this thread (a job cannot start "
                "another on the same engine): use mapreduce(..., backend='serial') or "
                "another Engine for the inner job"
            )
        wait = -1.0 if timeout is None else max(0.0, started + timeout - time.monotonic())
        if not self._turn.acquire(timeout=wait):
            raise JobTimeout(
                f"the job did not finish within its timeout of {timeout} s: it waited all "
                "that time for another thread's job on the same Engine to end"
            )
        self._turn_holder = threading.get_ident()
        try:
            yield
        finally:
            self._turn_holder = None
            self._turn.release()

    def _ensure_backend(self) -> Backend:
        if self._backend is None:
            self._backend, self.workers = open_backend(
                self._backend_choice, self._workers_asked, self.start_method
            )
        return self._backend

    def close(self) -> None:
        """Stop the workers, once a running job has ended; the engine can still be used
        (they start again)."""
        with self._one_job():
            if self._backend is not None:
                backend, self._backend = self._backend, None
                backend.close()

    def __enter__(self) -> Engine:
        with self._one_job():
            self._ensure_backend()  # warm: the workers start now, not with the first job
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def mapreduce(
        self,
        mapper: Callable[[Any], Iterable[tuple[Any, Any]]] | None = None,
        reducer: Callable[[Any, Any], Any] | None = None,
        data: Iterable[Any] | TextInput | None = None,
        *,
        steps: Sequence[Step] | None = None,
        **options: Any,
    ) -> JobResult:
        """Run one job on this engine's workers.

        Arguments as ``mapred.mapreduce``, except ``workers``, ``backend`` and
        ``start_method``, which belong to the engine.
        """
        unknown = set(options) - _JOB_ARGUMENTS
        if unknown:
            raise TypeError(
                f"mapreduce() got unexpected arguments: {', '.join(sorted(unknown))}"
                " (workers, backend and start_method belong to the Engine)"
            )
        defaults = self.defaults
        if steps is not None:  # the engine's combiner, partitioner, ... are for single steps
            defaults = {k: v for k, v in defaults.items() if k not in _STEP_ARGUMENTS}
        return _run(self, mapper, reducer, data, steps, {**defaults, **options})


_JOB_ARGUMENTS = {
    "combiner",
    "reducers",
    "chunksize",
    "partitioner",
    "memory_limit",
    "max_retries",
    "max_skipped",
    "timeout",
    "progress",
    "output",
    "storage_options",
    "sort_values",
    "value_key",
}
# The arguments that belong to a Step in a job given as steps=[...].
_STEP_ARGUMENTS = ("combiner", "partitioner", "sort_values", "value_key")


def mapreduce(
    mapper: Callable[[Any], Iterable[tuple[Any, Any]]] | None = None,
    reducer: Callable[[Any, Any], Any] | None = None,
    data: Iterable[Any] | TextInput | None = None,
    *,
    steps: Sequence[Step] | None = None,
    combiner: Callable[[Any, Any], Any] | None = None,
    workers: int | None = None,
    reducers: int | None = None,
    chunksize: int | None = None,
    partitioner: Callable[[Any, int], int] | None = None,
    memory_limit: int | str | None = None,
    max_retries: int = 3,
    max_skipped: int = 0,
    timeout: float | None = None,
    progress: bool = False,
    backend: Any = None,
    start_method: str | None = None,
    output: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    sort_values: bool = False,
    value_key: Callable[[Any], Any] | None = None,
) -> JobResult:
    """Map every record, group the pairs by key, reduce each key's values.

    Runs ``mapper`` on every record of ``data`` in worker processes, groups the pairs
    it yields by key, and calls ``reducer`` once per key with that key's values in
    input order. The result is the same as a sequential loop would give, for any
    number of workers. Starts its own workers and stops them at the end; use
    ``Engine`` to keep them between jobs.

    Args:
        mapper: ``mapper(record)`` returns an iterable of ``(key, value)`` pairs.
        reducer: ``reducer(key, values)`` returns the key's value; ``values`` is an
            iterator in input order. A ``pair_reducer`` or ``task_reducer`` yields
            pairs instead; ``None`` makes a map-only job.
        data: any iterable of records, or ``read_text(...)`` for text files.
        steps: instead of ``mapper`` and ``reducer`` (and ``combiner``,
            ``partitioner``, ``sort_values``, ``value_key``, which belong to each
            ``Step``): the job's steps; each step's output feeds the next step's mapper
            as ``(key, value)`` records.
        combiner: ``combiner(key, values)``, applied to partial groups inside map tasks.
        workers: worker processes (default ``os.cpu_count()``).
        reducers: reduce partitions (default: ``workers``).
        chunksize: records per map task for iterable input (default: automatic).
        partitioner: ``partitioner(key, reducers)`` -> partition index.
        memory_limit: shuffle memory budget, bytes or ``"512MB"``; spills past it.
        max_retries: extra attempts for a task whose worker process died.
        max_skipped: bad records the job may skip: a record whose mapper raises (or
            whose worker dies on it twice), or a key whose reducer raises, is left out
            and listed in the result's ``skipped``; one more fails the job with
            ``TooManySkipped``. 0 (the default): the first error fails the job.
        timeout: seconds for the whole job.
        progress: show a progress bar on stderr.
        backend: ``None``, ``"processes"``, ``"serial"`` or a Dask ``Client``.
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"``.
        output: a directory (or an fsspec URL) for part files; returns a lazy mapping
            over them.
        storage_options: fsspec options (credentials, endpoint) for an ``output`` URL.
        sort_values: each key's values reach the reducer sorted (stable).
        value_key: sort each key's values by ``value_key(value)`` (stable).

    Returns:
        The ``Result``, a dict in sorted key order with ``.counters`` and
            ``.elapsed``; or, when ``output`` is given, an ``OutputResult`` over
            the part files. For a job whose last step emits pairs or is map-only, a
            ``PairsResult`` (a list of pairs), or an ``OutputPairs`` with ``output``.

    Raises:
        TypeError, ValueError: bad arguments, or a mapper breaking the contract.
        JobTimeout: the job ran past ``timeout``.
        WorkerLost: a task's worker died more than ``max_retries`` times.
        TooManySkipped: more than ``max_skipped`` records were skipped.
        Exception: whatever a user function raised, with its original type.

    Examples:
        >>> mapreduce(
        ...     lambda word: [(word[0], 1)],
        ...     lambda k, vs: sum(vs),
        ...     ["apple", "avocado", "banana"],
        ...     backend="serial",
        ... )
        Result({'a': 2, 'b': 1})
    """
    called = time.monotonic()
    with Engine(workers=workers, backend=backend, start_method=start_method) as engine:
        result = _run(
            engine,
            mapper,
            reducer,
            data,
            steps,
            dict(
                combiner=combiner,
                reducers=reducers,
                chunksize=chunksize,
                partitioner=partitioner,
                memory_limit=memory_limit,
                max_retries=max_retries,
                max_skipped=max_skipped,
                timeout=timeout,
                progress=progress,
                output=output,
                storage_options=storage_options,
                sort_values=sort_values,
                value_key=value_key,
            ),
        )
    result.elapsed = time.monotonic() - called  # the whole call: workers started and stopped
    return result


def _run(
    engine: Engine,
    mapper: Any,
    reducer: Any,
    data: Any,
    steps: Any,
    options: dict[str, Any],
) -> JobResult:
    """Check a job's arguments, then launch it on the engine's backend."""
    started = time.monotonic()
    reducers = options.get("reducers")
    chunksize = options.get("chunksize")
    max_retries = options.get("max_retries", 3)
    timeout = options.get("timeout")
    output = options.get("output")
    _check_int("reducers", reducers, 1)
    _check_int("chunksize", chunksize, 1)
    _check_int("max_retries", max_retries, 0, allow_none=False)
    max_skipped = options.get("max_skipped", 0)
    _check_int("max_skipped", max_skipped, 0, allow_none=False)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    memory_limit = options.get("memory_limit")
    budget = DEFAULT_MEMORY_LIMIT if memory_limit is None else parse_size(memory_limit)
    if isinstance(data, (str, bytes)) or not isinstance(data, (Iterable, TextInput)):
        raise TypeError(
            "data must be an iterable of records or read_text(...), got "
            f"{type(data).__name__}"
            + (" (use read_text(path) to read a file)" if isinstance(data, str) else "")
        )
    job_steps = _job_steps(mapper, reducer, steps, options)
    with engine._one_job(timeout, started), job_thresholds():
        backend = engine._ensure_backend()
        result = launch_job(
            backend,
            job_steps,
            data,
            reducers=reducers or engine.workers,
            chunksize=chunksize,
            memory_limit=budget,
            max_retries=max_retries,
            timeout=timeout,
            progress=bool(options.get("progress")),
            output=output,
            output_options=options.get("storage_options"),
            started=started,
            max_skipped=max_skipped,
        )
    result.elapsed = time.monotonic() - started  # the result assembled, the files removed
    return result


def _job_steps(mapper: Any, reducer: Any, steps: Any, options: dict[str, Any]) -> list[Step]:
    """The job as a list of steps: ``steps``, or one step of the single-step arguments."""
    if steps is not None:
        if mapper is not None or reducer is not None:
            raise TypeError("give either mapper and reducer, or steps=[Step(...), ...], not both")
        given = [name for name in _STEP_ARGUMENTS if options.get(name) not in (None, False)]
        if given:
            raise TypeError(
                f"{', '.join(given)} belong to each Step when the job is given as steps=[...]"
            )
        return check_steps(steps)
    if mapper is None:
        raise TypeError("mapreduce() needs a mapper (and a reducer, or None), or steps=[...]")
    sort_values = options.get("sort_values", False)
    if not isinstance(sort_values, bool):
        raise TypeError(f"sort_values must be a bool, got {sort_values!r}")
    step = Step(
        mapper,
        reducer,
        combiner=options.get("combiner"),
        partitioner=options.get("partitioner"),
        sort_values=sort_values,
        value_key=options.get("value_key"),
    )
    for role, function in step.functions().items():
        if function is not None and not callable(function):
            raise TypeError(f"{role} must be callable, got {type(function).__name__}")
    return check_steps([step])


__all__ = ["Engine", "MapredError", "mapreduce", "parse_size"]
