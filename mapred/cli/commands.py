"""What each command of ``python -m mapred`` does, once its command line is parsed.

One function per command (``command_wordcount``, ``command_run``, ``command_clean``),
called with the parsed arguments; and what they share: turning PATHs into a
:class:`~mapred.splits.TextInput`, checking ``-o`` and ``--output-dir`` before the job,
the engine's options, the Dask client for ``--scheduler``, and writing a result's pairs.
Anything wrong that can be seen before the job starts is a
:class:`~mapred.loader.UsageError`; :mod:`mapred.cli` turns it into exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any, cast

import mapred
import mapred.job
from mapred.errors import MapredError
from mapred.formats import format_counts, format_pairs, write_lines, write_text
from mapred.jsonlines import encode_pair
from mapred.loader import UsageError, load_function, one_line
from mapred.program import Job, result_pairs, write_counters
from mapred.quarantine import report_skipped
from mapred.splits import TextInput, read_text
from mapred.storage import is_url, local_path
from mapred.wordcount import add_counts, order_counts, word_mapper
from mapred.workdirs import make_workdir, remove_workdir

# How long --scheduler waits for the scheduler to answer. Dask's default (30 s) is long
# for a command that is most often pointed at a wrong or stopped address; a scheduler
# that is up answers in milliseconds, even across a slow network.
SCHEDULER_CONNECT_SECONDS = 10


def command_wordcount(args: argparse.Namespace) -> None:
    """``mapred wordcount``: count tokens and print them."""
    data = _text_input(args)
    mapper = word_mapper(args.pattern, lower=args.lower)
    with cli_backend(args) as backend, _scratch_output(backend) as output:
        counts = mapred.mapreduce(
            mapper,
            add_counts,
            data,
            combiner=add_counts,
            backend=backend,
            output=output,
            **_job_options(args),
        )
        rows = order_counts(_rows_in_key_order(counts), args.sort, args.top)
    write_text(format_counts(rows, args.format), args.output)
    report_skipped(counts)


@contextlib.contextmanager
def _scratch_output(backend: Any) -> Iterator[str | None]:
    """Where ``wordcount`` has its job write the counts: a private directory of ours, read
    back as two columns (no dict of every word is built, as a ``Result`` would be); on a
    Dask cluster, whose workers may not see this machine's disk, None (a ``Result``)."""
    if backend is not None:
        yield None
        return
    scratch = make_workdir()
    try:
        yield os.path.join(scratch, "counts")
    finally:
        remove_workdir(scratch)


def _rows_in_key_order(counts: Any) -> list[tuple[str, int]]:
    if isinstance(counts, mapred.OutputResult):
        return list(zip(*counts.columns(), strict=True))
    return list(counts.items())


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
            with cli_backend(args) as backend:
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
            with cli_backend(args) as backend:
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
    if not args.paths and isatty(sys.stdin):
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
    progress = args.progress if args.progress is not None else isatty(sys.stderr)
    return {
        "workers": args.workers,
        "reducers": args.reducers,
        "memory_limit": args.memory_limit,
        "progress": progress,
        "max_skipped": args.max_skipped,
    }


@contextlib.contextmanager
def cli_backend(args: argparse.Namespace) -> Iterator[Any]:
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


def isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def command_clean(args: argparse.Namespace) -> None:
    """``mapred clean``: sweep stale work directories; print each one removed."""
    from mapred.workdirs import sweep_stale

    for path in sweep_stale(args.dir, dry_run=args.dry_run):
        print(path)
