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

from mapred.counters import increment
from mapred.engine import Engine, mapreduce
from mapred.errors import (
    DecodeError,
    InputChanged,
    InternalError,
    JobTimeout,
    MapredError,
    WorkerLost,
)
from mapred.job import task_mapper
from mapred.result import OutputResult, Result
from mapred.splits import TextInput, read_text

__version__ = "0.1.0"

__all__ = [
    "DecodeError",
    "Engine",
    "InputChanged",
    "InternalError",
    "JobTimeout",
    "MapredError",
    "OutputResult",
    "Result",
    "TextInput",
    "WorkerLost",
    "__version__",
    "increment",
    "mapreduce",
    "read_text",
    "task_mapper",
]
