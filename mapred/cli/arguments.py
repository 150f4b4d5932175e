"""The grammar of ``python -m mapred``: its parsers, option types and help texts.

:func:`build_parsers` makes the top-level parser and one per command (``wordcount``,
``run``, ``clean``), each bound to its runner in :mod:`mapred.cli.commands`;
:func:`parse_args` parses a command line with options and paths in any order. Option
values are checked here, as they are parsed (a size, a regular expression, an encoding,
the form of a scheduler address), so that a bad one is a usage error (exit 2) before any
work starts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

import mapred
from mapred.cli.commands import command_clean, command_run, command_wordcount
from mapred.engine import parse_size
from mapred.formats import FORMATS
from mapred.splits import ERROR_HANDLERS, check_decoding
from mapred.wordcount import DEFAULT_PATTERN, SORTS


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


positive_int = _whole_number(1)  # -w, -r, --top
count = _whole_number(0)  # --max-skipped


def byte_size(text: str) -> int:
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


def encoding_name(text: str) -> str:
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
        type=positive_int,
        metavar="N",
        help="worker processes (default: the number of CPUs)",
    )
    group.add_argument(
        "-r",
        "--reducers",
        type=positive_int,
        metavar="N",
        help="reduce partitions (default: the number of workers)",
    )
    group.add_argument(
        "--encoding",
        default="utf-8",
        type=encoding_name,
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
        type=byte_size,
        metavar="SIZE",
        help="shuffle memory budget, e.g. 512MB or 2GiB; past it, spill to disk",
    )
    group.add_argument(
        "--split-size",
        type=byte_size,
        metavar="SIZE",
        help="bytes per file split read by one map task (default: chosen "
        "from the input size, 1-32 MiB)",
    )
    group.add_argument(
        "--max-skipped",
        type=count,
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
        "--top", type=positive_int, metavar="N", help="only the N most frequent words"
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
