"""On a Dask cluster, a multi-step job's last step writes to output=DIR, and the result
reopens (the properties of steps on Dask are in tests/property/test_steps_oracle.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from mapred import Engine, Step, open_output
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
