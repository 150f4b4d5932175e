r"""The driver: plans tasks, runs the phases, retries, enforces the timeout, cleans up.

::

      data ──► plan splits / chunks ──► MapTask ──► worker ──► map-<i>-<a>.bin
                (bounded read-ahead)                  │   (one batch per partition)
                                                      ▼ commit (i, batches)
                                     ReduceTask p ◄── driver forwards references
                                         │ ingest in map order, spill past budget,
                                         ▼ merge, reduce each key in key order
                                     part-<p> ──► Result (sorted) or output=DIR

*The driver* (this module) is one thread running one loop. It pulls the next chunk of
input only when a worker is idle, so read-ahead is bounded by the number of workers.
It hands each task to a backend slot, and learns from :class:`~mapred.backends.base.Event`
s what became of it. A map task's output counts only when its attempt reports
success: the driver then *commits* it, forwarding the batch references to every
running reduce task. Reduce tasks start as soon as no map task is left to hand out,
and ingest committed output while the last map tasks still run.

*Workers* run the stage functions of :mod:`mapred.maptask` and
:mod:`mapred.reducetask`. A worker that dies costs its task one attempt; the task
runs again on a fresh process, up to ``max_retries`` more times, and the dead
attempt's output, never committed, is ignored. A user exception stops the job at
once: busy workers are killed and replaced, and the exception is raised here with
its type, the worker's traceback as ``__cause__`` and a note naming the task.

Invariants: the driver holds no per-record state (one entry per task); every byte of
intermediate data lives in a private temporary directory removed on every exit path;
the values of a key reach the reducer in input order because reduce tasks ingest map
output strictly in map-task order.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

from mapred import storage
from mapred.backends.base import Backend
from mapred.counters import Counters, LiveCounters
from mapred.driver import Driver, plan_map_tasks, sigint_deferred, sigterm_unwinds
from mapred.errors import MapredError
from mapred.job import JobSpec
from mapred.output import part_name
from mapred.reducetask import ReduceResult, read_part
from mapred.result import OutputResult, Result
from mapred.serde import dumps_function, total_order_key
from mapred.shuffle import checked_partitioner, partition_for
from mapred.spill import natural_order
from mapred.splits import TextInput

# Shuffle memory budget when memory_limit is None, shared by the reduce tasks that run
# at once. Past it they spill sorted runs to disk: enough to keep most jobs in memory,
# small enough for a laptop running several workers.
DEFAULT_MEMORY_LIMIT = 1 << 30
MAP_SHARE = 4  # a map task's buffer may hold 1/MAP_SHARE of memory_limit, whatever `workers` is
MIN_MEMORY_LIMIT = 1 << 20  # below this, spilling would write a run per batch
TMPDIR_ENV = "MAPRED_TMPDIR"  # where private work directories go (default: tempfile's)

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
    (workers start again on the next job). It runs one job at a time.

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
        if backend not in (None, "processes", "serial") and not _is_dask_client(backend):
            raise ValueError(
                "backend must be None, 'processes', 'serial' or a dask.distributed.Client, "
                f"got {backend!r}"
            )
        unknown = set(defaults) - _JOB_ARGUMENTS
        if unknown:
            raise TypeError(f"Engine() got unexpected arguments: {', '.join(sorted(unknown))}")
        self.workers = workers or os.cpu_count() or 1
        self._workers_given = workers is not None
        self.backend_name = backend
        self.start_method = start_method
        self.defaults = defaults
        self._backend: Backend | None = None

    def _ensure_backend(self) -> Backend:
        if self._backend is None:
            if self.backend_name == "serial":
                from mapred.backends.serial import SerialBackend

                self._backend = SerialBackend()
            elif _is_dask_client(self.backend_name):
                from mapred.backends.dask import DaskBackend

                self._backend = DaskBackend(self.backend_name)
                if not self._workers_given:  # the driver's cores say nothing about the cluster
                    self.workers = max(1, self._backend.threads())
            else:
                from mapred.backends.processes import ProcessBackend

                self._backend = ProcessBackend(self.workers, self.start_method)
        return self._backend

    def close(self) -> None:
        """Stop the workers; the engine can still be used (they start again)."""
        if self._backend is not None:
            backend, self._backend = self._backend, None
            backend.close()

    def __enter__(self) -> Engine:
        self._ensure_backend()  # warm: the workers start now, not with the first job
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def mapreduce(
        self,
        mapper: Callable[[Any], Iterable[tuple[Any, Any]]],
        reducer: Callable[[Any, Any], Any],
        data: Iterable[Any] | TextInput,
        **options: Any,
    ) -> Result | OutputResult:
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
        return _run(self, mapper, reducer, data, {**self.defaults, **options})


_JOB_ARGUMENTS = {
    "combiner",
    "reducers",
    "chunksize",
    "partitioner",
    "memory_limit",
    "max_retries",
    "timeout",
    "progress",
    "output",
    "storage_options",
}


def _is_dask_client(backend: Any) -> bool:
    return type(backend).__name__ == "Client" and type(backend).__module__.startswith("distributed")


def mapreduce(
    mapper: Callable[[Any], Iterable[tuple[Any, Any]]],
    reducer: Callable[[Any, Any], Any],
    data: Iterable[Any] | TextInput,
    *,
    combiner: Callable[[Any, Any], Any] | None = None,
    workers: int | None = None,
    reducers: int | None = None,
    chunksize: int | None = None,
    partitioner: Callable[[Any, int], int] | None = None,
    memory_limit: int | str | None = None,
    max_retries: int = 3,
    timeout: float | None = None,
    progress: bool = False,
    backend: Any = None,
    start_method: str | None = None,
    output: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Result | OutputResult:
    """Map every record, group the pairs by key, reduce each key's values.

    Runs ``mapper`` on every record of ``data`` in worker processes, groups the pairs
    it yields by key, and calls ``reducer`` once per key with that key's values in
    input order. The result is the same as a sequential loop would give, for any
    number of workers. Starts its own workers and stops them at the end; use
    ``Engine`` to keep them between jobs.

    Args:
        mapper: ``mapper(record)`` returns an iterable of ``(key, value)`` pairs.
        reducer: ``reducer(key, values)`` returns the key's value; ``values`` is an
            iterator in input order.
        data: any iterable of records, or ``read_text(...)`` for text files.
        combiner: ``combiner(key, values)``, applied to partial groups inside map tasks.
        workers: worker processes (default ``os.cpu_count()``).
        reducers: reduce partitions (default: ``workers``).
        chunksize: records per map task for iterable input (default: automatic).
        partitioner: ``partitioner(key, reducers)`` -> partition index.
        memory_limit: shuffle memory budget, bytes or ``"512MB"``; spills past it.
        max_retries: extra attempts for a task whose worker process died.
        timeout: seconds for the whole job.
        progress: show a progress bar on stderr.
        backend: ``None``, ``"processes"``, ``"serial"`` or a Dask ``Client``.
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"``.
        output: a directory for part files, or a URL (``s3://bucket/out``, needs
            fsspec); returns a lazy mapping over them.
        storage_options: fsspec options (credentials, endpoint) for an ``output`` URL.

    Returns:
        The ``Result``, a dict in sorted key order with ``.counters`` and
            ``.elapsed``; or, when ``output`` is given, an ``OutputResult`` over
            the part files.

    Raises:
        TypeError, ValueError: bad arguments, or a mapper breaking the contract.
        JobTimeout: the job ran past ``timeout``.
        WorkerLost: a task's worker died more than ``max_retries`` times.
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
    with Engine(workers=workers, backend=backend, start_method=start_method) as engine:
        return _run(
            engine,
            mapper,
            reducer,
            data,
            dict(
                combiner=combiner,
                reducers=reducers,
                chunksize=chunksize,
                partitioner=partitioner,
                memory_limit=memory_limit,
                max_retries=max_retries,
                timeout=timeout,
                progress=progress,
                output=output,
                storage_options=storage_options,
            ),
        )


