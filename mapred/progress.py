"""The progress bar on stderr: map tasks (or input bytes) done, records/s, reduce phase.

The driver owns the bar and moves it when a task commits, so it shows only work
that counts; it never writes to stdout.
"""

from __future__ import annotations

import sys
from typing import Any

from mapred.counters import BUILTIN_GROUP, INPUT_RECORDS
from mapred.splits import TextInput


class ProgressBar:
    """A tqdm bar over the map phase, then over the reduce phase."""

    def __init__(self, data: Any) -> None:
        from tqdm import tqdm

        total_bytes = data.total_bytes() if isinstance(data, TextInput) else None
        self._by_bytes = bool(total_bytes) and not (isinstance(data, TextInput) and data.streams)
        self._records = 0
        self._bar: Any = tqdm(
            total=total_bytes if self._by_bytes else None,
            unit="B" if self._by_bytes else " tasks",
            unit_scale=self._by_bytes,
            desc="map",
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
        )
        self._reduce_bar: Any = None
        self._reducers_done = 0

    def maps_planned(self, n_maps: int) -> None:
        """All input is planned: the map phase has ``n_maps`` tasks."""
        if not self._by_bytes:
            self._bar.total = n_maps
            self._bar.refresh()

    def map_done(self, result: Any) -> None:
        """A map task committed."""
        self._records += result.counters.get(BUILTIN_GROUP, {}).get(INPUT_RECORDS, 0)
        self._bar.set_postfix_str(f"{self._records:,} records", refresh=False)
        if self._by_bytes:
            self._bar.update(result.input_bytes)
        else:
            self._bar.update(1)

    def reduce_done(self, result: Any) -> None:
        """A reduce task committed."""
        self._reducers_done += 1
        self._bar.set_description_str(f"reduce {self._reducers_done} done", refresh=True)

    def close(self) -> None:
        self._bar.close()
