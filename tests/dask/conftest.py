"""Fixtures for the Dask tests: a LocalCluster of real worker processes, and a client.

Every test module here starts with ``pytest.importorskip("distributed")``, so the directory
is skipped when the dask extra is not installed (tox's ``nodask`` env). This file must load
without Dask: it imports it only inside the fixtures.

The cluster is module-scoped: started before the function-scoped ``no_leaks`` fixture, its
worker processes count as already there. A test that kills a worker must use
:func:`fresh_cluster` instead: the nanny's replacement worker would be a new child
process, which ``no_leaks`` rightly reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# Workers that are processes, as on a real cluster (threads would share our counters and
# modules); one thread each. ":0": a free port for the dashboard's HTTP server, which
# the scheduler starts even without the dashboard (8787 may be taken on a shared machine).
CLUSTER_OPTIONS: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "dashboard_address": ":0",
}


@contextmanager
def fresh_cluster(**options: Any) -> Iterator[Any]:
    """A LocalCluster and a client of its own, both closed on exit (for tests that kill)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(**{**CLUSTER_OPTIONS, **options}) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A client of a two-worker LocalCluster, shared by the tests of one module."""
    with fresh_cluster() as shared:
        yield shared
