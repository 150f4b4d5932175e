r"""Run jobs on a Dask cluster: the driver still schedules, Dask places tasks and moves bytes.

::

    driver (Driver)              Dask scheduler                     Dask workers
    submit(MapTask i) ──► mapred-map-<job>-<i>-<a> ─────────► execute_map_task: the worker
                             │                                 reads its own split
                             ├─► mapred-mapinfo-…  counters, bytes read ──► Event "done"
                             └─► mapred-part-…-<p>  partition p's batches,
                                                    kept on a worker as a future
    forward(i, [part future]) ─► ReduceTask p waits here until every map is in, then
                                 mapred-reduce-<job>-<p>-<a> ◄── the part futures of every
                                 map task, in map order (Dask moves them worker to worker)
                                   └─► ReduceResult(data=bytes) ──► Event "done"

*The driver* (:class:`~mapred.driver.Driver`) is the one scheduler, exactly as with local
processes: a slot is a task in flight, ``slots()`` is ``TASKS_PER_THREAD`` x the cluster's
worker threads, so the input is read ahead by that many tasks and no more. The same
stage functions (:func:`~mapred.maptask.execute_map_task`, :class:`~mapred.reducetask.ReduceState`)
run as Dask tasks; this module only wraps them.

*Map output stays on the workers.* A map task's result is split into one small Dask task
per partition; the driver receives only the counters and forwards *futures*, and a reduce
task takes its partition of every map task as dependencies, so the shuffle goes worker to
worker and never through the driver. The job's functions travel once per job, as the
result of a ``mapred-spec-<job>`` task (recomputed, unlike scattered data, if every worker
holding it dies).

*Errors.* A user exception is packed on the worker (:func:`~mapred.errors.pack_exception`,
type, notes and traceback text) inside a :class:`TaskFailed`; the driver raises the
original. Tasks are submitted with Dask's ``retries=0``: Dask's ``retries`` re-runs tasks
that *raised*, and a user exception must stop the job (SPEC 5), never run again.

*Dead workers.* Dask itself re-runs a task whose worker died (up to the scheduler's
``distributed.scheduler.allowed-failures``, then ``KilledWorker``), and re-runs finished
map tasks whose output died with a worker. So that ``max_retries`` still means what it
means locally, every attempt announces its start to the scheduler before any user code
runs (an event on a topic private to this backend); a task that starts more than
``1 + max_retries`` times ends the job with
:class:`~mapred.errors.WorkerLost`, a ``KilledWorker`` with attempts left becomes a
``"died"`` event (the driver submits a new attempt), and Dask's own re-runs are added to
the ``task_retries`` counter of the next result. Output of a dead attempt is never
counted: only the attempt whose result the driver receives is committed.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import shutil
import tempfile
import threading
import traceback
import uuid
import weakref
from collections import OrderedDict
from copy import copy
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast

from mapred.backends.base import Event
from mapred.counters import TASK_RETRIES, add_builtin
from mapred.errors import MapredError, WorkerLost, pack_exception, short_repr
from mapred.job import JobSpec, LoadedJob
from mapred.maptask import MapResult, MapTask, execute_map_task
from mapred.reducetask import ReduceResult, ReduceState, ReduceTask
from mapred.serde import dumps, loads
from mapred.worker import _as_task_error

# Importable without Dask (pytest's doctest collection imports every module); asking for
# the backend is what fails then, with an ImportError naming the extra.
_missing: ImportError | None = None
try:
    from distributed import KilledWorker, get_worker
    from distributed.utils import sync
except ImportError as exc:  # tested in a subprocess without Dask
    _missing = exc

logger = logging.getLogger(__name__)

# distributed.Client and distributed.Future: most of their methods carry no annotations,
# so mypy --strict would reject every call; they are Any here.
DaskClient = Any
DaskFuture = Any

# Tasks in flight per worker thread of the cluster: two keep every thread busy while the
# driver collects results and plans the next split; more would only hold more input in
# the cluster's memory (for iterable input, the records of every task in flight).
TASKS_PER_THREAD = 2
MIN_SLOTS = 2  # a cluster whose workers are still starting gets tasks queued all the same
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


# ---------------------------------------------------------------------------------------------
# Worker side: module-level functions, so Dask workers import them by name.

_loaded_jobs: OrderedDict[str, LoadedJob] = OrderedDict()
_loaded_lock = threading.Lock()  # a worker runs one task per thread, several at once


def _job_spec(spec: JobSpec) -> JobSpec:
    """The ``mapred-spec-<job>`` task: holds the job's pickled functions on the cluster."""
    return spec


