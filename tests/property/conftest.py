"""The ``backend`` fixture: every property runs on every backend, from one definition.

Each parameter is a module-scoped set of warm engines, one per worker count a property may
draw (1-3): ``serial`` (one process), ``processes`` (local worker processes) and ``dask``
(a LocalCluster of two worker processes; skipped without the dask extra). The engines start
before the first test of the module, so the leak check counts their processes as already
there.

Examples cost more on some backends than on others (a Dask job costs a few hundred ms), so
``backend.settings`` scales the profile's ``max_examples`` per backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mapred import Engine

WORKERS = (1, 2, 3)

# Share of the hypothesis profile's max_examples that each backend runs, and a floor.
EXAMPLE_SHARE = {"serial": 1.0, "processes": 0.6, "dask": 0.3}
MIN_EXAMPLES = 5


@dataclass
class Backend:
    """Warm engines of one backend, by worker count."""

    name: str
    engines: dict[int, Engine]

    def mapreduce(self, mapper: Any, reducer: Any, data: Any, *, workers: int, **options: Any):
        """Run one job on the engine with ``workers`` workers."""
        return self.engines[workers].mapreduce(mapper, reducer, data, **options)

    def settings(self, share: float = 1.0) -> settings:
        """Hypothesis settings for this backend: the profile's examples, scaled."""
        base = settings.default.max_examples
        examples = max(MIN_EXAMPLES, int(base * EXAMPLE_SHARE[self.name] * share))
        return settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(
    scope="module",
    params=["serial", "processes", pytest.param("dask", marks=pytest.mark.dask)],
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn, with a warm engine per worker count."""
    name: str = request.param
    with ExitStack() as stack:
        if name == "dask":
            pytest.importorskip("distributed")
            from tests.dask.conftest import fresh_cluster

            client = stack.enter_context(fresh_cluster())
            options: dict[str, Any] = {"backend": client}
        else:
            options = {"backend": name}
        engines = {w: stack.enter_context(Engine(workers=w, **options)) for w in WORKERS}
        yield Backend(name, engines)
