"""``dict(result)`` over ``output=DIR`` reads each part file once (issue 14, item 7).

Counted, not timed: every read of a part file goes through
``mapred.output.read_part_blocks``, which the test wraps with a counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mapred.output
from mapred import mapreduce

KEYS = 20_000


def pair(record: int) -> list[tuple[int, int]]:
    return [(record, record * 2)]


def first(key: int, values: Iterator[int]) -> int:
    return next(values)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each part read, as it starts."""
    seen: list[Any] = []
    original = mapred.output.read_part_blocks

    def counted(source: Any, options: Any = None) -> Any:
        seen.append(source)
        return original(source, options)

    monkeypatch.setattr(mapred.output, "read_part_blocks", counted)
    return seen


def test_dict_of_an_output_result_reads_each_part_once(tmp_path: Path, reads: list[Any]) -> None:
    result = mapreduce(pair, first, range(KEYS), workers=2, reducers=3, output=tmp_path / "out")
    reads.clear()
    copied = dict(result)
    assert len(reads) == 2 * 3  # each part: once for its keys, once for their values
    assert copied == {n: 2 * n for n in range(KEYS)}
    assert list(copied) == list(range(KEYS))


def test_lookups_in_any_order_find_every_key(tmp_path: Path, reads: list[Any]) -> None:
    """Forward lookups read on; one behind the current block reads the part again."""
    n = 10_000  # three blocks in one part
    result = mapreduce(pair, first, range(n), workers=2, reducers=1, output=tmp_path / "out")
    reads.clear()
    assert result[n - 1] == 2 * (n - 1)
    assert len(reads) == 1
    assert result[0] == 0  # behind: from the start again
    assert result[1.0] == 2  # an equal key is the same key; same block: no read
    assert len(reads) == 2
    with pytest.raises(KeyError):
        result[n]  # on to the end, then once more from the start
    assert len(reads) == 3
    assert result.get(5000) == 10_000
    assert 5 in result
    assert dict(result.items()) == dict(result)


@pytest.mark.parametrize(
    "keys",
    [
        list(range(KEYS)),
        [f"w{n}" for n in range(KEYS)],
        [n if n % 2 else str(n) for n in range(500)],
    ],
    ids=["ints", "str", "mixed families"],
)
def test_columns_are_the_items_in_key_order(
    tmp_path: Path, reads: list[Any], keys: list[Any]
) -> None:
    """``columns()`` reads each part once and gives what ``items()`` streams, as two lists."""
    out = tmp_path / "out"
    result = mapreduce(lambda k: [(k, [k])], first, keys, workers=2, reducers=3, output=out)
    reads.clear()
    got_keys, got_values = result.columns()
    assert len(reads) == 3
    assert list(zip(got_keys, got_values, strict=True)) == list(result.items())
    assert sorted(map(str, got_keys)) == sorted(map(str, keys))
