"""Word count on a Dask cluster: the same job as wordcount.py, with backend=client.

Run it from any folder (needs the dask extra: pip install ".[dask]" from the clone):

    python dask_wordcount.py                              # a 2-worker cluster on this machine
    python dask_wordcount.py --scheduler tcp://HOST:8786  # a cluster that is already running
    python dask_wordcount.py [--scheduler ADDRESS] PATH ...

Without --scheduler it starts a LocalCluster: a scheduler and two worker processes on this
machine, stopped again at the end. With --scheduler it connects to a cluster started with
`dask scheduler` and `dask worker` (see docs/distributed.md); the workers read the files
themselves, so every worker must see them at the same path as this machine.

What it shows: the job does not change, only backend= does; the client belongs to you
(mapred never closes it), and the result, counters included, is the one local processes
give.
"""

import argparse
import os
import re

from dask.distributed import Client, LocalCluster

from mapred import mapreduce, read_text

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# The default word rule of `mapred wordcount` (and of wordcount.py).
WORD = re.compile(r"\w+(?:['’]\w+)*")


def mapper(line):
    """Runs on the Dask workers, once per line of their own splits of the files."""
    for word in WORD.findall(line.lower()):
        yield word, 1


def add(word, counts):
    """The reducer, and the combiner: adding is safe on partial groups."""
    return sum(counts)


def count_words(client, paths):
    # Absolute paths: the workers do not share this process's working directory.
    data = read_text([os.path.abspath(path) for path in paths])
    return mapreduce(mapper, add, data, combiner=add, backend=client)


# The guard matters here too: Dask starts its worker processes with "spawn", and each of
# them imports this file.
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Word count on a Dask cluster.")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    parser.add_argument("paths", nargs="*", default=[os.path.join(DATA, "sample.txt")])
    args = parser.parse_args()

    if args.scheduler:
        with Client(args.scheduler) as client:
            counts = count_words(client, args.paths)
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
            print(f"dashboard: {client.dashboard_link}")
            counts = count_words(client, args.paths)

    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    for word, n in ranked[:10]:
        print(f"{n:>8}  {word}")
    job = counts.counters["mapred"]
    print(
        f"{len(counts)} distinct words in {job['input_records']} lines, "
        f"{job['shuffle_bytes']} bytes shuffled between workers; {counts.elapsed:.2f} s"
    )
