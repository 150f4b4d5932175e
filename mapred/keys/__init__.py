"""Key order and key hashing: the two rules every stage and every process agrees on.

Each has its own module: :mod:`mapred.keys.order` decides the order keys come out in
(SPEC 3) and when sorted streams may be merged natively; :mod:`mapred.keys.hashing` hashes
keys for the default partitioner, the same in every process. The rest of mapred imports
both from here.
"""

from __future__ import annotations

from mapred.keys.hashing import (
    MAX_CANONICAL_DEPTH,
    canonical_bytes,
    checked_partitioner,
    leaf_types,
    partition_for,
    partition_indices,
    stable_hash,
)
from mapred.keys.order import (
    item_order,
    join_str_tuples,
    key_family,
    merge_natively,
    natively_ordered,
    sort_columns,
    sort_keys,
    split_joined,
    split_joined_key,
    total_order_key,
)

__all__ = [
    "MAX_CANONICAL_DEPTH",
    "canonical_bytes",
    "checked_partitioner",
    "item_order",
    "join_str_tuples",
    "key_family",
    "leaf_types",
    "merge_natively",
    "natively_ordered",
    "partition_for",
    "partition_indices",
    "sort_columns",
    "sort_keys",
    "split_joined",
    "split_joined_key",
    "stable_hash",
    "total_order_key",
]
