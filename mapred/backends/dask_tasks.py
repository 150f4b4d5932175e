"""The functions that run inside Dask tasks, on the workers, for :mod:`mapred.backends.dask`.

Module-level, so that Dask workers import them by name. Each runs a stage function of
:mod:`mapred.maptask` or :mod:`mapred.reducetask` for one attempt, announcing its start
first (how the backend learns that Dask re-ran a task whose worker died), and raises a
user exception as a :class:`TaskFailed` packed by :func:`mapred.errors.pack_exception`,
as the local worker loop does.
"""

from __future__ import annotations

import heapq
import logging
import os
import shutil
import tempfile
from copy import copy
from dataclasses import replace
from operator import itemgetter

from mapred.backends.dask_notes import DeathFound, deaths_here, note_file
from mapred.collector import job_thresholds
from mapred.errors import MapredError, pack_exception, safe_str, short_repr, task_error
from mapred.job import JobLoader, JobSpec
from mapred.maptask import MapResult, MapTask, execute_map_task
from mapred.reducetask import ReduceResult, ReduceState, ReduceTask
from mapred.serde import loads
from mapred.shuffle import Batch
from mapred.skipping import notes_at

# Importable without Dask (pytest's doctest collection imports every module); the
# backend refuses to start without it.
try:
    from distributed import get_worker
    from distributed.comm.addressing import get_address_host
    from distributed.utils import sync
except ImportError:  # tested in a subprocess without Dask
    pass

logger = logging.getLogger(__name__)

LOADED_JOBS_KEPT = 4  # jobs whose unpickled functions a worker process keeps


class TaskFailed(Exception):
    """A task's exception, packed on the worker, on its way to the driver through Dask.

    ``packed`` comes from :func:`mapred.errors.pack_exception`: the driver rebuilds the
    original exception from it, type, notes and the worker's traceback included.
    """

    def __init__(self, packed: bytes, summary: str) -> None:
        super().__init__(packed, summary)

    @property
    def packed(self) -> bytes:
        packed: bytes = self.args[0]
        return packed

    def __str__(self) -> str:  # what Dask's worker log and dashboard show
        summary: str = self.args[1]
        return summary

    def __repr__(self) -> str:
        return f"TaskFailed({self})"


_loader = JobLoader(keep=LOADED_JOBS_KEPT)  # jobs whose functions this worker process has

# A step's output as it stays on the cluster for the next step: a reduce task's result,
# or a map-only step's map task result (its part).
StepOutput = ReduceResult | MapResult


def job_spec(spec: JobSpec) -> JobSpec:
    """The ``mapred-spec-<job>`` task: holds the job's pickled functions on the cluster."""
    return spec


def _announce(
    topic: str, job_id: str, phase: str, index: int, attempt: int, note: str | None = None
) -> None:
    """Tell the backend an attempt starts: how it learns that Dask re-ran a task.

    A round trip to the scheduler, before any user code runs: ``Worker.log_event``
    would only queue the message, and a worker killed within milliseconds takes it
    along. The scheduler passes the event to the client ahead of the task's result.
    ``note``: where a map attempt run with ``max_skipped`` keeps its note; the message
    says on which host, with the worker's nanny and pid (a ``dask_notes.Start``).
    """
    try:
        worker = get_worker()
    except ValueError:  # called outside a Dask worker
        return
    where = None
    if note is not None:
        where = [get_address_host(worker.address), note, worker.nanny, os.getpid()]
    message = [job_id, phase, index, attempt, where]
    try:
        sync(worker.loop, worker.scheduler.log_event, topic=topic, msg=message)
    except Exception:  # the scheduler is unreachable just now: the queued way, at least
        logger.debug("could not announce %s task %s", phase, index, exc_info=True)
        worker.log_event(topic, message)


def _failed(exc: BaseException) -> TaskFailed:
    """Pack a task's exception for the driver, as the local worker loop does."""
    error = task_error(exc, "on a Dask worker")
    return TaskFailed(
        pack_exception(error), f"{type(error).__name__}: {short_repr(safe_str(error))}"
    )


