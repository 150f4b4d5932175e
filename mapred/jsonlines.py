"""JSON lines that round-trip mapred's types: what ``mapred run --format jsonl`` writes.

Each pair is one line, ``[key, value]``. JSON has no tuples, sets, bytes or NaN, and
many JSON readers round big integers to doubles, so those are written as an object with
one ``$``-tag:

================  ===============================================
Python            JSON
================  ===============================================
None, bool, str   themselves
int               itself; beyond ±2**53 ``{"$int": "123..."}``
float             itself; NaN and ±inf ``{"$float": "nan"}``
list              an array
tuple             ``{"$tuple": [...]}``
set, frozenset    ``{"$set": [...]}``, ``{"$frozenset": [...]}`` (sorted)
bytes             ``{"$bytes": "<base64>"}``
dict              an object if every key is a str not starting with ``$``,
                  else ``{"$dict": [[key, value], ...]}``
other             ``{"$pickle": "<base64>"}`` (read back only when trusted)
================  ===============================================

>>> line = encode_pair(("a", 1), {(1, 2), (3,)})
>>> line
'[{"$tuple": ["a", 1]}, {"$set": [{"$tuple": [1, 2]}, {"$tuple": [3]}]}]'
>>> decode_pair(line)
(('a', 1), {(1, 2), (3,)})
"""

from __future__ import annotations

import base64
import json
import math
import pickle
from typing import Any

from mapred.keys import total_order_key

SAFE_INT = 2**53  # past this, JSON readers of other languages lose digits


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data, with ``$``-tags for what JSON cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else {"$int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, tuple):
        return {"$tuple": [to_json(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        tag = "$set" if isinstance(value, set) else "$frozenset"
        return {tag: [to_json(item) for item in sorted(value, key=total_order_key)]}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: to_json(item) for key, item in value.items()}
        return {"$dict": [[to_json(key), to_json(item)] for key, item in value.items()]}
    return {"$pickle": base64.b64encode(pickle.dumps(value)).decode("ascii")}


def from_json(data: Any, trusted: bool = False) -> Any:
    """The value :func:`to_json` made ``data`` from. ``trusted``: unpickle ``$pickle``."""
    if isinstance(data, list):
        return [from_json(item, trusted) for item in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((tag, inner),) = data.items()
        if tag == "$int":
            return int(inner)
        if tag == "$float":
            return float(inner)
        if tag == "$tuple":
            return tuple(from_json(item, trusted) for item in inner)
        if tag == "$set":
            return {from_json(item, trusted) for item in inner}
        if tag == "$frozenset":
            return frozenset(from_json(item, trusted) for item in inner)
        if tag == "$bytes":
            return base64.b64decode(inner)
        if tag == "$dict":
            return {from_json(k, trusted): from_json(v, trusted) for k, v in inner}
        if tag == "$pickle":
            if not trusted:
                raise ValueError("a $pickle value is read back only with trusted=True")
            return pickle.loads(base64.b64decode(inner))
    return {key: from_json(item, trusted) for key, item in data.items()}


def encode_pair(key: Any, value: Any) -> str:
    """One line (without its newline) for a pair."""
    return json.dumps([to_json(key), to_json(value)], ensure_ascii=False)


def decode_pair(line: str, trusted: bool = False) -> tuple[Any, Any]:
    """The pair of a line of :func:`encode_pair`."""
    key, value = json.loads(line)
    return from_json(key, trusted), from_json(value, trusted)
