r"""The command line, ``python -m mapred`` (also installed as ``mapred``): SPEC section 6.

::

    argv ──► parse (argparse; usage errors exit 2) ──► prepare: read_text, load functions,
             check -o and --scheduler (still exit 2, before any work starts)
                 ──► mapreduce(...) on the engine (a failure exits 1, Ctrl-C 130)
                 ──► rows in the chosen order ──► lines ──► stdout, or FILE atomically

``wordcount`` counts the tokens of every line: matches of ``--pattern`` (default
:data:`mapred.wordcount.DEFAULT_PATTERN`) in ``line.lower()`` (or the line itself with
``--no-lower``), with ``sum`` as combiner and reducer. ``run`` loads a mapper, a reducer and an
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

Layout: this module owns the entry point, :func:`main`, and the one policy for exit
statuses and failure messages; :mod:`mapred.cli.arguments` owns the command line's
grammar (parsers, option types, help texts); :mod:`mapred.cli.commands` owns what each
command does once parsed; the output formats are :mod:`mapred.formats`'s.
"""

from __future__ import annotations

import contextlib
import re
import sys
import traceback

from mapred.cli.arguments import parse_args
from mapred.cli.commands import write_result
from mapred.errors import DecodeError, MapredError
from mapred.formats import ReaderGone, quiet_stdout
from mapred.loader import UsageError, one_line

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "describe_failure",
    "exit_status",
    "main",
    "parse_args",
    "write_result",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a job stopped by Ctrl-C


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
