"""What a worker needs to know about a job, sent once per job rather than per task."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mapred.serde import loads_function


@dataclass(frozen=True)
class JobSpec:
    """A job as it travels to workers: user functions pickled once by the driver.

    Attributes:
        job_id: unique per job; workers cache the loaded functions under it.
        mapper, combiner, reducer, partitioner: cloudpickled functions (or None).
        reducers: the number of reduce partitions.
        workdir: private directory for map output and spill files; None keeps map
            output in memory (the Dask backend ships it with the task result).
        memory_limit: shuffle memory budget of one reduce task, in bytes.
        map_memory: what one map task's buffer may hold, in bytes. It follows from the
            job's ``memory_limit`` alone, never from ``workers`` or ``reducers``: the
            buffer decides which values the combiner sees together, and SPEC 3 wants
            the same result for every ``workers``.
        output_dir: where reduce tasks write part files, or None for a temporary place;
            a local directory or a URL (see :mod:`mapred.storage`).
        output_options: fsspec storage options for an ``output_dir`` URL.
        live: where running map tasks report records read, when a progress bar is shown.
    """

    job_id: str
    mapper: bytes
    reducer: bytes
    combiner: bytes | None
    partitioner: bytes | None
    reducers: int
    workdir: str | None
    memory_limit: int
    output_dir: str | None = None
    map_memory: int = 1 << 28
    live: Any = None  # a Manager dict for live progress (LiveCounters.in_flight), or None
    output_options: Mapping[str, Any] | None = field(default=None, repr=False)


class TaskMapper:
    """A mapper that takes all the records of its map task at once, as an iterator.

    Made by :func:`mapred.task_mapper`. The map task calls it once, with a lazy
    iterator over its split's lines (or records), and takes the pairs it
    returns as made in that order.
    """

    def __init__(self, function: Callable[[Iterator[Any]], Any]) -> None:
        if not callable(function):
            raise TypeError(f"task_mapper() takes a function, got {type(function).__name__}")
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, records: Iterator[Any]) -> Any:
        return self.function(records)

    def __repr__(self) -> str:
        return f"task_mapper({self.function!r})"


def task_mapper(function: Callable[[Iterator[Any]], Any]) -> TaskMapper:
    """Mark a mapper as taking *all the records of its map task*, as an iterator.

    A per-record mapper pays the engine's per-pair cost for every pair it makes. A
    task mapper can aggregate in C over its whole split and return one pair
    per distinct key: Spark's ``mapPartitions``, Hadoop's in-mapper combining. The
    records stream (a split is never held in memory), and splits are cut the same
    way every time and on every backend, whatever ``workers`` is.

    >>> from collections import Counter
    >>> @task_mapper
    ... def count_words(lines):
    ...     return Counter(word for line in lines for word in line.split()).items()
    >>> sorted(count_words(iter(["a b", "b"])))
    [('a', 1), ('b', 2)]

    Args:
        function: ``function(records)`` takes an iterator of records and returns an
            iterable of ``(key, value)`` pairs.

    Returns:
        The mapper to pass to :func:`mapred.mapreduce`.
    """
    return TaskMapper(function)


@dataclass
class LoadedJob:
    """A :class:`JobSpec` with its functions unpickled, kept by a worker between tasks.

    ``functions`` skips the unpickling and uses the caller's own function objects: the
    serial backend runs the user's very functions, so pdb, globals and tracebacks
    behave as in a plain loop.
    """

    spec: JobSpec
    functions: Mapping[str, Any] | None = None
    mapper: Callable[[Any], Any] = field(init=False)
    reducer: Callable[[Any, Any], Any] = field(init=False)
    combiner: Callable[[Any, Any], Any] | None = field(init=False)
    partitioner: Callable[[Any, int], int] | None = field(init=False)

    def __post_init__(self) -> None:
        if self.functions is not None:
            self.mapper = self.functions["mapper"]
            self.reducer = self.functions["reducer"]
            self.combiner = self.functions.get("combiner")
            self.partitioner = self.functions.get("partitioner")
            return
        spec = self.spec
        self.mapper = loads_function(spec.mapper)
        self.reducer = loads_function(spec.reducer)
        self.combiner = loads_function(spec.combiner) if spec.combiner else None
        self.partitioner = loads_function(spec.partitioner) if spec.partitioner else None


class JobLoader:
    """Each job's functions, unpickled once per worker process and kept for its tasks.

    Keeps the last ``keep`` jobs (a Dask worker serves tasks of several jobs, one per
    thread, several at once; a local worker serves one job at a time).
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, LoadedJob] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, spec: JobSpec) -> LoadedJob:
        """The loaded job of ``spec``; a note says what to check when it fails."""
        with self._lock:
            job = self._jobs.get(spec.job_id)
            if job is not None:
                self._jobs.move_to_end(spec.job_id)
                return job
        try:
            job = LoadedJob(spec)  # outside the lock: a racing thread loads it twice, harmlessly
        except Exception as exc:
            exc.add_note(
                "mapred: loading the job's functions in a worker process failed; the "
                "modules they use must be importable there (under 'spawn' and "
                "'forkserver', and on every Dask worker)"
            )
            raise
        with self._lock:
            self._jobs[spec.job_id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        return job
