r"""Run jobs on a Dask cluster: the driver still schedules, Dask places tasks and moves bytes.

::

    driver (Driver)              Dask scheduler                     Dask workers
    submit(MapTask i) ──► mapred-map-<job>-<i>-<a> ─────────► execute_map_task: the worker
                             │                                 reads its own split; the
                             │                                 result (every partition's
                             │                                 batches) stays on it
                             └─► mapred-mapinfo-…  counters, bytes read ──► Event "done"
    every map task in:       mapred-group-<job>-<w>   one per worker holding map results:
                             │                        cuts them by partition, where they are
                             └─► mapred-pick-<job>-<w>-<p>  partition p of group w only,
                                                            on the same worker
    ReduceTask p ──────────► mapred-reduce-<job>-<p>-<a> ◄── pick p of every group,
                                 ingested in map order (Dask moves them worker to worker)
                                   └─► ReduceResult(data=bytes) ──► Event "done"
    a step before the last:        └─► mapred-reduceinfo-…  no bytes ──► Event "done"
                                       (the part stays on its worker; the driver holds
    next step's MapTask(part=key) ──►  its key, and the map task depends on it)

*The driver* (:class:`~mapred.driver.Driver`) is the one scheduler, exactly as with local
processes: a slot is a task in flight, ``slots()`` is ``TASKS_PER_THREAD`` x the cluster's
worker threads, so the input is read ahead by that many tasks and no more. The same
stage functions (:func:`~mapred.maptask.execute_map_task`, :class:`~mapred.reducetask.ReduceState`)
run as Dask tasks, wrapped by :mod:`mapred.backends.dask_tasks` (what runs on the
workers); this module is the driver's side.

*Map output stays on the workers.* A map task's result stays whole on its worker; the
driver receives only the counters (a ``mapred-mapinfo`` task) and forwards the result's
*key*. Once every map task is in, :mod:`mapred.backends.dask_shuffle` cuts the results
by partition on each worker that holds some (a group, then a pick per partition), and a
reduce task depends on its pick of every group: the shuffle goes worker to worker, never
through the driver, in about 2M + W(R + 1) + R Dask tasks (W workers), not M x R. The
job's functions travel once per job, as the result of a ``mapred-spec-<job>`` task
(recomputed, unlike scattered data, if every worker holding it dies).

*A step's output stays on the workers too* (:mod:`mapred.backends.dask_parts`): the
driver gets a part's key, counters and size, and the next step's map task over it
depends on its future. Only the last step's parts reach the driver.

*Errors.* A user exception is packed on the worker (:func:`~mapred.errors.pack_exception`,
type, notes and traceback text) inside a :class:`~mapred.backends.dask_tasks.TaskFailed`;
the driver raises the original. Tasks are submitted with Dask's ``retries=0``: Dask's
``retries`` re-runs tasks that *raised*, and a user exception must stop the job
(SPEC 5), never run again.

*Dead workers.* Dask itself re-runs a task whose worker died (up to the scheduler's
``distributed.scheduler.allowed-failures``, then ``KilledWorker``), and re-runs finished
map tasks whose output died with a worker. So that ``max_retries`` still means what it
means locally, every attempt announces its start to the scheduler before any user code
runs (an event on a topic private to this backend). A second start of one attempt is a
Dask re-run: it becomes a ``"died"`` event with ``restarted`` set (the driver counts the loss
and the task stays where it is), and a ``KilledWorker`` a plain ``"died"`` event (the
driver submits a new attempt). The driver alone decides when a task has lost too many
workers. Output of a dead attempt is never counted: only the attempt whose result the
driver receives is committed. With ``max_skipped``, a map attempt keeps its note of the
record it is on on its worker's host, and a restart's event carries the record its dead
start was on (:mod:`mapred.backends.dask_notes`): two deaths in a row on one record, and
the driver replaces Dask's re-run with an attempt that skips it, as with local processes.
"""

from __future__ import annotations

import logging
import os
import queue
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, cast

from mapred.backends.base import Backend, Death, Event, task_key
from mapred.backends.dask_notes import DeathFound, NoteReads, Restart, Starts
from mapred.backends.dask_parts import StepParts
from mapred.backends.dask_shuffle import cut_by_partition
from mapred.backends.dask_tasks import (
    TaskFailed,
    job_spec,
    map_info,
    reduce_info,
    run_map,
    run_reduce,
)
from mapred.backends.processes import exit_reason
from mapred.errors import MapredError, pack_exception
from mapred.job import JobSpec
from mapred.maptask import MapTask
from mapred.reducetask import ReduceTask
from mapred.serde import dumps

