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
import csv
import errno
import heapq
import importlib
import importlib.util
import itertools
import json
import os
import re
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import IO, Any, cast

import mapred
import mapred.job
from mapred.engine import parse_size
from mapred.errors import DecodeError, MapredError
from mapred.splits import ERROR_HANDLERS, TextInput, check_decoding, read_text

DEFAULT_PATTERN = r"\w+(?:['’]\w+)*"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a job stopped by Ctrl-C

# Output lines joined into one write: fewer write calls, a bounded amount of text in hand.
WRITE_BATCH_LINES = 4096

# How long --scheduler waits for the scheduler to answer. Dask's default (30 s) is long
# for a command that is most often pointed at a wrong or stopped address; a scheduler
# that is up answers in milliseconds, even across a slow network.
SCHEDULER_CONNECT_SECONDS = 10

FORMATS = ("tsv", "csv", "jsonl")
SORTS = ("count", "key")

# TSV fields cannot hold a tab or a newline; escape them (and the escape character) so
# every line stays two fields and the text can be recovered, as PostgreSQL's COPY does.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class UsageError(Exception):
    """A problem with the command line found after parsing it: exit status 2."""


class _ReaderGone(Exception):
    """Whoever read our stdout stopped (``| head``): end quietly."""


# ---------------------------------------------------------------------------------------------
# The word count job. These functions run in the workers.


# Lines a word count mapper tokenizes in one regex call: enough to make the per-call
# cost vanish, few enough that a block of text stays in the CPU cache (~200 KB).
LINES_PER_BLOCK = 4096


def word_mapper(pattern: str, lower: bool = True) -> mapred.job.TaskMapper:
    r"""A task mapper that counts the matches of ``pattern`` in its split's lines.

    It counts a whole map task in C (``Counter.update`` over ``findall``) and returns
    one ``(token, count)`` pair per distinct token, instead of ``(token, 1)`` per
    occurrence: the engine then moves tens of thousands of pairs, not millions. The
    default pattern runs over blocks of lines joined by newlines, which it can never
    match across; any other pattern runs line by line (anchors and lookarounds must
    see one line). The regex is compiled here, once; it pickles as its text. Empty
    matches are not tokens, and tokens are the whole match even when ``pattern`` has
    capturing groups.

    >>> sorted(word_mapper(DEFAULT_PATTERN)(iter(["Don’t PANIC, don't", "panic"])))
    [("don't", 1), ('don’t', 1), ('panic', 2)]
    >>> sorted(word_mapper(r"(\w)\w*", lower=False)(iter(["Ab c"])))
    [('Ab', 1), ('c', 1)]
    >>> sorted(word_mapper(r"\d*")(iter(["a1b22", "1"])))
    [('1', 2), ('22', 1)]
    """
    compiled = re.compile(pattern)
    case: Callable[[str], str] = str.lower if lower else str
    tokens: Callable[[str], list[str]]
    if compiled.groups:
        finditer = compiled.finditer

        def tokens(text: str) -> list[str]:
            return [match.group() for match in finditer(text)]

    else:
        tokens = compiled.findall
    joinable = pattern == DEFAULT_PATTERN

    @mapred.task_mapper
    def count_tokens(lines: Iterator[str]) -> Iterable[tuple[str, int]]:
        counts: Counter[str] = Counter()
        while block := list(itertools.islice(lines, LINES_PER_BLOCK)):
            if joinable:
                counts.update(tokens(case("\n".join(block))))
            else:
                for line in block:
                    counts.update(tokens(case(line)))
        counts.pop("", None)
        return counts.items()

    return count_tokens


def add_counts(word: Any, counts: Iterable[int]) -> int:
    """Combiner and reducer of ``wordcount``: the sum of the counts."""
    return sum(counts)


# ---------------------------------------------------------------------------------------------
# Ordering and formatting


def count_order(item: tuple[str, int]) -> tuple[int, str]:
    """Sort key: count descending, then word ascending.

    >>> sorted([("b", 1), ("a", 1), ("c", 2)], key=count_order)
    [('c', 2), ('a', 1), ('b', 1)]
    """
    return -item[1], item[0]


