"""Inverted index: for every word, the files and line numbers where it occurs.

Run it from any folder (the data is found next to this file):

    python inverted_index.py [WORD ...]

It indexes data/sample.txt and data/access.log, then looks up a few words (or the words
you name) and prints where each occurs: per file, how many lines and the first few.

What it shows: records can be any picklable object, not just lines. read_text() hands
the mapper bare lines, so this driver reads the files itself and yields
(file, line number, text) tuples; mapred pulls them lazily, a chunk at a time. And it
leans on a guarantee: a key's values reach the reducer in input order (file by file,
line by line), so the reducer's lists come out sorted without sorting them.
"""

import os
import re
import sys

from mapred import mapreduce

# The example's folder: the files are found from it, so that it runs from any folder.
HERE = os.path.dirname(os.path.abspath(__file__))

FILES = ["data/sample.txt", "data/access.log"]  # relative to HERE, as printed
QUERIES = ["firmament", "search", "word"]
SHOWN = 5  # line numbers printed per file
WORD = re.compile(r"\w+(?:['’]\w+)*")


def numbered_lines(paths):
    """Yield (path, line number, line) for every line of every file, lazily."""
    for path in paths:
        with open(os.path.join(HERE, path), encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                yield path, number, line


def mapper(record):
    """Emit (word, (path, line number)) once per distinct word of the line."""
    path, number, line = record
    for word in set(WORD.findall(line.lower())):
        yield word, (path, number)


def postings(word, places):
    """Group a word's (path, line number) values by file: {path: [line numbers]}.

    The values arrive in input order, so each list is already in ascending order.
    """
    by_file = {}
    for path, number in places:
        by_file.setdefault(path, []).append(number)
    return by_file


if __name__ == "__main__":
    index = mapreduce(mapper, postings, numbered_lines(FILES))
    print(f"{len(index)} distinct words in {', '.join(FILES)}")
    for word in sys.argv[1:] or QUERIES:
        found = index.get(word.lower())
        if not found:
            print(f"{word}: not found")
            continue
        for path, numbers in found.items():
            first = ", ".join(map(str, numbers[:SHOWN]))
            more = ", ..." if len(numbers) > SHOWN else ""
            print(f"{word}: {path}: {len(numbers)} lines: {first}{more}")
