"""Steps under every start method: the functions and the job's origins travel to
workers started by fork, forkserver and spawn alike (few examples: each is a few jobs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapred import Engine, Step
from tests.oracle import in_order, sequential_steps
from tests.property.test_steps_oracle import (
    as_list,
    bucket_pairs,
    by_first,
    each_value,
    identity,
    second,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", params=["fork", "forkserver", "spawn"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    with Engine(workers=2, start_method=request.param) as warm:
        yield warm


STEPS = [
    [Step(by_first, each_value), Step(identity, in_order, value_key=second)],
    [Step(bucket_pairs), Step(identity, in_order)],
]


@settings(max_examples=5, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 4), st.integers(-9, 9)), max_size=30))
def test_steps_equal_sequential_under_every_start_method(
    engine: Engine, data: list[tuple[int, int]]
) -> None:
    for steps in STEPS:
        got = engine.mapreduce(steps=steps, data=data, reducers=3, chunksize=4)
        assert as_list(got) == sequential_steps(steps, data)
