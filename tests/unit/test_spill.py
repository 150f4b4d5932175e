"""Spilling past memory_limit: sorted runs, the order-keeping merge, counters, cleanup.

The shuffle budget (SPEC 2) is the job's ``memory_limit`` shared by the reduce tasks
that run at once, with a floor of ``MIN_MEMORY_LIMIT`` (1 MiB) per task. Tests use the
floor and a few tens of thousands of keys, which spill a handful of runs in well under
a second. Every job result is compared with a sequential oracle, so ordering through
spills is checked, not assumed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapred import Engine, mapreduce
from mapred.engine import parse_size
from mapred.keys import key_family, sort_keys, total_order_key
from mapred.launch import MAP_SHARE
from mapred.maploop import MAP_BUFFER_PAIRS, MIN_BUFFER_PAIRS, buffer_pairs
from mapred.spill import RUN_BLOCK_ITEMS, RUN_PIECE_VALUES, merge_runs, read_run, write_run
from tests.oracle import in_order, sequential, total

TINY = "1MiB"  # the per-task floor: spills every few thousand keys


def scattered(n: int) -> Iterator[tuple[str, int]]:
    """``n`` records over ``n // 3`` keys, each key's records far apart in the input."""
    keys = max(1, n // 3)
    for i in range(n):
        yield f"key-{(i * 7919) % keys:07d}", i


def identity(record: Any) -> list[Any]:
    return [record]


# -- run files and the merge ----------------------------------------------------------------


def test_run_round_trip_cuts_long_value_lists_into_pieces(tmp_path: Any) -> None:
    """A run stores each key's values in pieces of RUN_PIECE_VALUES, in order."""
    path = str(tmp_path / "run.bin")
    written = write_run(path, ["a", "b"], [list(range(RUN_PIECE_VALUES + 5)), [1, 2]])
    assert written == os.path.getsize(path)
    pieces = list(read_run(path))
    assert [key for key, _ in pieces] == ["a", "a", "b"]
    assert [len(values) for _, values in pieces] == [RUN_PIECE_VALUES, 5, 2]
    assert [v for _, values in pieces[:2] for v in values] == list(range(RUN_PIECE_VALUES + 5))


def test_merge_takes_earlier_runs_first_for_equal_keys() -> None:
    """Equal keys in several runs merge oldest run first: values stay in input order."""
    runs = [
        [("a", [1]), ("c", [2])],
        [("a", [3]), ("b", [4])],
        [("a", [5]), ("c", [6])],
    ]
    merged = [(key, list(values)) for key, values in merge_runs(runs, ["str"] * 3)]
    assert merged == [("a", [1, 3, 5]), ("b", [4]), ("c", [2, 6])]


def test_run_of_many_tuple_keys_round_trips_in_blocks(tmp_path: Any) -> None:
    """Tuple keys and tuple values come back exactly, across several blocks."""
    keys = [(f"w{i:05d}", i) for i in range(RUN_BLOCK_ITEMS * 2 + 7)]
    values = [[(i, "x")] for i in range(len(keys))]
    path = str(tmp_path / "run.bin")
    write_run(path, keys, values)
    assert list(read_run(path)) == list(zip(keys, values, strict=True))


def test_merge_orders_mixed_key_types_by_the_total_order() -> None:
    """Runs whose keys are of several types merge in the documented total order."""
    keys: list[Any] = [None, 2, "x", b"y", (1, "t")]
    first = keys.copy()
    sort_keys(first)
    runs = [[(key, [i]) for i, key in enumerate(first)], [(2, [9])]]
    merged = [key for key, _ in merge_runs(runs, [key_family(first), "number"])]
    assert merged == sorted(keys, key=total_order_key)


def test_merge_streams_values_lazily() -> None:
    """The merge hands the reducer an iterator, not a list it built first."""
    groups = merge_runs([[("k", [1, 2])], [("k", [3])]], ["str", "str"])
    key, values = next(groups)
    assert key == "k"
    assert not isinstance(values, list)
    assert list(values) == [1, 2, 3]
    assert next(groups, None) is None


# -- spilling through the public API -------------------------------------------------------


@pytest.mark.parametrize("backend", ["processes", "serial"])
def test_spilled_job_equals_the_sequential_run(backend: str) -> None:
    """Past a tiny budget reduce tasks spill, and the result (values in input order) is
    exactly the sequential one."""
    data = list(scattered(60_000))
    result = mapreduce(
        identity, in_order, data, workers=2, memory_limit=TINY, chunksize=5_000, backend=backend
    )
    assert list(result.items()) == sequential(identity, in_order, data)
    builtin = result.counters["mapred"]
    assert builtin["spilled_records"] > 0
    assert builtin["spilled_bytes"] > 0
    assert builtin["spilled_records"] <= builtin["reduce_input_records"] == len(data)


def test_without_pressure_nothing_spills(engine: Engine) -> None:
    """The spill counters stay at zero when everything fits."""
    data = list(scattered(3_000))
    result = engine.mapreduce(identity, in_order, data)
    assert list(result.items()) == sequential(identity, in_order, data)
    assert result.counters["mapred"]["spilled_records"] == 0
    assert result.counters["mapred"]["spilled_bytes"] == 0


def test_a_key_with_more_values_than_the_budget_streams_in_order(engine: Engine) -> None:
    """One hot key with far more values than fit in the budget, mixed with others,
    reaches the reducer in input order across many runs and pieces."""
    n = 400_000

    def hot(i: int) -> list[tuple[Any, int]]:
        return [("hot", i), (i % 1_000, 1)] if i % 4 else [("hot", i)]

    def check(key: Any, values: Iterator[int]) -> Any:
        if key != "hot":
            return sum(values)
        expected = 0
        for value in values:  # streamed: never held as one list here
            if value != expected:
                return ("out of order at", expected, value)
            expected += 1
        return expected

    result = engine.mapreduce(hot, check, range(n), memory_limit=TINY, chunksize=20_000)
    assert result["hot"] == n
    assert result.counters["mapred"]["spilled_records"] > RUN_PIECE_VALUES
    assert list(result.items()) == sequential(hot, check, range(n))


def test_spill_with_many_reducers_and_a_combiner(engine: Engine) -> None:
    """Spills in several partitions at once, after a combiner, still give the exact sums."""
    data = list(scattered(90_000))
    result = engine.mapreduce(
        identity, total, data, combiner=total, reducers=5, memory_limit=TINY, chunksize=3_000
    )
    assert list(result.items()) == sequential(identity, total, data)
    assert result.counters["mapred"]["spilled_records"] > 0


def test_a_reducer_failing_after_a_spill_names_its_key(engine: Engine) -> None:
    """The reducer's exception names the key it failed on, also when the keys stream
    from merged runs (a key deep in a block, not the first)."""
    data = list(scattered(30_000))
    bad = "key-0004321"

    def picky(key: str, values: Iterator[int]) -> int:
        if key == bad:
            raise LookupError(key)
        return sum(values)

    with pytest.raises(LookupError) as info:
        engine.mapreduce(identity, picky, data, reducers=1, memory_limit=TINY, chunksize=3_000)
    assert f"key {bad!r}" in info.value.__notes__[0]


def test_spilled_job_with_output_dir_is_lazy_and_ordered(engine: Engine, tmp_path: Any) -> None:
    """With output=DIR a spilled job's parts iterate in key order without a dict."""
    data = list(scattered(30_000))
    out = tmp_path / "out"
    result = engine.mapreduce(identity, in_order, data, memory_limit=TINY, output=out)
    assert not isinstance(result, dict)
    assert list(result.items()) == sequential(identity, in_order, data)
    assert sorted(os.listdir(out)) == ["_SUCCESS", "part-00000.msgpack", "part-00001.msgpack"]


# -- the work directory: private, and removed on every path ---------------------------------


def _work_dirs(base: Any) -> list[str]:
    return [name for name in os.listdir(base) if name.startswith("mapred-")]


def test_work_dir_is_private_and_holds_the_runs(
    engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spill runs go to a 0700 ``mapred-*`` directory under MAPRED_TMPDIR, which is
    gone after the job."""
    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))
    base = str(tmp_path)

    def look(key: Any, values: Iterator[Any]) -> Any:
        # Runs are still on disk while the merge streams them to the reducer.
        (workdir,) = _work_dirs(base)
        path = os.path.join(base, workdir)
        names = os.listdir(path)
        return (
            stat.S_IMODE(os.stat(path).st_mode),
            any(name.startswith("run-") for name in names),
            sum(1 for _ in values),
        )

    data = list(scattered(40_000))
    result = engine.mapreduce(identity, look, data, memory_limit=TINY, reducers=1)
    modes = {mode for mode, _, _ in result.values()}
    assert modes == {0o700}
    assert all(has_runs for _, has_runs, _ in result.values())
    assert result.counters["mapred"]["spilled_records"] > 0
    assert _work_dirs(base) == []


@pytest.mark.parametrize("backend", ["processes", "serial"])
def test_spill_files_are_removed_when_the_reducer_fails(
    backend: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reducer that raises halfway through a spilled merge leaves no file behind."""
    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))

    def fail_late(key: Any, values: Iterator[Any]) -> Any:
        if key >= "key-0010000":
            raise ZeroDivisionError("late")
        return list(values)

    with pytest.raises(ZeroDivisionError, match="late"):
        mapreduce(
            identity,
            fail_late,
            scattered(40_000),
            workers=2,
            reducers=1,
            memory_limit=TINY,
            backend=backend,
        )
    assert os.listdir(tmp_path) == []