def _loaded(spec: JobSpec) -> LoadedJob:
    """The job's functions, unpickled once per worker process and job."""
    with _loaded_lock:
        job = _loaded_jobs.get(spec.job_id)
        if job is not None:
            _loaded_jobs.move_to_end(spec.job_id)
            return job
    try:
        job = LoadedJob(spec)  # outside the lock: a racing thread loads it twice, harmlessly
    except Exception as exc:
        exc.add_note(
            "mapred: loading the job's functions on a Dask worker failed; the modules "
            "they use must be importable on every worker"
        )
        raise
    with _loaded_lock:
        _loaded_jobs[spec.job_id] = job
        while len(_loaded_jobs) > LOADED_JOBS_KEPT:
            _loaded_jobs.popitem(last=False)
    return job


def _announce(topic: str, job_id: str, phase: str, index: int) -> None:
    """Tell the driver an attempt starts: how it learns that Dask re-ran a task.

    A round trip to the scheduler, before any user code runs: ``Worker.log_event``
    would only queue the message, and a worker killed within milliseconds takes it
    along. The scheduler passes the event to the client ahead of the task's result.
    """
    try:
        worker = get_worker()
    except ValueError:  # called outside a Dask worker
        return
    message = [job_id, phase, index]
    try:
        sync(worker.loop, worker.scheduler.log_event, topic=topic, msg=message)
    except Exception:  # the scheduler is unreachable just now: the queued way, at least
        logger.debug("could not announce %s task %s", phase, index, exc_info=True)
        worker.log_event(topic, message)


def _failed(exc: BaseException) -> TaskFailed:
    """Pack a task's exception for the driver, as the local worker loop does."""
    error = _as_task_error(exc)
    if isinstance(error, Exception) and not getattr(error, "__notes__", None):
        error.add_note("mapred: on a Dask worker, before the task's user code ran")
    text = "".join(traceback.format_exception(error))
    # Importing distributed installs tblib, which pickles an exception together with its
    # traceback, cause and context: the driver would show the worker's frames twice, and
    # a context that will not unpickle would cost the exception its type. The traceback
    # travels as text (the driver chains it as __cause__), as pack_exception intends.
    error.__traceback__ = error.__cause__ = error.__context__ = None
    payload, fallback, _ = pickle.loads(pack_exception(error))
    packed = pickle.dumps((payload, fallback, text))
    return TaskFailed(packed, f"{type(error).__name__}: {short_repr(str(error))}")


def _run_map(spec: JobSpec, index: int, task: bytes, topic: str) -> MapResult:
    """A map task attempt (``task``: a pickled MapTask); its result stays on the worker."""
    _announce(topic, spec.job_id, "map", index)
    try:
        return execute_map_task(_loaded(spec), loads(task))
    except BaseException as exc:  # SystemExit from user code too: it fails this task
        failure = _failed(exc)
    # Raised outside the except block, so the user's exception is not its __context__:
    # Dask pickles that too (tblib), and one that will not pickle would replace ours.
    raise failure


def _map_info(result: MapResult) -> MapResult:
    """What the driver needs of a map result: counters and bytes read, no batches."""
    return replace(result, batches=[])


def _map_partition(result: MapResult, partition: int) -> list[Any]:
    """One partition's batches of a map result, for the reduce task that wants them."""
    return result.batches[partition]


