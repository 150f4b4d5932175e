r"""The word count job behind ``mapred wordcount``: its mapper, its reducer, its order.

The mapper is a :func:`~mapred.task_mapper`: it counts a whole split in C and hands
the engine one pair per distinct token (SPEC 6: tokens are matches of ``--pattern``,
default :data:`DEFAULT_PATTERN`, in ``line.lower()`` unless ``--no-lower``).
These functions run in the workers.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

import mapred.job

DEFAULT_PATTERN = r"\w+(?:['’]\w+)*"
# Patterns that can never match a newline, nor look at line boundaries: they may run over
# blocks of lines joined by newlines (one call per block, not per line). ``\S+`` is
# exactly ``str.split()`` (both use Python's Unicode whitespace), which is faster still.
WHITESPACE_PATTERN = r"\S+"
JOINABLE_PATTERNS = frozenset({DEFAULT_PATTERN, WHITESPACE_PATTERN, r"\w+", r"\w+(?:'\w+)*"})
SORTS = ("count", "key")


# Lines a word count mapper tokenizes in one regex call: enough to make the per-call
# cost vanish, few enough that a block of text stays in the CPU cache (~200 KB).
LINES_PER_BLOCK = 4096


def word_mapper(pattern: str, lower: bool = True) -> mapred.job.TaskMapper:
    r"""A task mapper that counts the matches of ``pattern`` in its split's lines.

    It counts a whole map task in C (``Counter.update`` over ``findall``) and returns
    one ``(token, count)`` pair per distinct token, instead of ``(token, 1)`` per
    occurrence: the engine then moves tens of thousands of pairs, not millions. The
    default pattern runs over blocks of lines joined by newlines, which it can never
    match across (so do ``\S+``, as ``str.split()``, and ``\w+``); any other pattern
    runs line by line (anchors and lookarounds must see one line). The regex is
    compiled here, once; it pickles as its text. Empty
    matches are not tokens, and tokens are the whole match even when ``pattern`` has
    capturing groups.

    >>> sorted(word_mapper(DEFAULT_PATTERN)(iter(["Don’t PANIC, don't", "panic"])))
    [("don't", 1), ('don’t', 1), ('panic', 2)]
    >>> sorted(word_mapper(r"(\w)\w*", lower=False)(iter(["Ab c"])))
    [('Ab', 1), ('c', 1)]
    >>> sorted(word_mapper(r"\d*")(iter(["a1b22", "1"])))
    [('1', 2), ('22', 1)]
    >>> sorted(word_mapper(r"\S+")(iter(["a b\u00a0c", " A\tb "])))
    [('a', 2), ('b', 2), ('c', 1)]
    """
    compiled = re.compile(pattern)
    case: Callable[[str], str] = str.lower if lower else str
    tokens: Callable[[str], list[str]]
    if pattern == WHITESPACE_PATTERN:
        tokens = str.split
    elif compiled.groups:
        finditer = compiled.finditer

        def tokens(text: str) -> list[str]:
            return [match.group() for match in finditer(text)]

    else:
        tokens = compiled.findall
    joinable = pattern in JOINABLE_PATTERNS

    @mapred.task_mapper
    def count_tokens(lines: Iterator[str]) -> Iterable[tuple[str, int]]:
        counts: Counter[str] = Counter()
        while block := list(itertools.islice(lines, LINES_PER_BLOCK)):
            if joinable:
                counts.update(tokens(case("\n".join(block))))
            else:
                for line in block:
                    counts.update(tokens(case(line)))
        counts.pop("", None)
        return counts.items()

    return count_tokens


def add_counts(word: Any, counts: Iterable[int]) -> int:
    """Combiner and reducer of ``wordcount``: the sum of the counts."""
    return sum(counts)


def order_counts(
    rows: list[tuple[str, int]], sort: str = "count", top: int | None = None
) -> list[tuple[str, int]]:
    """The rows of a word count, given in key order, in the order ``--sort`` and
    ``--top`` ask for.

    ``top`` keeps the ``top`` most frequent words (ties: the word first in order wins);
    ``sort="key"`` then lists them by word.

    >>> rows = [("a", 1), ("b", 3), ("c", 2), ("d", 3)]
    >>> order_counts(rows)
    [('b', 3), ('d', 3), ('c', 2), ('a', 1)]
    >>> order_counts(rows, top=2), order_counts(rows, sort="key", top=3)
    ([('b', 3), ('d', 3)], [('b', 3), ('c', 2), ('d', 3)])
    """
    # The rows come in key order and both sorts are stable, so sorting by count alone,
    # descending (a C-level key), leaves ties in word order: count descending, then word ascending.
    if top is not None and top < len(rows):
        best = heapq.nlargest(top, rows, key=_COUNT)  # O(n log top), not a full sort
        if sort == "key":
            best.sort(key=itemgetter(0))
        return best
    if sort == "key":
        return rows
    return sorted(rows, key=_COUNT, reverse=True)


_COUNT = itemgetter(1)