def test_spill_files_are_removed_when_a_mapper_fails_after_spills(
    engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job failing in the map phase, after reduce tasks spilled, leaves no file behind."""
    monkeypatch.setenv("MAPRED_TMPDIR", str(tmp_path))

    def fail_at_end(record: tuple[str, int]) -> list[Any]:
        if record[1] == 79_999:
            raise KeyError("last")
        return [record]

    with pytest.raises(KeyError, match="last"):
        engine.mapreduce(fail_at_end, in_order, scattered(80_000), memory_limit=TINY)
    assert os.listdir(tmp_path) == []


# -- the map-side buffer ------------------------------------------------------------------


def test_map_buffer_follows_the_budget() -> None:
    """The map buffer holds MAP_BUFFER_PAIRS pairs, fewer under a small budget."""
    assert buffer_pairs(1 << 40) == MAP_BUFFER_PAIRS
    assert buffer_pairs(1 << 20) < MAP_BUFFER_PAIRS
    assert buffer_pairs(0) == MIN_BUFFER_PAIRS


def test_map_buffer_flushes_inside_one_huge_record(engine: Engine) -> None:
    """One record yielding more pairs than the buffer holds is flushed as it goes: the
    combiner sees one group per flush, deterministically."""
    per_flush = buffer_pairs(parse_size(TINY) // MAP_SHARE)  # map buffers get 1/MAP_SHARE
    pairs = 3 * per_flush + 10

    def burst(n: int) -> Iterator[tuple[str, int]]:
        for _ in range(n):
            yield "k", 1

    result = engine.mapreduce(burst, total, [pairs], combiner=total, memory_limit=TINY)
    assert result == {"k": pairs}
    assert result.counters["mapred"]["map_output_records"] == pairs
    assert result.counters["mapred"]["combine_output_records"] == 4


def test_run_blocks_hold_a_bounded_number_of_values(tmp_path: Any) -> None:
    """Many keys with long value lists: no block a reader decodes holds more than
    RUN_BLOCK_VALUES values (one piece aside), and every value comes back in order."""
    from mapred.serde import make_unpacker
    from mapred.spill import RUN_BLOCK_VALUES

    keys = [f"k{i:04d}" for i in range(200)]
    values = [list(range(i, i + RUN_PIECE_VALUES // 2)) for i in range(200)]
    path = str(tmp_path / "run.bin")
    write_run(path, keys, values)
    with open(path, "rb") as file:
        unpacker = make_unpacker(file)
        sizes = [sum(map(len, unpacker.unpack())) for _ in unpacker]
    assert len(sizes) > 1
    assert max(sizes) <= max(RUN_BLOCK_VALUES, RUN_PIECE_VALUES)
    assert list(read_run(path)) == list(zip(keys, values, strict=True))


@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 12), st.integers(1, 3)), max_size=20),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=200)
def test_merge_groups_keys_with_values_in_run_order(
    runs_spec: list[list[tuple[int, int]]],
) -> None:
    """Runs whose keys come in several pieces merge into one group per key, the pieces of
    earlier runs first: the groups a stable merge of all the runs' items gives."""
    import itertools
    from operator import itemgetter

    runs: list[list[tuple[int, list[str]]]] = []
    for number, spec in enumerate(runs_spec):
        run = []
        for key, pieces in sorted(spec, key=itemgetter(0)):
            run += [(key, [f"r{number}k{key}p{p}"]) for p in range(pieces)]  # a key's pieces
        runs.append(run)
    items = sorted((item for run in runs for item in run), key=itemgetter(0))  # stable
    expected = [
        (key, [v for _, piece in group for v in piece])
        for key, group in itertools.groupby(items, itemgetter(0))
    ]
    merged = [(key, list(values)) for key, values in merge_runs(runs, ["number"] * len(runs))]
    assert merged == expected


def test_merge_goes_on_past_values_the_reducer_left() -> None:
    """A reducer that reads none of a key's values does not shift the next key's values."""
    runs = [[("a", [1]), ("a", [2]), ("b", [3])], [("a", [4]), ("c", [5])]]
    seen = [(key, list(values)) for key, values in merge_runs(runs, ["str", "str"]) if key != "a"]
    assert seen == [("b", [3]), ("c", [5])]