# Importable without Dask (pytest's doctest collection imports every module); asking for
# the backend is what fails then, with an ImportError naming the extra.
_missing: ImportError | None = None
try:
    from distributed import KilledWorker
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
# How a task's Dask worker died, as far as the driver can tell.
DASK_DEATH = "a Dask worker died while running it or holding its output"


@dataclass
class _Running:
    """A task on a slot: its futures, and for a reduce task, the map tasks it heard of."""

    task: MapTask | ReduceTask
    watched: DaskFuture | None = None  # done means the task is done (None: a reduce not yet sent)
    futures: list[DaskFuture] = field(default_factory=list)  # cancelled by reset()
    received: set[int] = field(default_factory=set)  # map indexes committed


_NOTE_READ = object()  # in the inbox: a dead start's note is read (mapred.backends.dask_notes)


class DaskBackend(Backend):
    """Slots on a Dask cluster, driven by :class:`~mapred.driver.Driver`.

    Args:
        client: a connected, synchronous ``distributed.Client``. The backend never
            closes it: it belongs to the caller.
    """

    shared_disk = False  # map output travels between workers as Dask results

    def __init__(self, client: DaskClient) -> None:
        if _missing is not None:
            raise ImportError(
                "the Dask backend needs dask.distributed, which is not installed: "
                "pip install '.[dask]' from a clone of mapred"
            ) from _missing
        if getattr(client, "asynchronous", False):
            raise ValueError("backend= needs a synchronous dask.distributed.Client")
        if client.status not in ("running", "connecting", "newly-created"):
            raise ValueError(f"the Dask client is {client.status}; give a connected Client")
        self.client: DaskClient = client
        self._topic = f"mapred-starts-{uuid.uuid4().hex}"
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._running: dict[int, _Running] = {}
        self._starts = Starts()  # of the attempts: a second one is a Dask re-run
        self._deferred: list[tuple[int, DaskFuture]] = []  # finished, after pending restarts
        self._notes = NoteReads(client, partial(self._inbox.put, _NOTE_READ))
        self._job_id: str | None = None
        self._reduces_left = self._reducers = 0
        self._spec: DaskFuture | None = None
        self._outputs: dict[int, DaskFuture] = {}  # committed map task -> its result
        self._shuffle: list[list[DaskFuture]] | None = None  # per group, per partition
        self._parts = StepParts()  # a step's output, held on the cluster for the next
        self._skipping = False
        self._closed = False
        client.subscribe_topic(self._topic, _weak_handler(self._on_start))

    def threads(self) -> int:
        """Worker threads in the cluster now."""
        return sum(self.client.nthreads().values())

    def slots(self) -> int:
        return max(MIN_SLOTS, TASKS_PER_THREAD * self.threads())

    def prepare(self, spec: JobSpec, functions: Mapping[str, Any]) -> None:
        """Start the job: its functions go to the cluster once, as a task's result."""
        self._notes.clear(self._starts.hosts())  # the job before's
        self._job_id = spec.job_id
        self._starts.job(spec.job_id)
        self._deferred = []
        self._reduces_left = self._reducers = spec.reducers
        self._skipping = spec.max_skipped > 0
        self._outputs = {}
        self._shuffle = None
        self._parts.start(spec)
        while True:  # futures of the last job's cancelled tasks: release them
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                break
        self._spec = self.client.submit(
            job_spec, spec, key=f"mapred-spec-{spec.job_id}", pure=False
        )

    def submit(self, slot: int, spec: JobSpec, task: Any) -> None:
        if spec.job_id != self._job_id:
            self.prepare(spec, {})
        if isinstance(task, MapTask):
            self._running[slot] = self._submit_map(slot, spec, task)
            return
        entry = _Running(task, received={index for index, _ in task.committed})
        self._running[slot] = entry
        self._submit_reduce_when_complete(slot, entry)

    def _submit_map(self, slot: int, spec: JobSpec, task: MapTask) -> _Running:
        if (
            task.split is not None
            and not os.path.isabs(task.split.path)
            and "://" not in task.split.path
        ):
            # Workers do not share the driver's working directory.
            task = replace(task, split=replace(task.split, path=os.path.abspath(task.split.path)))
        part = None
        if isinstance(task.part, str):  # the key of a previous step's output: bring it here
            part = self._parts.input(task.part)
            task = replace(task, part=None)
        name = f"{spec.job_id}-{task.index}-{task.attempt}"
        # Pickled here, unpickled by the task: the Dask scheduler unpickles the arguments
        # it is sent, and the records of an iterable are the user's objects, whose classes
        # it may not have (or which may do anything when unpickled). The map task and its
        # mapinfo go in one message (Client.get's graph: a tuple is a call, a key in it
        # stands for that task's result): the scheduler's cost is mostly per message.
        graph = {
            f"mapred-map-{name}": (
                run_map,
                self._spec,
                task.index,
                task.attempt,
                dumps(task),
                self._topic,
                part,
            ),
            f"mapred-mapinfo-{name}": (map_info, f"mapred-map-{name}", not self._parts.keeping),
        }
        output, info = self.client.get(graph, list(graph), sync=False)
        info.add_done_callback(partial(self._finished, slot))
        return _Running(task, watched=info, futures=[output, info])

    def forward(self, slot: int, map_index: int, batches: Any) -> None:
        entry = self._running.get(slot)
        if entry is None or not isinstance(entry.task, ReduceTask):
            return
        entry.received.add(map_index)
        self._submit_reduce_when_complete(slot, entry)

    def _submit_reduce_when_complete(self, slot: int, entry: _Running) -> None:
        """Once every map task is in: the reduce task, over its pick of every group."""
        task = entry.task
        assert isinstance(task, ReduceTask)
        if entry.watched is not None or len(entry.received) < task.n_maps:
            return
        picks = [by_partition[task.partition] for by_partition in self._picks(task.n_maps)]
        name = f"{self._job_id}-{task.partition}-{task.attempt}"
        future = self.client.submit(
            run_reduce,
            self._spec,
            replace(task, committed=()),
            picks,
            self._topic,
            key=f"mapred-reduce-{name}",
            pure=False,
        )
        entry.futures = [future]
        entry.watched = future
        if self._parts.keeping:  # the part stays where it is: the driver gets no bytes
            entry.watched = self.client.submit(
                reduce_info, future, key=f"mapred-reduceinfo-{name}", pure=False
            )
            entry.futures.append(entry.watched)
        entry.watched.add_done_callback(partial(self._finished, slot))

    def _picks(self, n_maps: int) -> list[list[DaskFuture]]:
        """The picks of the job's map output, per group and partition (made once)."""
        if self._shuffle is None:
            outputs = [self._outputs[index] for index in range(n_maps)]
            self._shuffle = cut_by_partition(self.client, self._job_id, outputs, self._reducers)
            self._outputs = {}  # the groups hold them now: let the picks replace them
            self._parts.release_inputs()
        return self._shuffle

    def _finished(self, slot: int, future: DaskFuture) -> None:
        """Runs in Dask's callback thread: hand the finished future to :meth:`wait`."""
        self._inbox.put((slot, future))

    def _on_start(self, event: tuple[float, Any]) -> None:
        """Runs in the client's event loop: an attempt started on a worker."""
        restart = self._starts.started(event[1])
        if restart is not None:  # Dask runs it again: the worker of its last start died
            self._inbox.put(restart)

    def wait(self, timeout: float) -> list[Event]:
        try:
            items = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            items = []
        while items:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        restarts: list[Event | None] = []
        done, self._deferred = self._deferred, []
        for item in items:
            if isinstance(item, Restart):
                if item.dead is not None and self._job_id is not None:
                    self._notes.read(self._job_id, item)  # its event waits for the note
                else:
                    restarts.append(self._restart(item))
            elif item is not _NOTE_READ:
                done.append(item)
        for restart, outcome in self._notes.ready():
            if outcome is not None:  # (None: the start that took the note reports it)
                record, exitcode = outcome
                restarts.append(self._restart(restart, record, _how(exitcode), exitcode))
        finished: list[tuple[int, _Running, DaskFuture]] = []
        failed: list[tuple[int, _Running, DaskFuture]] = []
        for slot, future in done:
            entry = self._running.get(slot)
            if entry is None or entry.watched is None or entry.watched is not future:
                continue  # reset, or a stale attempt's future
            if isinstance(entry.task, MapTask) and self._notes.pending(entry.task.index):
                self._deferred.append((slot, future))  # after its restarts' events
                continue
            # "lost" (finished, then its worker died) counts as finished: gather waits for
            # Dask to compute it again.
            erred = future.status in ("error", "cancelled")
            (failed if erred else finished).append((slot, entry, future))
        # Results before failures: a result that arrived counts even if the job now stops.
        events = self._results(finished)
        events.extend(self._failure(slot, entry, future) for slot, entry, future in failed)
        for event in events:
            del self._running[cast(int, event.slot)]
        return [event for event in restarts if event is not None] + events

    def _restart(
        self,
        restart: Restart,
        record: int | None = None,
        how: str = DASK_DEATH,
        exitcode: int | None = None,
    ) -> Event | None:
        """The "died" event of a task that Dask runs again, on its slot if it has one;
        with the record its dead start was on when that attempt is still on its slot.
        None for an attempt the driver gave up (reset): its deaths do not count."""
        if self._starts.abandoned(restart):
            return None
        task = (restart.phase, restart.index)
        slot = next(
            (
                s
                for s, e in self._running.items()
                if task_key(e.task) == task and e.task.attempt == restart.attempt
            ),
            None,
        )
        death = Death(
            how,
            exitcode,
            restarted=True,
            task=task,
            record=record if slot is not None else None,
        )
        return Event(slot, "died", death)

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
                # The output stays on its worker: the driver forwards a name, per partition.
                output = entry.futures[0]
                self._outputs[value.index] = output
                reference: list[Any] = [output.key]
                value = replace(value, batches=[reference] * self._reducers)
                if value.part is not None and self._parts.keeping:  # a map-only step's part
                    value = replace(value, part=self._parts.keep(value.part, output))
            else:
                if self._parts.keeping:
                    value = self._parts.keep(value, entry.futures[0])
                if self._shuffle is not None:  # its partition is reduced: let it go
                    for by_partition in self._shuffle:
                        by_partition[value.partition] = None
                self._reduces_left -= 1
                if self._reduces_left == 0:  # the job's last task: the cluster may forget it
                    self._spec = None
                    self._shuffle = None
            events.append(Event(slot, "done", value))
        return events

    def _failure(self, slot: int, entry: _Running, future: DaskFuture) -> Event:
        """The Event for a task whose future erred or was cancelled."""
        describe = entry.task.describe()
        if future.status == "cancelled":
            cancelled = MapredError(f"{describe} was cancelled on the Dask cluster")
            cancelled.add_note("mapred: was the client or the cluster restarted during the job?")
            return Event(slot, "error", pack_exception(cancelled))
        exc = future.exception()
        if isinstance(exc, TaskFailed):
            return Event(slot, "error", exc.packed)
        if isinstance(exc, DeathFound):  # a start found its attempt's death on its host
            if self._job_id is not None:
                self._notes.deaths(self._job_id)
            return Event(slot, "died", Death(_how(exc.exitcode), exc.exitcode, record=exc.record))
        if isinstance(exc, KilledWorker):
            if self._skipping and self._job_id is not None:  # notes nobody will read
                self._notes.deaths(self._job_id)
            if exc.task not in {f.key for f in entry.futures}:
                # Map output this reduce task needs died with its workers, and running the
                # map task again killed a worker every time.
                how = f"Dask task {exc.task} died with the workers that held or re-ran it ({exc})"
                return Event(slot, "died", Death(how, input_lost=True))
            return Event(slot, "died", Death(DASK_DEATH))
        error: BaseException = exc if exc is not None else MapredError(f"{describe} failed")
        # Not a user exception (those come as TaskFailed): the cluster could not run the
        # task, e.g. a worker could not unpickle it.
        error.add_note(f"mapred: {describe} failed on the Dask cluster before its user code ran")
        if isinstance(error, ImportError):
            error.add_note("mapred: is mapred installed on every Dask worker?")
        return Event(slot, "error", pack_exception(error))

    def reset(self, slot: int) -> None:
        entry = self._running.pop(slot, None)
        if entry is None:
            return
        task = entry.task
        self._starts.abandon(*task_key(task), task.attempt)
        if self._skipping and self._job_id is not None:  # a re-run may die on, noted
            self._notes.deaths(self._job_id)
        if entry.futures:
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
        self._outputs = {}
        self._shuffle = None
        self._parts.clear()
        if futures:
            self._cancel(futures)
        self._notes.clear(self._starts.hosts())
        try:
            self.client.unsubscribe_topic(self._topic)
        except Exception:
            logger.debug("could not unsubscribe from %s", self._topic, exc_info=True)
        # unsubscribe_topic() tells the scheduler but keeps the handler (distributed
        # 2026.8): drop it, or every job would leave one behind on a long-lived client.
        handlers = getattr(self.client, "_event_handlers", None)
        if isinstance(handlers, dict):
            handlers.pop(self._topic, None)


def _how(exitcode: int | None) -> str:
    """How a Dask worker died, for messages: as local processes say it, if known."""
    return DASK_DEATH if exitcode is None else exit_reason(exitcode)


def _weak_handler(method: Any) -> Any:
    """An event handler that does not keep its backend alive (the client outlives it)."""
    ref = weakref.WeakMethod(method)

    def handle(event: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(event)

    return handle
