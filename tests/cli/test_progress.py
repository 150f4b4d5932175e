"""The progress bar (mapred.progress) driven by hand, the way the driver drives it.

(It lives with the CLI tests because the CLI is what turns it on by default.)
"""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest

import mapred.progress
from mapred import read_text
from mapred.progress import ProgressBar


@pytest.fixture(autouse=True)
def draw_every_update(monkeypatch):
    monkeypatch.setattr(mapred.progress, "REFRESH_SECONDS", 0)


def map_result(records: int, nbytes: int = 0, reducers: int = 2) -> SimpleNamespace:
    return SimpleNamespace(
        counters={"mapred": {"input_records": records}},
        input_bytes=nbytes,
        batches=[[] for _ in range(reducers)],
    )


def reduce_result(keys: int) -> SimpleNamespace:
    return SimpleNamespace(keys=keys)


def screen(capsys) -> list[str]:
    """The states drawn on stderr, one per redraw."""
    return [s.strip() for s in capsys.readouterr().err.split("\r") if s.strip()]


def test_files_give_a_bar_over_bytes_then_partitions(tmp_path, capsys):
    """Regular files: bytes of a known total, splits done, records and records/s; then a
    reduce bar over the partitions with the keys made."""
    path = tmp_path / "t.txt"
    path.write_bytes(b"x\n" * 1000)
    bar = ProgressBar(read_text(str(path), split_size=1000))
    bar.map_done(map_result(500, 1000))
    bar.maps_planned(2)
    bar.map_done(map_result(500, 1000))
    bar.reduce_done(reduce_result(3))
    bar.reduce_done(reduce_result(4))
    bar.close()
    states = screen(capsys)
    assert any("1.00k/2.00k" in s and "1/2 splits" in s and "500 records" in s for s in states)
    assert any("records/s" in s for s in states)
    assert any(s.startswith("reduce:") and "1/2 partitions" in s and "3 keys" in s for s in states)
    assert any("2/2 partitions" in s and "7 keys" in s for s in states)
    assert capsys.readouterr().out == ""


def test_iterables_give_a_bar_over_map_tasks(capsys):
    """No known size: map tasks, whose total is known once the input is planned."""
    bar = ProgressBar(iter(range(10)))
    bar.map_done(map_result(64, reducers=1))
    bar.records_read(100)  # the driver's live count, running tasks included
    bar.maps_planned(2)
    bar.map_done(map_result(64, reducers=1))
    bar.reduce_done(reduce_result(5))
    bar.close()
    states = screen(capsys)
    assert any("1 tasks" in s and "64 records" in s for s in states)
    assert any("100 records" in s for s in states)
    assert any("1/1 partitions" in s for s in states)


def test_the_reduce_bar_starts_when_the_last_map_commits(capsys):
    """Whether maps_planned comes before or after the last map_done."""
    bar = ProgressBar([])
    bar.maps_planned(1)
    assert "reduce" not in capsys.readouterr().err
    bar.map_done(map_result(1))
    assert "reduce" in capsys.readouterr().err
    bar.close()


def test_empty_input_goes_straight_to_reduce(capsys):
    """No map task at all: the reduce phase starts once that is known."""
    bar = ProgressBar([])
    bar.maps_planned(0)
    bar.reduce_done(reduce_result(0))
    bar.close()
    assert "reduce: 1 partitions" in capsys.readouterr().err


def test_streams_count_tasks(tmp_path, capsys, monkeypatch):
    """stdin among the inputs: no total size, so the bar counts tasks."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    bar = ProgressBar(read_text("-"))
    bar.map_done(map_result(3))
    bar.close()
    assert "1 tasks" in capsys.readouterr().err


class _Closed(io.StringIO):
    """A stderr that is gone: every write fails, and is counted."""

    attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise OSError("stderr is gone")


def test_a_bar_that_cannot_draw_goes_quiet(monkeypatch):
    """stderr closed or broken: the bar turns itself off instead of failing the job.

    Each bar (map, then reduce) tries to draw once; after its first failed write it
    never writes again, and no call raises.
    """
    stderr = _Closed()
    monkeypatch.setattr(sys, "stderr", stderr)
    bar = ProgressBar([])
    assert stderr.attempts == 1  # the map bar tried to draw
    bar.map_done(map_result(1))
    bar.records_read(5)
    assert stderr.attempts == 1  # ...and then stayed quiet
    bar.maps_planned(1)
    assert stderr.attempts == 2  # the reduce bar tried to draw
    bar.reduce_done(reduce_result(1))
    bar.close()
    assert stderr.attempts == 2


def test_the_bar_starts_no_thread(capsys):
    """No tqdm monitor thread: the driver forks replacement workers while the bar is up."""
    import threading

    before = threading.active_count()
    bar = ProgressBar([])
    bar.map_done(map_result(1))
    assert threading.active_count() == before
    bar.close()


def test_no_time_left_until_enough_is_done(tmp_path, capsys):
    """The first commits come in a burst after the workers' start-up: no estimate yet."""
    path = tmp_path / "t.txt"
    path.write_bytes(b"x\n" * 5000)
    bar = ProgressBar(read_text(str(path), split_size=500))
    bar.map_done(map_result(250, 500))  # 5% done
    early = screen(capsys)
    assert early
    assert not any("<" in s or "B/s" in s for s in early)
    for _ in range(3):
        bar.map_done(map_result(250, 500))
    later = screen(capsys)
    assert any("<" in s and "B/s" in s for s in later)
    bar.close()


def test_the_rate_is_the_average_since_the_start(tmp_path, capsys):
    """Two quick commits after a long start: the rate counts the whole time."""
    path = tmp_path / "t.txt"
    path.write_bytes(b"x\n" * 500_000)
    bar = ProgressBar(read_text(str(path), split_size=100_000))
    bar._bar.start_t -= 100  # the job started 100 s ago
    bar.map_done(map_result(50_000, 100_000))
    bar.map_done(map_result(50_000, 100_000))
    states = screen(capsys)
    # 200 kB in about 100 s: about 2 kB/s, never the burst's rate.
    assert any("2.00kB/s" in s or "1.99kB/s" in s for s in states), states
    bar.close()


def test_the_reduce_clock_moves_while_waiting(capsys):
    """Between reduce commits the driver's tick redraws the clock."""
    bar = ProgressBar([])
    bar.maps_planned(1)
    bar.map_done(map_result(1, reducers=2))
    capsys.readouterr()
    bar._bar.start_t -= 5  # the reduce phase began 5 s ago
    bar.tick()
    assert "0/2 partitions [00:05" in capsys.readouterr().err
    bar.close()


def test_the_bar_leaves_room_for_the_echoed_ctrl_c(monkeypatch):
    """A full-width bar would wrap when the terminal echoes ^C, and stay on screen."""
    bar_class = mapred.progress._bar_class()
    bar = bar_class(total=10, file=io.StringIO(), ncols=80)
    assert bar.format_dict["ncols"] == 80 - mapred.progress.RIGHT_MARGIN
    assert len(str(bar)) <= 80 - mapred.progress.RIGHT_MARGIN
    bar.close()
