"""mapred: exact, deterministic map/reduce over local processes or a Dask cluster.

>>> from mapred import mapreduce
>>> mapreduce(
...     lambda line: ((w, 1) for w in line.split()),
...     lambda w, ones: sum(ones),
...     ["a b", "b c b"],
...     backend="serial",
... )
Result({'a': 1, 'b': 3, 'c': 1})
"""

from mapred.context import TaskContext, task_context
from mapred.counters import increment
from mapred.engine import Engine, mapreduce
from mapred.errors import (
    DecodeError,
    InputChanged,
    InternalError,
    JobTimeout,
    MapredError,
    TooManySkipped,
    WorkerLost,
)
from mapred.job import pair_reducer, task_mapper, task_reducer
from mapred.pairs import OutputPairs, PairsResult
from mapred.program import Job
from mapred.quarantine import SkippedRecord
from mapred.reopen import open_output
from mapred.result import OutputResult, Result
from mapred.splits import TextInput, read_text
from mapred.step import Step

__version__ = "0.1.0"

__all__ = [
    "DecodeError",
    "Engine",
    "InputChanged",
    "InternalError",
    "Job",
    "JobTimeout",
    "MapredError",
    "OutputPairs",
    "OutputResult",
    "PairsResult",
    "Result",
    "SkippedRecord",
    "Step",
    "TaskContext",
    "TextInput",
    "TooManySkipped",
    "WorkerLost",
    "__version__",
    "increment",
    "mapreduce",
    "open_output",
    "pair_reducer",
    "read_text",
    "task_context",
    "task_mapper",
    "task_reducer",
]