def _run_reduce(
    spec: JobSpec, task: ReduceTask, parts: list[list[list[Any]]], topic: str
) -> ReduceResult:
    """A reduce task attempt over its partition of every map task, in map order.

    ``parts[i]`` holds map task ``i``'s batch lists for this partition. Spill runs
    go to a private directory in the worker's local directory; the output comes back
    as bytes, or goes to ``spec.output_dir`` (which every worker must see).
    """
    _announce(topic, spec.job_id, "reduce", task.partition)
    try:
        scratch = tempfile.mkdtemp(prefix="mapred-", dir=_local_directory())
        try:
            job = copy(_loaded(spec))
            job.spec = replace(spec, workdir=scratch)
            state = ReduceState(job, task)
            for index, batch_lists in enumerate(parts):
                state.add(index, [batch for batches in batch_lists for batch in batches])
            result = state.finish()
            if spec.output_dir is None and result.path is not None:
                with open(result.path, "rb") as file:
                    result = replace(result, path=None, data=file.read())
            return result
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException as exc:
        failure = _failed(exc)
    raise failure  # outside the except block: see _run_map


def _local_directory() -> str | None:
    try:
        directory: str = get_worker().local_directory
    except ValueError:
        return None
    return directory


# ---------------------------------------------------------------------------------------------
# Driver side


@dataclass
class _Running:
    """A task on a slot: its futures, and for a reduce task, the map output it has."""

    task: MapTask | ReduceTask
    watched: DaskFuture | None = None  # done means the task is done (None: a reduce not yet sent)
    futures: list[DaskFuture] = field(default_factory=list)  # cancelled by reset()
    parts: list[DaskFuture] = field(default_factory=list)  # a map task's output, per partition
    received: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # map index -> parts

    def phase_index(self) -> tuple[str, int]:
        if isinstance(self.task, MapTask):
            return "map", self.task.index
        return "reduce", self.task.partition


@dataclass(frozen=True)
class _Restarted:
    """A task started more often than ``1 + max_retries`` times: its workers kept dying."""

    phase: str
    index: int
    starts: int


