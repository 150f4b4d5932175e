"""Past ``max_skipped`` the job fails, on every backend: a property against the oracle.

In a module of its own: a failed job replaces the busy workers of the ``backend`` fixture's
engines, so the test stops its engines' workers at the end (the leak check then finds none
of its making), which would spoil a later test of the same module.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from mapred import TooManySkipped
from tests.property.conftest import Backend
from tests.property.test_skip_oracle import mapper, records, reducer, sequential_skipping, shapes

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]


def test_past_the_limit_the_job_fails_on_every_backend(backend: Backend) -> None:
    """One skip more than ``max_skipped`` fails the job (TooManySkipped, naming the
    limit); exactly ``max_skipped`` skips succeed. (``max_skipped=0`` is no skipping at
    all: the first error fails the job as it raised, tested in tests/unit/test_skipping.py.)"""

    @backend.settings(share=0.5)
    @given(data=records, shape=shapes)
    def check(data: list[str], shape: dict[str, Any]) -> None:
        _, skipped = sequential_skipping(data, [{"index": i} for i in range(len(data))])
        if len(skipped) < 2:
            return
        result = backend.mapreduce(mapper, reducer, data, max_skipped=len(skipped), **shape)
        assert len(result.skipped) == len(skipped)
        limit = len(skipped) - 1
        with pytest.raises(TooManySkipped, match=f"max_skipped={limit}") as caught:
            backend.mapreduce(mapper, reducer, data, max_skipped=limit, **shape)
        assert caught.value.limit == limit
        assert len(caught.value.skipped) > limit

    try:
        check()
    finally:
        for engine in backend.engines.values():
            engine.close()  # the workers that replaced those of failed jobs
