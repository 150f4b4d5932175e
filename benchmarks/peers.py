"""The peers: what a Python user would write instead of a mapred job.

Each function takes ``(task, path, workers)`` and returns a summary of its answer
(``workloads.summary``); ``contenders.py`` times it. Tokens are lowercase whitespace
tokens, bigrams are tuples of consecutive tokens of a line, as in the mapred jobs, so
every contender computes the same answer. Tasks a peer lacks raise NotImplementedError
(the runner only asks for the tasks listed in ``run.py``). Standard library only at
module level.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

from benchmarks import corpus, workloads

BLOCK_BYTES = 64 * 1024  # a block's token list stays in cache
POOL_CHUNK_BYTES = 4 << 20  # multiprocessing.Pool: bytes per task
Answer = dict[str, Any]


def read_blocks(path: str, start: int = 0, end: int | None = None) -> Iterator[str]:
    """Blocks of whole lines of ``path[start:end]`` (a line belongs where it starts)."""
    with open(path, "rb") as file:
        end = os.path.getsize(path) if end is None else end
        if start:
            file.seek(start - 1)
            file.readline()  # the line holding byte start-1 belongs to the previous range
        while file.tell() < end:
            block = file.read(min(BLOCK_BYTES, end - file.tell()))
            if not block.endswith(b"\n"):
                block += file.readline()
            yield block.decode("utf-8")


def count(task: str, blocks: Iterator[str]) -> collections.Counter[Any]:
    """Counter of words or bigram tuples over blocks of text."""
    counts: collections.Counter[Any] = collections.Counter()
    if task == "wordcount":
        for block in blocks:
            counts.update(block.lower().split())
    else:
        for block in blocks:
            for line in block.lower().splitlines():
                counts.update(pairwise(line.split()))
    return counts


def index_docs(paths: list[str]) -> dict[str, list[tuple[str, int]]]:
    return dict(workloads.index_task(iter(paths)))


def followers(counts: collections.Counter[Any]) -> dict[str, tuple[int, str]]:
    """Each word's most frequent follower, from bigram counts."""
    best: dict[str, tuple[int, str]] = {}
    for (first, second), n in counts.items():
        if (n, second) > best.get(first, (0, "")):
            best[first] = (n, second)
    return best


# -- single process -------------------------------------------------------------------------


def single(task: str, path: str, workers: int) -> Answer:
    """A one-process script: Counter over 64 KB blocks, or a dict of lists for the index."""
    if task == "index":
        groups = index_docs(corpus.documents(path))
        return workloads.summary(task, ((w, sorted(p)) for w, p in groups.items()))
    counts = count("wordcount" if task == "wordcount" else "bigrams", read_blocks(path))
    if task == "twostep":
        return workloads.summary(task, followers(counts).items())
    return workloads.summary(task, counts.items())


# -- multiprocessing.Pool -------------------------------------------------------------------


def _pool_count(args: tuple[str, str, int, int]) -> collections.Counter[Any]:
    task, path, start, end = args
    return count(task, read_blocks(path, start, end))


def pool(task: str, path: str, workers: int) -> Answer:
    """A hand-written Pool job: one Counter (or dict) per 4 MB range, merged in the parent."""
    with multiprocessing.Pool(workers) as workers_pool:
        if task == "index":
            docs = corpus.documents(path)
            batches = [docs[i : i + 8] for i in range(0, len(docs), 8)]
            groups: dict[str, list[tuple[str, int]]] = {}
            for part in workers_pool.imap(index_docs, batches):
                for word, found in part.items():
                    groups.setdefault(word, []).extend(found)
            return workloads.summary(task, ((w, sorted(p)) for w, p in groups.items()))
        size = os.path.getsize(path)
        kind = "wordcount" if task == "wordcount" else "bigrams"
        chunks = [(kind, path, start, min(start + POOL_CHUNK_BYTES, size))
                  for start in range(0, size, POOL_CHUNK_BYTES)]  # fmt: skip
        total: collections.Counter[Any] = collections.Counter()
        for counts in workers_pool.imap_unordered(_pool_count, chunks):
            total.update(counts)
    if task == "twostep":
        return workloads.summary(task, followers(total).items())
    return workloads.summary(task, total.items())


# -- Dask bag -------------------------------------------------------------------------------


