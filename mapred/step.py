"""One step of a job: :class:`Step`, and the checks of a job's steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """One map/reduce round of a multi-step job: ``mapreduce(steps=[Step(...), ...])``.

    The first step's mapper gets the records of ``data``; each later step's mapper gets
    the previous step's output as ``(key, value)`` records, in that step's result order
    (key order; for an emitting reducer, key order then emission order; for a map-only
    step, input order). A step's output stays with the workers.

    Args:
        mapper: ``mapper(record)`` returns an iterable of pairs (or a ``task_mapper``).
        reducer: ``reducer(key, values)`` returns one value; a ``pair_reducer`` or
            ``task_reducer`` yields pairs; None: a map-only step.
        combiner: ``combiner(key, values)`` on partial groups (see the guide: in a step
            after the first, it must also be commutative).
        partitioner: ``partitioner(key, reducers)`` -> partition index.
        reducers: this step's reduce partitions (default: the job's ``reducers``).
        sort_values: each key's values reach the reducer sorted (stable).
        value_key: sort each key's values by ``value_key(value)`` (stable; implies
            ``sort_values``).
    """

    mapper: Callable[..., Any]
    reducer: Callable[..., Any] | None = None
    combiner: Callable[[Any, Any], Any] | None = None
    partitioner: Callable[[Any, int], int] | None = None
    reducers: int | None = None
    sort_values: bool = False
    value_key: Callable[[Any], Any] | None = None

    def functions(self) -> dict[str, Any]:
        """The step's functions by role, as a JobSpec carries them."""
        return {
            "mapper": self.mapper,
            "reducer": self.reducer,
            "combiner": self.combiner,
            "partitioner": self.partitioner,
            "value_key": self.value_key,
        }


def check_steps(steps: Any) -> list[Step]:
    """The steps of a job, checked: a non-empty list of :class:`Step` with callables.

    Raises:
        TypeError, ValueError: not a list of steps, a function that is not callable,
            a bad ``reducers`` or ``sort_values``, a combiner or sort for a map-only step.
    """
    if isinstance(steps, (str, bytes, Step)) or not isinstance(steps, Iterable):
        raise TypeError(f"steps must be a list of Step, got {type(steps).__name__}")
    checked = list(steps)
    if not checked:
        raise ValueError("steps must hold at least one Step")
    for number, step in enumerate(checked, 1):
        if not isinstance(step, Step):
            raise TypeError(f"step {number} must be a Step, got {type(step).__name__}")
        for role, function in step.functions().items():
            if function is not None and not callable(function):
                raise TypeError(
                    f"step {number}: {role} must be callable, got {type(function).__name__}"
                )
        if step.mapper is None:
            raise TypeError(f"step {number}: mapper must be callable, got None")
        reducers = step.reducers
        if reducers is not None and (
            isinstance(reducers, bool) or not isinstance(reducers, int) or reducers < 1
        ):
            raise ValueError(f"step {number}: reducers must be an int >= 1, got {reducers!r}")
        if not isinstance(step.sort_values, bool):
            raise TypeError(f"step {number}: sort_values must be a bool, got {step.sort_values!r}")
        if step.reducer is None:
            needless = [
                role
                for role in ("combiner", "sort_values", "value_key")
                if getattr(step, role) not in (None, False)
            ]
            if needless:
                raise ValueError(
                    f"step {number} is map-only (no reducer): {', '.join(needless)} would "
                    "never be used"
                )
    return checked
