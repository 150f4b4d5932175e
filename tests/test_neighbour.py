"""The suite runs beside another mapred job and leaves it alone (SPEC 5, issue #10).

The ``neighbour`` fixture (tests/conftest.py, tests/neighbour.py) starts a real job in a
subprocess before the first test, with its work directory in the system temp directory,
and holds it mid-job while the whole suite runs. This test runs last (conftest moves it
there): the neighbour's files must be exactly as they were, and once released the job must
finish with the exact answer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.neighbour import Neighbour, expected_items


def test_a_neighbour_job_survives_the_suite(neighbour: Neighbour) -> None:
    """Every file the neighbour wrote is untouched; released, it gives the exact result."""
    assert neighbour.workdir.parent == Path(tempfile.gettempdir()).resolve()
    assert neighbour.files, "the neighbour had written no map output to watch"
    assert neighbour.process.poll() is None, neighbour.process.communicate()
    assert neighbour.changed_files() == []
    out, err = neighbour.release()
    assert neighbour.process.returncode == 0, err
    assert out.strip() == repr(expected_items())
    assert not neighbour.workdir.exists()  # the job cleaned up after itself
