"""Input planning, in the driver: which files, and how they are cut into splits.

Two kinds of input reach a map task:

* records of a user iterable, cut by :func:`iter_record_splits` into lists on a
  deterministic schedule (it never depends on timing or on the number of workers),
  bounded in records and bytes (:mod:`mapred.recordsplits`);
* lines of text files, described by :func:`read_text` as a :class:`TextInput`.
  :meth:`TextInput.plan_splits` cuts each plain file into :class:`FileSplit` byte
  ranges; every worker reads its own split (:mod:`mapred.splitreader`), the driver
  ships only the split. Streams (stdin, FIFOs, character devices) are read by the
  driver with :func:`iter_stream_lines`.

Each split carries its file's identity as planned (size, modification time, inode
and device; for a URL, its size and ETag or the like, as listed): the worker that
reads it checks the file is still that one (:mod:`mapred.fileid`), so a file changed
while the job runs is an ``InputChanged``, never a mixed answer.

Paths are local (globs, directories, streams), or URLs of remote storage listed
through fsspec (:mod:`mapred.storage`); ``file://`` URLs are local paths.

The reading side and the record splits are re-exported here (``FileSplit``, ``read_split``,
``read_split_blocks``, ``iter_stream_lines``, ...), so ``mapred.splits`` stays the
one import for input.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mapred import storage
from mapred.fileid import FileIdentity
from mapred.recordsplits import (
    FIRST_CHUNK_RECORDS,
    MAX_CHUNK_RECORDS,
    MAX_RECORD_SPLIT_BYTES,
    MIB,
    batch_bytes,
    iter_record_splits,
    record_bytes,
)
from mapred.splitreader import (
    BLOCK_BYTES,
    COMPRESSIONS,
    ERROR_HANDLERS,
    OVERREAD_BYTES,
    STDIN,
    FileSplit,
    check_decoding,
    compression_of,
    is_newline_safe,
    iter_stream_lines,
    read_split,
    read_split_blocks,
    split_lines,
)

# Automatic split size: about TARGET_SPLITS splits per job, each between
# MIN_SPLIT_BYTES and MAX_SPLIT_BYTES. Smaller splits balance load across workers
# and show progress sooner; larger ones amortize the per-task cost (a process
# round trip, one output file per task) and, above all, shuffle less: a combined
# split emits one pair per distinct key, so a word count's shuffle grows with the
# number of splits times the vocabulary. The size
# depends only on the input, never on the number of workers, so the same input
# always gives the same splits.
TARGET_SPLITS = 16
MIN_SPLIT_BYTES = MIB
MAX_SPLIT_BYTES = 32 * MIB


@dataclass(frozen=True)
class TextInput:
    """The lines of text files and streams, as returned by ``read_text``.

    Pass it to ``mapreduce`` as ``data``. The engine recognises this type as input:
    it plans the file splits and has workers read them, then reads the streams in
    the driver.

    Attributes:
        sources: the regular files in read order (as given, or joined to the
            directory they were found in), then the streams.
        encoding: the text encoding, as given.
        errors: the decode error handler.
        split_size: bytes per split; ``None`` for ``auto_split_size``.
        streams: the sources that are not regular files: ``"-"`` (stdin),
            FIFOs and character devices, read by the driver.
        remote_sizes: the size of each remote file (a URL), listed by ``read_text``.
        remote_identities: the identity of each remote file as listed (its size and
            ETag, generation or modification time): splits are planned on that
            version, and workers check they read it.
        storage_options: passed to fsspec for the URLs among the sources; left out
            of ``repr`` and comparisons so that secrets stay out of messages.
        with_path: records are ``(path, line)`` instead of lines.
    """

    sources: tuple[str, ...]
    encoding: str = "utf-8"
    errors: str = "strict"
    split_size: int | None = None
    streams: tuple[str, ...] = ()
    remote_sizes: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)
    storage_options: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    remote_identities: Mapping[str, FileIdentity] = field(
        default_factory=dict, repr=False, compare=False
    )
    with_path: bool = False

    @property
    def files(self) -> tuple[str, ...]:
        """The regular files among the sources, in read order."""
        streams = set(self.streams)
        return tuple(source for source in self.sources if source not in streams)

    def total_bytes(self) -> int:
        """The size on disk of all regular files (streams are not counted)."""
        return sum(self._identity(path).size for path in self.files)

    def _identity(self, path: str) -> FileIdentity:
        """The file as it is now (a URL: as listed), for planning and checking."""
        if path in self.remote_identities:
            return self.remote_identities[path]
        if path in self.remote_sizes:
            return FileIdentity(self.remote_sizes[path])
        return FileIdentity.of_stat(os.stat(path))

    def plan_splits(self) -> list[FileSplit]:
        """Cut every regular file into splits, in file order.

        Plain files in a newline-safe encoding are cut every ``split_size`` bytes
        (the last split ends at the file size); compressed files and other
        encodings give one whole-file split; empty files give none. A whole-file
        split of a remote file ends at its size (workers cannot stat it cheaply).
        Each split carries its file's identity, stated here (a URL: as listed).
        """
        files = self.files
        identities = [self._identity(path) for path in files]
        size = self.split_size or auto_split_size(sum(i.size for i in identities))
        cuttable = is_newline_safe(self.encoding)
        splits: list[FileSplit] = []
        for path, identity in zip(files, identities, strict=True):
            nbytes = identity.size
            if nbytes == 0:
                continue
            remote = storage.is_url(path)
            options = self.storage_options if remote else None
            compression = compression_of(path)
            if compression is not None or not cuttable:
                end = nbytes if remote else -1
                splits.append(FileSplit(path, 0, end, compression, options, identity))
                continue
            splits.extend(
                FileSplit(path, start, min(start + size, nbytes), None, options, identity)
                for start in range(0, nbytes, size)
            )
        return splits


def read_text(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    split_size: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    with_path: bool = False,
) -> TextInput:
    """Describe the lines of text files as job input.

    Args:
        paths: a path or a list of them. Each is a regular file, a directory
            (every regular file below it, recursively, sorted by path), a glob
            (expanded with ``recursive=True``, matches sorted), ``"-"`` for stdin,
            a FIFO or a character device. Files keep the order given. A URL
            (``s3://bucket/logs/*.gz``, ``gs://``, ``hdfs://``, ``https://``) is
            listed through fsspec (the ``remote`` extra) the same way: a file, a
            directory or prefix, a glob; ``file://`` URLs are local paths.
        encoding: any text encoding known to ``codecs``.
        errors: how to handle undecodable bytes: ``"strict"`` (a ``DecodeError``
            naming the file and line), ``"replace"``, ``"ignore"``,
            ``"surrogateescape"`` or ``"backslashreplace"``.
        split_size: bytes per split, or ``None`` to choose from the total size.
        storage_options: for URLs, passed to fsspec (``key``, ``secret``,
            ``client_kwargs={"endpoint_url": ...}``, ...); the workers get them too.
        with_path: make each record a ``(path, line)`` tuple, ``path`` as listed
            (``"-"`` for stdin); files are still split and read by the workers.

    Returns:
        The ``TextInput`` to pass as ``data``; files are only listed here, not read.

    Raises:
        FileNotFoundError: a path does not exist or a glob matches nothing.
        ValueError: a path is some other kind of file (a socket), an unknown
            encoding or error handler, a split size below 1, no paths.
        TypeError: a path or split size of the wrong type.
        ImportError: a URL without fsspec or the protocol's package installed.
    """
    check_decoding(encoding, errors)
    if split_size is not None and (not isinstance(split_size, int) or isinstance(split_size, bool)):
        raise TypeError(f"split_size must be an int or None, got {split_size!r}")
    if split_size is not None and split_size < 1:
        raise ValueError(f"split_size must be a positive number of bytes, got {split_size}")
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ValueError("read_text() needs at least one path")
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise TypeError(f"storage_options must be a mapping or None, got {storage_options!r}")
    files: list[str] = []
    streams: list[str] = []
    remote: dict[str, FileIdentity] = {}
    for item in items:
        path = os.fspath(item)
        if not isinstance(path, str):
            raise TypeError(f"paths must be str or os.PathLike[str], got {item!r}")
        if storage.is_url(path):
            for url, info in storage.list_infos(path, storage_options):
                files.append(url)
                remote[url] = FileIdentity.of_info(info)
        else:
            _expand(storage.local_path(path), files, streams)
    options = dict(storage_options) if storage_options is not None else None
    sizes = {url: identity.size for url, identity in remote.items()}
    return TextInput(
        tuple(files + streams),
        encoding,
        errors,
        split_size,
        tuple(streams),
        sizes,
        options,
        remote,
        bool(with_path),
    )


def _expand(path: str, files: list[str], streams: list[str]) -> None:
    """Append the files and streams that ``path`` names."""
    if path == STDIN:
        streams.append(path)
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if not any(char in path for char in "*?["):
            raise FileNotFoundError(2, "no such file or directory", path) from None
        matches = sorted(glob.glob(path, recursive=True), key=_path_order)
        if not matches:
            raise FileNotFoundError(2, "no file matches the pattern", path) from None
        for match in matches:
            _add_existing(match, os.stat(match).st_mode, files, streams)
        return
    _add_existing(path, mode, files, streams)


def _add_existing(path: str, mode: int, files: list[str], streams: list[str]) -> None:
    if stat.S_ISREG(mode):
        files.append(path)
    elif stat.S_ISDIR(mode):
        files.extend(_walk(path))
    elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        streams.append(path)
    else:
        raise ValueError(
            f"{path}: not a regular file, directory, FIFO or character device; cannot read it"
        )


def _walk(top: str) -> list[str]:
    """Every regular file below ``top``, sorted by path (broken links are skipped)."""

    def fail(exc: OSError) -> None:  # an unreadable directory must not vanish silently
        raise exc

    found = []
    for root, _dirs, names in os.walk(top, onerror=fail):
        for name in names:
            path = os.path.join(root, name)
            try:
                if stat.S_ISREG(os.stat(path).st_mode):
                    found.append(path)
            except FileNotFoundError:
                continue
    return sorted(found, key=_path_order)


def _path_order(path: str) -> list[str]:
    """Sort key comparing paths component by component, like ``pathlib``.

    >>> sorted(["a/b.txt", "a.txt", "a/a.txt"], key=_path_order)
    ['a/a.txt', 'a/b.txt', 'a.txt']
    """
    return path.split(os.sep)


def auto_split_size(total_bytes: int) -> int:
    """The default split size for ``total_bytes`` of input.

    ``total_bytes / TARGET_SPLITS`` rounded up to a whole MiB, clamped to
    ``[MIN_SPLIT_BYTES, MAX_SPLIT_BYTES]``.

    >>> auto_split_size(0) == MIN_SPLIT_BYTES
    True
    >>> auto_split_size(160 * MIB) // MIB
    10
    >>> auto_split_size(160 * MIB + 1) // MIB
    11
    >>> auto_split_size(10**12) == MAX_SPLIT_BYTES
    True
    """
    per_split = -(-total_bytes // TARGET_SPLITS)
    rounded = -(-per_split // MIB) * MIB
    return min(max(rounded, MIN_SPLIT_BYTES), MAX_SPLIT_BYTES)


__all__ = [
    "BLOCK_BYTES",
    "COMPRESSIONS",
    "ERROR_HANDLERS",
    "FIRST_CHUNK_RECORDS",
    "MAX_CHUNK_RECORDS",
    "MAX_RECORD_SPLIT_BYTES",
    "MAX_SPLIT_BYTES",
    "MIB",
    "MIN_SPLIT_BYTES",
    "OVERREAD_BYTES",
    "TARGET_SPLITS",
    "FileSplit",
    "TextInput",
    "auto_split_size",
    "batch_bytes",
    "check_decoding",
    "compression_of",
    "is_newline_safe",
    "iter_record_splits",
    "iter_stream_lines",
    "read_split",
    "read_split_blocks",
    "read_text",
    "record_bytes",
    "split_lines",
]
