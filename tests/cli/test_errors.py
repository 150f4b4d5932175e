"""Exit statuses and messages (SPEC 6), in-process: usage errors 2 before any work, a failed
job 1 with one line, Ctrl-C 130, a reader that goes away 0 and quiet."""

from __future__ import annotations

import errno
import io
import os
import re
import socket
import sys
from pathlib import Path

import pytest

import mapred
from mapred import WorkerLost
from mapred.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, main
from tests.cli.conftest import SAMPLE


@pytest.fixture
def no_job(monkeypatch):
    """Fail the test if a job starts: usage errors must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a job started despite a usage error")

    monkeypatch.setattr(mapred, "mapreduce", forbidden)


@pytest.fixture
def text(tmp_path: Path) -> Path:
    path = tmp_path / "t.txt"
    path.write_text("some words\n")
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "argument -w/--workers: expected a whole number >= 1, got '0'"),
        (["-w", "two"], "expected a whole number >= 1, got 'two'"),
        (["-r", "-1"], "argument -r/--reducers"),
        (["--top", "0"], "argument --top"),
        (["--sort", "size"], "argument --sort: invalid choice: 'size'"),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["--pattern", "(unclosed"], "argument --pattern: not a regular expression"),
        (["--encoding", "utf-42"], "argument --encoding: unknown encoding 'utf-42'"),
        (["--encoding", "rot13"], "is not a text encoding"),
        (["--errors", "explode"], "argument --errors: invalid choice: 'explode'"),
        (["--memory-limit", "lots"], "argument --memory-limit: expected a size like 512MB"),
        (["--memory-limit", "0"], "argument --memory-limit: must be positive"),
        (["--memory-limit", "-1GB"], "argument --memory-limit"),
        (["--scheduler", "banana"], "argument --scheduler: expected an address like tcp://HOST:"),
        (["--scheduler", "tcp://host"], "expected an address like tcp://HOST:8786"),
        (["--scheduler", "tcp://host:99999"], "expected an address like tcp://HOST:8786"),
        (["--scheduler", "http://host:80"], "argument --scheduler: unknown protocol 'http'"),
        (["--split-size", "-5"], "argument --split-size"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["--progress=yes"], "--progress"),
    ],
)
def test_bad_options_exit_2_before_any_work(cli, no_job, text, argv, message):
    """A bad option value: argparse's usage line and message, exit 2, nothing on stdout."""
    run = cli("wordcount", *argv, text)
    assert run.status == EXIT_USAGE
    assert run.out == ""
    assert run.err.startswith("usage: mapred wordcount")
    assert message in run.err


def test_missing_path_exits_2_naming_it(cli, no_job, text, tmp_path):
    """A path that does not exist (even next to ones that do): exit 2, one line naming it."""
    missing = tmp_path / "missing.txt"
    run = cli("wordcount", text, missing)
    assert run.status == EXIT_USAGE
    assert run.err == f"mapred: error: {missing}: no such file or directory\n"
    assert run.out == ""


def test_glob_matching_nothing_exits_2(cli, no_job, tmp_path):
    """A glob with no match is a missing path."""
    run = cli("wordcount", str(tmp_path / "*.nothing"))
    assert run.status == EXIT_USAGE
    assert "no file matches the pattern" in run.err


def test_a_socket_is_not_input(cli, no_job, tmp_path):
    """A path that is neither file, directory, FIFO nor device: exit 2."""
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
        run = cli("wordcount", path)
    os.unlink(path)
    assert run.status == EXIT_USAGE
    assert "not a regular file, directory, FIFO or character device" in run.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_exits_2(cli, no_job, text):
    """A file that exists but cannot be read: exit 2 before any work."""
    text.chmod(0)
    run = cli("wordcount", text)
    assert run.status == EXIT_USAGE
    assert "permission denied" in run.err


def test_output_in_a_missing_directory_exits_2(cli, no_job, text, tmp_path):
    """-o into a directory that does not exist: exit 2 before the job."""
    run = cli("wordcount", "-o", tmp_path / "nowhere" / "out.tsv", text)
    assert run.status == EXIT_USAGE
    assert "does not exist" in run.err


