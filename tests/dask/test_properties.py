"""On a Dask cluster, the engine equals the local engine and a sequential run (SPEC 3, 4, 7).

Each example runs real jobs on the module's LocalCluster (two worker processes) and
compares the whole result, key order and exact types included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("distributed")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapred import Engine
from tests import strategies
from tests.oracle import in_order, total, words
from tests.property.test_engine_oracle import sequential

pytestmark = [
    pytest.mark.dask,
    pytest.mark.timeout(240),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # as in the local oracle tests
    # Hypothesis warns when the global `random` state changes while it draws an example.
    # Here that is the Dask client's and the in-process scheduler's threads (jittered
    # periodic callbacks) running at the same time, not the strategies.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# Fewer examples than the local oracle: each one is a few jobs on the cluster. Drawing
# nested keys and values can be slow on a loaded machine: that says nothing about Dask.
EXAMPLES = settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def on_dask(client: Any) -> Iterator[Engine]:
    with Engine(backend=client) as warm:
        yield warm


@pytest.fixture(scope="module")
def local() -> Iterator[Engine]:
    with Engine(workers=2, start_method="fork") as warm:
        yield warm


def identity(pair: tuple[Any, Any]) -> list[tuple[Any, Any]]:
    return [pair]


shapes = st.fixed_dictionaries(
    {"reducers": st.integers(1, 4), "chunksize": st.none() | st.integers(1, 9)}
)


@EXAMPLES
@given(data=st.lists(st.text(alphabet="abcde \n", max_size=30), max_size=60), shape=shapes)
def test_word_count_equals_local_engine(
    on_dask: Engine, local: Engine, data: list[str], shape: dict[str, Any]
) -> None:
    """Word count, with and without a combiner: the local engine's result and counters."""
    expected = sequential(words, total, data)
    for combiner in (None, total):
        result = on_dask.mapreduce(words, total, data, combiner=combiner, **shape)
        reference = local.mapreduce(words, total, data, combiner=combiner, **shape)
        assert list(result.items()) == expected == list(reference.items())
        assert result.counters == reference.counters


@EXAMPLES
@given(data=st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=80), shape=shapes)
def test_values_arrive_in_input_order(
    on_dask: Engine, data: list[tuple[int, int]], shape: dict[str, Any]
) -> None:
    """An order-sensitive reducer sees each key's values in input order."""
    result = on_dask.mapreduce(identity, in_order, data, **shape)
    assert list(result.items()) == sequential(identity, in_order, data)


@EXAMPLES
@given(pairs=st.lists(st.tuples(strategies.keys(), strategies.values()), max_size=25), shape=shapes)
def test_every_type_round_trips(
    on_dask: Engine, pairs: list[tuple[Any, Any]], shape: dict[str, Any]
) -> None:
    """Keys and values of every SPEC 4 type come back with their type, in total order."""
    result = on_dask.mapreduce(identity, in_order, pairs, **shape)
    expected = sequential(identity, in_order, pairs)
    assert len(result) == len(expected)
    for (key, values), (want_key, want_values) in zip(result.items(), expected, strict=True):
        assert strategies.same(key, want_key)
        assert strategies.same(values, want_values)
