"""The Dask backend's step outputs, the driver's side: parts that stay on the workers.

In a job of several steps, a step's part (a reduce task's result, or a map-only step's
map task result) stays in the memory of the worker that made it. The driver gets the
part without its bytes, named by its Dask task's key in place of a path
(:meth:`StepParts.keep`); the next step's map task over it is given that key back, and
the backend makes the map task depend on the future (:meth:`StepParts.input`), so that
Dask brings the part to it worker to worker. Only the last step's parts reach the
driver.

The futures of a step's parts are held until every map task of the next step is in
(:meth:`StepParts.release_inputs`): a map task that died is submitted again meanwhile,
and needs them. After that, should a worker die with the next step's map output, Dask
makes the parts again from their lineage by itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mapred.errors import MapredError
from mapred.job import JobSpec
from mapred.reducetask import ReduceResult


class StepParts:
    """The futures of one step's parts, and of the step before's (this step's input)."""

    def __init__(self) -> None:
        self.keeping = False  # the step is not the job's last: its parts stay
        self._made: dict[str, Any] = {}  # this step's parts, by key
        self._inputs: dict[str, Any] = {}  # the step before's, read by this step

    def start(self, spec: JobSpec) -> None:
        """A step starts: the parts of the step before are its input (if of the same job)."""
        self._inputs = self._made if spec.step > 1 else {}
        self._made = {}
        self.keeping = spec.step < spec.steps

    def keep(self, part: ReduceResult, output: Any) -> ReduceResult:
        """``part`` (from its Dask future ``output``) stays on the cluster: what the driver
        gets of it, named by the future's key as its path."""
        self._made[output.key] = output
        return replace(part, path=output.key, data=None)

    def input(self, key: str) -> Any:
        """The future of the step before's part named ``key``."""
        try:
            return self._inputs[key]
        except KeyError:
            raise MapredError(
                f"a previous step's output {key} is not held on the Dask cluster any more"
            ) from None

    def release_inputs(self) -> None:
        """Every map task of this step is in: let go of the step before's parts."""
        self._inputs = {}

    def clear(self) -> None:
        self._made = {}
        self._inputs = {}
