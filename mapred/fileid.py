"""Input files' identities: is a file still the one the job planned its splits on?

A file truncated, rewritten or replaced while a job reads it would give a silent,
mixed answer (lines of neither version, or of both). So the driver records each input
file's :class:`FileIdentity` when it plans the splits (:mod:`mapred.splits`), every
split carries its file's, and a worker compares it with what the file is now when it
opens the split and, for a local file, once more after reading it
(:mod:`mapred.splitreader`). Any difference is an :class:`~mapred.errors.InputChanged`
naming the file and what changed.

* A local file is known by its size, modification time (ns), inode and device: an
  ``fstat`` of the open descriptor, so checking costs one system call.
* A remote file (a URL) by what the store offers: its size, plus the first of
  :data:`STAMP_KEYS` that its listing gives (S3's ETag, GCS's generation, a
  modification time). The worker asks the store again when it opens the split.

This module runs in workers: stdlib only (plus :mod:`mapred.errors`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mapred.errors import InputChanged

# What a store's ``info()`` may say that changes when an object is rewritten, best
# first. A content hash or generation beats a time: S3's ListObjects gives
# LastModified in milliseconds, its HEAD in whole seconds, but both the same ETag.
STAMP_KEYS = (
    "ETag",
    "etag",
    "generation",
    "md5Hash",
    "VersionId",
    "version_id",
    "mtime",
    "LastModified",
    "last_modified",
    "modified",
    "created",
)


@dataclass(frozen=True)
class FileIdentity:
    """What identifies one version of a file, for :func:`check_unchanged`.

    Attributes:
        size: bytes.
        mtime_ns: the modification time, for a local file.
        inode, device: for a local file: another file renamed over it has another.
        stamp: for a remote file, ``(key, value)`` from the store's info, such as
            ``("ETag", '"9b2cf535f27731c974343645a3985328"')``; ``None`` if it gives none.
    """

    size: int
    mtime_ns: int | None = None
    inode: int | None = None
    device: int | None = None
    stamp: tuple[str, str] | None = None

    @classmethod
    def of_stat(cls, status: os.stat_result) -> FileIdentity:
        """The identity of a local file, from ``os.stat`` or ``os.fstat``."""
        return cls(status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev)

    @classmethod
    def of_info(cls, info: Mapping[str, Any]) -> FileIdentity:
        """The identity of a remote file, from an fsspec ``info()`` or listing entry.

        >>> FileIdentity.of_info({"size": 3, "ETag": '"abc"', "LastModified": 1})
        FileIdentity(size=3, mtime_ns=None, inode=None, device=None, stamp=('ETag', '"abc"'))
        """
        stamp = next(
            ((key, str(info[key])) for key in STAMP_KEYS if info.get(key) is not None), None
        )
        return cls(int(info.get("size") or 0), stamp=stamp)

    def changes(self, now: FileIdentity) -> list[str]:
        """How ``now`` differs from this identity, in words; empty if it does not.

        A field that either side does not know is not compared.

        >>> FileIdentity(20, 1, 7, 1).changes(FileIdentity(10, 2, 7, 1))
        ['size 20 -> 10 bytes', 'modification time changed']
        >>> FileIdentity(5, 1, 7, 1).changes(FileIdentity(5, 1, 8, 1))
        ['replaced by another file (inode 7 -> 8)']
        """
        found = []
        if self.size != now.size:
            found.append(f"size {self.size} -> {now.size} bytes")
        if _known(self.inode, now.inode) and self.inode != now.inode:
            found.append(f"replaced by another file (inode {self.inode} -> {now.inode})")
        elif _known(self.device, now.device) and self.device != now.device:
            found.append(f"replaced by a file on another device ({self.device} -> {now.device})")
        if _known(self.mtime_ns, now.mtime_ns) and self.mtime_ns != now.mtime_ns:
            found.append("modification time changed")
        if self.stamp and now.stamp and self.stamp[0] == now.stamp[0] and self.stamp != now.stamp:
            found.append(f"{self.stamp[0]} {self.stamp[1]} -> {now.stamp[1]}")
        return found


def _known(planned: int | None, now: int | None) -> bool:
    return planned is not None and now is not None


def check_unchanged(path: str, planned: FileIdentity | None, now: FileIdentity, when: str) -> None:
    """Raise :class:`InputChanged` if ``now`` is not the ``planned`` file.

    Args:
        path: the file, for the message.
        planned: its identity when the splits were planned; ``None`` (a split made
            by hand) checks nothing.
        now: its identity now.
        when: the moment, for the message: ``"when a worker opened bytes 0-100"``.
    """
    if planned is None:
        return
    changes = planned.changes(now)
    if changes:
        error = InputChanged(
            f"{path}: the input file changed while the job ran ({', '.join(changes)}; "
            f"noticed {when}). The job stopped rather than give an answer mixing two "
            "versions of the file: run it again once the file no longer changes "
            "(or on a copy).",
            path,
        )
        # A note of mapred's: the map task passes the error on as it is, not as the mapper's.
        error.add_note("mapred: raised reading the job's input, not by the mapper")
        raise error
