"""One job's life around the :class:`~mapred.driver.Driver` loop: set up, run, tear down.

:func:`launch_job` takes a checked job (see :mod:`mapred.engine`), pickles its functions,
makes its private work directory, its :class:`~mapred.job.JobSpec`, live counters and
progress bar, prepares the backend, runs the driver, assembles the result, and removes
every temporary file on every exit path (an error, a timeout, Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mapred import storage
from mapred.backends.base import Backend
from mapred.counters import (
    BUILTIN_GROUP,
    OUTPUT_KEYS,
    Counters,
    LiveCounters,
    empty_totals,
    merge_into,
)
from mapred.driver import Driver, sigint_deferred, sigterm_unwinds
from mapred.job import JobSpec, emits_pairs
from mapred.keys import checked_partitioner, merge_natively, partition_for
from mapred.output import finish_output, part_name, prepare_output, read_parts_sorted
from mapred.pairs import OutputPairs, PairsResult, read_emitted
from mapred.quarantine import SkippedRecord, write_quarantine
from mapred.reducetask import ReduceResult
from mapred.reopen import job_record
from mapred.result import OutputResult, Result
from mapred.serde import dumps_function
from mapred.splits import TextInput, iter_record_splits, iter_stream_lines
from mapred.step import Step
from mapred.workdirs import make_workdir, remove_workdir

if TYPE_CHECKING:
    from mapred.progress import ProgressBar

MAP_SHARE = 4  # a map task's buffer may hold 1/MAP_SHARE of memory_limit, whatever `workers` is
MIN_MEMORY_LIMIT = 1 << 20  # below this, spilling would write a run per batch


def launch_job(
    backend: Backend,
    steps: Sequence[Step],
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
    max_skipped: int = 0,
) -> Result | OutputResult | PairsResult | OutputPairs:
    """Run one checked job of one or more steps on ``backend``; clean up on every path.

    Each step runs the :class:`~mapred.driver.Driver` once; its part files (or, on Dask,
    parts held by the workers) are the next step's map task inputs, read by the workers
    (:func:`next_inputs`). ``reducers`` is the default of the steps' ``reducers``;
    ``memory_limit`` is the job's budget in bytes; ``started`` is when the job started
    (``time.monotonic()``): one deadline for all steps. ``max_skipped``: bad records the
    job may skip (:mod:`mapred.skipping`), all steps together.
    """
    pickled = [pickle_functions(step.functions(), backend.pickles_functions) for step in steps]
    output_dir = prepare_output(output, output_options) if output is not None else None
    workdir = make_workdir() if backend.shared_disk else None
    job_id = uuid.uuid4().hex
    live: LiveCounters | None = None
    bar: ProgressBar | None = None
    succeeded = False
    success = b""  # the content of _SUCCESS: what the output holds (mapred.reopen)
    try:
        if progress:
            live = backend.live_counters()
        inputs = plan_map_tasks(data, chunksize)
        totals: Counters = empty_totals()
        skipped: list[SkippedRecord] = []
        tagged = False
        origins_natural = False
        for number, (step, functions) in enumerate(zip(steps, pickled, strict=True), 1):
            last = number == len(steps)
            n_reduces = 0 if step.reducer is None else step.reducers or reducers
            step_dir = _step_dir(workdir, number, len(steps))
            if step_dir is not None and step_dir != workdir:
                os.mkdir(step_dir, 0o700)
            concurrent_reduces = max(1, min(backend.slots(), n_reduces))
            spec = JobSpec(
                job_id=f"{job_id}-{number}",
                mapper=functions["mapper"] or b"",
                reducer=functions["reducer"] or b"",
                combiner=functions["combiner"],
                partitioner=functions["partitioner"],
                reducers=n_reduces,
                workdir=step_dir,
                memory_limit=max(MIN_MEMORY_LIMIT, memory_limit // concurrent_reduces),
                map_memory=memory_limit // MAP_SHARE,
                output_dir=output_dir if last else None,
                output_options=output_options if output_dir is not None and last else None,
                live=live.in_flight if live is not None and number == 1 else None,
                step=number,
                steps=len(steps),
                value_key=functions["value_key"],
                sort_values=step.sort_values,
                tagged=tagged,
                origins_natural=origins_natural,
                max_skipped=max_skipped,
            )
            backend.prepare(spec, step.functions())
            if progress:
                from mapred.progress import ProgressBar

                bar = ProgressBar(data if number == 1 else None)
            driver = Driver(
                backend,
                spec,
                inputs,
                max_retries,
                timeout,
                started,
                bar,
                live if number == 1 else None,
                skipped_before=len(skipped),
            )
            try:
                with sigterm_unwinds():
                    results = driver.run()
            finally:
                if bar is not None:  # before assembling: the bar clears itself
                    bar.close()
            _add_step_counters(totals, driver.counters, number, len(steps))
            skipped.extend(driver.skipped())
            previous_dir = _step_dir(workdir, number - 1, len(steps))
            if number > 1 and previous_dir is not None:  # its parts are read: not needed
                remove_workdir(previous_dir)
            inputs = next_inputs(results, emits_pairs(step.reducer) or step.reducer is None)
            # Parts are in the step's output order when concatenated only if it had one
            # partition, or was map-only over records already in order.
            tagged = n_reduces > 1 or (n_reduces == 0 and tagged)
            if n_reduces:  # the next step's origins are this step's reduced keys
                origins_natural = merge_natively(r.family for r in results)
        elapsed = time.monotonic() - started
        result = _assemble(results, totals, elapsed, spec, steps[-1])
        result.skipped = skipped
        if output_dir is not None:
            success = _describe_output(results, totals, steps[-1])
            if max_skipped:
                write_quarantine(output_dir, skipped, output_options)
        succeeded = True
        return result
    finally:
        with sigint_deferred():
            if live is not None:
                live.close()
            if workdir is not None:
                remove_workdir(workdir)
            if output_dir is not None:
                finish_output(output_dir, succeeded, output_options, success)


def _step_dir(workdir: str | None, number: int, steps: int) -> str | None:
    """A step's work directory: the job's, or for a multi-step job a private one inside
    it (file names of map outputs, runs and parts repeat from step to step)."""
    if workdir is None or steps == 1:
        return workdir
    return os.path.join(workdir, f"step-{number}")


def _add_step_counters(totals: Counters, step: Counters, number: int, steps: int) -> None:
    """Add a step's counters to the job's; ``output_keys`` is the last step's alone, and
    each step's built-ins are also kept in group ``mapred.step<N>``."""
    builtin = totals[BUILTIN_GROUP]
    output_keys = step.get(BUILTIN_GROUP, {}).get(OUTPUT_KEYS, 0)
    merge_into(totals, step)
    builtin[OUTPUT_KEYS] = output_keys
    if steps > 1:
        totals[f"{BUILTIN_GROUP}.step{number}"] = dict(step.get(BUILTIN_GROUP, {}))


