"""Backends: where tasks run.

``base`` defines the interface the driver schedules through; ``processes`` runs tasks
in local worker processes (the default), ``serial`` in the calling process (for pdb, and
as the reference in tests), ``dask`` on a Dask cluster (imported on first use; the
functions its tasks run are in ``dask_tasks``).
"""

from __future__ import annotations

import os
from typing import Any

from mapred.backends.base import Backend


def is_dask_client(backend: Any) -> bool:
    """Whether ``backend`` is a ``dask.distributed.Client``, without importing Dask."""
    return type(backend).__name__ == "Client" and type(backend).__module__.startswith("distributed")


def open_backend(
    backend: Any, workers: int | None, start_method: str | None
) -> tuple[Backend, int]:
    """The backend for ``Engine(backend=...)``, started, and how many workers it has.

    That is ``workers`` if given, else the machine's cores, or for a Dask cluster its
    worker threads (the driver's cores say nothing about the cluster).
    """
    if is_dask_client(backend):
        from mapred.backends.dask import DaskBackend

        dask = DaskBackend(backend)
        return dask, workers or max(1, dask.threads())
    count = workers or os.cpu_count() or 1
    if backend == "serial":
        from mapred.backends.serial import SerialBackend

        return SerialBackend(), count
    from mapred.backends.processes import ProcessBackend

    return ProcessBackend(count, start_method), count
