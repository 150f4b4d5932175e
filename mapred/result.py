"""What a job returns: a sorted dict, or a lazy mapping over part files on disk."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from mapred.counters import Counters
from mapred.quarantine import SkippedRecord


class Result(dict[Any, Any]):
    """Each key mapped to its reduced value, keys in sorted order.

    A ``dict`` subclass, returned by ``mapreduce``: use it as any dict. It pickles
    with its attributes.

    Attributes:
        counters: ``{group: {name: int}}``; built-in counters in group ``"mapred"``,
            those of ``increment()`` in the groups it names.
        elapsed: the wall time of the whole call in seconds: from the call to the
            returned result, including (for ``mapreduce()``) starting and stopping its
            workers, and assembling this result.
        skipped: with ``max_skipped``, the records (and keys) left out, as
            :class:`mapred.SkippedRecord`, in input order then key order; else empty.

    Examples:
        >>> from mapred import mapreduce
        >>> result = mapreduce(lambda w: [(w, 1)], lambda k, vs: sum(vs), ["b", "a", "b"])
        >>> result, isinstance(result, dict)
        (Result({'a': 1, 'b': 2}), True)
        >>> result.counters["mapred"]["output_keys"]
        2
    """

    counters: Counters
    elapsed: float
    skipped: list[SkippedRecord]

    def __init__(
        self,
        items: Any = (),
        counters: Counters | None = None,
        elapsed: float = 0.0,
        skipped: list[SkippedRecord] | None = None,
    ):
        super().__init__(items)
        self.counters = counters if counters is not None else {}
        self.elapsed = elapsed
        self.skipped = skipped if skipped is not None else []

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self.items()), self.counters, self.elapsed, self.skipped))

    def __repr__(self) -> str:
        return f"Result({dict.__repr__(self)})"


class OnDisk:
    """What the results of ``output=DIR`` share: where the part files are, what the job
    counted, and how long it took. ``len()`` reads no part: it is the job's count."""

    def __init__(
        self,
        directory: str,
        parts: list[str],
        counters: Counters,
        elapsed: float,
        storage_options: Any = None,
    ) -> None:
        self.directory = directory
        self.parts = parts
        self.counters = counters
        self.elapsed = elapsed
        self.skipped: list[SkippedRecord] = []
        self._storage_options = storage_options  # for a URL directory (fsspec)

    def __len__(self) -> int:
        return int(self.counters.get("mapred", {}).get("output_keys", 0))


class OutputResult(OnDisk, Mapping[Any, Any]):
    """A read-only mapping over the part files of ``mapreduce(..., output=DIR)``.

    Returned by ``mapreduce`` when ``output`` is given; not made directly. Iterating
    streams the part files merged in key order without loading them;
    ``result[key]`` reads the one part file that can hold the key, from the block of the
    last lookup on: looking keys up in key order, as ``dict(result)`` does, reads each
    part once. ``len(result)`` reads none.

    Attributes:
        directory: the output directory.
        parts: the part file paths, one per reduce partition.
        counters: as for ``Result``.
        elapsed: as for ``Result``.
        skipped: as for ``Result`` (also in the directory's ``_skipped.jsonl``; a result
            reopened with :func:`mapred.open_output` has none).

    Examples:
        >>> import os, tempfile
        >>> from mapred import mapreduce
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = mapreduce(
        ...         lambda w: [(w, 1)],
        ...         lambda k, vs: sum(vs),
        ...         ["b", "a", "b"],
        ...         reducers=1,
        ...         output=os.path.join(tmp, "counts"),
        ...     )
        ...     print(sorted(os.listdir(out.directory)), dict(out.items()), out["b"], len(out))
        ['_SUCCESS', 'part-00000.msgpack'] {'a': 1, 'b': 2} 2 2
    """

    def __init__(
        self,
        directory: str,
        parts: list[str],
        counters: Counters,
        elapsed: float,
        partition: Any,
        natural: bool,
        storage_options: Any = None,
    ) -> None:
        super().__init__(directory, parts, counters, elapsed, storage_options)
        self._partition = partition
        self._natural = natural
        self._cursors = [_PartCursor(part, storage_options) for part in parts]

    def items(self) -> Any:  # a generator in key order; Mapping's view would re-read
        """Stream the ``(key, value)`` pairs of all part files, merged in key order."""
        from mapred.output import merge_parts

        return merge_parts(self.parts, self._natural, self._storage_options)

    def columns(self) -> tuple[list[Any], list[Any]]:
        """All keys in key order, and their values: two lists, read in one pass and merged
        in C (faster than :meth:`items` when the whole output fits in memory)."""
        from mapred.output import read_columns_sorted

        return read_columns_sorted(list(self.parts), self._natural, self._storage_options)

    def values(self) -> Any:  # Mapping's view would look every key up again: quadratic
        """Stream the values in key order (one pass over the part files)."""
        return (value for _, value in self.items())

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.items())

    def __getitem__(self, key: Any) -> Any:
        return self._cursors[self._partition(key)].find(key)

    def __repr__(self) -> str:
        return f"OutputResult({os.fspath(self.directory)!r}, {len(self)} keys)"


class _PartCursor:
    """Looks keys up in one part file, reading forward from the block of the last lookup.

    Keeps one decoded block (up to ``PART_BLOCK_KEYS`` keys) and the part's reader,
    which holds the file open, as an iteration over the part does. A key behind the
    current block costs one more pass from the start.
    """

    def __init__(self, path: str, options: Any = None) -> None:
        self.path = path
        self._options = options  # fsspec storage options, for a URL
        self._blocks: Iterator[tuple[list[Any], list[Any]]] | None = None
        self._positions: dict[Any, int] = {}  # the current block: key -> its index
        self._values: list[Any] = []
        self._lock = threading.Lock()  # a reader cannot be advanced by two threads

    def find(self, key: Any) -> Any:
        """The value of ``key`` in this part; KeyError if it holds none."""
        with self._lock:
            if key not in self._positions:
                from_start = self._blocks is None
                if not self._scan(key) and (from_start or not self._scan(key)):
                    raise KeyError(key)
            return self._values[self._positions[key]]

    def _scan(self, key: Any) -> bool:
        """Read blocks forward (from the first, with no reader) until one holds ``key``."""
        if self._blocks is None:
            from mapred.output import read_part_blocks

            self._blocks = read_part_blocks(self.path, self._options)
        for keys, values in self._blocks:
            self._positions = {k: i for i, k in enumerate(keys)}
            self._values = values
            if key in self._positions:
                return True
        self._blocks = None  # read to the end: its file is closed
        self._positions, self._values = {}, []
        return False