def test_output_that_is_a_directory_exits_2(cli, no_job, text, tmp_path):
    """-o naming a directory: exit 2."""
    run = cli("wordcount", "-o", tmp_path, text)
    assert run.status == EXIT_USAGE
    assert "is a directory" in run.err


def test_no_path_and_stdin_a_terminal_exits_2(cli, no_job, monkeypatch):
    """No PATH while stdin is a terminal: say how to give input instead of waiting."""
    fake = io.TextIOWrapper(io.BytesIO(b""))
    monkeypatch.setattr(fake, "isatty", lambda: True)
    monkeypatch.setattr(sys, "stdin", fake)
    run = cli("wordcount")
    assert run.status == EXIT_USAGE
    assert "no input" in run.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["count"], "invalid choice: 'count'"),
        (["--debug"], "the following arguments are required: command"),
    ],
)
def test_missing_or_unknown_command_exits_2(cli, argv, message):
    """No command or an unknown one: usage and exit 2."""
    run = cli(*argv)
    assert run.status == EXIT_USAGE
    assert message in run.err


def test_undecodable_input_exits_1_with_file_line_and_hint(cli, tmp_path):
    """Bad bytes: exit 1, one line naming the file and line number, with --errors replace."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nalso fine\nbad \xff here\n")
    run = cli("wordcount", "-w", "1", path)
    assert run.status == EXIT_FAILED
    assert run.out == ""
    assert run.err.count("\n") == 1
    assert run.err.startswith(f"mapred: error: cannot decode {path} line 3 as utf-8")
    assert run.err.endswith("(try --errors replace)\n")
    assert "errors=" not in run.err
    assert "Traceback" not in run.err


def test_undecodable_stdin_names_stdin(cli, monkeypatch):
    """On stdin the line number is counted from the start of the stream."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\nb\n\xfe\n")))
    run = cli("wordcount", "-w", "1")
    assert run.status == EXIT_FAILED
    assert "<stdin> line 3" in run.err
    assert "--errors replace" in run.err


def test_debug_shows_the_traceback(cli, tmp_path):
    """--debug: the traceback as well as the line."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\n")
    run = cli("wordcount", "-w", "1", "--debug", path)
    assert run.status == EXIT_FAILED
    assert "Traceback" in run.err
    assert "DecodeError" in run.err
    assert run.err.rstrip().splitlines()[-1].startswith("mapred: error: cannot decode")


def test_debug_may_come_before_the_command(cli, tmp_path):
    """mapred --debug wordcount ...: the same as wordcount --debug."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\n")
    run = cli("--debug", "wordcount", "-w", "1", path)
    assert run.status == EXIT_FAILED
    assert "Traceback" in run.err


def test_an_engine_error_is_one_line(cli, monkeypatch, text):
    """A MapredError (here WorkerLost): its message, no --debug hint needed."""

    def lost(*args, **kwargs):
        raise WorkerLost("map task 0 lost its worker process on all 4 attempts (last: SIGKILL)")

    monkeypatch.setattr(mapred, "mapreduce", lost)
    run = cli("wordcount", text)
    assert run.status == EXIT_FAILED
    assert run.err == (
        "mapred: error: map task 0 lost its worker process on all 4 attempts (last: SIGKILL)\n"
    )