def order_counts(
    counts: Mapping[str, int], sort: str = "count", top: int | None = None
) -> list[tuple[str, int]]:
    """The rows of a word count, in the order ``--sort`` and ``--top`` ask for.

    ``top`` keeps the ``top`` most frequent words (ties: the word first in order wins);
    ``sort="key"`` then lists them by word. ``counts`` iterates in key order (a Result).

    >>> counts = {"a": 1, "b": 3, "c": 2, "d": 3}
    >>> order_counts(counts)
    [('b', 3), ('d', 3), ('c', 2), ('a', 1)]
    >>> order_counts(counts, top=2), order_counts(counts, sort="key", top=3)
    ([('b', 3), ('d', 3)], [('b', 3), ('c', 2), ('d', 3)])
    """
    items = counts.items()
    if top is not None and top < len(counts):
        rows = heapq.nsmallest(top, items, key=count_order)  # O(n log top), not a full sort
        if sort == "key":
            rows.sort(key=itemgetter(0))
        return rows
    if sort == "key":
        return list(items)
    return sorted(items, key=count_order)


def tsv_field(text: str) -> str:
    r"""A str as one TSV field: backslash, tab, newline and CR escaped.

    >>> print(tsv_field("a\tb\\c"))
    a\tb\\c
    """
    return text.translate(_TSV_ESCAPES)


