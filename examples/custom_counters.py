"""Custom counters: count things on the side while a job runs, like Hadoop counters.

Run it from any folder (the data is found next to this file):

    python custom_counters.py

It counts the words of data/sample.txt and, on the side, counts verses that ask a
question, mentions of "the LORD" (in capitals, as the King James Version prints it),
and words used only once (from the reducer). Then it runs the same job again with a
mapper whose worker process is killed halfway through its first attempt, and shows
that the counters still come out exactly the same.

What it shows: increment(name, amount=1, group="user") inside a mapper, combiner or
reducer; result.counters; and why counters ship with task results: the killed
attempt's counts are thrown away with it, and only the attempt that succeeds counts.
"""

import os
import re
import signal
import tempfile

from mapred import increment, mapreduce, read_text

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

WORD = re.compile(r"\w+(?:['’]\w+)*")


def mapper(line):
    """(word, 1) per word, counting questions and capitalised LORDs on the side."""
    if "?" in line:
        increment("questions", group="verses")
    increment("LORD", line.count("LORD"), group="words")
    for word in WORD.findall(line.lower()):
        yield word, 1


def add(word, counts):
    """A word's count; words used once are counted by the reducer."""
    total = sum(counts)
    if total == 1:
        increment("used once", group="words")
    return total


def crash_once(marker):
    """A mapper that kills its own worker process once, at line 3000 of the first try.

    The marker file tells the retry that the crash already happened (the retry runs in
    a fresh process, which sees the file). Real crashes: a segfault in a C extension,
    the out-of-memory killer.
    """
    seen = 0

    def crashing_mapper(line):
        nonlocal seen
        seen += 1
        if seen == 3000 and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        yield from mapper(line)

    return crashing_mapper


def show(title, counters):
    print(title)
    for group in ("verses", "words"):
        for name, value in sorted(counters[group].items()):
            print(f"  {group}/{name}: {value}")
    print(f"  mapred/task_retries: {counters['mapred']['task_retries']}")


if __name__ == "__main__":
    # No combiner here: add() also counts the words used once, and as a combiner it
    # would run on partial groups, where a common word can look used once.
    counts = mapreduce(mapper, add, read_text(os.path.join(DATA, "sample.txt")))
    show("counters:", counts.counters)

    with tempfile.TemporaryDirectory() as scratch:
        marker = os.path.join(scratch, "crashed")
        again = mapreduce(crash_once(marker), add, read_text(os.path.join(DATA, "sample.txt")))
    show("after a worker was killed mid-task:", again.counters)
    same = again == counts and all(
        again.counters[group] == counts.counters[group] for group in ("verses", "words")
    )
    print(f"same result and counters: {same}")
