"""``--scheduler ADDRESS``: the same commands on a Dask cluster (an in-process LocalCluster).

Skipped without ``distributed`` or before the Dask backend exists; the missing-Dask error
path is tested in test_errors.py, where it runs everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

pytest.importorskip("distributed")
pytest.importorskip("mapred.backends.dask")

from distributed import LocalCluster

import mapred.cli.commands
from tests.cli.conftest import ROOT, SAMPLE, expected_tsv, reference_counts

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a two-worker cluster running in threads of this process."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_wordcount_on_a_cluster_equals_the_reference(cli, scheduler, corpus):
    """The same counts as local processes, compressed files and tiny splits included."""
    directory, texts = corpus
    run = cli("wordcount", "--scheduler", scheduler, "--split-size", "4KB", directory)
    assert run.status == 0, run
    assert run.out == expected_tsv(reference_counts(texts))


def test_run_with_a_job_file_on_a_cluster(cli, scheduler, sample_text):
    """A job file travels by value to the Dask workers."""
    job = ROOT / "tests" / "jobs" / "wordjob.py"
    run = cli("run", f"{job}:mapper", f"{job}:reducer", "--scheduler", scheduler, SAMPLE)
    assert run.status == 0, run
    counts = reference_counts([sample_text])
    assert run.out == "".join(f"{w}\t{c}\n" for w, c in sorted(counts.items()))


def test_a_scheduler_that_is_not_there_exits_1(cli, tmp_path, monkeypatch):
    """Nobody at the address: the job fails (1) with one line naming it."""
    monkeypatch.setattr(mapred.cli.commands, "SCHEDULER_CONNECT_SECONDS", 1)
    path = tmp_path / "t.txt"
    path.write_text("x\n")
    started = time.monotonic()
    run = cli("wordcount", "--scheduler", "tcp://127.0.0.1:9", path)
    waited = time.monotonic() - started
    assert run.status == 1
    assert run.err.startswith("mapred: error: cannot connect to the Dask scheduler at tcp://")
    assert run.err.count("\n") == 1
    # The CLI's time limit (1 s here), not Dask's 30 s default: a bound, not a speed.
    assert waited < 15
