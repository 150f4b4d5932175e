"""The Dask shuffle's cost: the scheduler's tasks grow as M + R, not M x R (issue 13).

Counted by the scheduler itself (a plugin), on the module's two-worker LocalCluster (see
conftest.py). The figures, and why this design, are in docs/distributed.md.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("distributed")

from mapred import mapreduce
from tests.dask.test_backend import mapred_keys, total

pytestmark = [pytest.mark.dask, pytest.mark.timeout(120)]


class FinishedTasks:
    """A scheduler plugin: the Dask tasks that finished, by kind (``mapred-<kind>-…``)."""

    name = "mapred-test-finished-tasks"

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start == "processing" and finish == "memory":
            name = str(key)
            kind = name.split("-")[1] if name.startswith("mapred-") else "other"
            self.kinds[kind] = self.kinds.get(kind, 0) + 1


def count_tasks(dask_scheduler: Any) -> None:
    dask_scheduler.add_plugin(FinishedTasks(), name=FinishedTasks.name)


def counted_tasks(dask_scheduler: Any) -> dict[str, int]:
    plugin = dask_scheduler.plugins[FinishedTasks.name]
    dask_scheduler.remove_plugin(name=FinishedTasks.name)
    kinds: dict[str, int] = plugin.kinds
    return kinds


def tasks_of_a_job(client: Any, maps: int, reducers: int) -> dict[str, int]:
    """The Dask tasks, by kind, of a job of ``maps`` map tasks, counted by the scheduler."""
    client.run_on_scheduler(count_tasks)
    try:
        result = mapreduce(
            lambda n: [(n % 7, 1)],
            total,
            range(maps * 3),
            chunksize=3,
            reducers=reducers,
            backend=client,
        )
    finally:
        kinds: dict[str, int] = client.run_on_scheduler(counted_tasks)
    assert dict(result) == {k: len(range(k, maps * 3, 7)) for k in range(7)}
    assert result.counters["mapred"]["task_retries"] == 0
    return kinds


def test_dask_tasks_grow_as_maps_plus_reducers(client: Any) -> None:
    """The shuffle costs one group task per worker and one pick per worker and reducer:
    the scheduler's tasks grow as M + R, never as M x R (one per map task and partition)."""
    workers = len(client.nthreads())
    for maps, reducers in [(30, 3), (120, 3), (120, 12)]:
        kinds = tasks_of_a_job(client, maps, reducers)
        groups = kinds.pop("group")
        assert 1 <= groups <= workers
        assert kinds == {
            "spec": 1,
            "map": maps,
            "mapinfo": maps,
            "pick": groups * reducers,
            "reduce": reducers,
        }
        assert sum(kinds.values()) + groups <= 1 + 2 * maps + workers + (workers + 1) * reducers
    assert mapred_keys(client) == []  # picks and groups released with the job
