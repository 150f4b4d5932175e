"""Jobs as programs: subclass :class:`Job`, run it from the shell or from Python.

::

    class MostUsedWord(Job):
        def configure_args(self, parser):
            parser.add_argument("--min-length", type=int, default=1)

        def mapper(self, line):
            for word in line.split():
                if len(word) >= self.options.min_length:
                    yield word.lower(), 1

        def reducer(self, word, counts):
            return sum(counts)


    if __name__ == "__main__":
        MostUsedWord.main()

``python most_used.py [OPTIONS] [FILES]`` reads the files (stdin by default) and writes
one line per pair: JSON lines (:mod:`mapred.jsonlines`, the default) or
``key<TAB>value``; ``--counters`` prints the counters on stderr at the end.
``MostUsedWord(["--min-length", "3", "book.txt"]).run()`` returns the result in Python.
The engine options are those of ``mapred run`` (:mod:`mapred.cli`, whose checks and Dask
connection they share): ``--scheduler ADDRESS`` runs the job on that Dask cluster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mapred.pairs import PairsResult
from mapred.step import Step

FORMATS = ("jsonl", "tsv")


class Job:
    """A map/reduce job as a program with its own options (mrjob's ``MRJob``).

    Define ``mapper(self, record)`` and ``reducer(self, key, values)`` (and optionally
    ``combiner``), or ``steps(self)`` returning a list of :class:`mapred.Step`. Decorators
    work on methods: ``@task_mapper``, ``@pair_reducer``, ``@task_reducer``. Add options
    in ``configure_args(self, parser)``; parsed, they are ``self.options``. Override
    ``input(self)`` to read something other than the lines of the files given.

    The job object travels to the workers with its methods: keep only picklable things
    on it (the options are).

    Args:
        args: the command line, without the program name (default: none, i.e. stdin).
    """

    mapper: Any = None
    combiner: Any = None
    reducer: Any = None

    def __init__(self, args: Sequence[str] | None = None) -> None:
        parser = self.make_parser()
        self.options = parser.parse_args(list(args or []))

    # -- what subclasses define ---------------------------------------------------------

    def configure_args(self, parser: argparse.ArgumentParser) -> None:
        """Add the job's own options to ``parser`` (argparse)."""

    def steps(self) -> list[Step]:
        """The job's steps: by default one, of ``mapper``, ``combiner`` and ``reducer``."""
        if self.mapper is None:
            raise TypeError(f"{type(self).__name__} defines neither mapper() nor steps()")
        return [Step(self.mapper, self.reducer, combiner=self.combiner)]

    def input(self) -> Any:
        """The job's data: the lines of the files given (stdin: ``-``, the default)."""
        from mapred.splits import read_text

        options = self.options
        return read_text(
            options.files or ["-"],
            encoding=options.encoding,
            errors=options.errors,
            split_size=options.split_size,
        )

    # -- running --------------------------------------------------------------------

    def make_parser(self) -> argparse.ArgumentParser:
        """The job's parser: the engine's options, then :meth:`configure_args`'s.

        The engine's options are checked as ``mapred run`` checks them: a malformed value
        (a size, a count, a ``--scheduler`` address) is a usage error, exit status 2.
        """
        from mapred.cli import arguments  # imported here: mapred.cli imports this module
        from mapred.splits import ERROR_HANDLERS

        parser = argparse.ArgumentParser(
            prog=type(self).__name__, description=(type(self).__doc__ or "").strip() or None
        )
        parser.add_argument("files", nargs="*", metavar="FILE", help="input (default: stdin)")
        engine = parser.add_argument_group("engine")
        engine.add_argument(
            "-w", "--workers", type=arguments.positive_int, metavar="N", help="worker processes"
        )
        engine.add_argument(
            "-r", "--reducers", type=arguments.positive_int, metavar="N", help="reduce partitions"
        )
        where = engine.add_mutually_exclusive_group()
        where.add_argument(
            "--backend", choices=("processes", "serial"), default=None, help="where tasks run"
        )
        where.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            type=arguments.scheduler_address,
            help="run on the Dask cluster at ADDRESS (needs the dask extra)",
        )
        engine.add_argument(
            "--memory-limit", type=arguments.byte_size, metavar="SIZE", help="e.g. 512MB or 2GiB"
        )
        engine.add_argument("--timeout", type=float, metavar="S", help="seconds for the job")
        engine.add_argument(
            "--max-skipped",
            type=arguments.count,
            default=0,
            metavar="N",
            help="skip up to N bad records (a mapper or reducer that raises), listed on stderr",
        )
        engine.add_argument(
            "--split-size", type=arguments.byte_size, metavar="SIZE", help="bytes per file split"
        )
        engine.add_argument(
            "--encoding",
            default="utf-8",
            type=arguments.encoding_name,
            metavar="E",
            help="of the input",
        )
        engine.add_argument(
            "--errors",
            default="strict",
            choices=ERROR_HANDLERS,
            metavar="H",
            help="undecodable bytes: strict (default), replace, ignore, ...",
        )
        out = parser.add_argument_group("output")
        out.add_argument(
            "--format", choices=FORMATS, default="jsonl", help="jsonl (default) or tsv"
        )
        out.add_argument("--output-dir", metavar="DIR", help="write part files to DIR instead")
        out.add_argument("--counters", action="store_true", help="print counters on stderr")
        out.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="a progress bar on stderr (default: on if stderr is a terminal, from main())",
        )
        out.add_argument("--debug", action="store_true", help="on failure, show the traceback")
        self.configure_args(parser)
        return parser

    def job_options(self) -> dict[str, Any]:
        """The arguments of ``mapreduce`` that the engine options give."""
        options = self.options
        return {
            "workers": options.workers,
            "reducers": options.reducers,
            "backend": options.backend,
            "memory_limit": options.memory_limit,
            "timeout": options.timeout,
            "output": options.output_dir,
            "progress": bool(options.progress),
            "max_skipped": options.max_skipped,
        }

    def run(self) -> Any:
        """Run the job; returns what ``mapreduce`` returns. With ``--scheduler``, on that
        Dask cluster, through a client opened for the job and closed after it."""
        from mapred.cli.commands import cli_backend
        from mapred.engine import mapreduce

        options = self.job_options()
        with cli_backend(self.options) as client:
            if client is not None:
                options["backend"] = client
            return mapreduce(steps=self.steps(), data=self.input(), **options)

    @classmethod
    def main(cls, args: Sequence[str] | None = None) -> int:
        """Run from the shell: parse ``args`` (default ``sys.argv[1:]``), run, write
        the output to stdout; returns the exit status (see ``mapred run``)."""
        from mapred.cli import exit_status, write_result
        from mapred.cli.commands import isatty
        from mapred.quarantine import report_skipped

        job = None
        try:
            job = cls(sys.argv[1:] if args is None else args)
            if job.options.progress is None:
                job.options.progress = isatty(sys.stderr)
            result = job.run()
            if job.options.output_dir is None:
                write_result(result, job.options.format, None)
            if job.options.counters:
                write_counters(result.counters)
            report_skipped(result)
        except BaseException as exc:
            if isinstance(exc, SystemExit) and job is None:
                return exc.code if isinstance(exc.code, int) else 2
            return exit_status(exc, debug=job is not None and job.options.debug)
        return 0


def write_counters(counters: dict[str, dict[str, int]]) -> None:
    """Print counters on stderr, one ``group<TAB>name<TAB>value`` line each, sorted."""
    for group in sorted(counters):
        for name in sorted(counters[group]):
            print(f"{group}\t{name}\t{counters[group][name]}", file=sys.stderr)


def result_pairs(result: Any) -> Any:
    """The pairs of any job result, in its order."""
    if isinstance(result, PairsResult) or not hasattr(result, "items"):
        return iter(result)
    return result.items()
