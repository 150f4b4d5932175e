"""One job's life around the :class:`~mapred.driver.Driver` loop: set up, run, tear down.

:func:`launch_job` takes a checked job (see :mod:`mapred.engine`), pickles its functions,
makes its private work directory, its :class:`~mapred.job.JobSpec`, live counters and
progress bar, prepares the backend, runs the driver, assembles the result, and removes
every temporary file on every exit path (an error, a timeout, Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mapred import storage
from mapred.backends.base import Backend
from mapred.counters import Counters, LiveCounters
from mapred.driver import Driver, sigint_deferred, sigterm_unwinds
from mapred.job import JobSpec
from mapred.keys import checked_partitioner, merge_natively, partition_for
from mapred.output import finish_output, part_name, prepare_output, read_parts_sorted
from mapred.reducetask import ReduceResult
from mapred.result import OutputResult, Result
from mapred.serde import dumps_function
from mapred.splits import TextInput, iter_record_splits, iter_stream_lines
from mapred.workdirs import make_workdir, remove_workdir

if TYPE_CHECKING:
    from mapred.progress import ProgressBar

MAP_SHARE = 4  # a map task's buffer may hold 1/MAP_SHARE of memory_limit, whatever `workers` is
MIN_MEMORY_LIMIT = 1 << 20  # below this, spilling would write a run per batch


def launch_job(
    backend: Backend,
    functions: Mapping[str, Any],
    data: Any,
    *,
    reducers: int,
    chunksize: int | None,
    memory_limit: int,
    max_retries: int,
    timeout: float | None,
    progress: bool,
    output: str | os.PathLike[str] | None,
    output_options: Mapping[str, Any] | None = None,
    started: float,
) -> Result | OutputResult:
    """Run one checked job on ``backend`` and clean up on every path.

    ``functions`` maps ``mapper``, ``reducer``, ``combiner`` and ``partitioner`` to the
    caller's objects (the last two may be None); ``memory_limit`` is the job's budget in
    bytes; ``started`` is when the job started (``time.monotonic()``).
    """
    pickled = pickle_functions(functions, backend.pickles_functions)
    output_dir = prepare_output(output, output_options) if output is not None else None
    concurrent_reduces = max(1, min(backend.slots(), reducers))
    workdir = make_workdir() if backend.shared_disk else None
    live: LiveCounters | None = None
    bar: ProgressBar | None = None
    succeeded = False
    try:
        if progress:
            live = backend.live_counters()
        spec = JobSpec(
            job_id=uuid.uuid4().hex,
            mapper=pickled["mapper"] or b"",
            reducer=pickled["reducer"] or b"",
            combiner=pickled["combiner"],
            partitioner=pickled["partitioner"],
            reducers=reducers,
            workdir=workdir,
            memory_limit=max(MIN_MEMORY_LIMIT, memory_limit // concurrent_reduces),
            map_memory=memory_limit // MAP_SHARE,
            output_dir=output_dir,
            output_options=output_options if output_dir is not None else None,
            live=live.in_flight if live is not None else None,
        )
        backend.prepare(spec, functions)
        if progress:
            from mapred.progress import ProgressBar

            bar = ProgressBar(data)
        inputs = plan_map_tasks(data, chunksize)
        driver = Driver(backend, spec, inputs, max_retries, timeout, started, bar, live)
        try:
            with sigterm_unwinds():
                results = driver.run()
        finally:
            if bar is not None:  # before assembling: the bar clears itself
                bar.close()
        elapsed = time.monotonic() - started
        result = _assemble(results, driver.counters, elapsed, spec, functions["partitioner"])
        succeeded = True
        return result
    finally:
        with sigint_deferred():
            if live is not None:
                live.close()
            if workdir is not None:
                remove_workdir(workdir)
            if output_dir is not None:
                finish_output(output_dir, succeeded, output_options)


def pickle_functions(functions: Mapping[str, Any], pickled: bool) -> dict[str, bytes | None]:
    """The job's functions as they travel in the JobSpec: cloudpickled by name.

    With ``pickled`` False (the functions run in this process) they are only checked
    to be callable, and stand as ``b""``. A missing combiner or partitioner is None.
    """
    result: dict[str, bytes | None] = {}
    for name, function in functions.items():
        if function is None and name in ("combiner", "partitioner"):
            result[name] = None
        elif not pickled:
            if not callable(function):
                raise TypeError(f"{name} must be callable, got {type(function).__name__}")
            result[name] = b""
        else:
            result[name] = dumps_function(function, name)
    return result


def plan_map_tasks(data: Any, chunksize: int | None) -> Iterator[dict[str, Any]]:
    """Yield the input of each map task, lazily: file splits first, then record splits."""
    if isinstance(data, TextInput):
        for split in data.plan_splits():
            yield {"split": split, "encoding": data.encoding, "errors": data.errors}
        for stream in data.streams:
            lines = iter_stream_lines(stream, data.encoding, data.errors)
            for records in iter_record_splits(lines, chunksize):
                yield {"records": records}
        return
    for records in iter_record_splits(data, chunksize):
        yield {"records": records}


def _assemble(
    results: list[ReduceResult],
    counters: Counters,
    elapsed: float,
    spec: JobSpec,
    partitioner: Any,
) -> Result | OutputResult:
    natural = merge_natively(r.family for r in results)
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
    sources = [r.path if r.path is not None else r.data or b"" for r in results]
    return Result(read_parts_sorted(sources), counters, elapsed)
