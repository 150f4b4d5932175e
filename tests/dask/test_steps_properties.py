"""On a Dask cluster, multi-step jobs, emitting reducers, map-only jobs and sorted values
equal a sequential run (SPEC 3 and 8): step output travels as in-memory parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapred import Engine, PairsResult, Step, open_output
from tests.oracle import in_order, sequential_steps, total, words
from tests.property.test_steps_oracle import (
    as_list,
    bucket_pairs,
    by_first,
    count_then_rekey,
    each_value,
    identity,
    second,
    swap,
)

pytestmark = [
    pytest.mark.dask,
    pytest.mark.timeout(240),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])

pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(-20, 20)), max_size=40)
shapes = st.fixed_dictionaries({"reducers": st.integers(1, 3), "chunksize": st.integers(1, 9)})


@pytest.fixture(scope="module")
def on_dask(client: Any) -> Iterator[Engine]:
    with Engine(backend=client) as warm:
        yield warm


@EXAMPLES
@given(data=pairs, shape=shapes)
def test_steps_on_dask_equal_sequential(
    on_dask: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    for steps in (
        [Step(by_first, each_value), Step(identity, in_order, value_key=second)],
        [Step(bucket_pairs), Step(identity, in_order)],
        [Step(by_first, in_order), Step(swap)],
    ):
        assert as_list(on_dask.mapreduce(steps=steps, data=data, **shape)) == sequential_steps(
            steps, data
        )
    alone = on_dask.mapreduce(bucket_pairs, None, data, **shape)
    assert isinstance(alone, PairsResult)
    assert list(alone) == sequential_steps([Step(bucket_pairs)], data)


def test_word_count_rekeyed_on_dask_to_a_directory(on_dask: Engine, tmp_path: Path) -> None:
    data = ["a b a", "c b a", "d"]
    steps = [Step(words, count_then_rekey, combiner=total), Step(identity, in_order)]
    out = on_dask.mapreduce(steps=steps, data=data, reducers=2, output=tmp_path / "out")
    assert list(out.items()) == sequential_steps(steps, data)
    assert list(open_output(tmp_path / "out").items()) == sequential_steps(steps, data)
