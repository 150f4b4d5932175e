"""Worker side of emitting reducers: pair reducers and task reducers write their pairs.

An emitting reducer's part file holds, block by block, the *origin* of each pair (the
key of the reduce call that yielded it) as the part's keys, and the ``(key, value)``
pairs as its values. The parts of a job are merged by origin (:mod:`mapred.pairs`), so
its pairs come in the order of the reduced keys, then in the order they were yielded,
whatever ``reducers`` is; and the next step's map tasks read the origins along with the
records (:mod:`mapred.stepmap`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mapred.errors import short_repr
from mapred.job import PairReducer, TaskReducer
from mapred.output import PART_BLOCK_KEYS, PartWriter


class _Emitted:
    """Pairs with their origins, written a block at a time."""

    def __init__(self, part: PartWriter) -> None:
        self.part = part
        self.origins: list[Any] = []
        self.pairs: list[Any] = []
        self.count = 0

    def add(self, origin: Any, pair: Any) -> None:
        key, value = pair
        self.origins.append(origin)
        self.pairs.append((key, value))
        if len(self.pairs) >= PART_BLOCK_KEYS:
            self.flush()

    def flush(self) -> None:
        if not self.pairs:
            return
        try:
            self.part.write_block(self.origins, self.pairs)
        except Exception as exc:
            raise TypeError(
                f"reducer yielded a pair that cannot be stored: {exc}; keys and values "
                "must be msgpack types or picklable objects"
            ) from exc
        self.count += len(self.pairs)
        self.origins, self.pairs = [], []


def reduce_emitting(
    reducer: PairReducer | TaskReducer,
    groups: Iterator[tuple[Any, Iterator[Any]]],
    part: PartWriter,
    task: Any,
) -> int:
    """Run an emitting reducer over the groups in key order; returns the pairs written."""
    out = _Emitted(part)
    current: list[Any] = [None]
    pair: Any = None
    try:
        if isinstance(reducer, TaskReducer):

            def pulled() -> Iterator[tuple[Any, Iterator[Any]]]:
                for current[0], values in groups:
                    yield current[0], values

            for pair in reducer(pulled()):
                out.add(current[0], pair)
        else:
            for current[0], values in groups:
                for pair in reducer(current[0], values):
                    out.add(current[0], pair)
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{task.describe()}, key {short_repr(current[0])}"
        if (
            isinstance(exc, (TypeError, ValueError))
            and tb is not None
            and tb.tb_frame.f_code in (_Emitted.add.__code__, reduce_emitting.__code__)
        ):
            raise TypeError(
                f"a pair reducer must yield (key, value) pairs, got {short_repr(pair)} "
                f"(type {type(pair).__name__}); {where}"
            ) from None
        exc.add_note(f"mapred: in the reducer, {where}")
        raise
    out.flush()
    return out.count
