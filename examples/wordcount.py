"""Word count: the "hello world" of map/reduce, with the Python API.

Run it from any folder (any text files you like may follow; the default is the sample):

    python wordcount.py [PATH ...]

It counts the words of data/sample.txt (the five books of Moses, King James Version),
then prints the ten most frequent and a few of the counters every job collects.

What it shows: a mapper that yields (key, value) pairs, a reducer that gets each key's
values, the same function used as a combiner, read_text() for files, and the Result.
"""

import os
import re
import sys

from mapred import mapreduce, read_text

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# A word is a run of letters, digits or underscores, keeping inner apostrophes
# ("father's"): the default rule of `mapred wordcount`.
WORD = re.compile(r"\w+(?:['’]\w+)*")


def mapper(line):
    """Called once per record (here: one line of text); yields (word, 1) pairs."""
    for word in WORD.findall(line.lower()):
        yield word, 1


def add(word, counts):
    """Called once per distinct word with an iterator over its values: sum them.

    Adding is safe to apply to partial groups, so the same function also serves as the
    combiner: each map task sums its own counts before they are shuffled, and the
    reducer then adds those partial sums.
    """
    return sum(counts)


# The guard matters: under the "spawn" and "forkserver" start methods every worker
# process imports this file, and must not start a job of its own.
if __name__ == "__main__":
    paths = sys.argv[1:] or [os.path.join(DATA, "sample.txt")]
    counts = mapreduce(mapper, add, read_text(paths), combiner=add)

    # `counts` is a dict (a mapred.Result) whose keys are in sorted order. Rank by
    # count, most frequent first, ties in alphabetical order.
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    for word, n in ranked[:10]:
        print(f"{n:>8}  {word}")

    # Built-in counters, in group "mapred"; the combiner cut the pairs shuffled
    # from one per word to one per distinct word per map task.
    job = counts.counters["mapred"]
    print(
        f"{len(counts)} distinct words in {job['input_records']} lines; "
        f"{job['map_output_records']} pairs, {job['combine_output_records']} after combining; "
        f"{counts.elapsed:.2f} s"
    )