def test_ctrl_c_exits_130_quietly(cli, monkeypatch, text):
    """KeyboardInterrupt anywhere in the job: 130, no traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mapred, "mapreduce", interrupted)
    run = cli("wordcount", text)
    assert run.status == EXIT_INTERRUPTED
    assert run.err == ""


def test_sigterm_during_the_job_keeps_its_status(cli, monkeypatch, text):
    """The engine turns SIGTERM into SystemExit(143); main returns 143."""

    def terminated(*args, **kwargs):
        raise SystemExit(143)

    monkeypatch.setattr(mapred, "mapreduce", terminated)
    assert cli("wordcount", text).status == 143


class _ClosedPipe(io.RawIOBase):
    """A stdout whose reader went away (until ``reader_back``, so it can be freed quietly)."""

    reader_back = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.reader_back:
            return len(data)
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no fd here")  # keep dup2 away from pytest's fd 1


def test_a_reader_that_goes_away_ends_quietly(monkeypatch, capsys, text):
    """| head: BrokenPipeError on stdout is not an error: status 0, nothing on stderr."""
    pipe = _ClosedPipe()
    stdout = io.TextIOWrapper(io.BufferedWriter(pipe))
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["wordcount", "-w", "1", str(text)]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().err == ""
    pipe.reader_back = True  # else the wrapper's last flush, when freed, fails loudly
    stdout.close()


def test_a_closed_stdout_exits_1(monkeypatch, capsys, text):
    """Started with stdout closed (sys.stdout is None): one line, status 1."""
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["wordcount", "-w", "1", str(text)]) == EXIT_FAILED
    monkeypatch.undo()
    assert capsys.readouterr().err == "mapred: error: standard output is closed\n"


def test_a_full_disk_exits_1_and_leaves_no_file(cli, monkeypatch, text, tmp_path):
    """Writing -o FILE fails: exit 1 with the OS's reason; no FILE, no temporary file."""

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "out.tsv"
    run = cli("wordcount", "-w", "1", "-o", out, text)
    assert run.status == EXIT_FAILED
    assert run.err == "mapred: error: No space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_version(cli):
    """--version prints the version and exits 0."""
    run = cli("--version")
    assert run.status == 0
    assert run.out == f"mapred {mapred.__version__}\n"


@pytest.mark.parametrize("command", ["wordcount", "run"])
def test_help_has_an_example_for_each_command(cli, command):
    """--help of each command: its options and an example."""
    run = cli(command, "--help")
    assert run.status == 0
    assert "examples:" in run.out
    assert f"  mapred {command} " in run.out


def test_top_level_help_lists_the_commands(cli):
    """mapred --help: both commands, an example of each, the exit statuses."""
    run = cli("--help")
    assert run.status == 0
    for text in ("wordcount", "run", "mapred wordcount --top 10", "mapred run ", "130"):
        assert text in run.out


def test_wordcount_help_documents_every_spec_option(cli):
    """Every option of SPEC 6 is in the help."""
    out = cli("wordcount", "--help").out
    # Python 3.13's argparse writes "-w, --workers N" where 3.11 wrote "-w N, --workers N".
    out = re.sub(r"(-\w) \w+, (--)", r"\1, \2", out)
    for option in (
        "-w, --workers N", "-r, --reducers N", "--top N", "--sort", "--format",
        "--pattern REGEX", "--no-lower", "--encoding E", "--errors", "--memory-limit SIZE",
        "-o, --output FILE", "--progress, --no-progress", "--scheduler ADDRESS", "--debug",
    ):  # fmt: skip
        assert option in out, option


def test_main_reads_sys_argv_by_default(monkeypatch, capsys):
    """main() without arguments parses sys.argv[1:], as the console script calls it."""
    monkeypatch.setattr(sys, "argv", ["mapred", "--version"])
    assert main() == 0
    assert capsys.readouterr().out.startswith("mapred ")


def test_scheduler_without_dask_exits_2(cli, no_job, monkeypatch, text):
    """--scheduler when distributed is not installed: exit 2 naming the extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    run = cli("wordcount", "--scheduler", "tcp://127.0.0.1:8786", text)
    assert run.status == EXIT_USAGE
    assert "pip install '.[dask]' from the mapred clone" in run.err


def test_missing_paths_win_over_the_scheduler_check(cli, no_job, monkeypatch, tmp_path):
    """Paths are checked first: the first problem found is the one reported."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    run = cli("wordcount", "--scheduler", "tcp://127.0.0.1:8786", tmp_path / "missing")
    assert run.status == EXIT_USAGE
    assert "no such file or directory" in run.err


def test_sample_runs_with_every_format(cli):
    """Smoke: the sample in every format exits 0."""
    for fmt in ("tsv", "csv", "jsonl"):
        assert cli("wordcount", "-w", "1", "--top", "1", "--format", fmt, SAMPLE).status == 0
