"""Worker side of the map phase: mapper over one split, combine, partition, encode.

One map task reads its input (a byte-range split of a file, which it opens itself,
or a split of records the driver sent), feeds every record to the mapper, and groups
the pairs by key in a dict, keeping each key's values in the order they were made.
Past :func:`buffer_pairs` pairs it *flushes*: applies the combiner to each key's
values, partitions the keys, and encodes one batch per reduce partition. All of a
task attempt's batches go to one file named after the attempt, so the output of an
attempt that dies is simply never referenced.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from mapred.context import TaskContext, running_task
from mapred.counters import (
    COMBINE_OUTPUT_RECORDS,
    INPUT_RECORDS,
    MAP_OUTPUT_RECORDS,
    SHUFFLE_BYTES,
    SKIPPED_RECORDS,
    Counters,
    add_builtin,
    report_progress,
    task_counters,
)
from mapred.errors import short_repr
from mapred.job import LoadedJob, TaskMapper
from mapred.keys import partition_indices
from mapred.output import PartWriter, part_temp_path, read_part_blocks
from mapred.quarantine import SkippedRecord
from mapred.reducetask import ReduceResult
from mapred.serde import flat_tuples, make_packer
from mapred.shuffle import Batch, MapOutput, encode_batch
from mapred.skipping import SKIPPING_CODE, skipping_map_job
from mapred.splits import FileSplit, read_split_blocks

# Pairs buffered before a flush. A flush applies the combiner and writes batches:
# larger buffers combine better, smaller ones bound a worker's memory (a pair costs
# roughly 100 bytes when every key is new). A count, not a size or a time, so the
# combiner always sees the same groups: results never depend on timing.
MAP_BUFFER_PAIRS = 500_000
# What one buffered pair may cost when its key is new: a str key (~60 bytes), a dict
# slot (~40) and a one-item list (~60). The buffer also stays under the task's share
# of memory_limit, counted at this price, but never below MIN_BUFFER_PAIRS (a flush
# per handful of pairs would only make more, smaller batches).
MAP_PAIR_BYTES = 150
MIN_BUFFER_PAIRS = 1024


@dataclass(frozen=True)
class MapTask:
    """One attempt of one map task.

    Attributes:
        index: the task's position in the input; values reach reducers in index order.
        attempt: 1 for the first try, 2 for the first retry, ...
        split: a byte range of a file the worker reads itself, or None.
        records: the records, when the input is an iterable (or a stream).
        encoding, errors: how the split's bytes are decoded.
        with_path: records of a split are ``(path, line)`` (``read_text(with_path=True)``).
        part: a previous step's part file (a path; on Dask, its task's key), whose pairs
            are this task's records.
        layout: how ``part`` holds them: ``"pairs"`` (a plain reducer's ``(key,
            value)``, the key is also the origin) or ``"emitted"`` (an emitting reducer's
            or a map-only step's: origin keys, then ``(key, value)`` pairs).
        first: the position in ``data`` of the first of ``records`` (for a stream: the
            lines before them); names a skipped record.
        stream: the stream (``"-"``) that ``records`` were read from, if any.
        skip: with ``max_skipped``: the records (numbered from 1 in this task) to skip
            unread, because earlier attempts died on them, each with how they died.
    """

    index: int
    attempt: int
    split: FileSplit | None = None
    records: list[Any] | None = None
    encoding: str = "utf-8"
    errors: str = "strict"
    with_path: bool = False
    part: str | bytes | None = None
    layout: str = "pairs"
    first: int = 0
    stream: str | None = None
    skip: tuple[tuple[int, str], ...] = ()

    def describe(self) -> str:
        """The task in messages and error notes.

        >>> MapTask(3, 1).describe()
        'map task 3 attempt 1'
        """
        where = f" ({self.split.describe()})" if self.split else ""
        return f"map task {self.index} attempt {self.attempt}{where}"


@dataclass(frozen=True)
class MapResult:
    """What a map task attempt made: per partition, its batches in order."""

    index: int
    attempt: int
    batches: list[list[Batch]]
    counters: Counters
    input_bytes: int = 0  # bytes of the file split read (0 for records): drives progress
    part: ReduceResult | None = None  # a map-only step's output: its part, in input order
    skipped: tuple[SkippedRecord, ...] = ()  # with max_skipped: the records left out


def execute_map_task(job: LoadedJob, task: MapTask) -> MapResult:
    """Run one map task attempt and return references to its encoded output."""
    spec = job.spec
    split = task.split
    path = split.path if split is not None else None
    context = TaskContext("map", spec.step, task.index, task.attempt, path)
    if split is not None:
        context._split = split
    if not spec.max_skipped or isinstance(job.mapper, TaskMapper):
        return _execute_map_task(job, task, context)
    job, skipper = skipping_map_job(job, task, context)
    try:
        result = _execute_map_task(job, task, context)
    finally:
        if skipper.note is not None:
            skipper.note.close()
    add_builtin(result.counters, SKIPPED_RECORDS, len(skipper.skipped))
    return replace(result, skipped=tuple(skipper.skipped))


def _execute_map_task(job: LoadedJob, task: MapTask, context: TaskContext) -> MapResult:
    spec = job.spec
    with task_counters() as counters, running_task(context):
        if spec.reducers == 0 or spec.tagged:
            from mapred.stepmap import execute_step_map

            return execute_step_map(job, task, _input_blocks(job, task), counters)
        output = MapOutput(spec.workdir, task.index, task.attempt, spec.reducers)
        try:
            blocks = (records for _, records in _input_blocks(job, task))
            if isinstance(job.mapper, TaskMapper):
                tally = _Tally(blocks)
                _map_task(job, task, itertools.chain.from_iterable(tally), output, counters)
                n_records = tally.records
            else:
                records = itertools.chain.from_iterable(blocks)
                n_records = _map_records(job, task, records, output, counters)
            add_builtin(counters, INPUT_RECORDS, n_records)
        finally:
            output.close()
    return MapResult(task.index, task.attempt, output.batches, counters, _split_bytes(task.split))


def _input_blocks(job: LoadedJob, task: MapTask) -> Iterator[tuple[list[Any] | None, list[Any]]]:
    """The task's records, block by block, each with its origins (None: not known).

    A block of a part's records carries the origin of each: the key of the previous
    step's reduce call that made it (see :mod:`mapred.stepmap`).
    """
    if task.part is not None:
        for keys, values in read_part_blocks(task.part):
            if task.layout == "pairs":
                yield keys, list(zip(keys, values, strict=True))
            else:
                yield keys, values
        return
    if task.split is None:
        if task.records:
            yield None, task.records
        return
    blocks: Iterable[list[Any]] = read_split_blocks(task.split, task.encoding, task.errors)
    if job.spec.live is not None:
        blocks = report_progress(blocks, job.spec.live, task.index)
    path = task.split.path
    for block in blocks:
        yield None, (list(zip(itertools.repeat(path), block)) if task.with_path else block)


def map_only_part(job: LoadedJob, task: MapTask) -> PartWriter:
    """Where a map-only step's task writes its pairs: a part file named after the task."""
    spec = job.spec
    out_dir = spec.output_dir or spec.workdir
    return PartWriter(
        part_temp_path(out_dir, task.index, task.attempt) if out_dir else None,
        spec.output_options if spec.output_dir else None,
    )


def _split_bytes(split: FileSplit | None) -> int:
    if split is None:
        return 0
    if split.end >= 0:
        return split.end - split.start
    return os.path.getsize(split.path) - split.start


def _map_records(
    job: LoadedJob, task: MapTask, records: Iterable[Any], output: MapOutput, counters: Counters
) -> int:
    """Map every record, buffering pairs and flushing them; returns the records seen."""
    mapper = job.mapper
    limit = buffer_pairs(job.spec.map_memory)
    buffer: dict[Any, list[Any]] = {}
    pending = 0
    n_records = 0
    record: Any = None
    pair: Any = None
    context = task_context_of()
    try:
        for record in records:
            n_records += 1
            context.record = n_records
            for pair in mapper(record):
                key, value = pair
                # Subscript and catch: cheaper than dict.get() when most keys repeat.
                try:
                    buffer[key].append(value)
                except KeyError:
                    buffer[key] = [value]
                pending += 1
                if pending >= limit:  # checked per pair: one record may yield millions
                    _flush(job, task, buffer, output, counters)
                    buffer = {}
                    pending = 0
            pair = None
    except BaseException as exc:  # SystemExit from user code too: it fails this task
        if _noted(exc):  # the combiner failed during a flush: already explained
            raise
        raise _explain(exc, task, record, pair, n_records) from None
    _flush(job, task, buffer, output, counters)
    return n_records


def _map_task(
    job: LoadedJob, task: MapTask, records: Iterator[Any], output: MapOutput, counters: Counters
) -> None:
    """The loop of :func:`_map_records` for a task mapper: one call with every record.

    Its pairs are mostly one per distinct key, so they are taken ``limit`` at a time and
    grouped by C-level passes (:func:`_group_distinct`); the per-pair loop of
    :func:`_group` runs only where keys repeat, or to say which pair breaks the contract.
    The flushes fall where the per-pair loop's would: every ``limit`` pairs.
    """
    limit = buffer_pairs(job.spec.map_memory)
    pairs: list[Any] = []
    try:
        produced = iter(job.mapper(records))
        while pairs := list(itertools.islice(produced, limit)):
            buffer = _group_distinct(pairs)
            if buffer is None:
                buffer = _group(pairs)
            _flush(job, task, buffer, output, counters)
            if len(pairs) < limit:
                break
    except BaseException as exc:
        if _noted(exc):
            raise
        raise _explain(exc, task, records, None, 0) from None


def _group_distinct(pairs: list[Any]) -> dict[Any, list[Any]] | None:
    """The pairs as a buffer, if they are (key, value) pairs with distinct keys; else
    None (then :func:`_group` groups them, or finds the pair that is wrong)."""
    try:
        if set(map(len, pairs)) != {2}:
            return None
        values = map(list, zip(map(_SECOND, pairs), strict=True))  # [value] for each pair
        buffer = dict(zip(map(_FIRST, pairs), values, strict=True))
    except TypeError:  # an unsized pair, an unhashable key
        return None
    return buffer if len(buffer) == len(pairs) else None


def _group(pairs: list[Any]) -> dict[Any, list[Any]]:
    """Group pairs by key, each key's values in order, checking each pair."""
    buffer: dict[Any, list[Any]] = {}
    pair: Any = None
    try:
        for pair in pairs:
            key, value = pair
            if key in buffer:
                buffer[key].append(value)
            else:
                buffer[key] = [value]
    except (TypeError, ValueError) as exc:
        raise _BrokenPair(pair, exc) from None
    return buffer


class _BrokenPair(Exception):
    """A task mapper's output that is not a (key, value) pair with a hashable key."""

    def __init__(self, pair: Any, error: Exception) -> None:
        super().__init__(str(error))
        self.pair = pair
        self.error = error


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


class _Tally:
    """Pass blocks of records through, counting the records (a task mapper's input)."""

    def __init__(self, blocks: Iterable[list[Any]]) -> None:
        self.blocks = blocks
        self.records = 0

    def __iter__(self) -> Iterator[list[Any]]:
        for block in self.blocks:
            self.records += len(block)
            yield block


def task_context_of() -> TaskContext:
    """The running map task's context (set up by :func:`execute_map_task`)."""
    from mapred.context import task_context

    return task_context()


def buffer_pairs(memory_limit: int) -> int:
    """Pairs a map task buffers before a flush, for a task's share of ``memory_limit``.

    ``MAP_BUFFER_PAIRS``, or fewer when the budget is small: a buffered pair is
    counted at ``MAP_PAIR_BYTES``, the cost of a pair whose key is new (the worst
    case; a repeated key costs a list slot). Depends on the budget only, never on
    timing, so the combiner always sees the same groups.

    >>> buffer_pairs(1 << 30), buffer_pairs(1 << 20), buffer_pairs(1)
    (500000, 6990, 1024)
    """
    return max(MIN_BUFFER_PAIRS, min(MAP_BUFFER_PAIRS, memory_limit // MAP_PAIR_BYTES))


def _noted(exc: BaseException) -> bool:
    return any(note.startswith("mapred:") for note in getattr(exc, "__notes__", ()))


def _explain(
    exc: BaseException, task: MapTask, record: Any, pair: Any, n_records: int
) -> BaseException:
    """Turn a failure inside the map loop into the error the user should see.

    A TypeError/ValueError raised by the loop itself (not by user code) means the
    mapper broke the contract; anything else is the user's own exception, kept as is.
    """
    if isinstance(exc, OSError) and task.split is not None and _raised_reading(exc):
        exc.add_note(
            f"mapred: reading the input of {task.describe()}: the file was removed, "
            "moved or made unreadable while the job ran"
        )
        return exc
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    ours = tb is not None and tb.tb_frame.f_code in MAP_LOOPS
    if isinstance(record, Iterator):  # a task mapper's input: no single record to show
        where = f"{task.describe()}, in the task mapper"
    else:
        where = f"{task.describe()}, record {n_records}: {short_repr(record)}"
    if isinstance(exc, _BrokenPair):
        return _contract_error(exc.error, exc.pair, where)
    if ours and isinstance(exc, (TypeError, ValueError)):
        return _contract_error(exc, pair, where)
    exc.add_note(f"mapred: in the mapper, {where}")
    return exc


# The map loops whose own TypeError/ValueError means a broken mapper contract.
MAP_LOOPS = {_map_records.__code__, _map_task.__code__, SKIPPING_CODE}


def _contract_error(exc: Exception, pair: Any, where: str) -> TypeError:
    """The error for a mapper that broke the contract: no iterable, no pair, a bad key."""
    if pair is None:
        return TypeError(
            f"mapper must return an iterable of (key, value) pairs; {where} "
            f"returned something that is not iterable ({exc})"
        )
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        return TypeError(
            f"mapper must yield (key, value) pairs, got {short_repr(pair)} "
            f"(type {type(pair).__name__}); {where}"
        )
    return TypeError(
        f"mapper yielded an unhashable key {short_repr(pair[0])} "
        f"(type {type(pair[0]).__name__}); keys must be hashable "
        f"(use a tuple instead of a list); {where}"
    )


_READERS = frozenset({"mapred.splitreader", "mapred.storage"})


def _raised_reading(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by mapred's split reader rather than by user code."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") in _READERS:
            return True
        tb = tb.tb_next
    return False


def _flush(
    job: LoadedJob,
    task: MapTask,
    buffer: dict[Any, list[Any]],
    output: MapOutput,
    counters: Counters,
) -> None:
    """Combine, partition and encode the buffered pairs: one batch per partition."""
    if not buffer:
        return
    reducers = job.spec.reducers
    add_builtin(counters, MAP_OUTPUT_RECORDS, sum(map(len, buffer.values())))
    if job.combiner is not None:
        _combine(job.combiner, task, buffer, job.spec.tagged)
        add_builtin(counters, COMBINE_OUTPUT_RECORDS, len(buffer))
    all_keys = list(buffer)
    all_values = list(buffer.values())
    flat_keys = flat_tuples(all_keys)
    keys: list[list[Any]] = [all_keys]
    values: list[list[list[Any]]] = [all_values]
    if reducers > 1:
        try:
            indices = partition_indices(all_keys, reducers, job.partitioner)
        except Exception as exc:
            if job.partitioner is not None:
                raise
            raise _unencodable(task, all_keys, all_values, exc) from exc  # a key beyond hashing
        keys, values = [], []
        for index in range(reducers):  # C-level passes per partition, not a loop per key
            mine = list(map(index.__eq__, indices))
            keys.append(list(itertools.compress(all_keys, mine)))
            values.append(list(itertools.compress(all_values, mine)))
    shuffled = 0
    for index in range(reducers):
        if keys[index]:
            try:
                data = encode_batch(keys[index], values[index], flat_keys)
            except Exception as exc:
                raise _unencodable(task, keys[index], values[index], exc) from exc
            output.write(index, data)
            shuffled += len(data)
    add_builtin(counters, SHUFFLE_BYTES, shuffled)


def _unencodable(task: MapTask, keys: list[Any], values: list[Any], exc: Exception) -> TypeError:
    """Find the pair that cannot be encoded (error path only) and say which it is."""
    packer = make_packer()
    culprit = "a key or value"
    for key, key_values in zip(keys, values, strict=True):
        try:
            packer.pack(key)
        except Exception:
            culprit = f"the key {short_repr(key)}"
            break
        try:
            packer.pack(key_values)
        except Exception:
            culprit = f"a value of key {short_repr(key)}"
            break
    error = TypeError(
        f"{culprit} cannot be sent through the shuffle: {exc}; keys and values must be "
        "msgpack types or picklable objects"
    )
    error.add_note(f"mapred: encoding the output of {task.describe()}")
    return error


def _combine(
    combiner: Callable[[Any, Any], Any],
    task: MapTask,
    buffer: dict[Any, list[Any]],
    tagged: bool = False,
) -> None:
    """Replace the values of each key that has several with the combiner's single value,
    in place.

    A key with one value is left alone: the combiner is safe on partial groups (SPEC 1),
    so combining one value changes nothing the reducer can tell, and most keys of a large
    vocabulary appear once per buffer (a Python call each, for nothing). The keys with
    several values are found by C-level passes.
    """
    several = itertools.compress(list(buffer), map(_ONE.__lt__, map(len, buffer.values())))
    key: Any = None
    try:
        for key in several:
            if tagged:  # (origin, value): the combined value keeps the first origin
                held = buffer[key]
                buffer[key] = [(held[0][0], combiner(key, map(_SECOND, held)))]
            else:
                buffer[key] = [combiner(key, iter(buffer[key]))]
    except BaseException as exc:
        exc.add_note(f"mapred: in the combiner, {task.describe()}, key {short_repr(key)}")
        raise


_ONE = 1
