"""Skipping bad records (``max_skipped``) equals a sequential run that skips the same records.

Each example draws records, which of them make the mapper raise (after it yielded a pair:
that pair must not count), which keys make the reducer raise, and the job's shape
(workers, reducers, records per map task, split size for file input); it runs on every
backend of the ``backend`` fixture and compares the whole result and the whole quarantine
(where, phase, error type and message, in order) with :func:`sequential_skipping`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapred import Step, pair_reducer, read_text
from tests.oracle import in_order, key_order
from tests.property.conftest import Backend

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

BAD_RECORD = "!"  # a record starting with it makes the mapper raise, after one pair
BAD_KEY = "R"  # a key starting with it makes the reducer raise

shapes = st.fixed_dictionaries(
    {
        "workers": st.integers(1, 3),
        "reducers": st.integers(1, 4),
        "chunksize": st.none() | st.integers(1, 7),
    }
)
records = st.lists(
    st.tuples(st.booleans(), st.text(alphabet="abR ", max_size=8)).map(
        lambda bad_text: (BAD_RECORD if bad_text[0] else "") + bad_text[1]
    ),
    max_size=40,
)


def mapper(record: str) -> Iterator[tuple[str, int]]:
    """(word, length) per word; a bad record raises after its first pair."""
    for word in record.lstrip(BAD_RECORD).split() or [""]:
        yield word, len(record)
        if record.startswith(BAD_RECORD):
            raise ValueError(f"bad record {record!r}")


def reducer(key: str, values: Iterator[int]) -> list[int]:
    """The values in order; a bad key raises half way through them."""
    seen = [next(values)]
    if key.startswith(BAD_KEY):
        raise KeyError(f"bad key {key}")
    return seen + list(values)


def sequential_skipping(
    data: list[str], where: list[dict[str, Any]]
) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """The oracle: the plain loop, leaving out a record whose mapper raises (and its
    pairs) and a key whose reducer raises; returns the items and the skipped entries."""
    groups: dict[str, list[int]] = {}
    skipped = []
    for record, place in zip(data, where, strict=True):
        try:
            pairs = list(mapper(record))
        except ValueError as exc:
            skipped.append(
                {**place, "phase": "map", "error_type": "ValueError", "message": str(exc)}
            )
            continue
        for key, value in pairs:
            groups.setdefault(key, []).append(value)
    items = []
    for key in key_order(list(groups)):
        try:
            items.append((key, reducer(key, iter(groups[key]))))
        except KeyError as exc:
            skipped.append(
                {"phase": "reduce", "key": key, "error_type": "KeyError", "message": str(exc)}
            )
    return items, skipped


def described(entry: Any) -> dict[str, Any]:
    """A SkippedRecord as the oracle describes one."""
    fields = {"phase": entry.phase, "error_type": entry.error_type, "message": entry.message}
    if entry.phase == "reduce":
        return {**fields, "key": entry.key}
    if entry.path is not None:
        return {**fields, "path": entry.path, "line": entry.line}
    return {**fields, "index": entry.index}


def test_skipping_an_iterable_equals_sequential(backend: Backend) -> None:
    """Records of an iterable: the same result and the same skips, by index, in order."""

    @backend.settings()
    @given(data=records, shape=shapes)
    def check(data: list[str], shape: dict[str, Any]) -> None:
        items, skipped = sequential_skipping(data, [{"index": i} for i in range(len(data))])
        result = backend.mapreduce(mapper, reducer, data, max_skipped=len(data) + 50, **shape)
        assert list(result.items()) == items
        assert [described(entry) for entry in result.skipped] == skipped
        assert result.counters["mapred"]["skipped_records"] == len(skipped)

    check()


def test_skipping_file_lines_equals_sequential(backend: Backend, tmp_path: Path) -> None:
    """Lines of files cut in byte-range splits: skips name the file and line, in order."""
    counter = itertools.count()

    @backend.settings(share=0.5)
    @given(
        files=st.lists(records, min_size=1, max_size=3),
        shape=shapes,
        split_size=st.sampled_from([None, 1, 7, 40]),
    )
    def check(files: list[list[str]], shape: dict[str, Any], split_size: int | None) -> None:
        directory = tmp_path / f"example-{next(counter)}"
        directory.mkdir()
        data, where = [], []
        for number, lines in enumerate(files):
            path = directory / f"input-{number}.txt"
            path.write_text("".join(line + "\n" for line in lines))
            data.extend(lines)
            where.extend({"path": str(path), "line": i} for i in range(1, len(lines) + 1))
        items, skipped = sequential_skipping(data, where)
        result = backend.mapreduce(
            mapper,
            reducer,
            read_text(sorted(map(str, directory.iterdir())), split_size=split_size),
            max_skipped=len(data) + 50,
            **shape,
        )
        assert list(result.items()) == items
        assert [described(entry) for entry in result.skipped] == skipped

    check()


def regroup(pair: tuple[str, list[int]]) -> Iterator[tuple[int, str]]:
    """Step 2's mapper: (number of values, key); a key with an odd number of values and
    an "a" in it raises."""
    key, values = pair
    if len(values) % 2 and "a" in key:
        raise ArithmeticError(f"odd {key!r}")
    yield len(values), key


@pair_reducer
def emitting(key: str, values: Iterator[int]) -> Iterator[tuple[str, list[int]]]:
    """:func:`reducer` as an emitting reducer: the next step reads origins from its parts."""
    yield key, reducer(key, values)


def test_skipping_in_steps_equals_sequential(backend: Backend) -> None:
    """Two steps: each step's skips, step by step, in input order whatever ``reducers``
    was, and the result of the last."""

    @backend.settings(share=0.5)
    @given(data=records, shape=shapes, reducers=st.integers(1, 3), emits=st.booleans())
    def check(data: list[str], shape: dict[str, Any], reducers: int, emits: bool) -> None:
        items, skipped = sequential_skipping(data, [{"index": i} for i in range(len(data))])
        skipped = [{**entry, "step": 1} for entry in skipped]
        groups: dict[int, list[str]] = {}
        for item in items:
            try:
                pairs = list(regroup(item))
            except ArithmeticError as exc:
                skipped.append(
                    {"phase": "map", "error_type": "ArithmeticError", "message": str(exc),
                     "index": None, "step": 2}
                )  # fmt: skip
                continue
            for key, value in pairs:
                groups.setdefault(key, []).append(value)
        first = Step(mapper, emitting if emits else reducer, reducers=reducers)
        steps = [first, Step(regroup, in_order)]
        result = backend.engines[shape.pop("workers")].mapreduce(
            steps=steps, data=data, max_skipped=len(data) + 50, **shape
        )
        assert list(result.items()) == sorted(groups.items())
        assert [{**described(entry), "step": entry.step} for entry in result.skipped] == skipped

    check()
