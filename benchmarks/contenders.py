"""The contenders: one function per (system, task), run as ``python contenders.py NAME TASK PATH``.

Each run happens in a fresh process (started by :mod:`benchmarks.run`, which samples
the memory of its whole process tree) and prints one JSON line: the wall time of the
job itself (imports and interpreter start-up excluded, the same for everyone), and a
summary of the answer (distinct keys, total count, the top keys) that the runner
checks against the other contenders'.

Tasks, on lines of UTF-8 text:

* ``wordcount``: tokens are matches of ``\\w+(?:['’]\\w+)*`` in the lowercased line
  (the tokenizer of ``mapred wordcount``); count each token.
* ``bigrams``: pairs of consecutive tokens of one line, as ``"a b"``; count each.

Dask bag runs the expression the issue names, ``str.split().flatten().frequencies()``
for word count: whitespace tokens, not lowercased, so its answer differs and is not
checked; it does less work per token than the others. Everything else computes the
same answer.

mapred runs from the project's virtualenv; the peers from the benchmark one
(``benchmarks/setup_peers.sh``). Module-level imports are the standard library only.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice, pairwise, repeat
from typing import Any

PATTERN = r"\w+(?:['’]\w+)*"
# Single-process and Pool baselines: characters per block. 16-64 KiB measured fastest
# (6.2 s for 200 MB; 1 MiB: 7.1 s, 16 MiB: 8.5 s): a block's token list stays in cache.
BLOCK_BYTES = 64 * 1024
POOL_CHUNK_BYTES = 4 << 20  # multiprocessing.Pool: bytes per task

_findall = re.compile(PATTERN).findall


def tokens(line: str) -> list[str]:
    return _findall(line.lower())


def line_bigrams(line: str) -> list[str]:
    words = _findall(line.lower())
    return [f"{a} {b}" for a, b in pairwise(words)]


def read_blocks(path: str, block_bytes: int) -> Iterator[str]:
    """Blocks of whole lines, about ``block_bytes`` each."""
    with open(path, encoding="utf-8") as file:
        while True:
            block = file.read(block_bytes)
            if not block:
                return
            if not block.endswith("\n"):
                block += file.readline()
            yield block


def summary(counts: Iterable[tuple[Any, int]]) -> dict[str, Any]:
    items = list(counts)
    top = sorted(items, key=lambda kv: (-kv[1], str(kv[0])))[:5]
    return {
        "keys": len(items),
        "total": sum(count for _, count in items),
        "top": [[str(k), c] for k, c in top],
    }


# -- single process -------------------------------------------------------------------------


def single(task: str, path: str, workers: int, engine: str = "re") -> dict[str, Any]:
    """collections.Counter over findall on big blocks (re or the regex module)."""
    if engine == "regex":
        import regex

        findall = regex.compile(PATTERN).findall
    else:
        findall = re.compile(PATTERN).findall
    block_bytes = int(os.environ.get("BENCH_BLOCK_BYTES", BLOCK_BYTES))
    counts: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    if task == "wordcount":
        for block in read_blocks(path, block_bytes):
            counts.update(findall(block.lower()))
    else:
        for block in read_blocks(path, block_bytes):
            for line in block.lower().splitlines():
                words = findall(line)
                counts.update(map(" ".join, pairwise(words)))
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, **summary(counts.items())}


def single_regex(task: str, path: str, workers: int) -> dict[str, Any]:
    return single(task, path, workers, engine="regex")


# -- multiprocessing.Pool -------------------------------------------------------------------


def _pool_chunk(args: tuple[str, str, int, int]) -> collections.Counter[str]:
    task, path, start, end = args
    counts: collections.Counter[str] = collections.Counter()
    with open(path, "rb") as file:
        if start:
            file.seek(start - 1)
            file.readline()  # the line holding byte start-1 belongs to the previous chunk
        while file.tell() < end:
            block = file.read(min(BLOCK_BYTES, end - file.tell()))
            if not block.endswith(b"\n"):  # finish the line; a newline at end-1 ends it
                block += file.readline()
            text = block.decode("utf-8").lower()
            if task == "wordcount":
                counts.update(_findall(text))
            else:
                for line in text.splitlines():
                    words = _findall(line)
                    counts.update(map(" ".join, pairwise(words)))
    return counts


def pool(task: str, path: str, workers: int) -> dict[str, Any]:
    """A hand-written multiprocessing.Pool job: a Counter per byte-range chunk, summed."""
    import multiprocessing

    started = time.perf_counter()
    size = os.path.getsize(path)
    chunks = [
        (task, path, start, min(start + POOL_CHUNK_BYTES, size))
        for start in range(0, size, POOL_CHUNK_BYTES)
    ]
    total: collections.Counter[str] = collections.Counter()
    with multiprocessing.Pool(workers) as workers_pool:
        for counts in workers_pool.imap_unordered(_pool_chunk, chunks):
            total.update(counts)
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, **summary(total.items())}


# -- mapred ---------------------------------------------------------------------------------


def word_pairs(line: str) -> Iterator[tuple[str, int]]:
    """The pure-Python generator mapper of the engine benchmark."""
    for word in _findall(line.lower()):
        yield word, 1


def bigram_pairs(line: str) -> Iterable[tuple[str, int]]:
    """Bigram mapper built from C iterators (zip/map/repeat), like the CLI's word mapper."""
    words = _findall(line.lower())
    return zip(map(" ".join, pairwise(words)), repeat(1))