def json_field(value: Any) -> str:
    """A value as JSON on one line; what JSON lacks becomes a list or a string.

    >>> json_field((1, "é")), json_field({2, 1}), json_field(b"x"), json_field(None)
    ('[1, "é"]', '[1, 2]', '"b\\'x\\'"', 'null')
    """
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):  # a dict with tuple keys, a cycle: say what it was
        return json.dumps(repr(value), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    return repr(value)


def pair_field(value: Any) -> str:
    r"""A key or value of ``run``'s output: a str as is (TSV-escaped), anything else as JSON.

    >>> pair_field("to be"), pair_field(3), pair_field(("a", 1)), pair_field("1")
    ('to be', '3', '["a", 1]', '1')
    """
    if isinstance(value, str):
        return tsv_field(value)
    return json_field(value)


def format_counts(rows: Iterable[tuple[str, int]], fmt: str) -> Iterator[str]:
    """The lines of a word count in format ``fmt``: tsv, csv (with a header) or jsonl.

    >>> list(format_counts([("a,b", 2)], "csv"))
    ['word,count\\n', '"a,b",2\\n']
    >>> list(format_counts([("é", 1)], "jsonl"))
    ['{"word": "é", "count": 1}\\n']
    """
    if fmt == "tsv":
        return (f"{tsv_field(word)}\t{count}\n" for word, count in rows)
    if fmt == "jsonl":
        dumps = json.dumps
        return (
            dumps({"word": word, "count": count}, ensure_ascii=False) + "\n" for word, count in rows
        )
    return _csv_lines(rows)


def _csv_lines(rows: Iterable[tuple[str, int]]) -> Iterator[str]:
    lines: list[str] = []
    writer = csv.writer(_ListWriter(lines), lineterminator="\n")
    writer.writerow(("word", "count"))
    for row in rows:
        writer.writerow(row)
        yield from lines
        lines.clear()
    yield from lines


class _ListWriter:
    """A file-like ``write`` that appends to a list, for :func:`csv.writer`."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


def format_pairs(pairs: Iterable[tuple[Any, Any]]) -> Iterator[str]:
    r"""The lines of ``run``'s output: ``key<TAB>value``.

    >>> list(format_pairs([("a", [1, 2]), (None, "x")]))
    ['a\t[1, 2]\n', 'null\tx\n']
    """
    return (f"{pair_field(key)}\t{pair_field(value)}\n" for key, value in pairs)


# ---------------------------------------------------------------------------------------------
# Writing the output


def write_lines(lines: Iterable[str], output: str | None) -> None:
    """Write ``lines`` as UTF-8 to stdout, or atomically to the file ``output``.

    Raises:
        _ReaderGone: stdout was closed by its reader.
        OSError: the file could not be written; it is left as it was.
    """
    if output is None or output == "-":
        stdout = sys.stdout
        if stdout is None:  # started with stdout closed (>&-)
            raise OSError(errno.EBADF, "standard output is closed")
        stream: IO[bytes] | None = getattr(stdout, "buffer", None)
        try:
            stdout.flush()
            if stream is None:  # a text-only stdout (replaced by a caller): no bytes to write
                for batch in _batches(lines):
                    stdout.write(batch)
                stdout.flush()
                return
            _write_batches(lines, stream)
            stream.flush()
        except BrokenPipeError:
            raise _ReaderGone from None
        return
    directory = os.path.dirname(os.path.abspath(output))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", dir=directory)
    try:
        with open(fd, "wb") as file:
            _write_batches(lines, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, _new_file_mode(output))
        os.replace(temp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _batches(lines: Iterable[str]) -> Iterator[str]:
    it = iter(lines)
    while batch := list(itertools.islice(it, WRITE_BATCH_LINES)):
        yield "".join(batch)


def _write_batches(lines: Iterable[str], stream: IO[bytes]) -> None:
    # surrogateescape: bytes that --errors surrogateescape let through go out as they came.
    for batch in _batches(lines):
        stream.write(batch.encode("utf-8", "surrogateescape"))


def _new_file_mode(path: str) -> int:
    """The mode for ``path``: the file's own if it exists, else 0o666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again.

    The recipe of the Python docs for SIGPIPE (library/signal.html, "Note on SIGPIPE").
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# ---------------------------------------------------------------------------------------------
# The commands


def command_wordcount(args: argparse.Namespace) -> None:
    """``mapred wordcount``: count tokens and print them."""
    data = _text_input(args)
    mapper = word_mapper(args.pattern, lower=args.lower)
    with _backend(args) as backend:
        # cast: mapreduce takes a TextInput, though its annotation says Iterable.
        counts = mapred.mapreduce(
            mapper,
            add_counts,
            cast(Any, data),
            combiner=add_counts,
            backend=backend,
            **_job_options(args),
        )
    rows = order_counts(counts, args.sort, args.top)
    write_lines(format_counts(rows, args.format), args.output)


def command_run(args: argparse.Namespace) -> None:
    """``mapred run``: any job; prints ``key<TAB>value`` in key order."""
    with contextlib.ExitStack() as stack:
        data = _text_input(args)
        mapper = load_function(args.mapper, "MAPPER", stack)
        reducer = load_function(args.reducer, "REDUCER", stack)
        combiner = load_function(args.combiner, "--combiner", stack) if args.combiner else None
        with _backend(args) as backend:
            result = mapred.mapreduce(
                mapper,
                reducer,
                cast(Any, data),
                combiner=combiner,
                backend=backend,
                **_job_options(args),
            )
        write_lines(format_pairs(result.items()), args.output)


def _text_input(args: argparse.Namespace) -> TextInput:
    paths: list[str] = args.paths or ["-"]
    if not args.paths and _isatty(sys.stdin):
        raise UsageError("no input: give a PATH, or pipe text in (use '-' to type it)")
    if args.scheduler:  # Dask workers may run elsewhere: give them paths that do not need our cwd
        paths = [p if p == "-" else os.path.abspath(p) for p in paths]
    try:
        data = read_text(
            paths, encoding=args.encoding, errors=args.errors, split_size=args.split_size
        )
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: {exc.strerror}") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(_one_line(exc)) from exc
    for path in data.files:
        if not os.access(path, os.R_OK):
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
            "--scheduler needs Dask, which is not installed: pip install 'mapred[dask]'"
        ) from exc
    client_type: Any = _Client  # distributed ships no type information
    if importlib.util.find_spec("mapred.backends.dask") is None:
        raise UsageError("--scheduler: this version of mapred has no Dask backend")
    try:
        client = client_type(
            args.scheduler, timeout=SCHEDULER_CONNECT_SECONDS, set_as_default=False
        )
    except (OSError, TimeoutError) as exc:
        raise MapredError(
            f"cannot connect to the Dask scheduler at {args.scheduler}: {exc}"
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
# Loading user functions for `run`


def load_function(spec: str, role: str, stack: contextlib.ExitStack) -> Callable[..., Any]:
    """The function named by ``module:function`` or ``path/to/file.py:function``.

    A file is loaded as a module of its own, registered with cloudpickle to travel by
    value, so the workers need not import it (whatever the start method or cluster).
    A module is imported with the current directory on ``sys.path``, as ``python -m``
    does. ``function`` may be a dotted path (``module:Class.method``). What is added to
    ``sys.path``, ``sys.modules`` and cloudpickle is undone when ``stack`` closes.

    Raises:
        UsageError: the spec is malformed, or the module, file or function is missing,
            fails to load or is not callable.
    """
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(f"{role} {spec!r}: expected module:function or path/to/file.py:function")
    if where.endswith(".py") or "/" in where or os.sep in where:
        module = _load_file(where, f"{role} {spec!r}", stack)
    else:
        module = _import_module(where, f"{role} {spec!r}", stack)
    target: Any = module
    for part in name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(f"{role} {spec!r}: {where} has no function {name!r}") from None
    if not callable(target):
        raise UsageError(f"{role} {spec!r}: {name} is a {type(target).__name__}, not a function")
    return target  # type: ignore[no-any-return]


def _import_module(name: str, what: str, stack: contextlib.ExitStack) -> Any:
    _prepend_sys_path(os.getcwd(), stack)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(
                f"{what}: no module named {exc.name!r} (for a file, write path/to/file.py:function)"
            ) from exc
        raise UsageError(f"{what}: cannot import {name}: {_one_line(exc)}") from exc
    except Exception as exc:
        raise UsageError(f"{what}: cannot import {name}: {_one_line(exc)}") from exc


def _load_file(path: str, what: str, stack: contextlib.ExitStack) -> Any:
    import cloudpickle

    if not os.path.isfile(path):
        raise UsageError(f"{what}: no such file {path!r}")
    real = os.path.realpath(path)
    for module in list(sys.modules.values()):  # mapper and reducer from one file: load it once
        if getattr(module, "__mapred_job_file__", None) == real:
            return module
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(real))[0])
    name = f"_mapred_job_{stem}"
    suffix = itertools.count(2)
    while name in sys.modules:
        name = f"_mapred_job_{stem}_{next(suffix)}"
    spec = importlib.util.spec_from_file_location(name, real)
    if spec is None or spec.loader is None:
        raise UsageError(f"{what}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    module.__mapred_job_file__ = real  # type: ignore[attr-defined]
    _prepend_sys_path(os.path.dirname(real), stack)  # like a script: its siblings import
    sys.modules[name] = module
    stack.callback(sys.modules.pop, name, None)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"{what}: cannot load {path}: {_one_line(exc)}") from exc
    cloudpickle.register_pickle_by_value(module)
    stack.callback(cloudpickle.unregister_pickle_by_value, module)
    return module


