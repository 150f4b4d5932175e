r"""The command line, ``python -m mapred`` (also installed as ``mapred``): SPEC section 6.

::

    argv ──► parse (argparse; usage errors exit 2) ──► prepare: read_text, load functions,
             check -o and --scheduler (still exit 2, before any work starts)
                 ──► mapreduce(...) on the engine (a failure exits 1, Ctrl-C 130)
                 ──► rows in the chosen order ──► lines ──► stdout, or FILE atomically

``wordcount`` counts the tokens of every line: matches of ``--pattern`` (default
:data:`DEFAULT_PATTERN`) in ``line.lower()`` (or the line itself with ``--no-lower``),
with ``sum`` as combiner and reducer. ``run`` loads a mapper, a reducer and an
optional combiner given as ``module:function`` or ``path/to/file.py:function`` and
prints ``key<TAB>value`` in key order.

Policy:

* Everything that can be checked before the job is checked before the job: a bad
  option, a path that does not exist, a function that cannot be loaded, an output
  directory that does not exist, a missing Dask install. All exit 2.
* :func:`exit_status` is the one place that turns an outcome into an exit status and
  a message: one line on stderr, the traceback only with ``--debug``.
* Output is written only after the job succeeded, so a failed job writes nothing to
  stdout, and ``-o FILE`` goes through a temporary file renamed over FILE.
* A reader that goes away (``| head``) is not an error: stdout is pointed at
  ``/dev/null`` so that the interpreter's final flush stays quiet, and the status is 0.
  The engine has already stopped its workers by the time anything is written.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Iterator
from typing import Any, cast

import mapred
import mapred.job
from mapred.engine import parse_size
from mapred.errors import DecodeError, MapredError
from mapred.formats import (
    FORMATS,
    ReaderGone,
    format_counts,
    format_pairs,
    quiet_stdout,
    write_lines,
)
from mapred.jsonlines import encode_pair
from mapred.loader import UsageError, load_function, one_line
from mapred.program import Job, result_pairs, write_counters
from mapred.quarantine import report_skipped
from mapred.splits import ERROR_HANDLERS, TextInput, check_decoding, read_text
from mapred.storage import is_url, local_path
from mapred.wordcount import DEFAULT_PATTERN, SORTS, add_counts, order_counts, word_mapper

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a job stopped by Ctrl-C

# How long --scheduler waits for the scheduler to answer. Dask's default (30 s) is long
# for a command that is most often pointed at a wrong or stopped address; a scheduler
# that is up answers in milliseconds, even across a slow network.
SCHEDULER_CONNECT_SECONDS = 10


# ---------------------------------------------------------------------------------------------
# The commands


def command_wordcount(args: argparse.Namespace) -> None:
    """``mapred wordcount``: count tokens and print them."""
    data = _text_input(args)
    mapper = word_mapper(args.pattern, lower=args.lower)
    with _backend(args) as backend:
        counts = mapred.mapreduce(
            mapper,
            add_counts,
            data,
            combiner=add_counts,
            backend=backend,
            **_job_options(args),
        )
    assert isinstance(counts, mapred.Result)  # a plain reducer, no output=DIR
    rows = order_counts(counts, args.sort, args.top)
    write_lines(format_counts(rows, args.format), args.output)
    report_skipped(counts)


def command_run(args: argparse.Namespace) -> None:
    """``mapred run``: any job, as functions or a :class:`mapred.Job` class."""
    _resolve_reducer(args)
    with contextlib.ExitStack() as stack:
        data = _text_input(args)
        if args.output_dir is not None:
            _check_output_dir(args.output_dir)
        target = load_function(args.mapper, "MAPPER", stack)
        options = _job_options(args)
        options["output"] = args.output_dir
        if isinstance(target, type) and issubclass(target, Job):
            if args.reducer is not None:
                raise UsageError(f"MAPPER {args.mapper} is a Job class: it takes no REDUCER")
            job = _make_job(target, args.arg)
            with _backend(args) as backend:
                result = mapred.mapreduce(steps=job.steps(), data=data, backend=backend, **options)
        else:
            if args.arg:
                raise UsageError("--arg passes options to a Job class; MAPPER is a function")
            if args.reducer is None:
                raise UsageError(
                    "REDUCER is missing: give module:function, or none for a map-only job"
                )
            reducer = None
            if args.reducer != "none":
                reducer = load_function(args.reducer, "REDUCER", stack)
            combiner = load_function(args.combiner, "--combiner", stack) if args.combiner else None
            with _backend(args) as backend:
                result = mapred.mapreduce(
                    cast(Any, target), reducer, data, combiner=combiner, backend=backend, **options
                )
        if args.output_dir is None:
            write_result(result, args.format, args.output)
        if args.counters:
            write_counters(result.counters)
        report_skipped(result)


def _resolve_reducer(args: argparse.Namespace) -> None:
    """The second positional is REDUCER if it names a function (or is ``none``), else the
    first PATH (a Job class takes no REDUCER)."""
    reducer = args.reducer
    if reducer is None or reducer == "none":
        return
    where, sep, name = reducer.rpartition(":")
    names_function = bool(sep and where and name) and not is_url(reducer)
    if not names_function or os.path.exists(reducer):
        args.paths.insert(0, reducer)
        args.reducer = None


def _make_job(job_class: type[Job], pairs: list[str]) -> Job:
    """The Job with ``--arg NAME=VALUE`` as its options ``--NAME VALUE`` (``--arg NAME``:
    the flag ``--NAME``)."""
    argv: list[str] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        argv += [f"--{name}", value] if sep else [f"--{name}"]
    try:
        return job_class(argv)
    except SystemExit as exc:  # argparse has said what is wrong on stderr
        raise UsageError(f"--arg: {job_class.__name__} does not accept {' '.join(argv)}") from exc


def write_result(result: Any, fmt: str, output: str | None) -> None:
    """Write a job's pairs in its order: ``key<TAB>value`` (tsv) or JSON lines (jsonl,
    :mod:`mapred.jsonlines`: every type round-trips)."""
    pairs = result_pairs(result)
    if fmt == "jsonl":
        lines: Any = (encode_pair(key, value) + "\n" for key, value in pairs)
    else:
        lines = format_pairs(pairs)
    write_lines(lines, output)


def _check_output_dir(directory: str) -> None:
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise UsageError(f"--output-dir {directory}: exists and is not an empty directory")


def _text_input(args: argparse.Namespace) -> TextInput:
    paths: list[str] = args.paths or ["-"]
    if not args.paths and _isatty(sys.stdin):
        raise UsageError("no input: give a PATH, or pipe text in (use '-' to type it)")
    if args.scheduler:  # Dask workers may run elsewhere: give them paths that do not need our cwd
        paths = [p if p == "-" or is_url(p) else os.path.abspath(local_path(p)) for p in paths]
    try:
        data = read_text(
            paths, encoding=args.encoding, errors=args.errors, split_size=args.split_size
        )
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: {exc.strerror}") from exc
    except (OSError, ValueError, ImportError) as exc:
        raise UsageError(one_line(exc)) from exc
    for path in data.files:
        if not is_url(path) and not os.access(path, os.R_OK):
            raise UsageError(f"{path}: permission denied")
    if args.output not in (None, "-"):
        _check_output(args.output)
    return data


def _check_output(output: str) -> None:
    directory = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output):
        raise UsageError(f"-o {output}: is a directory; give a file name")
    if not os.path.isdir(directory):
        raise UsageError(f"-o {output}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"-o {output}: cannot create files in {directory}")


def _job_options(args: argparse.Namespace) -> dict[str, Any]:
    progress = args.progress if args.progress is not None else _isatty(sys.stderr)
    return {
        "workers": args.workers,
        "reducers": args.reducers,
        "memory_limit": args.memory_limit,
        "progress": progress,
        "max_skipped": args.max_skipped,
    }


@contextlib.contextmanager
def _backend(args: argparse.Namespace) -> Iterator[Any]:
    """``None`` (local processes), or a Dask client for ``--scheduler``, closed afterwards."""
    if not args.scheduler:
        yield None
        return
    try:
        from distributed import Client as _Client
    except ImportError as exc:
        raise UsageError(
            "--scheduler needs Dask, which is not installed: "
            "pip install '.[dask]' from the mapred clone"
        ) from exc
    client_type: Any = _Client  # distributed ships no type information
    if importlib.util.find_spec("mapred.backends.dask") is None:
        raise UsageError("--scheduler: this version of mapred has no Dask backend")
    try:
        client = client_type(
            args.scheduler, timeout=SCHEDULER_CONNECT_SECONDS, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        why = (
            f"no answer within {SCHEDULER_CONNECT_SECONDS} s"
            if isinstance(exc, TimeoutError)
            else one_line(exc)
        )
        raise MapredError(
            f"cannot connect to the Dask scheduler at {args.scheduler}: {why}"
        ) from exc
    try:
        yield client
    finally:
        client.close()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# ---------------------------------------------------------------------------------------------
# Exit status


def exit_status(exc: BaseException, debug: bool = False) -> int:
    """Report ``exc`` on stderr and return the exit status for it (SPEC 6).

    2 for a usage error, 130 for Ctrl-C, 0 when the reader of stdout went away, 1 for
    anything else that stopped the job: one line, plus the traceback with ``--debug``.
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, ReaderGone):
        quiet_stdout()
        return EXIT_OK
    if isinstance(exc, SystemExit):  # SIGTERM during a job unwinds as SystemExit(143)
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, UsageError):
        _say(str(exc))
        return EXIT_USAGE
    _say(describe_failure(exc) + ("" if debug else _hint(exc)))
    return EXIT_FAILED