def _run(
    engine: Engine, mapper: Any, reducer: Any, data: Any, options: dict[str, Any]
) -> Result | OutputResult:
    """Validate a job, run it on the engine's backend, and clean up on every path."""
    started = time.monotonic()
    combiner = options.get("combiner")
    partitioner = options.get("partitioner")
    reducers = options.get("reducers")
    chunksize = options.get("chunksize")
    max_retries = options.get("max_retries", 3)
    timeout = options.get("timeout")
    output = options.get("output")
    _check_int("reducers", reducers, 1)
    _check_int("chunksize", chunksize, 1)
    _check_int("max_retries", max_retries, 0, allow_none=False)
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
    functions = {
        "mapper": mapper,
        "reducer": reducer,
        "combiner": combiner,
        "partitioner": partitioner,
    }
    serial = engine.backend_name == "serial"
    pickled: dict[str, bytes | None] = {}
    for name, fn in functions.items():
        if fn is None and name in ("combiner", "partitioner"):
            pickled[name] = None
        elif serial:  # the serial backend runs the very objects: just check they're callable
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
            pickled[name] = b""
        else:
            pickled[name] = dumps_function(fn, name)
    output_options = options.get("storage_options")
    output_dir = _prepare_output(output, output_options) if output is not None else None

    backend = engine._ensure_backend()
    reducers = reducers or engine.workers
    concurrent_reduces = max(1, min(backend.slots(), reducers))
    workdir = _make_workdir() if not _is_dask_client(engine.backend_name) else None
    live: LiveCounters | None = None
    succeeded = False
    try:
        if options.get("progress"):
            live = _start_live_counters(backend)
        spec = JobSpec(
            job_id=uuid.uuid4().hex,
            mapper=pickled["mapper"] or b"",
            reducer=pickled["reducer"] or b"",
            combiner=pickled["combiner"],
            partitioner=pickled["partitioner"],
            reducers=reducers,
            workdir=workdir,
            memory_limit=max(MIN_MEMORY_LIMIT, budget // concurrent_reduces),
            map_memory=budget // MAP_SHARE,
            output_dir=output_dir,
            output_options=output_options if output_dir is not None else None,
            live=live.in_flight if live is not None else None,
            max_retries=max_retries,
        )
        prepare = getattr(backend, "prepare", None)
        if prepare is not None:
            prepare(spec, functions)
        run = Driver(backend, spec, plan_map_tasks(data, chunksize), max_retries, timeout, started)
        run.live = live
        if options.get("progress"):
            from mapred.progress import ProgressBar

            run.progress = ProgressBar(data)
        try:
            with sigterm_unwinds():
                results = run.run()
        finally:
            if run.progress is not None:
                run.progress.close()
        counters = run.counters
        elapsed = time.monotonic() - started
        result = _assemble(results, counters, elapsed, spec, partitioner)
        succeeded = True
        return result
    finally:
        with sigint_deferred():
            if live is not None:
                live.close()
                backend.extra_driver_fds = []  # type: ignore[attr-defined]
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            if output_dir is not None:
                _finish_output(output_dir, succeeded, output_options)


def _start_live_counters(backend: Backend) -> LiveCounters | None:
    """Manager-backed live progress, for a pool of local worker processes."""
    context = getattr(backend, "context", None)
    if context is None:
        return None
    live = LiveCounters(context)
    backend.extra_driver_fds = live.driver_fds  # type: ignore[attr-defined]
    return live


def _make_workdir() -> str:
    """A private (0700) directory for this job's map output and spill files."""
    base = os.environ.get(TMPDIR_ENV) or None
    return tempfile.mkdtemp(prefix="mapred-", dir=base)


def _prepare_output(output: str | os.PathLike[str], options: Mapping[str, Any] | None) -> str:
    directory = storage.local_path(os.fspath(output))
    if storage.exists(directory, options):
        if not storage.is_dir(directory, options):
            raise ValueError(f"output {directory!r} exists and is not a directory")
        if storage.list_names(directory, options):
            raise ValueError(
                f"output directory {directory!r} is not empty; "
                "give a new or empty directory (mapred never overwrites results)"
            )
    else:
        storage.make_dirs(directory, options)
    return directory if storage.is_url(directory) else os.path.abspath(directory)


def _finish_output(directory: str, succeeded: bool, options: Mapping[str, Any] | None) -> None:
    """Mark a complete output with ``_SUCCESS``; remove a failed job's part files."""
    for name in storage.list_names(directory, options):
        if name.startswith(".part-") or (not succeeded and name.startswith("part-")):
            storage.remove(storage.join(directory, name), options)
    if succeeded:
        storage.touch(storage.join(directory, "_SUCCESS"), options)


def _assemble(
    results: list[ReduceResult],
    counters: Counters,
    elapsed: float,
    spec: JobSpec,
    partitioner: Any,
) -> Result | OutputResult:
    natural = natural_order({r.family for r in results})
    if spec.output_dir is not None:
        parts = [storage.join(spec.output_dir, part_name(r.partition)) for r in results]
        partition = (
            checked_partitioner(partitioner, spec.reducers)
            if partitioner is not None
            else (lambda key: partition_for(key, spec.reducers))
        )
        return OutputResult(
            spec.output_dir, parts, counters, elapsed, partition, natural, spec.output_options
        )
    items: list[tuple[Any, Any]] = []
    for r in results:
        items.extend(read_part(r.path if r.path is not None else r.data or b""))
    items.sort(key=itemgetter(0) if natural else (lambda item: total_order_key(item[0])))
    return Result(items, counters, elapsed)


__all__ = ["Engine", "MapredError", "mapreduce", "parse_size"]
