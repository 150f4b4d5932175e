"""A mapper that fails on the line ``BOOM``, and a module-level problem on request."""

from __future__ import annotations

import os
from collections.abc import Iterator

if os.environ.get("MAPRED_TEST_IMPORT_FAILS"):
    raise RuntimeError("this module refuses to load")


def mapper(line: str) -> Iterator[tuple[str, int]]:
    """Yield ``(line, 1)``; raise ``ValueError`` on the line ``BOOM``."""
    if line == "BOOM":
        raise ValueError(f"cannot map {line!r}")
    yield line, 1


def reducer(key: str, values: Iterator[int]) -> int:
    return sum(values)
