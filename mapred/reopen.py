"""Reopen a finished ``output=DIR`` result from another program: :func:`open_output`.

A successful job with ``output=DIR`` leaves its part files and ``_SUCCESS``, whose content
says what the parts hold (values by key, or emitted pairs), how the keys compare and how
many there are. JSON, not pickle: reopening a directory never runs code
from it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from mapred import storage
from mapred.errors import MapredError
from mapred.keys import checked_partitioner, partition_for
from mapred.output import part_name
from mapred.pairs import OutputPairs
from mapred.result import OutputResult

SUCCESS_FILE = "_SUCCESS"
FORMAT = 1  # the version of the layout of _SUCCESS's record


def job_record(
    *,
    kind: str,
    parts: int,
    natural: bool,
    custom_partitioner: bool,
    output_keys: int,
) -> bytes:
    """What a finished output directory holds (``kind``: "values" or "pairs"), as the
    content of its ``_SUCCESS``. Only what the output itself determines (not the time or
    counters, which depend on how it ran): the same output, the same bytes."""
    record = {
        "format": FORMAT,
        "kind": kind,
        "parts": parts,
        "natural": natural,
        "custom_partitioner": custom_partitioner,
        "output_keys": output_keys,
    }
    return json.dumps(record, sort_keys=True).encode()


def open_output(
    directory: str | os.PathLike[str],
    *,
    partitioner: Callable[[Any, int], int] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> OutputResult | OutputPairs:
    """Open the result a job wrote with ``output=DIR``, as the job returned it.

    Args:
        directory: the job's output directory (a local path or an fsspec URL).
        partitioner: the job's own partitioner, if it had one: ``result[key]`` needs it
            to find the part that holds a key (iteration does not).
        storage_options: fsspec options for a URL.

    Returns:
        An :class:`mapred.OutputResult` (a mapping in key order) for a job whose last
        step returns one value per key; an :class:`mapred.OutputPairs` for one that
        emits pairs or is map-only. Its ``counters`` hold only ``output_keys``, and
        ``elapsed`` is 0.0: how the job ran is not kept.

    Raises:
        MapredError: the directory holds no complete mapred output.
    """
    path = storage.local_path(os.fspath(directory))
    if not storage.is_url(path):
        path = os.path.abspath(path)
    try:
        with storage.open_read(storage.join(path, SUCCESS_FILE), storage_options) as file:
            record = json.loads(file.read())
    except (OSError, ValueError) as exc:
        raise MapredError(f"{path!r} is not the output of a finished mapred job ({exc})") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise MapredError(f"{path!r} is not the output of a finished mapred job")
    parts = [storage.join(path, part_name(index)) for index in range(record["parts"])]
    counters = {"mapred": {"output_keys": record["output_keys"]}}
    if record["kind"] == "pairs":
        return OutputPairs(path, parts, counters, 0.0, storage_options)
    reducers = record["parts"]
    partition: Callable[[Any], int]
    if partitioner is not None:
        partition = checked_partitioner(partitioner, reducers)
    elif record["custom_partitioner"]:
        partition = _needs_partitioner
    else:
        partition = lambda key: partition_for(key, reducers)  # noqa: E731
    return OutputResult(path, parts, counters, 0.0, partition, record["natural"], storage_options)


def _needs_partitioner(key: Any) -> int:
    raise MapredError(
        "this output was written with a partitioner of its own: to look keys up, "
        "pass it as open_output(directory, partitioner=...)"
    )
