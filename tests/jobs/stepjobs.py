"""Jobs for the tests of steps: a Job class with options, and functions for mapred run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mapred import Job, Step, pair_reducer


def words(line: str) -> Iterator[tuple[str, int]]:
    for word in line.split():
        yield word, 1


def typed(line: str) -> Iterator[tuple[Any, Any]]:
    """Map-only: pairs of types JSON cannot hold."""
    for word in line.split():
        yield (word, len(word)), {word.encode(), 2**70}


class CountsByLength(Job):
    """Words counted, then grouped by count: {count: [words...]}, words of --min letters."""

    def configure_args(self, parser: Any) -> None:
        parser.add_argument("--min", type=int, default=1)

    def words(self, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            if len(word) >= self.options.min:
                yield word, 1

    def add(self, word: str, ones: Iterator[int]) -> int:
        return sum(ones)

    @pair_reducer
    def rekey(self, word: str, ones: Iterator[int]) -> Iterator[tuple[int, str]]:
        yield sum(ones), word

    def keep(self, pair: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
        yield pair

    def listed(self, count: int, found: Iterator[str]) -> list[str]:
        return list(found)

    def steps(self) -> list[Step]:
        return [Step(self.words, self.rekey, combiner=self.add), Step(self.keep, self.listed)]


class SingleStep(Job):
    """mapper/reducer methods only: the default steps()."""

    def mapper(self, line: str) -> Iterator[tuple[str, int]]:
        for word in line.split():
            yield word[0], 1

    def reducer(self, letter: str, ones: Iterator[int]) -> int:
        return sum(ones)


def total(key: Any, values: Iterator[int]) -> int:
    return sum(values)
