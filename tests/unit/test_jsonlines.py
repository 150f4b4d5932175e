"""JSON lines keep every type of SPEC 4: what `mapred run --format jsonl` and Job programs
write can be read back exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from mapred.jsonlines import decode_pair, encode_pair
from tests import strategies


@given(key=strategies.keys(allow_nan=True), value=strategies.values(allow_nan=True))
def test_every_type_round_trips(key: Any, value: Any) -> None:
    line = encode_pair(key, value)
    assert "\n" not in line
    line.encode("utf-8")  # always writable as UTF-8, lone surrogates included
    back_key, back_value = decode_pair(line, trusted=True)
    assert strategies.same(back_key, key)
    assert strategies.same(back_value, value)


def test_plain_json_stays_plain_and_tags_are_readable() -> None:
    assert encode_pair("word", [1, 2.5, None, True, {"a": "b"}]) == (
        '["word", [1, 2.5, null, true, {"a": "b"}]]'
    )
    assert json.loads(encode_pair((1, "x"), {b"\x00"})) == [
        {"$tuple": [1, "x"]},
        {"$set": [{"$bytes": "AA=="}]},
    ]
    assert json.loads(encode_pair(2**70, {"$x": 1})) == [
        {"$int": str(2**70)},
        {"$dict": [["$x", 1]]},
    ]


def test_pickled_objects_are_read_back_only_when_trusted() -> None:
    line = encode_pair("when", complex(1, 2))
    with pytest.raises(ValueError, match="trusted=True"):
        decode_pair(line)
    assert decode_pair(line, trusted=True) == ("when", complex(1, 2))