def describe_failure(exc: BaseException) -> str:
    """One line saying why the job failed.

    >>> describe_failure(ZeroDivisionError("division by zero"))
    'ZeroDivisionError: division by zero'
    """
    if isinstance(exc, DecodeError):
        message = re.sub(r"\s*\(try errors=.*?\)\s*$", "", str(exc))
        return f"{message} (try --errors replace)"
    if isinstance(exc, MapredError):
        return one_line(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    message = f"{type(exc).__name__}: {one_line(exc)}" if str(exc) else type(exc).__name__
    notes = [
        n.removeprefix("mapred: ") for n in getattr(exc, "__notes__", ()) if n.startswith("mapred:")
    ]
    return f"{message} ({'; '.join(notes)})" if notes else message


def _hint(exc: BaseException) -> str:
    if isinstance(exc, MapredError | OSError):
        return ""
    return " [--debug shows the traceback]"


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"mapred: error: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Arguments


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except (TypeError, ValueError) as exc:
        if "positive" in str(exc):
            raise argparse.ArgumentTypeError(
                f"must be positive: a size like 512MB, 2GiB or 1000000 (bytes), got {text!r}"
            ) from None
        raise argparse.ArgumentTypeError(
            f"expected a size like 512MB, 2GiB or 1000000 (bytes), got {text!r}"
        ) from None


SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})")