def _line_bigrams(line: str) -> list[tuple[str, str]]:
    return list(pairwise(line.lower().split()))


def _append(acc: list[Any], pair: tuple[str, Any]) -> list[Any]:
    acc.append(pair[1])
    return acc


def dask_bag(task: str, path: str, workers: int) -> Answer:
    """dask.bag on the processes scheduler: frequencies(), foldby() for the index."""
    import dask
    import dask.bag as db

    with dask.config.set(scheduler="processes", num_workers=workers):
        if task == "index":
            docs = corpus.documents(path)
            bag = db.from_sequence(docs, npartitions=4 * workers)
            # initial=list: a new list per key (a list value would be shared by all keys)
            folded = bag.map(lambda p: list(workloads.doc_postings(p))).flatten().foldby(
                lambda pair: pair[0], _append, list, lambda a, b: a + b, list
            )  # fmt: skip
            return workloads.summary(task, ((w, sorted(p)) for w, p in folded.compute()))
        lines = db.read_text(path, blocksize=16 * 2**20)
        if task == "wordcount":
            return workloads.summary(task, lines.str.lower().str.split().flatten()
                                     .frequencies().compute())  # fmt: skip
        freqs = lines.map(_line_bigrams).flatten().frequencies()
        if task == "bigrams":
            return workloads.summary(task, freqs.compute())
        best = freqs.map(lambda kv: (kv[0][0], (kv[1], kv[0][1]))).foldby(
            lambda kv: kv[0], lambda acc, kv: max(acc, kv[1]), (0, ""), max, (0, "")
        )  # fmt: skip
        return workloads.summary(task, best.compute())


# -- PySpark --------------------------------------------------------------------------------


def spark(task: str, path: str, workers: int) -> Answer:
    """PySpark local[N]: flatMap, reduceByKey (groupByKey for the index), collect."""
    from operator import add

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers: this venv's Python
    session = (
        SparkSession.builder.master(f"local[{workers}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    context = session.sparkContext
    started = time.perf_counter()  # the JVM's start-up left out, as before
    try:
        if task == "index":
            docs = context.parallelize(corpus.documents(path), 4 * workers)
            rows = docs.flatMap(workloads.doc_postings).groupByKey().mapValues(sorted).collect()
        else:
            lines = context.textFile(path)
            if task == "wordcount":
                words = lines.flatMap(lambda line: line.lower().split())
                rows = words.map(lambda w: (w, 1)).reduceByKey(add).collect()
            else:
                counts = lines.flatMap(_line_bigrams).map(lambda b: (b, 1)).reduceByKey(add)
                if task == "twostep":
                    counts = counts.map(lambda kv: (kv[0][0], (kv[1], kv[0][1]))).reduceByKey(max)
                rows = counts.collect()
        elapsed = time.perf_counter() - started
    finally:
        session.stop()
    return {"elapsed": elapsed, **workloads.summary(task, rows)}


# -- mrjob ----------------------------------------------------------------------------------

_MRJOB_SOURCE = """
from mrjob.job import MRJob

class Count(MRJob):
    def mapper(self, _, line):
        for word in line.lower().split():
            yield word, 1
    def combiner(self, key, counts):
        yield key, sum(counts)
    def reducer(self, key, counts):
        yield key, sum(counts)

if __name__ == "__main__":
    Count.run()
"""


def mrjob(task: str, path: str, workers: int) -> Answer:
    """mrjob's local runner (Hadoop streaming simulated with subprocesses); word count."""
    if task != "wordcount":
        raise NotImplementedError("mrjob runs word count only here")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "count_job.py")
        with open(script, "w", encoding="utf-8") as file:
            file.write(_MRJOB_SOURCE)
        out = os.path.join(tmp, "out")
        subprocess.run(
            [sys.executable, script, "-r", "local", "--num-cores", str(workers),
             "--output-dir", out, "--no-conf", "-q", path],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        counts = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), encoding="utf-8") as file:
                for line in file:
                    key, n = line.rstrip("\n").split("\t")
                    counts.append((json.loads(key), int(n)))
    return workloads.summary(task, counts)


PEERS: dict[str, Callable[[str, str, int], Answer]] = {
    "single": single,
    "pool": pool,
    "dask_bag": dask_bag,
    "spark": spark,
    "mrjob": mrjob,
}
