"""On a Dask cluster, a multi-step job's last step writes to output=DIR, and the result
reopens (the properties of steps on Dask are in tests/property/test_steps_oracle.py)."""

from __future__ import annotations

import gc
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from mapred import Engine, Step, mapreduce, open_output
from mapred.reducetask import ReduceResult
from tests.dask.conftest import fresh_cluster
from tests.faults import faulty
from tests.oracle import in_order, sequential_steps, total, words
from tests.property.test_steps_oracle import count_then_rekey, identity

pytestmark = [pytest.mark.dask, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def on_dask(client: Any) -> Iterator[Engine]:
    with Engine(backend=client) as warm:
        yield warm


def test_word_count_rekeyed_on_dask_to_a_directory(on_dask: Engine, tmp_path: Path) -> None:
    data = ["a b a", "c b a", "d"]
    steps = [Step(words, count_then_rekey, combiner=total), Step(identity, in_order)]
    out = on_dask.mapreduce(steps=steps, data=data, reducers=2, output=tmp_path / "out")
    assert list(out.items()) == sequential_steps(steps, data)
    assert list(open_output(tmp_path / "out").items()) == sequential_steps(steps, data)


# Every value of the first two steps carries it; the job's result does not. Found in
# what the driver sends or receives, it means a step's output went through the driver.
MARKER = "intermediate-output-stays-on-the-workers-"


def tagged(line: str) -> Iterator[tuple[str, str]]:
    for word in line.split():
        yield word, MARKER + word


def joined(word: str, texts: Iterator[str]) -> str:
    return "".join(texts)


def length_of(pair: tuple[str, str]) -> list[tuple[int, int]]:
    return [(len(pair[1]), 1)]


def test_step_output_stays_on_the_cluster(
    on_dask: Engine, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of a reduce step and of a map-only step feed the next step's map tasks
    worker to worker: no message between the driver and the cluster holds their bytes;
    the last step's result does reach the driver."""
    sent: list[bytes] = []
    received: list[bytes] = []
    gathered: list[Any] = []
    get, gather = client.get, client.gather

    def spy_get(graph: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(pickle.dumps(list(graph.values()), protocol=5))
        return get(graph, *args, **kwargs)

    def spy_gather(futures: Any, *args: Any, **kwargs: Any) -> Any:
        values = gather(futures, *args, **kwargs)
        received.append(pickle.dumps(values, protocol=5))
        gathered.append(values)
        return values

    monkeypatch.setattr(client, "get", spy_get)
    monkeypatch.setattr(client, "gather", spy_gather)
    data = [f"w{n % 23} w{n % 7} w{n % 5}" for n in range(400)]
    steps = [Step(tagged, joined, reducers=3), Step(identity), Step(length_of, total)]
    result = on_dask.mapreduce(steps=steps, data=data, reducers=2, chunksize=50)
    monkeypatch.undo()

    assert list(result.items()) == sequential_steps(steps, data)
    assert sent, "no map task was submitted through client.get"
    assert not [message for message in sent if MARKER.encode() in message]
    assert not [message for message in received if MARKER.encode() in message]
    # The driver did receive the last step's parts (the counts), and only those.
    parts = [value for values in gathered for value in values if isinstance(value, ReduceResult)]
    assert sorted(part.partition for part in parts if part.data) == [0, 1]
    # Done, the job holds nothing on the cluster: no step's part, no task's result.
    assert held_by_mapred(client) == []


def held_by_mapred(client: Any, seconds: float = 10.0) -> list[str]:
    """The keys of mapred's tasks the client still holds, once it lets go of them (a
    future is released when it is collected, by the client's event loop)."""
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        held = sorted(str(key) for key in client.futures if str(key).startswith("mapred-"))
        if not held or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


class KillOnce:
    """A second step's mapper that kills its worker at one record, once (a marker file):
    the worker holds some of the first step's parts, which die with it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, pair: tuple[str, int]) -> list[tuple[int, str]]:
        if pair[0] == "w3":
            faulty.fire("sigkill", self.marker)
        return [(pair[1], pair[0])]


@pytest.mark.slow
def test_a_worker_dying_with_a_steps_output_costs_a_retry(tmp_path: Path) -> None:
    """Dask makes the lost parts again from their lineage; the answer is exact."""
    marker = tmp_path / "fired"
    data = [f"w{n % 11} w{n % 4}" for n in range(300)]
    steps = [Step(words, total, reducers=2), Step(KillOnce(str(marker)), in_order)]
    with fresh_cluster() as client:
        result = mapreduce(steps=steps, data=data, chunksize=40, backend=client)
    assert marker.exists()  # the fault fired
    assert list(result.items()) == sequential_steps(steps, data)
    assert result.counters["mapred"]["task_retries"] >= 1
