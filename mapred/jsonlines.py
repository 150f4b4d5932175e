"""JSON lines that round-trip mapred's types: what ``mapred run --format jsonl`` writes.

Each pair is one line, ``[key, value]``. JSON has no tuples, sets, bytes or NaN, and
many JSON readers round big integers to doubles, so those are written as an object with
one ``$``-tag:

================  ===============================================
Python            JSON
================  ===============================================
None, bool        themselves
str               itself; with surrogates ``{"$str": "<hex>"}``
int               itself; beyond ±2**53 ``{"$int": "123..."}``
float             itself; NaN and ±inf ``{"$float": "nan"}``
list              an array
tuple             ``{"$tuple": [...]}``
set, frozenset    ``{"$set": [...]}``, ``{"$frozenset": [...]}`` (sorted)
bytes             ``{"$bytes": "<base64>"}``
dict              an object if every key is a str not starting with ``$``,
                  else ``{"$dict": [[key, value], ...]}``
other, subclasses ``{"$pickle": "<base64>"}`` (read back only when trusted)
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


def to_json(value: Any, surrogates: bool = False) -> Any:
    """``value`` as plain JSON data, with ``$``-tags for what JSON cannot hold.

    ``surrogates``: tag the str that hold surrogate code points (not UTF-8, and JSON
    would join a pair of them into one character).
    """
    kind = type(value)  # exact types: a subclass (an IntEnum, a namedtuple) is pickled
    if kind is str:
        if surrogates and not _is_utf8(value):
            return {"$str": value.encode("utf-8", "surrogatepass").hex()}
        return value
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if -SAFE_INT <= value <= SAFE_INT else {"$int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list:
        return [to_json(item, surrogates) for item in value]
    if kind is tuple:
        return {"$tuple": [to_json(item, surrogates) for item in value]}
    if kind is set or kind is frozenset:
        tag = "$set" if kind is set else "$frozenset"
        return {tag: [to_json(item, surrogates) for item in sorted(value, key=total_order_key)]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is dict:
        plain = (type(key) is str and not key.startswith("$") for key in value)
        if all(plain) and (not surrogates or all(map(_is_utf8, value))):
            return {key: to_json(item, surrogates) for key, item in value.items()}
        return {
            "$dict": [
                [to_json(key, surrogates), to_json(item, surrogates)] for key, item in value.items()
            ]
        }
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
        if tag == "$str":
            return bytes.fromhex(inner).decode("utf-8", "surrogatepass")
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
    """One line (without its newline) for a pair: UTF-8 text as it is, except that a str
    holding surrogate code points is written ``{"$str": "<hex of its UTF-8, surrogates
    passed>"}``."""
    line = json.dumps([to_json(key), to_json(value)], ensure_ascii=False)
    if _is_utf8(line):
        return line
    return json.dumps([to_json(key, True), to_json(value, True)], ensure_ascii=False)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_pair(line: str, trusted: bool = False) -> tuple[Any, Any]:
    """The pair of a line of :func:`encode_pair`."""
    key, value = json.loads(line)
    return from_json(key, trusted), from_json(value, trusted)
