"""A two-step pipeline: count words, then the top three words for each first letter.

Run it from any folder (the data is found next to this file):

    python pipeline.py

Step 1 counts the words of data/sample.txt. Step 2 takes step 1's result as its input
and, for every first letter, keeps the three most frequent words.

What it shows: chaining jobs (the output of one is the input of the next: any
iterable will do, here the first result's items); an Engine that keeps its worker
processes warm between the two jobs; and a combiner that is not a plain sum: top-k.
"""

import heapq
import itertools
import os
import re

from mapred import Engine, read_text

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

WORD = re.compile(r"\w+(?:['’]\w+)*")
K = 3


def words(line):
    """Step 1 mapper: (word, 1) for every word."""
    for word in WORD.findall(line.lower()):
        yield word, 1


def add(word, counts):
    """Step 1 reducer and combiner: the word's count."""
    return sum(counts)


def by_first_letter(item):
    """Step 2 mapper: the records are (word, count) items of step 1's result."""
    word, count = item
    yield word[0], [(count, word)]


def top_k(letter, candidate_lists):
    """Step 2 reducer and combiner: the K most frequent words, ties alphabetically.

    Each value is a list of (count, word) candidates. The top K of a group is the top
    K of the top Ks of its parts, so this is safe to apply to partial groups, which is
    what a combiner must be. It returns a list of the same kind as its values.
    """
    candidates = itertools.chain.from_iterable(candidate_lists)
    return heapq.nsmallest(K, candidates, key=lambda cw: (-cw[0], cw[1]))


if __name__ == "__main__":
    # One set of worker processes for both jobs: they start once, when the `with`
    # block begins, and stop when it ends.
    with Engine() as engine:
        counts = engine.mapreduce(
            words, add, read_text(os.path.join(DATA, "sample.txt")), combiner=add
        )
        tops = engine.mapreduce(by_first_letter, top_k, counts.items(), combiner=top_k)

    for letter, best in tops.items():
        print(f"{letter}  " + ", ".join(f"{word} ({count})" for count, word in best))