def run_map(
    spec: JobSpec,
    index: int,
    attempt: int,
    task: bytes,
    topic: str,
    part: StepOutput | None = None,
) -> MapResult:
    """A map task attempt (``task``: a pickled MapTask); its result stays on the worker.

    ``part``: the previous step's output this task maps, the result of the task that
    made it (Dask brings it from the worker holding it), when the driver gave its key.
    """
    note = None
    if spec.max_skipped:
        found = deaths_here(spec.job_id, index, attempt)
        if found is not None:  # an earlier start died here: end the attempt, no user code
            raise DeathFound(*found)
        note = note_file(spec.job_id, index, attempt, _nanny())
    _announce(topic, spec.job_id, "map", index, attempt, note)
    try:
        loaded: MapTask = loads(task)
        if part is not None:
            loaded = replace(loaded, part=part_bytes(part))
        with job_thresholds(), notes_at(note):
            return execute_map_task(_loader.load(spec), loaded)
    except BaseException as exc:  # SystemExit from user code too: it fails this task
        failure = _failed(exc)
    # Raised outside the except block, so the user's exception is not its __context__:
    # Dask pickles that too (tblib), and one that will not pickle would replace ours.
    raise failure


def map_info(result: MapResult, keep_part: bool = True) -> MapResult:
    """What the driver needs of a map result: counters and bytes read, no batches; a
    map-only step's part without its bytes too, unless ``keep_part`` (the job's last step:
    the driver reads them)."""
    if result.part is not None and not keep_part:
        return replace(result, batches=[], part=reduce_info(result.part))
    return replace(result, batches=[])


def reduce_info(result: ReduceResult) -> ReduceResult:
    """What the driver needs of a step's part that stays on its worker: no bytes."""
    return replace(result, data=None)


def part_bytes(output: StepOutput) -> bytes:
    """The encoded part a step's task made, from its result on the cluster."""
    part = output.part if isinstance(output, MapResult) else output
    if part is None or part.data is None:
        raise MapredError(f"a previous step's part {part!r} holds no data on the cluster")
    return part.data


# What a reduce task receives of one map task: its index and its batches for the partition.
Piece = tuple[int, list[Batch]]


def group_partitions(indices: list[int], *results: MapResult) -> list[list[Piece]]:
    """The ``mapred-group-…`` task: the map results one worker holds, cut by partition.

    ``results[k]`` is map task ``indices[k]``'s result. Item ``p`` of the answer lists
    partition ``p``'s batches of each of them, in map order (empty ones too: a reduce
    task ingests map index after map index), so
    that one :func:`pick_partition` task per worker, not one per map task, serves a
    reduce task. The batches are the map results' own objects: on the worker holding
    them, nothing is copied.
    """
    if not results:
        return []
    return [
        [(index, result.batches[p]) for index, result in zip(indices, results, strict=True)]
        for p in range(len(results[0].batches))
    ]


def pick_partition(grouped: list[list[Piece]], partition: int) -> list[Piece]:
    """One partition of a worker's grouped map output: what travels to a reduce task."""
    return grouped[partition] if grouped else []


def run_reduce(
    spec: JobSpec, task: ReduceTask, pieces: list[list[Piece]], topic: str
) -> ReduceResult:
    """A reduce task attempt over its partition of every map task, in map order.

    ``pieces`` holds one :func:`pick_partition` result per group of map tasks (per worker
    that held their output); each is in map order, and together they are sorted again
    here, by map index. Spill runs go to a private directory in the worker's local
    directory; the output is the result's bytes (which stay on the worker when the next
    step reads them), or goes to ``spec.output_dir`` (which every
    worker must see).
    """
    _announce(topic, spec.job_id, "reduce", task.partition, task.attempt)
    try:
        scratch = tempfile.mkdtemp(prefix="mapred-", dir=_local_directory())
        try:
            job = copy(_loader.load(spec))
            job.spec = replace(spec, workdir=scratch)
            state = ReduceState(job, task)
            with job_thresholds():
                for index, batches in heapq.merge(*pieces, key=itemgetter(0)):
                    state.add(index, batches)
                result = state.finish()
            if spec.output_dir is None and result.path is not None:
                with open(result.path, "rb") as file:
                    result = replace(result, path=None, data=file.read())
            return result
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException as exc:
        failure = _failed(exc)
    raise failure  # outside the except block: see run_map


def _nanny() -> str | None:
    try:
        nanny = get_worker().nanny  # its address
    except ValueError:
        return None
    return nanny if isinstance(nanny, str) else None


def _local_directory() -> str | None:
    try:
        directory: str = get_worker().local_directory
    except ValueError:
        return None
    return directory
