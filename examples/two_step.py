"""A two-step job: each word's most frequent follower, in one call.

Run it from any folder (the data is found next to this file):

    python two_step.py

Step 1 counts the bigrams of data/sample.txt (pairs of words next to each other in a
line) and re-keys each count by its first word: its reducer *emits* a pair whose key is
not its input key. Step 2 gets those pairs as its records, groups them by first word and
keeps the most frequent follower (ties: the alphabetically first). The bigram counts stay
with the workers between the steps: they never travel through this process.

Prints, for the ten most frequent words (by how many bigrams they start), the word, its
most frequent follower and how often that bigram occurs.

What it shows: Step, pair_reducer (re-keying between steps), sorted values
(value_key) so that step 2's reducer sees the best follower first.
"""

import itertools
import os
import re

from mapred import Step, mapreduce, pair_reducer, read_text

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
WORD = re.compile(r"\w+(?:['’]\w+)*")


def bigrams(line):
    """Step 1 mapper: ((word, next word), 1) for every bigram of the line."""
    words = WORD.findall(line.lower())
    for first, second in itertools.pairwise(words):
        yield (first, second), 1


def add(bigram, counts):
    """Step 1 combiner: partial counts."""
    return sum(counts)


@pair_reducer
def by_first_word(bigram, counts):
    """Step 1 reducer: emit (first word, (count, second word)): re-keyed for step 2."""
    first, second = bigram
    yield first, (sum(counts), second)


def keep(pair):
    """Step 2 mapper: step 1's pairs as they are."""
    yield pair


def best_first(follower):
    """Step 2 sort key: highest count first, then the alphabetically first word."""
    count, word = follower
    return -count, word


def most_frequent(word, followers):
    """Step 2 reducer: the values arrive sorted by best_first: the first is the best.
    Also counts all the word's bigrams, to rank the words."""
    best_count, best = next(followers)
    total = best_count + sum(count for count, _ in followers)
    return total, best, best_count


def main():
    result = mapreduce(
        steps=[
            Step(bigrams, by_first_word, combiner=add),
            Step(keep, most_frequent, value_key=best_first),
        ],
        data=read_text(os.path.join(DATA, "sample.txt")),
    )
    top = sorted(result.items(), key=lambda item: (-item[1][0], item[0]))[:10]
    for word, (_total, follower, count) in top:
        print(f"{word}\t{follower}\t{count}")


if __name__ == "__main__":
    main()
