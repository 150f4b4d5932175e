"""The progress bar on stderr: the map phase, then the reduce phase.

::

    map:  77%|███████▋  | 15.7M/20.4M [00:00<00:00, 38.0MB/s, 15/20 splits, 113k records, ...]
    reduce:  50%|█████     | 1/2 partitions [00:01, 2,394 keys]

The map phase counts input bytes when the input is only regular files (their sizes
are known before the job starts), else map tasks (their number is known once the input
is exhausted, for a stream at its end). Records per second are the input records of the
map tasks over the time since the job started; the driver may also report the records
that running map tasks have read so far (:meth:`ProgressBar.records_read`), so that the
count moves while a large split is still being read. When the last map task has
committed, the bar becomes a reduce bar over the reduce partitions.

The driver owns the bar and moves it when a task commits, so it shows only work that
counts (a failed attempt moves nothing). It writes to stderr only, never to stdout, and
clears itself when the job ends, Ctrl-C included. A bar that cannot be drawn (stderr
closed) turns itself off: the display must never fail the job.

Estimates: map tasks run in parallel and commit in bursts, so a rate measured between
two updates says little. The rate is the average since the job started, and the time
left is shown only once :data:`ESTIMATE_AFTER` of the input is done. :meth:`tick`
(called by the driver while it waits) keeps the clock moving between commits.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import MutableMapping
from typing import Any

from mapred.counters import BUILTIN_GROUP, INPUT_RECORDS
from mapred.splits import TextInput

# Seconds between redraws: often enough to look alive, rarely enough to cost nothing.
REFRESH_SECONDS = 0.2

# The share of the map phase done before a time left is shown: the first tasks to
# commit include the workers' start-up and finish together, so earlier estimates mislead.
ESTIMATE_AFTER = 0.1

# Columns left free at the right of the bar: the terminal echoes "^C" after the cursor,
# and a bar as wide as the terminal would wrap onto a line the final clear cannot reach.
RIGHT_MARGIN = 4

_MAP_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_MAP_FORMAT_ESTIMATED = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
    "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)


class ProgressBar:
    """A tqdm bar over the map phase, then over the reduce phase.

    Args:
        data: the job's input; a :class:`~mapred.splits.TextInput` of regular files
            gives a bar over bytes, anything else a bar over map tasks.
    """

    def __init__(self, data: Any) -> None:
        self._started = time.monotonic()
        self._records = 0  # input records of committed map tasks
        self._live_records = 0  # the same plus what running map tasks have read so far
        self._maps_done = 0
        self._n_maps: int | None = None
        self._reducers: int | None = None
        self._reduces_done = 0
        self._keys = 0
        self._splits: int | None = None
        total_bytes = None
        if isinstance(data, TextInput) and not data.streams:
            try:
                total_bytes = data.total_bytes()
                self._splits = len(data.plan_splits())
            except (OSError, ValueError):  # the engine will report it; just draw less
                total_bytes = self._splits = None
        self._by_bytes = bool(total_bytes)
        self._bar: Any = None
        self._reducing = False
        self._estimating = False
        self._ticked = 0.0
        self._draw(
            total=total_bytes if self._by_bytes else None,
            unit="B" if self._by_bytes else " tasks",
            unit_scale=self._by_bytes,
            desc="map",
            bar_format=_MAP_FORMAT if self._by_bytes else None,
        )

    def _draw(self, **options: Any) -> None:
        """Start a bar; on failure go quiet."""
        try:
            self._bar = _bar_class()(
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                mininterval=REFRESH_SECONDS,
                smoothing=0,  # the average rate since the start, not between two bursts
                **options,
            )
        except (OSError, ValueError):
            self._bar = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Call a method of the bar; a bar that cannot write (stderr closed) goes quiet."""
        if self._bar is None:
            return
        try:
            getattr(self._bar, method)(*args, **kwargs)
        except (OSError, ValueError):
            self._bar = None

    def maps_planned(self, n_maps: int) -> None:
        """All input is planned: the map phase has ``n_maps`` tasks."""
        self._n_maps = n_maps
        if self._splits is None and not self._by_bytes and self._bar is not None:
            self._bar.total = n_maps
            self._bar.bar_format = _MAP_FORMAT
            self._call("refresh")
        self._maybe_start_reduce()

    def map_done(self, result: Any) -> None:
        """A map task committed."""
        self._maps_done += 1
        self._records += result.counters.get(BUILTIN_GROUP, {}).get(INPUT_RECORDS, 0)
        if self._reducers is None:
            self._reducers = len(getattr(result, "batches", None) or ()) or None
        self._set_postfix()
        self._show_estimates()
        self._call("update", result.input_bytes if self._by_bytes else 1)
        self._maybe_start_reduce()

    def _show_estimates(self) -> None:
        """Add the time left and the rate once enough of the map phase is done."""
        bar = self._bar
        if self._estimating or bar is None or not bar.total:
            return
        if bar.n >= ESTIMATE_AFTER * bar.total:
            self._estimating = True
            bar.bar_format = _MAP_FORMAT_ESTIMATED

    def records_read(self, records: int) -> None:
        """Input records read so far, running map tasks included (the driver's live count)."""
        if not self._reducing:
            self._live_records = records
            self._set_postfix()
        self.tick()

    def tick(self) -> None:
        """Redraw (at most every REFRESH_SECONDS), so that the clock moves while waiting."""
        now = time.monotonic()
        if now - self._ticked >= REFRESH_SECONDS:
            self._ticked = now
            self._call("refresh")

    def _set_postfix(self) -> None:
        records = max(self._records, self._live_records)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        postfix = f"{_si(records)} records, {_si(records / elapsed)} records/s"
        if self._splits is not None:
            postfix = f"{self._maps_done}/{self._splits} splits, {postfix}"
        self._call("set_postfix_str", postfix, refresh=False)

    def _maybe_start_reduce(self) -> None:
        if self._reducing or self._n_maps is None or self._maps_done < self._n_maps:
            return
        self._reducing = True
        self._call("close")
        # No rate: partitions finish in a burst at the end, so a rate says nothing.
        counted = "{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}" if self._reducers else "{n_fmt}"
        self._draw(
            total=self._reducers,
            desc="reduce",
            bar_format="{desc}: " + counted + " partitions [{elapsed}{postfix}]",
        )

    def reduce_done(self, result: Any) -> None:
        """A reduce task committed."""
        self._reduces_done += 1
        self._keys += getattr(result, "keys", 0) or 0
        self._call("set_postfix_str", f"{self._keys:,} keys", refresh=False)
        self._call("update", 1)

    def close(self) -> None:
        """Clear the bar from the terminal."""
        self._call("close")
        self._bar = None


@functools.cache
def _bar_class() -> Any:
    """tqdm without its monitor thread, imported on first use."""
    from tqdm import tqdm

    class Bar(tqdm):  # type: ignore[type-arg]
        # The driver forks replacement workers while the bar is up, and forking a
        # multi-threaded process is unsafe (Python 3.12 warns): no monitor thread. Our
        # own updates redraw often enough.
        monitor_interval = 0

        @property
        def format_dict(self) -> MutableMapping[str, Any]:
            meter = super().format_dict
            if meter.get("ncols"):
                meter["ncols"] = max(meter["ncols"] - RIGHT_MARGIN, 20)
            return meter

    return Bar


def _si(number: float) -> str:
    """A count for humans: ``950``, ``12.3k``, ``1.64M``.

    >>> _si(950), _si(12_345), _si(1_640_000)
    ('950', '12.3k', '1.64M')
    """
    if number < 1000:
        return f"{number:.0f}"
    for unit in ("k", "M", "G", "T"):
        number /= 1000
        if number < 999.5:
            return f"{number:.3g}{unit}"
    return f"{number:.0f}T"