def add(key: Any, values: Iterable[int]) -> int:
    return sum(values)


MAPPERS: dict[str, Callable[[str], Iterable[tuple[str, int]]]] = {
    "wordcount": word_pairs,
    "bigrams": bigram_pairs,
}


def mapred_api(task: str, path: str, workers: int) -> dict[str, Any]:
    """mapreduce() with a generator mapper, sum reducer and combiner, on read_text."""
    from mapred import mapreduce, read_text

    started = time.perf_counter()
    result = mapreduce(
        MAPPERS[task], add, read_text(path), combiner=add, workers=workers,
        memory_limit=os.environ.get("BENCH_MEMORY_LIMIT"),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "records": result.counters["mapred"]["input_records"],
            **summary(result.items())}  # fmt: skip


def count_task(task: str, lines: Iterator[str]) -> Iterable[tuple[str, int]]:
    """A task mapper's body: count a whole map task in C, one pair per distinct key."""
    counts: collections.Counter[str] = collections.Counter()
    if task == "wordcount":
        while block := list(islice(lines, 4096)):
            counts.update(_findall("\n".join(block).lower()))
    else:
        for line in lines:
            counts.update(map(" ".join, pairwise(_findall(line.lower()))))
    return counts.items()


def mapred_tasks(task: str, path: str, workers: int) -> dict[str, Any]:
    """mapreduce() with a task_mapper (mapPartitions-style) that counts with Counter."""
    from mapred import mapreduce, read_text, task_mapper

    started = time.perf_counter()
    result = mapreduce(
        task_mapper(functools.partial(count_task, task)), add, read_text(path), combiner=add,
        workers=workers, memory_limit=os.environ.get("BENCH_MEMORY_LIMIT"),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "records": result.counters["mapred"]["input_records"],
            **summary(result.items())}  # fmt: skip


def sequential(task: str, path: str, workers: int) -> dict[str, Any]:
    """The same mapper and reducer as mapred_api, run in one process: group, reduce."""
    mapper = MAPPERS[task]
    started = time.perf_counter()
    groups: dict[str, list[int]] = {}
    records = 0
    with open(path, encoding="utf-8") as file:
        for line in file:
            records += 1
            for key, value in mapper(line.rstrip("\n")):
                try:
                    groups[key].append(value)
                except KeyError:
                    groups[key] = [value]
    result = {key: add(key, iter(groups[key])) for key in sorted(groups)}
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "records": records, **summary(result.items())}


def mapred_cli(task: str, path: str, workers: int) -> dict[str, Any]:
    """``python -m mapred wordcount -w N PATH -o FILE`` (word count only)."""
    if task != "wordcount":
        raise NotImplementedError("the CLI counts words only")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "counts.tsv")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mapred", "wordcount", "-w", str(workers), path, "-o", out],
            check=True,
        )
        elapsed = time.perf_counter() - started
        with open(out, encoding="utf-8") as file:
            rows = [line.rstrip("\n").rsplit("\t", 1) for line in file]
    return {"elapsed": elapsed, **summary((word, int(count)) for word, count in rows)}