class DaskBackend:
    """Slots on a Dask cluster, driven by :class:`~mapred.driver.Driver`.

    Args:
        client: a connected, synchronous ``distributed.Client``. The backend never
            closes it: it belongs to the caller.
    """

    def __init__(self, client: DaskClient) -> None:
        if _missing is not None:
            raise ImportError(
                "the Dask backend needs dask.distributed, which is not installed: "
                "pip install 'mapred[dask]'"
            ) from _missing
        if getattr(client, "asynchronous", False):
            raise ValueError("backend= needs a synchronous dask.distributed.Client")
        if client.status not in ("running", "connecting", "newly-created"):
            raise ValueError(f"the Dask client is {client.status}; give a connected Client")
        self.client: DaskClient = client
        self._topic = f"mapred-starts-{uuid.uuid4().hex}"
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()  # _starts is written by the client's event loop thread
        self._starts: dict[tuple[str, int], int] = {}
        self._attempts: dict[tuple[str, int], int] = {}
        self._retries_reported = 0
        self._job_id: str | None = None
        self._max_retries = 0
        self._reduces_left = 0
        self._spec: DaskFuture | None = None
        self._closed = False
        client.subscribe_topic(self._topic, _weak_handler(self._on_start))

    def threads(self) -> int:
        """Worker threads in the cluster now."""
        return sum(self.client.nthreads().values())

    def slots(self) -> int:
        return max(MIN_SLOTS, TASKS_PER_THREAD * self.threads())

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        if spec.job_id != self._job_id:
            self._start_job(spec)
        if isinstance(task, MapTask):
            self._running[slot] = self._submit_map(slot, spec, task)
            return
        entry = _Running(task, received=dict(task.committed))
        self._running[slot] = entry
        self._submit_reduce_when_complete(slot, entry)

    def _start_job(self, spec: JobSpec) -> None:
        with self._lock:
            self._job_id = spec.job_id
            self._starts = {}
        self._attempts = {}
        self._retries_reported = 0
        self._max_retries = spec.max_retries
        self._reduces_left = spec.reducers
        while True:  # futures of the last job's cancelled tasks: release them
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                break
        self._spec = self.client.submit(
            _job_spec, spec, key=f"mapred-spec-{spec.job_id}", pure=False
        )

    def _submit_map(self, slot: int, spec: JobSpec, task: MapTask) -> _Running:
        if (
            task.split is not None
            and not os.path.isabs(task.split.path)
            and "://" not in task.split.path
        ):
            # Workers do not share the driver's working directory.
            task = replace(task, split=replace(task.split, path=os.path.abspath(task.split.path)))
        name = f"{spec.job_id}-{task.index}-{task.attempt}"
        # Pickled here, unpickled by the task: the Dask scheduler unpickles the arguments
        # it is sent, and the records of an iterable are the user's objects, whose classes
        # it may not have (or which may do anything when unpickled).
        output = self.client.submit(
            _run_map,
            self._spec,
            task.index,
            dumps(task),
            self._topic,
            key=f"mapred-map-{name}",
            pure=False,
        )
        info = self.client.submit(_map_info, output, key=f"mapred-mapinfo-{name}", pure=False)
        partitions = range(spec.reducers)
        parts = self.client.map(
            _map_partition,
            [output] * spec.reducers,
            partitions,
            key=[f"mapred-part-{name}-{p}" for p in partitions],
            pure=False,
        )
        self._attempts["map", task.index] = task.attempt
        info.add_done_callback(partial(self._finished, slot))
        return _Running(task, watched=info, futures=[output, info, *parts], parts=parts)

    def forward(self, slot: int, map_index: int, batches: Any) -> None:
        entry = self._running.get(slot)
        if entry is None or not isinstance(entry.task, ReduceTask):
            return
        entry.received[map_index] = tuple(batches)
        self._submit_reduce_when_complete(slot, entry)

    def _submit_reduce_when_complete(self, slot: int, entry: _Running) -> None:
        task = entry.task
        assert isinstance(task, ReduceTask)
        if entry.watched is not None or len(entry.received) < task.n_maps:
            return
        parts = [list(entry.received[index]) for index in range(task.n_maps)]
        entry.received = {}
        future = self.client.submit(
            _run_reduce,
            self._spec,
            replace(task, committed=()),
            parts,
            self._topic,
            key=f"mapred-reduce-{self._job_id}-{task.partition}-{task.attempt}",
            pure=False,
        )
        self._attempts["reduce", task.partition] = task.attempt
        entry.watched = future
        entry.futures = [future]
        future.add_done_callback(partial(self._finished, slot))

    def _finished(self, slot: int, future: DaskFuture) -> None:
        """Runs in Dask's callback thread: hand the finished future to :meth:`wait`."""
        self._inbox.put((slot, future))

    def _on_start(self, event: tuple[float, Any]) -> None:
        """Runs in the client's event loop: an attempt started on a worker."""
        job_id, phase, index = event[1]
        with self._lock:
            if job_id != self._job_id:
                return
            starts = self._starts[phase, index] = self._starts.get((phase, index), 0) + 1
        if starts > 1 + self._max_retries:
            self._inbox.put(_Restarted(phase, index, starts))

    def wait(self, timeout: float) -> list[Event]:
        try:
            items = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        finished: list[tuple[int, _Running, DaskFuture]] = []
        failed: list[tuple[int, _Running, DaskFuture]] = []
        for item in items:
            if isinstance(item, _Restarted):
                raise self._lost(item.phase, item.index, item.starts - 1)
            slot, future = item
            entry = self._running.get(slot)
            if entry is None or entry.watched is None or entry.watched is not future:
                continue  # reset, or a stale attempt's future
            # "lost" (finished, then its worker died) counts as finished: gather waits for
            # Dask to compute it again.
            erred = future.status in ("error", "cancelled")
            (failed if erred else finished).append((slot, entry, future))
        # Results before failures: a result that arrived counts even if the job now stops.
        events = self._results(finished)
        events.extend(self._failure(slot, entry, future) for slot, entry, future in failed)
        for event in events:
            del self._running[event.slot]
        return events

    def _results(self, finished: list[tuple[int, _Running, DaskFuture]]) -> list[Event]:
        if not finished:
            return []
        try:
            values = self.client.gather([future for _, _, future in finished])
        except Exception:  # one was lost meanwhile: take them one at a time
            values = None
        events = []
        for position, (slot, entry, future) in enumerate(finished):
            if values is None:
                try:
                    value = future.result()
                except Exception:
                    events.append(self._failure(slot, entry, future))
                    continue
            else:
                value = values[position]
            if isinstance(entry.task, MapTask):
                batches = [[cast(Any, part)] for part in entry.parts]
                value = replace(value, batches=batches)
            else:
                self._reduces_left -= 1
                if self._reduces_left == 0:  # the job's last task: the cluster may forget it
                    self._spec = None
            retries = self._new_retries()
            if retries:
                add_builtin(value.counters, TASK_RETRIES, retries)
            events.append(Event(slot, "done", value))
        return events

    def _failure(self, slot: int, entry: _Running, future: DaskFuture) -> Event:
        """The Event for a task whose future erred or was cancelled (or raise WorkerLost)."""
        describe = entry.task.describe()
        if future.status == "cancelled":
            cancelled = MapredError(f"{describe} was cancelled on the Dask cluster")
            cancelled.add_note("mapred: was the client or the cluster restarted during the job?")
            return Event(slot, "error", pack_exception(cancelled))
        exc = future.exception()
        if isinstance(exc, TaskFailed):
            return Event(slot, "error", exc.packed)
        if isinstance(exc, KilledWorker):
            if exc.task not in {f.key for f in entry.futures}:
                # Map output this reduce task needs died with its workers, and running the
                # map task again killed a worker every time.
                raise WorkerLost(
                    f"{describe} lost its input, Dask task {exc.task}, with the workers that "
                    f"held or re-ran it ({exc})",
                    task=describe,
                )
            phase, index = entry.phase_index()
            starts = self._starts.get((phase, index), 0)
            if starts >= 1 + self._max_retries:
                raise self._lost(phase, index, starts)
            return Event(slot, "died", None)
        error: BaseException = exc if exc is not None else MapredError(f"{describe} failed")
        # Not a user exception (those come as TaskFailed): the cluster could not run the
        # task, e.g. a worker could not unpickle it.
        error.add_note(f"mapred: {describe} failed on the Dask cluster before its user code ran")
        if isinstance(error, ImportError):
            error.add_note("mapred: is mapred installed on every Dask worker?")
        return Event(slot, "error", pack_exception(error))

    def _lost(self, phase: str, index: int, attempts: int) -> WorkerLost:
        describe = f"{phase} task {index}"
        for entry in self._running.values():
            if entry.phase_index() == (phase, index):
                describe = entry.task.describe()
        return WorkerLost(
            f"{describe} lost its worker on all {attempts} attempts "
            "(last: a Dask worker died while running it or holding its output; "
            f"max_retries={self._max_retries})",
            task=describe,
        )

    def _new_retries(self) -> int:
        """Dask's own re-runs since the last call: starts beyond the driver's attempts."""
        with self._lock:
            total = sum(
                max(0, starts - self._attempts.get(task, 1))
                for task, starts in self._starts.items()
            )
        new = max(0, total - self._retries_reported)
        self._retries_reported = max(total, self._retries_reported)
        return new

    def reset(self, slot: int) -> None:
        entry = self._running.pop(slot, None)
        if entry is not None and entry.futures:
            self._cancel(entry.futures)

    def _cancel(self, futures: list[DaskFuture]) -> None:
        # A task that already runs finishes on its worker (Dask cannot stop a thread); its
        # result is released, never read.
        try:
            self.client.cancel(futures)
        except Exception:  # the caller may have closed the client already
            logger.debug("could not cancel %d Dask futures", len(futures), exc_info=True)

    def close(self) -> None:
        """Cancel what is still running; the client stays open (it is the caller's)."""
        if self._closed:
            return
        self._closed = True
        futures = [future for entry in self._running.values() for future in entry.futures]
        self._running.clear()
        self._spec = None
        if futures:
            self._cancel(futures)
        try:
            self.client.unsubscribe_topic(self._topic)
        except Exception:
            logger.debug("could not unsubscribe from %s", self._topic, exc_info=True)
        # unsubscribe_topic() tells the scheduler but keeps the handler (distributed
        # 2026.8): drop it, or every job would leave one behind on a long-lived client.
        handlers = getattr(self.client, "_event_handlers", None)
        if isinstance(handlers, dict):
            handlers.pop(self._topic, None)


def _weak_handler(method: Any) -> Any:
    """An event handler that does not keep its backend alive (the client outlives it)."""
    ref = weakref.WeakMethod(method)

    def handle(event: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(event)

    return handle
