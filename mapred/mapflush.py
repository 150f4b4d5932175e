"""A map task's flush: combine the buffered pairs, partition the keys, encode batches.

The map loop (:mod:`mapred.maploop`) calls :meth:`ShuffleFlush.__call__` with a full
buffer (key -> values, in the order they were made; or distinct keys and one value each,
as :class:`~mapred.maploop.Columns`): each key with several values goes through the
combiner, the keys are assigned to reduce partitions, and one *batch* per partition is
encoded and appended to the attempt's map output file. When every key is left with one
value, the batches carry the values themselves, not a one-value list per key.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

from mapred.counters import (
    COMBINE_OUTPUT_RECORDS,
    MAP_OUTPUT_RECORDS,
    SHUFFLE_BYTES,
    Counters,
    add_builtin,
)
from mapred.errors import short_repr
from mapred.job import LoadedJob
from mapred.keys import join_str_tuples, partition_indices, split_joined
from mapred.maperrors import unencodable
from mapred.maploop import Buffer, Columns
from mapred.serde import flat_tuples
from mapred.shuffle import MapOutput, encode_batch

_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)
_ONE = 1


class ShuffleFlush:
    """Flushes a map task's buffers into ``output``, one batch per partition each time.

    ``tagged``: each value is ``(origin, value)`` (:mod:`mapred.stepmap`).
    """

    def __init__(
        self, job: LoadedJob, task: Any, output: MapOutput, counters: Counters, tagged: bool = False
    ) -> None:
        self.job = job
        self.task = task
        self.output = output
        self.counters = counters
        self.tagged = tagged

    def __call__(self, buffer: Buffer | Columns) -> None:
        if not buffer:
            return
        job, task, counters = self.job, self.task, self.counters
        reducers = job.spec.reducers
        if isinstance(buffer, Columns):  # distinct keys, one value each: nothing to combine
            all_keys, all_values, single = buffer.keys, buffer.values, True
            add_builtin(counters, MAP_OUTPUT_RECORDS, len(all_keys))
        else:
            add_builtin(counters, MAP_OUTPUT_RECORDS, sum(map(len, buffer.values())))
            if job.combiner is not None:
                combine(job.combiner, task, buffer, self.tagged)
            all_keys = list(buffer)
            all_values = list(buffer.values())
            single = job.combiner is not None or sum(map(len, all_values)) == len(all_values)
            if single:
                all_values = list(map(_FIRST, all_values))
        if job.combiner is not None:
            add_builtin(counters, COMBINE_OUTPUT_RECORDS, len(all_keys))
        flat_keys = flat_tuples(all_keys)
        indices: list[int] = []
        if reducers > 1:  # the keys' own hash, whatever travels
            try:
                indices = partition_indices(all_keys, reducers, job.partitioner)
            except Exception as exc:
                if job.partitioner is not None:
                    raise
                raise unencodable(task, all_keys, all_values, exc) from exc  # beyond hashing
        joined = join_str_tuples(all_keys) if flat_keys else None
        if joined is not None:
            all_keys, flat_keys = joined, False
        keys: list[list[Any]] = [all_keys]
        values: list[list[Any]] = [all_values]
        if reducers > 1:
            keys, values = [], []
            for index in range(reducers):  # C-level passes per partition, not a loop per key
                mine = list(map(index.__eq__, indices))
                keys.append(list(itertools.compress(all_keys, mine)))
                values.append(list(itertools.compress(all_values, mine)))
        shuffled = 0
        for index in range(reducers):
            if keys[index]:
                try:
                    data = encode_batch(
                        keys[index], values[index], flat_keys, single, joined is not None
                    )
                except Exception as exc:
                    named = split_joined(keys[index]) if joined is not None else keys[index]
                    raise unencodable(task, named, values[index], exc) from exc
                self.output.write(index, data)
                shuffled += len(data)
        add_builtin(counters, SHUFFLE_BYTES, shuffled)


def combine(
    combiner: Callable[[Any, Any], Any],
    task: Any,
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