def next_inputs(results: list[ReduceResult], emitted: bool) -> Iterator[dict[str, Any]]:
    """The next step's map task inputs: one per part of this step, in order, read by the
    worker (a path in the job's directory, or on Dask the key of the task holding it)."""
    layout = "emitted" if emitted else "pairs"
    for result in results:
        yield {
            "part": result.path if result.path is not None else result.data or b"",
            "layout": layout,
        }


def pickle_functions(functions: Mapping[str, Any], pickled: bool) -> dict[str, bytes | None]:
    """The job's functions as they travel in the JobSpec: cloudpickled by name.

    With ``pickled`` False (the functions run in this process) they are only checked
    to be callable, and stand as ``b""``. A missing function (no reducer: a map-only
    step; no combiner, partitioner or value key) is None.
    """
    result: dict[str, bytes | None] = {}
    for name, function in functions.items():
        if function is None and name in ("reducer", "combiner", "partitioner", "value_key"):
            result[name] = None
        elif not pickled:
            if not callable(function):
                raise TypeError(f"{name} must be callable, got {type(function).__name__}")
            result[name] = b""
        else:
            result[name] = dumps_function(function, name)
    return result


def plan_map_tasks(data: Any, chunksize: int | None) -> Iterator[dict[str, Any]]:
    """Yield the input of each map task, lazily: file splits first, then record splits
    (each with the position of its first record: it names a skipped record)."""
    if isinstance(data, TextInput):
        for split in data.plan_splits():
            yield {
                "split": split,
                "encoding": data.encoding,
                "errors": data.errors,
                "with_path": data.with_path,
            }
        for stream in data.streams:
            lines: Iterator[Any] = iter_stream_lines(stream, data.encoding, data.errors)
            if data.with_path:
                lines = zip(itertools.repeat(stream), lines)
            first = 0
            for records in iter_record_splits(lines, chunksize):
                yield {"records": records, "first": first, "stream": stream}
                first += len(records)
        return
    first = 0
    for records in iter_record_splits(data, chunksize):
        yield {"records": records, "first": first}
        first += len(records)


def _describe_output(results: list[ReduceResult], counters: Counters, step: Step) -> bytes:
    """What ``output=DIR`` holds, for :func:`mapred.open_output` (the ``_SUCCESS`` file)."""
    return job_record(
        kind="pairs" if emits_pairs(step.reducer) or step.reducer is None else "values",
        parts=len(results),
        natural=merge_natively(r.family for r in results),
        custom_partitioner=step.partitioner is not None,
        output_keys=counters[BUILTIN_GROUP][OUTPUT_KEYS],
    )


def _assemble(
    results: list[ReduceResult],
    counters: Counters,
    elapsed: float,
    spec: JobSpec,
    step: Step,
) -> Result | OutputResult | PairsResult | OutputPairs:
    """The job's result from its last step's parts: a dict by key, or pairs in order."""
    pairs = emits_pairs(step.reducer) or step.reducer is None
    natural = merge_natively(r.family for r in results)
    if spec.output_dir is not None:
        parts = [storage.join(spec.output_dir, part_name(r.partition)) for r in results]
        if pairs:
            return OutputPairs(spec.output_dir, parts, counters, elapsed, spec.output_options)
        partitioner = step.partitioner
        partition = (
            checked_partitioner(partitioner, spec.reducers)
            if partitioner is not None
            else (lambda key: partition_for(key, spec.reducers))
        )
        return OutputResult(
            spec.output_dir, parts, counters, elapsed, partition, natural, spec.output_options
        )
    sources = [r.path if r.path is not None else r.data or b"" for r in results]
    if pairs:
        # An emitting reducer's parts carry its keys' family; a map-only step's, none.
        by_origin = natural and step.reducer is not None
        return PairsResult(read_emitted(sources, by_origin), counters, elapsed)
    return Result(read_parts_sorted(sources, natural), counters, elapsed)