def scheduler_address(text: str) -> str:
    """Check the form of a ``--scheduler`` address, at once and without Dask.

    ``[PROTOCOL://]HOST:PORT`` (Dask's own form; ``tcp`` when no protocol is given),
    or ``inproc://...``. Reaching it is checked later, within a time limit.

    >>> scheduler_address("tcp://10.0.0.5:8786"), scheduler_address("sched:8786")
    ('tcp://10.0.0.5:8786', 'sched:8786')
    >>> scheduler_address("banana")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an address like tcp://HOST:8786, got 'banana'
    """
    protocol, found, rest = text.partition("://")
    if not found:
        protocol, rest = "tcp", text
    if protocol not in SCHEDULER_PROTOCOLS:
        raise argparse.ArgumentTypeError(
            f"unknown protocol {protocol!r} in {text!r}; expected one of "
            f"{', '.join(SCHEDULER_PROTOCOLS)}, as in tcp://HOST:8786"
        )
    if protocol == "inproc" and rest:
        return text
    match = _HOST_PORT.fullmatch(rest)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise argparse.ArgumentTypeError(f"expected an address like tcp://HOST:8786, got {text!r}")
    return text


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {exc}") from None
    return text


def _encoding(text: str) -> str:
    try:
        check_decoding(text, "strict")
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


