"""A word count written as a job file, for ``mapred run tests/jobs/wordjob.py:mapper ...``.

Loaded by path, it travels to the workers by value: nothing here needs to be importable.
"""

import re

from mapred import increment

WORD = re.compile(r"\w+(?:['’]\w+)*")


def mapper(line):
    for word in WORD.findall(line.lower()):
        yield word, 1


def reducer(word, counts):
    return sum(counts)


def combiner(word, counts):
    increment("combined")
    return sum(counts)