def mapred_distinct(task: str, path: str, workers: int) -> dict[str, Any]:
    """Many distinct keys under a small budget: each line is its own key, output=DIR."""
    from mapred import mapreduce, read_text

    limit = os.environ.get("BENCH_MEMORY_LIMIT", "256MB")
    with tempfile.TemporaryDirectory(dir=os.environ.get("MAPRED_TMPDIR")) as tmp:
        started = time.perf_counter()
        result = mapreduce(
            _line_key, add, read_text(path), combiner=add, workers=workers,
            memory_limit=limit, output=os.path.join(tmp, "out"),
        )  # fmt: skip
        keys = total = 0
        for _, count in result.items():  # streams the part files: never a dict  # noqa: PERF102
            keys += 1
            total += count
        elapsed = time.perf_counter() - started
        spilled = result.counters["mapred"]["spilled_bytes"]
    return {"elapsed": elapsed, "keys": keys, "total": total, "top": [], "spilled_bytes": spilled}


def mapred_small(task: str, path: str, workers: int) -> dict[str, Any]:
    """A job of 10 records: what a small job costs, worker start-up and stop included."""
    from mapred import mapreduce

    started = time.perf_counter()
    result = mapreduce(_line_key, add, [f"r{i % 3}" for i in range(10)], workers=workers)
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, **summary(result.items())}


def _line_key(line: str) -> Iterator[tuple[str, int]]:
    yield line, 1


# -- Dask bag -------------------------------------------------------------------------------


def dask_bag(task: str, path: str, workers: int) -> dict[str, Any]:
    """dask.bag, processes scheduler. Word count: str.split().flatten().frequencies()."""
    import dask
    import dask.bag as db

    started = time.perf_counter()
    lines = db.read_text(path, blocksize=16 * 2**20)
    if task == "wordcount":
        freqs = lines.str.split().flatten().frequencies()
    else:
        freqs = lines.map(line_bigrams).flatten().frequencies()
    with dask.config.set(scheduler="processes", num_workers=workers):
        counts = freqs.compute()
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, **summary(counts)}


# -- PySpark --------------------------------------------------------------------------------


def spark(task: str, path: str, workers: int) -> dict[str, Any]:
    """PySpark local[N]: textFile, flatMap the tokens, reduceByKey(add), collect."""
    from operator import add as plus

    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{workers}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        lines = session.sparkContext.textFile(path)
        keys = lines.flatMap(tokens if task == "wordcount" else line_bigrams)
        counts = keys.map(lambda key: (key, 1)).reduceByKey(plus).collect()
        elapsed = time.perf_counter() - started
    finally:
        session.stop()
    return {"elapsed": elapsed, **summary(counts)}


# -- mrjob ----------------------------------------------------------------------------------

_MRJOB_SOURCE = """
import re
from mrjob.job import MRJob
_findall = re.compile(PATTERN).findall

class Count(MRJob):
    def mapper(self, _, line):
        words = _findall(line.lower())
        if BIGRAMS:
            words = [a + " " + b for a, b in pairwise(words)]
        for word in words:
            yield word, 1
    def combiner(self, key, counts):
        yield key, sum(counts)
    def reducer(self, key, counts):
        yield key, sum(counts)

if __name__ == "__main__":
    Count.run()
"""


def mrjob(task: str, path: str, workers: int) -> dict[str, Any]:
    """mrjob's local runner (Hadoop streaming simulated with subprocesses)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "count_job.py")
        with open(script, "w", encoding="utf-8") as file:
            source = _MRJOB_SOURCE.replace("PATTERN", repr(PATTERN))
            file.write(source.replace("BIGRAMS", repr(task == "bigrams")))
        out = os.path.join(tmp, "out")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, script, "-r", "local", "--num-cores", str(workers),
             "--output-dir", out, "--no-conf", "-q", path],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        counts = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), encoding="utf-8") as file:
                for line in file:
                    key, count = line.rstrip("\n").split("\t")
                    counts.append((json.loads(key), int(count)))
    return {"elapsed": elapsed, **summary(counts)}


CONTENDERS: dict[str, Callable[[str, str, int], dict[str, Any]]] = {
    "mapred_cli": mapred_cli,
    "mapred_api": mapred_api,
    "mapred_distinct": mapred_distinct,
    "mapred_small": mapred_small,
    "sequential": sequential,
    "mapred_tasks": mapred_tasks,
    "single": single,
    "single_regex": single_regex,
    "pool": pool,
    "dask_bag": dask_bag,
    "spark": spark,
    "mrjob": mrjob,
}


def main(argv: list[str]) -> None:
    name, task, path, workers = argv[0], argv[1], argv[2], int(argv[3])
    result = CONTENDERS[name](task, path, workers)
    sys.stdout.flush()
    print("BENCH-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