WORDCOUNT_EXAMPLES = """\
examples:
  mapred wordcount --top 10 examples/data/sample.txt
  mapred wordcount -w 4 --format csv -o counts.csv 'books/**/*.txt' logs/
  zcat big.txt.gz | mapred wordcount --sort key --no-lower --pattern '[A-Za-z]+'
"""

RUN_EXAMPLES = """\
examples:
  mapred run jobs.py:mapper jobs.py:reducer --combiner jobs.py:reducer data/
  mapred run mypackage.jobs:parse_line mypackage.jobs:total -o totals.tsv 'logs/*.gz'

  mapred run jobs.py:mapper none data/                  # map-only: the mapper's pairs
  mapred run jobs.py:MostUsedWord --arg min-length=3 --format jsonl data/

The mapper gets each line (a str, newline stripped) and returns (key, value) pairs;
the reducer gets (key, values) and returns a value. Output: key<TAB>value in key
order; keys and values that are not str are written as JSON (--format jsonl: JSON
lines that give back tuples, sets, bytes and big ints). MAPPER may also name a
mapred.Job class: its steps run, and --arg NAME=VALUE sets its options.
"""

TOP_DESCRIPTION = "Exact, deterministic map/reduce over local processes, from the shell."

TOP_EPILOG = """\
examples:
  mapred wordcount --top 10 examples/data/sample.txt
  mapred run jobs.py:mapper jobs.py:reducer 'logs/*.gz'

Run 'mapred COMMAND --help' for a command's options and more examples.
exit status: 0 done, 1 the job failed, 2 usage error, 130 interrupted (Ctrl-C)
"""


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a file, a directory (read recursively), a glob (expanded by mapred: quote it) "
        "or - for stdin (the default); .gz, .bz2 and .xz files are decompressed",
    )
    group = parser.add_argument_group("input and engine")
    group.add_argument(
        "-w",
        "--workers",
        type=_positive_int,
        metavar="N",
        help="worker processes (default: the number of CPUs)",
    )
    group.add_argument(
        "-r",
        "--reducers",
        type=_positive_int,
        metavar="N",
        help="reduce partitions (default: the number of workers)",
    )
    group.add_argument(
        "--encoding",
        default="utf-8",
        type=_encoding,
        metavar="E",
        help="text encoding of the input (default: utf-8)",
    )
    group.add_argument(
        "--errors",
        default="strict",
        choices=ERROR_HANDLERS,
        metavar="H",
        help="undecodable bytes: strict (default: fail, naming the file and line), "
        "replace, ignore, surrogateescape or backslashreplace",
    )
    group.add_argument(
        "--memory-limit",
        type=_size,
        metavar="SIZE",
        help="shuffle memory budget, e.g. 512MB or 2GiB; past it, spill to disk",
    )
    group.add_argument(
        "--split-size",
        type=_size,
        metavar="SIZE",
        help="bytes per file split read by one map task (default: chosen "
        "from the input size, 1-32 MiB)",
    )
    group.add_argument(
        "--max-skipped",
        type=_count,
        default=0,
        metavar="N",
        help="skip up to N bad records (whose mapper or reducer raises), listed on stderr "
        "at the end; one more fails the job (default: 0, none)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        type=scheduler_address,
        help="run on the Dask cluster at ADDRESS (needs the dask extra)",
    )
    out = parser.add_argument_group("output and display")
    out.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE (atomically: a failed run leaves it as it was) instead of stdout",
    )
    out.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: on if stderr is a terminal)",
    )
    out.add_argument(
        "--debug",
        action="store_true",
        help="on failure, show the Python traceback (the worker's too)",
    )


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the examples as written; room for the command names in the help column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=26)


