"""The user functions of every workload, and the same functions run sequentially.

One module so that every contender of a shape runs the very same mapper, combiner and
reducer: ``mapreduce()`` in worker processes, and :func:`sequential` in one process (a
plain loop: call the mapper, group the pairs in a dict, sort the keys, call the
reducer). Tokens are lowercase whitespace tokens (``line.lower().split()``), as
``Counter(block.lower().split())`` counts them. Standard library only: the peers'
virtualenv imports this module too.

Shapes (``task`` names):

* ``wordcount``: ``(word, 1)`` per token; sum.
* ``bigrams``: ``((w1, w2), 1)`` per pair of consecutive tokens of a line (TUPLE keys);
  sum. ``bigrams_str`` is the same job with ``str`` keys ``w1 + " " + w2``.
* ``index``: an inverted index over documents (files): ``(word, (doc, line_no))`` per
  token; the reducer sorts each word's postings. Tuple values, no combiner.
* ``twostep``: bigram counts, then each word's most frequent follower
  (``(w1, (count, w2))``, the largest wins; ties go to the larger ``w2``).
* ``fourstep``: bigram counts; each word's top three followers; for each follower, its
  strongest predecessor among those; a histogram of those strengths by power of two.
* ``pairs``: ``(first letter, 1)`` per token: millions of pairs, a few dozen keys, so
  the shuffle is negligible and the engine's cost per pair before the combiner shows.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any

# -- mappers, combiners, reducers -----------------------------------------------------------


def add(key: Any, values: Iterable[int]) -> int:
    return sum(values)


def word_pairs(line: str) -> Iterator[tuple[str, int]]:
    for word in line.lower().split():
        yield word, 1


def bigram_pairs(line: str) -> Iterator[tuple[tuple[str, str], int]]:
    for pair in pairwise(line.lower().split()):
        yield pair, 1


def bigram_str_pairs(line: str) -> Iterator[tuple[str, int]]:
    for first, second in pairwise(line.lower().split()):
        yield first + " " + second, 1


def letter_pairs(line: str) -> Iterator[tuple[str, int]]:
    for word in line.lower().split():
        yield word[0], 1


def doc_postings(path: str) -> Iterator[tuple[str, tuple[str, int]]]:
    """One document (a file): ``(word, (doc, line_no))`` for every token."""
    doc = os.path.basename(path)
    with open(path, encoding="utf-8") as file:
        for line_no, line in enumerate(file, 1):
            for word in line.lower().split():
                yield word, (doc, line_no)


def postings(key: str, values: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(values)


def to_follower(record: tuple[tuple[str, str], int]) -> Iterator[tuple[str, tuple[int, str]]]:
    (first, second), count = record
    yield first, (count, second)


def best(key: Any, values: Iterable[tuple[int, str]]) -> tuple[int, str]:
    """The most frequent follower (associative: a combiner too)."""
    return max(values)


def top3(key: str, values: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    return sorted(values, reverse=True)[:3]


def to_predecessors(record: tuple[str, list[Any]]) -> Iterator[tuple[str, tuple[int, str]]]:
    first, tops = record
    for count, second in tops:
        yield second, (count, first)


def to_strength(record: tuple[str, tuple[int, str]]) -> Iterator[tuple[int, int]]:
    yield record[1][0].bit_length(), 1


# -- task mappers: a whole map task at a time, aggregated in C ------------------------------


def count_words_task(lines: Iterator[str]) -> Iterable[tuple[str, int]]:
    counts: collections.Counter[str] = collections.Counter()
    while block := list(islice(lines, 4096)):
        counts.update("\n".join(block).lower().split())
    return counts.items()


def count_bigrams_task(lines: Iterator[str]) -> Iterable[tuple[tuple[str, str], int]]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in lines:
        counts.update(pairwise(line.lower().split()))
    return counts.items()


def count_bigrams_str_task(lines: Iterator[str]) -> Iterable[tuple[str, int]]:
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        counts.update(map(" ".join, pairwise(line.lower().split())))
    return counts.items()


def index_task(paths: Iterator[str]) -> Iterable[tuple[str, list[tuple[str, int]]]]:
    """A task's documents: one ``(word, postings)`` pair per distinct word, in C-speed dicts."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for path in paths:
        doc = os.path.basename(path)
        with open(path, encoding="utf-8") as file:
            for line_no, line in enumerate(file, 1):
                posting = (doc, line_no)
                for word in line.lower().split():
                    try:
                        groups[word].append(posting)
                    except KeyError:
                        groups[word] = [posting]
    return groups.items()