def _prepend_sys_path(directory: str, stack: contextlib.ExitStack) -> None:
    if directory in sys.path or (directory == os.getcwd() and "" in sys.path):
        return
    sys.path.insert(0, directory)

    def restore() -> None:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)

    stack.callback(restore)


# ---------------------------------------------------------------------------------------------
# Exit status


def exit_status(exc: BaseException, debug: bool = False) -> int:
    """Report ``exc`` on stderr and return the exit status for it (SPEC 6).

    2 for a usage error, 130 for Ctrl-C, 0 when the reader of stdout went away, 1 for
    anything else that stopped the job: one line, plus the traceback with ``--debug``.
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, _ReaderGone):
        _quiet_stdout()
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
        return _one_line(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    message = f"{type(exc).__name__}: {_one_line(exc)}" if str(exc) else type(exc).__name__
    notes = [
        n.removeprefix("mapred: ") for n in getattr(exc, "__notes__", ()) if n.startswith("mapred:")
    ]
    return f"{message} ({'; '.join(notes)})" if notes else message


def _hint(exc: BaseException) -> str:
    if isinstance(exc, MapredError | OSError):
        return ""
    return " [--debug shows the traceback]"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected a size like 512MB, 2GiB or 1000000 (bytes), got {text!r}"
        ) from None


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

The mapper gets each line (a str, newline stripped) and returns (key, value) pairs;
the reducer gets (key, values) and returns a value. Output: key<TAB>value in key
order; keys and values that are not str are written as JSON.
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
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (needs mapred[dask])",
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
    run.add_argument("mapper", metavar="MAPPER", help="mapper(line) -> iterable of (key, value)")
    run.add_argument("reducer", metavar="REDUCER", help="reducer(key, values) -> value")
    run.add_argument(
        "--combiner", metavar="F", help="combiner(key, values) -> value, applied inside map tasks"
    )
    _input_options(run)
    run.set_defaults(handler=command_run)
    return top, {"wordcount": wordcount, "run": run}


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
