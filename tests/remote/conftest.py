"""A real S3 API for the remote storage tests: moto in server mode on 127.0.0.1.

The server is a child process started once per module (before the function-scoped
``no_leaks`` fixture, so it counts as already there) on a free port, polled until it
answers (with a deadline), and stopped after the module's tests. Every test gets a
bucket of its own. The modules here skip, with the reason, when s3fs or moto's
server is not installed (``pip install ".[test]"`` installs both).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

START_DEADLINE_SECONDS = 30.0
STOP_DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1, stopped (and reaped) after the module."""
    pytest.importorskip("s3fs", reason="the remote tests need s3fs: pip install '.[test]'")
    pytest.importorskip("moto.server", reason="the remote tests need moto[server]")
    pytest.importorskip("flask", reason="moto's server mode needs moto[server] (flask)")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not _answers(endpoint):
            if server.poll() is not None:
                err = server.stderr.read().decode(errors="replace") if server.stderr else ""
                pytest.fail(f"moto_server exited with {server.returncode}: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"moto_server did not answer at {endpoint} in {START_DEADLINE_SECONDS}s"
                )
            time.sleep(POLL_SECONDS)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


@pytest.fixture
def storage_options(s3_endpoint: str) -> dict[str, Any]:
    """What s3fs needs to reach the local server (moto accepts any credentials)."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint},
    }


@pytest.fixture
def bucket(storage_options: dict[str, Any]) -> Iterator[str]:
    """A new, empty bucket; its name. Removed with its objects after the test."""
    import s3fs

    fs = s3fs.S3FileSystem(**storage_options)
    name = f"mapred-test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    yield name
    fs.rm(name, recursive=True)