def merge_postings(key: str, values: Iterable[list[tuple[str, int]]]) -> list[tuple[str, int]]:
    return sorted(posting for part in values for posting in part)


# -- the workloads as steps -----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One map/reduce round: the functions, and whether the mapper is a task mapper."""

    mapper: Callable[..., Any]
    reducer: Callable[[Any, Any], Any]
    combiner: Callable[[Any, Any], Any] | None = None
    task: bool = False  # the mapper takes a task's records (wrap in mapred.task_mapper)


_BIGRAMS = Step(bigram_pairs, add, add)
_BIGRAMS_TASK = Step(count_bigrams_task, add, add, task=True)
_FOLLOWER = Step(to_follower, best, best)
_TAIL = [Step(to_follower, top3), Step(to_predecessors, best, best), Step(to_strength, add, add)]

# (task, style) -> the job's steps; style "api" is the per-record generator mapper path.
JOBS: dict[tuple[str, str], list[Step]] = {
    ("wordcount", "api"): [Step(word_pairs, add, add)],
    ("wordcount", "tasks"): [Step(count_words_task, add, add, task=True)],
    ("bigrams", "api"): [_BIGRAMS],
    ("bigrams", "tasks"): [_BIGRAMS_TASK],
    ("bigrams_str", "api"): [Step(bigram_str_pairs, add, add)],
    ("bigrams_str", "tasks"): [Step(count_bigrams_str_task, add, add, task=True)],
    ("index", "api"): [Step(doc_postings, postings)],
    ("index", "tasks"): [Step(index_task, merge_postings, task=True)],
    ("twostep", "api"): [_BIGRAMS, _FOLLOWER],
    ("twostep", "tasks"): [_BIGRAMS_TASK, _FOLLOWER],
    ("fourstep", "api"): [_BIGRAMS, *_TAIL],
    ("fourstep", "tasks"): [_BIGRAMS_TASK, *_TAIL],
    ("pairs", "api"): [Step(letter_pairs, add, add)],
}


def sequential(steps: list[Step], records: Iterable[Any]) -> list[tuple[Any, Any]]:
    """The same functions in one process: map, group in a dict, sort the keys, reduce.

    A task mapper is called once, on all the records (one task); later steps read the
    previous step's ``(key, value)`` items.
    """
    items: list[tuple[Any, Any]] = []
    for step in steps:
        groups: dict[Any, list[Any]] = {}
        pairs: Iterable[tuple[Any, Any]]
        if step.task:
            pairs = step.mapper(iter(records))
        else:
            pairs = (pair for record in records for pair in step.mapper(record))
        for key, value in pairs:
            try:
                groups[key].append(value)
            except KeyError:
                groups[key] = [value]
        items = [(key, step.reducer(key, iter(groups[key]))) for key in sorted(groups)]
        records = items
    return items


def lines_of(path: str) -> Iterator[str]:
    """The lines of a text file without their newline (as ``read_text`` gives them)."""
    with open(path, encoding="utf-8") as file:
        for line in file:
            yield line.rstrip("\n")


def summary(task: str, items: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """What the runner compares between contenders: keys, a total, the top five."""
    pairs = list(items)
    if task == "index":
        weight: Callable[[Any], int] = len
    elif task in ("twostep",):
        weight = lambda value: value[0]  # noqa: E731
    else:
        weight = lambda value: value if isinstance(value, int) else 0  # noqa: E731
    top = sorted(pairs, key=lambda kv: (-weight(kv[1]), _text(kv[0])))[:5]
    return {
        "keys": len(pairs),
        "total": sum(weight(value) for _, value in pairs),
        "top": [
            [_text(key), len(value) if task == "index" else _text(value)] for key, value in top
        ],
    }


def _text(key: Any) -> str:
    if isinstance(key, tuple) and all(isinstance(k, str) for k in key):
        return " ".join(key)
    return str(key)
