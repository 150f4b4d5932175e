"""A job as a program: a Job subclass with its own options, run from the shell.

Run it from any folder:

    python job_class.py
    python job_class.py --min-length 6 --top 5 --format tsv
    cat data/sample.txt | python job_class.py -       # - reads stdin
    python job_class.py --counters data/sample.txt

With no FILE it reads data/sample.txt (a Job reads stdin by default: this one overrides
input() so that it runs as the other examples do).

The job finds the most used words of at least --min-length letters, in two steps: count
the words, then one reduce call over all counts (a single key, None) that keeps the
--top most frequent ones. Output: JSON lines [word, count] (or word<TAB>count with
--format tsv); --counters prints the counters on stderr.

What it shows: mapred.Job (mrjob's MRJob): steps(), configure_args() for the job's own
options, self.options inside the mapper and reducer, task_context(), and the command
line that Job.main() gives for free.
"""

import heapq
import os
import re
import sys

from mapred import Job, Step, increment, pair_reducer, read_text, task_context

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
WORD = re.compile(r"\w+(?:['’]\w+)*")


class MostUsedWords(Job):
    """The most used words of at least --min-length letters."""

    def configure_args(self, parser):
        parser.add_argument("--min-length", type=int, default=4, help="shortest word counted")
        parser.add_argument("--top", type=int, default=10, help="how many words to print")

    def words(self, line):
        """Step 1 mapper: (word, 1) for each long enough word."""
        if task_context().line == 1:
            increment("files")  # the first line of each file (or of stdin)
        for word in WORD.findall(line.lower()):
            if len(word) >= self.options.min_length:
                yield word, 1

    def add(self, word, counts):
        """Step 1 combiner and reducer: the word's count."""
        return sum(counts)

    def to_one_key(self, pair):
        """Step 2 mapper: every (word, count) under the single key None."""
        yield None, pair

    @pair_reducer
    def top_words(self, _, pairs):
        """Step 2 reducer: emit the --top pairs, most used first (ties: by word)."""
        best = heapq.nsmallest(self.options.top, pairs, key=lambda p: (-p[1], p[0]))
        yield from best

    def input(self):
        """The lines of the files given, or of the sample text."""
        return read_text(self.options.files or [os.path.join(DATA, "sample.txt")])

    def steps(self):
        return [
            Step(self.words, self.add, combiner=self.add),
            Step(self.to_one_key, self.top_words),
        ]


if __name__ == "__main__":
    sys.exit(MostUsedWords.main())
