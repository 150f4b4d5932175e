"""Faults on a Dask cluster (SPEC 5 and 7): the crash table's faults, on Dask workers.

Exceptions run on the module's shared cluster: they never kill a worker. Deaths kill a
worker process, which its nanny replaces; each runs on a cluster of its own, so the
replacement is gone when the test ends (the no_leaks fixture checks).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("distributed")

from mapred import MapredError, WorkerLost, mapreduce
from mapred.errors import RemoteTraceback
from tests.dask.conftest import fresh_cluster
from tests.faults import faulty

pytestmark = [pytest.mark.dask, pytest.mark.faults, pytest.mark.timeout(120)]

WHERE = ["mapper", "combiner", "reducer", "map output", "task unpickling", "reduce input"]


def run(client: Any, where: str, how: str, marker: str | None, **options: Any) -> Any:
    return mapreduce(
        **faulty.job(where, how, marker), reducers=3, chunksize=20, backend=client, **options
    )


@pytest.mark.parametrize("where", WHERE)
def test_an_exception_stops_the_job_with_its_type(client: Any, where: str) -> None:
    """Never retried: the original type, the traceback as cause, a note naming the task."""
    # A value that will not pickle is the user's TypeError, as with local processes.
    expected = TypeError if where == "map output" else faulty.InjectedError
    with pytest.raises(expected) as info:
        run(client, where, "raise", None)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "fire" in info.value.__cause__.tb  # the worker's own traceback came along
    assert any(note.startswith("mapred:") for note in info.value.__notes__)


@pytest.mark.parametrize("where", ["mapper", "reducer"])
def test_sys_exit_fails_the_job_not_the_caller(client: Any, where: str) -> None:
    """SystemExit in user code on a worker is a MapredError in the caller."""
    with pytest.raises(MapredError, match="SystemExit"):
        run(client, where, "sys_exit", None)


# One death per phase and kind of fault: a map task, a reduce task, a worker dying in
# native code, while unpickling a task, while decoding the shuffle.
DEATHS = [
    ("mapper", "sigkill"),
    ("reducer", "sigkill"),
    ("combiner", "os_exit"),
    ("reduce input", "segfault"),
    ("task unpickling", "sigkill"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("where", "how"), DEATHS)
def test_a_killed_worker_costs_a_retry_and_the_answer_is_exact(
    where: str, how: str, tmp_path: Any
) -> None:
    """A worker dies mid-job: Dask runs the task again, and the result is still exact."""
    marker = str(tmp_path / "fired")
    with fresh_cluster() as client:
        result = run(client, where, how, marker)
    assert (tmp_path / "fired").exists()  # the fault really fired
    assert dict(result) == faulty.expected()
    assert list(result) == sorted(result)
    # At least the dead task ran again; map tasks whose output died with the worker too.
    assert result.counters["mapred"]["task_retries"] >= 1
    assert result.counters["mapred"]["input_records"] == faulty.N_RECORDS


@pytest.mark.slow
def test_without_retries_a_death_is_worker_lost(tmp_path: Any) -> None:
    """max_retries=0: the first death ends the job with WorkerLost naming a task."""
    with fresh_cluster() as client, pytest.raises(WorkerLost, match="all 1 attempts") as info:
        run(client, "mapper", "sigkill", str(tmp_path / "fired"), max_retries=0)
    assert info.value.task.startswith("map task")


@pytest.mark.slow
def test_a_task_that_always_kills_its_worker_is_worker_lost() -> None:
    """Dying on every attempt: WorkerLost after 1 + max_retries attempts, not a hang.

    The reduce task that kills its worker each time may not be the first task over the
    limit: map tasks whose output the dead workers held ran again each time too.
    """
    with fresh_cluster() as client, pytest.raises(WorkerLost, match="all 2 attempts") as info:
        run(client, "reducer", "os_exit", None, max_retries=1)
    assert info.value.task.startswith(("reduce task", "map task"))
