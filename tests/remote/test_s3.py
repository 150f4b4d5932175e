"""Input from and output to S3, against a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import pytest

from mapred import mapreduce, read_text
from mapred import storage as store
from mapred.splits import FileSplit, read_split

pytest.importorskip("s3fs", reason="the remote tests need s3fs: pip install '.[test]'")

WORDS = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta"]


def words(line: str) -> list[tuple[str, int]]:
    return [(word, 1) for word in line.split()]


def total(word: str, counts: Any) -> int:
    return sum(counts)


def sample_text(lines: int) -> bytes:
    rows = (
        " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(i % 5 + 1)) for i in range(lines)
    )
    return ("\n".join(rows) + "\n").encode()


def put(storage_options: dict[str, Any], url: str, data: bytes) -> None:
    fs, path = store.filesystem(url, storage_options)
    fs.pipe_file(path, data)


def test_one_object_is_cut_into_byte_range_splits(
    bucket: str, storage_options: dict[str, Any], tmp_path: Path
) -> None:
    data = sample_text(2000)
    url = f"s3://{bucket}/logs/a.txt"
    put(storage_options, url, data)
    text_input = read_text(url, split_size=1000, storage_options=storage_options)
    splits = text_input.plan_splits()
    assert len(splits) == -(-len(data) // 1000)
    assert {split.path for split in splits} == {url}
    lines = [line for split in splits for line in read_split(split, "utf-8", "strict")]
    assert lines == data.decode().splitlines()


def test_a_worker_reads_only_its_own_range(bucket: str, storage_options: dict[str, Any]) -> None:
    data = sample_text(50_000)
    url = f"s3://{bucket}/big.txt"
    put(storage_options, url, data)
    size = len(data) // 8
    middle = FileSplit(url, 3 * size, 4 * size, None, storage_options)
    reader = store.open_range(url, storage_options, middle.start - 1, middle.end)
    with reader:
        reader.seek(middle.start - 1)
        while reader.read(64 * 1024):
            if reader.tell() > middle.end + 1024:
                break
    fetched = reader.fetched  # type: ignore[attr-defined]
    assert 0 < fetched < size + store.TAIL_BYTES + 64 * 1024 < len(data)


def test_globs_prefixes_and_gzip_objects(bucket: str, storage_options: dict[str, Any]) -> None:
    plain = sample_text(300)
    put(storage_options, f"s3://{bucket}/logs/2024/b.txt", plain)
    put(storage_options, f"s3://{bucket}/logs/2024/a.txt.gz", gzip.compress(plain))
    put(storage_options, f"s3://{bucket}/logs/other.csv", b"x\n")
    by_glob = read_text(f"s3://{bucket}/logs/**/*.t*", storage_options=storage_options)
    assert by_glob.files == (f"s3://{bucket}/logs/2024/a.txt.gz", f"s3://{bucket}/logs/2024/b.txt")
    by_prefix = read_text(f"s3://{bucket}/logs", split_size=100, storage_options=storage_options)
    assert len(by_prefix.files) == 3
    gz_splits = [s for s in by_prefix.plan_splits() if s.compression == "gz"]
    assert len(gz_splits) == 1
    assert gz_splits[0].end == len(gzip.compress(plain))
    lines = list(read_split(gz_splits[0], "utf-8", "strict"))
    assert lines == plain.decode().splitlines()


def test_missing_object_and_empty_glob_name_the_url(
    bucket: str, storage_options: dict[str, Any]
) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_text(f"s3://{bucket}/nope.txt", storage_options=storage_options)
    with pytest.raises(FileNotFoundError, match="matches"):
        read_text(f"s3://{bucket}/*.nope", storage_options=storage_options)


def test_word_count_on_processes_equals_the_local_run(
    bucket: str, storage_options: dict[str, Any], tmp_path: Path
) -> None:
    data = sample_text(5000)
    local = tmp_path / "a.txt"
    local.write_bytes(data)
    put(storage_options, f"s3://{bucket}/in/a.txt", data)
    put(storage_options, f"s3://{bucket}/in/b.txt.gz", gzip.compress(data))
    remote = read_text(f"s3://{bucket}/in/", split_size=4096, storage_options=storage_options)
    assert len(remote.plan_splits()) > 5
    expected = mapreduce(words, total, read_text([local, local]), backend="serial")
    result = mapreduce(words, total, remote, combiner=total, workers=2, reducers=3)
    assert dict(result) == dict(expected)
    assert result.counters["mapred"]["input_records"] == 2 * data.count(b"\n")


@pytest.mark.dask
def test_word_count_on_a_dask_cluster_equals_the_local_run(
    bucket: str, storage_options: dict[str, Any], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed", reason="needs the dask extra")
    data = sample_text(3000)
    local = tmp_path / "a.txt"
    local.write_bytes(data)
    put(storage_options, f"s3://{bucket}/a.txt", data)
    remote = read_text(f"s3://{bucket}/a.txt", split_size=2048, storage_options=storage_options)
    expected = mapreduce(words, total, read_text(local), backend="serial")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        result = mapreduce(words, total, remote, combiner=total, backend=client, reducers=2)
        out_url = f"s3://{bucket}/out"
        written = mapreduce(
            words,
            total,
            remote,
            backend=client,
            reducers=2,
            output=out_url,
            storage_options=storage_options,
        )
        assert dict(written.items()) == dict(expected)
    assert dict(result) == dict(expected)
    names = store.list_names(out_url, storage_options)
    assert names == ["_SUCCESS", "part-00000.msgpack", "part-00001.msgpack"]


def test_output_to_s3_equals_the_local_output(
    bucket: str, storage_options: dict[str, Any], tmp_path: Path
) -> None:
    data = sample_text(3000)
    put(storage_options, f"s3://{bucket}/in.txt", data)
    local_in = tmp_path / "in.txt"
    local_in.write_bytes(data)
    remote_in = read_text(f"s3://{bucket}/in.txt", split_size=4096, storage_options=storage_options)
    local = mapreduce(words, total, read_text(local_in), reducers=3, output=tmp_path / "out")
    out_url = f"s3://{bucket}/results/counts"
    remote = mapreduce(
        words, total, remote_in, reducers=3, output=out_url, storage_options=storage_options
    )
    assert list(remote.items()) == list(local.items())
    assert remote["alpha"] == local["alpha"]
    fs, path = store.filesystem(out_url, storage_options)
    fs.invalidate_cache()
    names = sorted(name.rsplit("/", 1)[-1] for name in fs.ls(path, detail=False))
    assert names == sorted(os.listdir(tmp_path / "out"))
    assert names == ["_SUCCESS", "part-00000.msgpack", "part-00001.msgpack", "part-00002.msgpack"]
    for name in names:
        assert fs.cat_file(f"{path}/{name}") == (tmp_path / "out" / name).read_bytes()


def test_output_to_a_non_empty_prefix_is_refused(
    bucket: str, storage_options: dict[str, Any]
) -> None:
    put(storage_options, f"s3://{bucket}/out/old.txt", b"keep me\n")
    with pytest.raises(ValueError, match="not empty"):
        mapreduce(
            words,
            total,
            ["a b"],
            backend="serial",
            output=f"s3://{bucket}/out",
            storage_options=storage_options,
        )
    fs, path = store.filesystem(f"s3://{bucket}/out/old.txt", storage_options)
    assert fs.cat_file(path) == b"keep me\n"


def test_a_failed_job_leaves_no_part_objects(bucket: str, storage_options: dict[str, Any]) -> None:
    def failing(word: str, counts: Any) -> int:
        if word == "b":
            raise ZeroDivisionError("no")
        return sum(counts)

    out_url = f"s3://{bucket}/out"
    with pytest.raises(ZeroDivisionError):
        mapreduce(
            words,
            failing,
            ["a b c"] * 10,
            reducers=2,
            workers=2,
            output=out_url,
            storage_options=storage_options,
        )
    assert store.list_names(out_url, storage_options) == []


def test_the_command_line_reads_s3_with_credentials_from_the_environment(
    bucket: str,
    storage_options: dict[str, Any],
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mapred.cli import main

    put(storage_options, f"s3://{bucket}/books/a.txt", b"b a\nb\n")
    put(storage_options, f"s3://{bucket}/books/b.txt.gz", gzip.compress(b"c b\n"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    status = main(["wordcount", "-w", "2", "--sort", "key", f"s3://{bucket}/books/"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out == "a\t1\nb\t3\nc\t1\n"