def build_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one parser per command."""
    top = argparse.ArgumentParser(
        prog="mapred",
        description=TOP_DESCRIPTION,
        epilog=TOP_EPILOG,
        formatter_class=_HelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"mapred {mapred.__version__}")
    top.add_argument("--debug", action="store_true", help="on failure, show the traceback")
    sub = top.add_subparsers(title="commands", dest="command", required=True)

    wordcount = sub.add_parser(
        "wordcount",
        help="count the words of text files or stdin",
        description="Count the tokens of every line: the matches of --pattern in the\n"
        "lowercased line. Output: word<TAB>count, most frequent first.",
        epilog=WORDCOUNT_EXAMPLES,
        formatter_class=_HelpFormatter,
    )
    _input_options(wordcount)
    words = wordcount.add_argument_group("words")
    words.add_argument(
        "--top", type=_positive_int, metavar="N", help="only the N most frequent words"
    )
    words.add_argument(
        "--sort",
        choices=SORTS,
        default="count",
        help="count: by count descending, ties by word ascending (default); key: by word",
    )
    words.add_argument(
        "--format",
        choices=FORMATS,
        default="tsv",
        help='tsv: word<TAB>count (default); csv with a header; jsonl: {"word": ..., "count": ...}',
    )
    words.add_argument(
        "--pattern",
        type=_regex,
        default=DEFAULT_PATTERN,
        metavar="REGEX",
        help="a token is a match of REGEX (Python re syntax; default: %(default)s)",
    )
    words.add_argument(
        "--no-lower",
        dest="lower",
        action="store_false",
        help="keep case (default: each line is lowercased, str.lower())",
    )
    wordcount.set_defaults(handler=command_wordcount)

    run = sub.add_parser(
        "run",
        help="run any job: functions given as module:function or file.py:function",
        description="Run a job whose functions are given as module:function or\n"
        "path/to/file.py:function, over the lines of text files or stdin.",
        epilog=RUN_EXAMPLES,
        formatter_class=_HelpFormatter,
    )
    run.add_argument(
        "mapper",
        metavar="MAPPER",
        help="mapper(line) -> iterable of (key, value); or a mapred.Job class",
    )
    run.add_argument(
        "reducer",
        metavar="REDUCER",
        nargs="?",
        help="reducer(key, values) -> value; none: a map-only job (not with a Job class)",
    )
    run.add_argument(
        "--combiner", metavar="F", help="combiner(key, values) -> value, applied inside map tasks"
    )
    run.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option of a Job class, given to it as --NAME VALUE (repeatable)",
    )
    run.add_argument(
        "--format",
        choices=("tsv", "jsonl"),
        default="tsv",
        help="tsv: key<TAB>value (default); jsonl: [key, value] lines that keep every type",
    )
    run.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write the part files to DIR (new or empty; read with mapred.open_output)",
    )
    run.add_argument("--counters", action="store_true", help="print the counters on stderr")
    _input_options(run)
    run.set_defaults(handler=command_run)
    _add_clean_command(sub)
    return top, {"wordcount": wordcount, "run": run}


# ---------------------------------------------------------------------------------------------
# mapred clean: remove the work directories of jobs whose driver is gone (self-contained)


def _add_clean_command(sub: Any) -> None:
    clean = sub.add_parser(
        "clean",
        help="remove work directories left by jobs whose process was killed",
        description="Remove the mapred-* work directories under the temporary directory\n"
        "($MAPRED_TMPDIR, else the system's) whose job's process is gone. Directories\n"
        "of running jobs, and any without mapred's owner mark, are left alone.",
        formatter_class=_HelpFormatter,
    )
    clean.add_argument("--dir", metavar="DIR", help="look under DIR instead")
    clean.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
    clean.set_defaults(handler=command_clean)


def command_clean(args: argparse.Namespace) -> None:
    """``mapred clean``: sweep stale work directories; print each one removed."""
    from mapred.workdirs import sweep_stale

    for path in sweep_stale(args.dir, dry_run=args.dry_run):
        print(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse a command line; options and paths may come in any order.

    Raises:
        SystemExit: ``--help``, ``--version`` (0) or a usage error (2), as argparse does.
    """
    top, commands = build_parsers()
    debug = False
    while argv[:1] == ["--debug"]:  # mapred --debug COMMAND ... as well as COMMAND --debug
        argv, debug = argv[1:], True
    if argv and argv[0] in commands:
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        args.command = argv[0]
        args.debug = args.debug or debug
        return args
    return top.parse_args(argv)  # --help, --version, or an error naming the commands


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = None
    try:
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
        args.handler(args)
    except BaseException as exc:
        if isinstance(exc, SystemExit) and args is None:  # argparse: --help or a usage error
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        return exit_status(exc, debug=bool(args is not None and args.debug))
    return EXIT_OK
