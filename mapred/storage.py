"""Where input and output live: local paths, or URLs through fsspec (``mapred[remote]``).

One owner for every file operation that must work on a local disk and on remote
storage alike (``s3://``, ``gs://``, ``hdfs://``, ``https://``, ...):

* planning input: :func:`list_infos` expands a URL, a glob or a directory into files
  with what the store says of each (size, ETag, ...);
* reading input in a worker: :func:`open_range` reads one split's byte range with
  ranged requests (never the whole object), :func:`open_input` a whole file;
  :func:`info_of` says what the object was when opened, to check it is the one planned;
* writing output: :func:`open_write_temp`, then :func:`commit` moves the finished
  temporary file to its final name; :func:`remove`, :func:`list_names`,
  :func:`exists`, :func:`is_dir`, :func:`make_dirs`, :func:`touch`, :func:`open_read`
  and :func:`join` complete it.

Local paths (and ``file://`` URLs, turned into paths by :func:`local_path`) take
the plain ``os`` calls and never import fsspec. What a commit can make atomic depends
on the store: a local or HDFS rename is atomic; an object store (S3, GCS, Azure)
has no rename, so :func:`commit` copies then deletes: the final object appears
whole or not at all, but the temporary object is visible until it is deleted.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping
from typing import IO, Any, cast

# Bytes per ranged request when reading a split: large enough that the request's
# latency (milliseconds on an object store) is small beside its transfer, small
# enough that a worker holds little. A request never reaches further than the
# split's end plus TAIL_BYTES, except to finish a line crossing the end.
RANGE_BYTES = 8 << 20
TAIL_BYTES = 64 << 10

REMOTE_HINT = (
    "reading or writing URLs needs fsspec: pip install '.[remote]' from the mapred clone, "
    "plus the package for the protocol (s3fs, gcsfs, ...)"
)

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_FILE_URL = "file://"

StorageOptions = Mapping[str, Any] | None


def is_url(path: str) -> bool:
    """Whether ``path`` names remote storage (a URL other than ``file://``).

    >>> is_url("s3://bucket/a.txt"), is_url("logs/a.txt"), is_url("file:///tmp/a.txt")
    (True, False, False)
    """
    return _URL.match(path) is not None and not path.startswith(_FILE_URL)


def local_path(path: str) -> str:
    """A ``file://`` URL as a plain path (other paths unchanged), for the local fast path.

    >>> local_path("file:///tmp/a.txt"), local_path("a.txt")
    ('/tmp/a.txt', 'a.txt')
    """
    return path[len(_FILE_URL) :] if path.startswith(_FILE_URL) else path


def join(directory: str, name: str) -> str:
    """``name`` inside ``directory`` (a URL joins with ``/``).

    >>> join("s3://b/out/", "part-00000.msgpack"), join("out", "_SUCCESS")
    ('s3://b/out/part-00000.msgpack', 'out/_SUCCESS')
    """
    if is_url(directory):
        return directory.rstrip("/") + "/" + name
    return os.path.join(directory, name)


def filesystem(url: str, options: StorageOptions) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path within it.

    Raises:
        ImportError: fsspec, or the protocol's package, is not installed.
        ValueError: an unknown protocol.
    """
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise ImportError(f"{url}: {REMOTE_HINT}") from None
    try:
        fs, path = url_to_fs(url, **dict(options or {}))
    except ImportError as exc:
        raise ImportError(f"{url}: {exc}") from None
    return fs, str(path)


def list_files(url: str, options: StorageOptions) -> list[tuple[str, int]]:
    """The files a URL names, with their sizes, as URLs (see :func:`list_infos`)."""
    return [(name, int(info.get("size") or 0)) for name, info in list_infos(url, options)]


def list_infos(url: str, options: StorageOptions) -> list[tuple[str, Mapping[str, Any]]]:
    """The files a URL names, with what the store says of each (size, ETag, ...), as URLs.

    A file is itself; a directory (or prefix) every file below it; a glob its
    matches (``**`` recursive), a matching directory every file below it. Sorted by
    path, component by component.

    Raises:
        FileNotFoundError: nothing there, or a glob matching nothing.
    """
    fs, path = filesystem(url, options)
    if any(char in path for char in "*?["):
        matches = fs.glob(path, detail=True)
        if not matches:
            raise FileNotFoundError(2, "no file matches the pattern", url)
        found: list[tuple[str, Mapping[str, Any]]] = []
        for name in sorted(matches, key=_path_order):
            info = matches[name]
            if info.get("type") == "directory":
                found.extend(_walk(fs, name))
            elif not name.endswith("/"):
                found.append((name, info))
    else:
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise FileNotFoundError(2, "no such file or directory", url) from None
        found = _walk(fs, path) if info.get("type") == "directory" else [(path, info)]
    return [(fs.unstrip_protocol(name), info) for name, info in found]


def _walk(fs: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every file below ``path`` (directory markers of object stores left out)."""
    files = fs.find(path, detail=True)
    return [
        (name, info)
        for name, info in sorted(files.items(), key=lambda item: _path_order(item[0]))
        if info.get("type") != "directory" and not name.endswith("/")
    ]


def _path_order(path: str) -> list[str]:
    return path.split("/")


# ---------------------------------------------------------------------------------------------
# Reading input (in workers)


def open_input(url: str, options: StorageOptions) -> IO[bytes]:
    """A whole remote file for reading from its start, in large sequential requests."""
    fs, path = filesystem(url, options)
    fs.invalidate_cache(path)  # what the object is now, not what a listing said
    file: IO[bytes] = fs.open(path, "rb", block_size=RANGE_BYTES, cache_type="readahead")
    return file


def open_range(url: str, options: StorageOptions, start: int, end: int) -> IO[bytes]:
    """A remote file for reading the split ``[start, end)``, with ranged requests.

    ``seek`` and ``read`` work as on a local file; each request asks for at most
    :data:`RANGE_BYTES` and never past ``end`` plus :data:`TAIL_BYTES` (past ``end``,
    only what ``read`` asks for: the rest of the line crossing ``end``).
    """
    fs, path = filesystem(url, options)
    fs.invalidate_cache(path)
    return cast("IO[bytes]", _RangeReader(fs.open(path, "rb", cache_type="none"), start, end))


def info_of(file: IO[bytes], url: str, options: StorageOptions) -> Mapping[str, Any]:
    """What the store said of a file opened by :func:`open_input` or :func:`open_range`
    (size, ETag, ...) when it was opened; asked again if the file kept no record."""
    inner = file._file if isinstance(file, _RangeReader) else file
    details = getattr(inner, "details", None)
    if isinstance(details, Mapping) and "size" in details:
        return details
    fs, path = filesystem(url, options)
    fs.invalidate_cache(path)
    info: Mapping[str, Any] = fs.info(path)
    return info


class _RangeReader(io.RawIOBase):
    """Buffered ranged reads over an unbuffered fsspec file, bounded by a split's end."""

    def __init__(self, file: Any, start: int, end: int) -> None:
        super().__init__()
        self._file = file
        self._end = end
        self._buffer = memoryview(b"")
        self._pos = start
        self.requests = 0  # ranged requests made, and their bytes: for tests and curiosity
        self.fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only absolute seeks")
        self._pos = pos
        self._buffer = memoryview(b"")
        return pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise io.UnsupportedOperation("read a split in pieces")
        if not self._buffer:
            if self._end < 0:
                want = max(size, RANGE_BYTES)
            elif self._pos < self._end:
                want = max(size, min(RANGE_BYTES, self._end + TAIL_BYTES - self._pos))
            else:
                want = size
            self._file.seek(self._pos)
            self._buffer = memoryview(self._file.read(want))
            self.requests += 1
            self.fetched += len(self._buffer)
        piece = bytes(self._buffer[:size])
        self._buffer = self._buffer[size:]
        self._pos += len(piece)
        return piece

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


# ---------------------------------------------------------------------------------------------
# Writing output


def make_dirs(directory: str, options: StorageOptions) -> None:
    """Create ``directory`` (and its parents) if missing."""
    if is_url(directory):
        fs, path = filesystem(directory, options)
        fs.makedirs(path, exist_ok=True)
    else:
        os.makedirs(directory, exist_ok=True)


def exists(path: str, options: StorageOptions) -> bool:
    """Whether a file or directory (on an object store: any key or prefix) is there."""
    if is_url(path):
        fs, inner = filesystem(path, options)
        return bool(fs.exists(inner))
    return os.path.exists(path)


def is_dir(path: str, options: StorageOptions) -> bool:
    """Whether ``path`` is a directory (on an object store: a prefix with keys below)."""
    if is_url(path):
        fs, inner = filesystem(path, options)
        return bool(fs.isdir(inner))
    return os.path.isdir(path)


def list_names(directory: str, options: StorageOptions) -> list[str]:
    """The names (not paths) directly inside ``directory``; none if it is missing."""
    if is_url(directory):
        fs, path = filesystem(directory, options)
        fs.invalidate_cache(path)  # another process may have written there since
        try:
            entries = fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(name.rstrip("/").rsplit("/", 1)[-1] for name in entries)
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def open_write_temp(path: str, options: StorageOptions) -> IO[bytes]:
    """A new file at the temporary name ``path``, for writing; see :func:`commit`."""
    if is_url(path):
        fs, inner = filesystem(path, options)
        file: IO[bytes] = fs.open(inner, "wb")
        return file
    return open(path, "wb")


def commit(temp: str, final: str, options: StorageOptions) -> None:
    """Move a complete temporary file to its final name.

    Atomic on a local disk and on HDFS (a rename). On an object store the final
    object is written whole by one copy, then the temporary one is deleted.
    """
    if is_url(temp):
        fs, inner = filesystem(temp, options)
        _, final_inner = filesystem(final, options)
        fs.mv(inner, final_inner)
        return
    os.replace(temp, final)


def remove(path: str, options: StorageOptions) -> None:
    """Delete a file; a missing one is not an error."""
    if is_url(path):
        fs, inner = filesystem(path, options)
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(inner)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def touch(path: str, options: StorageOptions) -> None:
    """Create an empty file (a marker such as ``_SUCCESS``)."""
    if is_url(path):
        fs, inner = filesystem(path, options)
        fs.touch(inner)
        return
    with open(path, "wb"):
        pass


def open_read(path: str, options: StorageOptions) -> IO[bytes]:
    """A file for reading from its start (a part file, say)."""
    if is_url(path):
        return open_input(path, options)
    return open(path, "rb")
