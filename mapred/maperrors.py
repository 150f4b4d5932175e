"""What a map task says when it fails: the record, the contract, the pair that won't encode.

The map loop (:mod:`mapred.maploop`) catches every failure once and hands it to
:func:`explain`: a user exception keeps its type and gains a note naming the task and
the record; a ``TypeError``/``ValueError`` raised by the loop itself (not by user code)
means the mapper broke its contract, and becomes a ``TypeError`` that says which.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import CodeType
from typing import Any

from mapred.errors import short_repr
from mapred.serde import make_packer

# The code of the map loops and wrappers whose own TypeError/ValueError means a broken
# mapper contract (each module adds its own).
MAP_LOOPS: set[CodeType] = set()

_READERS = frozenset({"mapred.splitreader", "mapred.storage"})


class BrokenPair(Exception):
    """A mapper's output that is not a (key, value) pair with a hashable key (raised
    where the loop cannot keep the pair in a local: a task mapper's grouping, a
    wrapper)."""

    def __init__(self, pair: Any, error: Exception) -> None:
        super().__init__(str(error))
        self.pair = pair
        self.error = error


def is_noted(exc: BaseException) -> bool:
    """Whether ``exc`` was already explained by mapred (it carries a ``mapred:`` note)."""
    return any(note.startswith("mapred:") for note in getattr(exc, "__notes__", ()))


def explain(
    exc: BaseException, task: Any, record: Any, pair: Any, n_records: int, task_mapper: bool
) -> BaseException:
    """Turn a failure inside the map loop into the error the user should see.

    ``task`` is the :class:`~mapred.maptask.MapTask`; ``record`` the record being
    mapped (the ``n_records``-th), ``pair`` the last pair taken from the mapper, or None.
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
    if task_mapper:  # no single record to show
        where = f"{task.describe()}, in the task mapper"
    else:
        where = f"{task.describe()}, record {n_records}: {short_repr(record)}"
    if isinstance(exc, BrokenPair):
        return contract_error(exc.error, exc.pair, where)
    if ours and isinstance(exc, (TypeError, ValueError)):
        return contract_error(exc, pair, where)
    exc.add_note(f"mapred: in the mapper, {where}")
    return exc


def contract_error(exc: Exception, pair: Any, where: str) -> TypeError:
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


def _raised_reading(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by mapred's split reader rather than by user code."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") in _READERS:
            return True
        tb = tb.tb_next
    return False


def unencodable(task: Any, keys: Iterable[Any], values: Iterable[Any], exc: Exception) -> TypeError:
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
