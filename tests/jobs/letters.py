"""A job with non-str keys and values: per word length, how many words and which initials.

``mapred run tests.jobs.letters:mapper tests.jobs.letters:reducer`` prints lines like
``3<TAB>[17, ["a", "t"]]``: the key (an int) and the value (a list) JSON-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def mapper(line: str) -> Iterator[tuple[int, tuple[int, str]]]:
    """Yield ``(len(word), (1, initial))`` for each whitespace-separated word."""
    for word in line.split():
        yield len(word), (1, word[0])


def reducer(length: int, values: Iterable[tuple[int, str]]) -> list[object]:
    """``[count, sorted initials]``."""
    count = 0
    initials: set[str] = set()
    for n, initial in values:
        count += n
        initials.add(initial)
    return [count, sorted(initials)]


def pairs(line: str) -> Iterator[tuple[object, object]]:
    """Keys and values of every JSON-unfriendly kind, to check how ``run`` prints them."""
    if line:
        yield ("tuple", 1), {"a": (1, 2)}
        yield None, b"bytes"
        yield 1.5, frozenset({3, 1})
        yield "tab\there", "plain str"
        yield 7, {(1, 2): "tuple key"}


def last(key: object, values: Iterable[object]) -> object:
    """The last value: the values of a key arrive in input order."""
    value = None
    for value in values:  # noqa: B007 the loop variable is the point
        pass
    return value


NOT_A_FUNCTION = 42
