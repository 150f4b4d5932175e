"""An S3 object rewritten after its splits were planned: InputChanged, by its ETag."""

from __future__ import annotations

from typing import Any

import pytest

from mapred import InputChanged, mapreduce, read_text
from mapred import storage as store
from mapred.splits import read_split
from tests.oracle import total, words

pytest.importorskip("s3fs", reason="the remote tests need s3fs: pip install '.[test]'")


def put(storage_options: dict[str, Any], url: str, data: bytes) -> None:
    fs, path = store.filesystem(url, storage_options)
    fs.pipe_file(path, data)


def test_splits_carry_the_objects_etag(bucket: str, storage_options: dict[str, Any]) -> None:
    url = f"s3://{bucket}/a.txt"
    put(storage_options, url, b"one two\n" * 100)
    splits = read_text(url, split_size=100, storage_options=storage_options).plan_splits()
    identities = {split.identity for split in splits}
    assert len(identities) == 1
    (identity,) = identities
    assert identity is not None
    assert identity.size == 800
    assert identity.stamp is not None
    assert identity.stamp[0] == "ETag"
    lines = [line for split in splits for line in read_split(split, "utf-8", "strict")]
    assert lines == ["one two"] * 100  # unchanged: read as ever


def test_an_object_rewritten_with_the_same_size(
    bucket: str, storage_options: dict[str, Any]
) -> None:
    url = f"s3://{bucket}/logs/a.txt"
    put(storage_options, url, b"one two\n" * 100)
    text = read_text(url, split_size=100, storage_options=storage_options)
    put(storage_options, url, b"six ten\n" * 100)
    with pytest.raises(InputChanged, match="ETag") as info:
        mapreduce(words, total, text, workers=1)
    assert info.value.path == url


def test_a_gz_object_truncated(bucket: str, storage_options: dict[str, Any]) -> None:
    import gzip

    url = f"s3://{bucket}/a.txt.gz"
    packed = gzip.compress(b"one two\n" * 1000)
    put(storage_options, url, packed)
    text = read_text(url, storage_options=storage_options)
    put(storage_options, url, packed[: len(packed) // 2])
    with pytest.raises(InputChanged, match="size"):
        mapreduce(words, total, text, backend="serial")
