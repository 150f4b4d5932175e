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
        step, steps: this step's number (1-based) and the job's number of steps; each step
            of a multi-step job travels as a JobSpec of its own (``job_id`` differs).
        value_key: cloudpickled ``value_key(value)``: each key's values reach the reducer
            sorted by it (stable); None with ``sort_values`` sorts by the values themselves.
        sort_values: sort each key's values before the reducer (secondary sort).
        tagged: the step's input is a previous step's parts that are not in input order
            when concatenated: each shuffled value travels as ``(origin, value)``, and the
            reduce side restores input order by sorting on the origin (see
            :mod:`mapred.stepmap`). ``reducers == 0`` is a map-only step.
        origins_natural: the origins compare natively in the total order (the previous
            reduce's keys were of one family, :func:`mapred.keys.merge_natively`): they
            sort in C, not by :func:`mapred.keys.total_order_key`.
        max_skipped: the job's ``max_skipped``: above 0, a record whose mapper raises
            (or a key whose reducer raises) is skipped and reported (:mod:`mapred.skipping`);
            a task that skips more fails.
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
    step: int = 1
    steps: int = 1
    value_key: bytes | None = None
    sort_values: bool = False
    tagged: bool = False
    origins_natural: bool = False
    max_skipped: int = 0


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

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """On a class (a :class:`mapred.Job`), bind the method, keeping the mark."""
        if instance is None:
            return self
        return type(self)(self.function.__get__(instance, owner))


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


class PairReducer:
    """A reducer that yields ``(key, value)`` pairs instead of returning one value.

    Made by :func:`mapred.pair_reducer`; called as ``reducer(key, values)``.
    """

    def __init__(self, function: Callable[[Any, Iterator[Any]], Any]) -> None:
        if not callable(function):
            raise TypeError(f"pair_reducer() takes a function, got {type(function).__name__}")
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, key: Any, values: Iterator[Any]) -> Any:
        return self.function(key, values)

    def __repr__(self) -> str:
        return f"pair_reducer({self.function!r})"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """On a class (a :class:`mapred.Job`), bind the method, keeping the mark."""
        if instance is None:
            return self
        return type(self)(self.function.__get__(instance, owner))


def pair_reducer(function: Callable[[Any, Iterator[Any]], Any]) -> PairReducer:
    """Mark a reducer as *emitting pairs*: it yields any number of ``(key, value)``.

    A plain reducer returns one value per key. A pair reducer (mrjob's and Hadoop's
    model) yields pairs whose keys need not be its input keys: to re-key between
    steps, or to emit several results per key, or none. The job's result is then
    a :class:`mapred.PairsResult`: the pairs, in the order of the keys that were
    reduced, then in the order each call yielded them.

    >>> @pair_reducer
    ... def invert(word, counts):
    ...     yield sum(counts), word
    >>> list(invert("a", iter([1, 2])))
    [(3, 'a')]

    Args:
        function: ``function(key, values)`` returns an iterable of pairs.

    Returns:
        The reducer to pass to :func:`mapred.mapreduce` or :class:`mapred.Step`.
    """
    return PairReducer(function)


class TaskReducer:
    """A reducer called once per reduce task with an iterator of ``(key, values)`` groups.

    Made by :func:`mapred.task_reducer`; it emits pairs, like a :class:`PairReducer`.
    """

    def __init__(self, function: Callable[[Iterator[tuple[Any, Iterator[Any]]]], Any]) -> None:
        if not callable(function):
            raise TypeError(f"task_reducer() takes a function, got {type(function).__name__}")
        self.function = function
        functools.update_wrapper(self, function)

    def __call__(self, groups: Iterator[tuple[Any, Iterator[Any]]]) -> Any:
        return self.function(groups)

    def __repr__(self) -> str:
        return f"task_reducer({self.function!r})"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """On a class (a :class:`mapred.Job`), bind the method, keeping the mark."""
        if instance is None:
            return self
        return type(self)(self.function.__get__(instance, owner))


def task_reducer(function: Callable[[Iterator[tuple[Any, Iterator[Any]]]], Any]) -> TaskReducer:
    """Mark a reducer as taking *all the groups of its reduce task*, as an iterator.

    mrjob's ``reducer_init``/``reducer_final``: set up before the loop, clean up or emit
    a summary after it. The function gets an iterator of ``(key, values)`` in key order
    and yields ``(key, value)`` pairs (an emitting reducer, as with
    :func:`pair_reducer`). A pair counts as made by the group pulled last before it
    (pairs yielded before the first group count with the first group).

    >>> @task_reducer
    ... def totals(groups):
    ...     grand = 0
    ...     for key, values in groups:
    ...         n = sum(values)
    ...         grand += n
    ...         yield key, n
    ...     yield "*", grand
    >>> list(totals(iter([("a", iter([1])), ("b", iter([2, 3]))])))
    [('a', 1), ('b', 5), ('*', 6)]
    """
    return TaskReducer(function)


def emits_pairs(reducer: Any) -> bool:
    """Whether a reducer yields pairs (pair or task reducer) rather than one value."""
    return isinstance(reducer, (PairReducer, TaskReducer))


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
    value_key: Callable[[Any], Any] | None = field(init=False)

    def __post_init__(self) -> None:
        if self.functions is not None:
            self.mapper = self.functions["mapper"]
            self.reducer = self.functions["reducer"]
            self.combiner = self.functions.get("combiner")
            self.partitioner = self.functions.get("partitioner")
            self.value_key = self.functions.get("value_key")
            return
        spec = self.spec
        self.mapper = loads_function(spec.mapper)
        self.reducer = loads_function(spec.reducer) if spec.reducer else None  # type: ignore[assignment]
        self.combiner = loads_function(spec.combiner) if spec.combiner else None
        self.partitioner = loads_function(spec.partitioner) if spec.partitioner else None
        self.value_key = loads_function(spec.value_key) if spec.value_key else None


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
