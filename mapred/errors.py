"""The exception tree, and the plumbing that carries a worker's exception home.

::

    MapredError                      every error the engine itself raises
    ├── JobTimeout(TimeoutError)     the job ran past ``timeout``
    ├── WorkerLost                   a task's process died more than ``max_retries`` times
    ├── DecodeError(ValueError)      input bytes that the encoding cannot decode
    ├── InputChanged                 an input file changed (truncated, rewritten, replaced)
    │                                while the job read it
    ├── TooManySkipped               more than ``max_skipped`` bad records were skipped
    └── InternalError                a bug in mapred itself

User exceptions are never wrapped: they come back with their original type, the
worker's traceback chained as ``__cause__`` (a :class:`RemoteTraceback`) and a note
naming the phase, task and record or key.
"""

from __future__ import annotations

import pickle
import traceback
from typing import Any

import cloudpickle

NOTE_REPR_LIMIT = 200  # characters of a record or key shown in an error note


class MapredError(Exception):
    """Base class of every error mapred raises."""


class JobTimeout(MapredError, TimeoutError):
    """The job did not finish within its ``timeout``; every worker was stopped."""


class WorkerLost(MapredError):
    """A task's worker process died on every allowed attempt.

    Attributes:
        task: the task, as ``"map task 3"`` or ``"reduce task 1"``.
        exitcode: the last attempt's exit code; negative for a signal.
    """

    def __init__(self, message: str, task: str = "", exitcode: int | None = None) -> None:
        super().__init__(message)
        self.task = task
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.task, self.exitcode))


class DecodeError(MapredError, ValueError):
    """Input bytes that cannot be decoded; the message names the file and line.

    Attributes:
        path: the file (or ``"<stdin>"``).
        line: the 1-based line number.
    """

    def __init__(self, message: str, path: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.path, self.line))


class InputChanged(MapredError):
    """An input file changed while the job read it: never a silent, mixed answer.

    Raised at once, not retried: reading the file again would not give the version
    the job planned its splits on. The message names the file and what changed.

    Attributes:
        path: the file (a path or URL).
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.path), self.__dict__)  # notes too


class TooManySkipped(MapredError):
    """More records (or keys) were skipped than ``max_skipped`` allows.

    The message names the limit and the last record skipped.

    Attributes:
        limit: the job's ``max_skipped``.
        skipped: the :class:`mapred.SkippedRecord` entries known when the job stopped
            (at least ``limit + 1``).
    """

    def __init__(self, message: str, limit: int = 0, skipped: Any = ()) -> None:
        super().__init__(message)
        self.limit = limit
        self.skipped = list(skipped)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.limit, self.skipped))


class InternalError(MapredError):
    """A bug in mapred: please report it with the traceback."""


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a worker process."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f"\n\nTraceback in the worker process:\n{self.tb}"


class RemoteError(Exception):
    """Stands in for a worker exception that could not be pickled."""


def short_repr(obj: object, limit: int = NOTE_REPR_LIMIT) -> str:
    """``repr(obj)``, cut to ``limit`` characters.

    >>> short_repr("x" * 10, limit=8)
    "'xxx...'"
    """
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not hide the real error
        text = f"<unrepresentable {type(obj).__name__}: {exc!r}>"
    if len(text) > limit:
        keep = limit - 4
        text = text[:keep] + "..." + text[-1:] if text[-1:] in "'\")]}" else text[:keep] + "..."
    return text


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or a stand-in naming the failure when the exception's ``__str__`` raises.

    >>> class Broken(Exception):
    ...     def __str__(self):
    ...         raise RuntimeError("oops")
    >>> safe_str(Broken())
    "<str() of Broken failed: RuntimeError('oops')>"
    """
    try:
        return str(exc)
    except Exception as failure:
        return f"<str() of {type(exc).__name__} failed: {failure!r}>"


# The note of a failure before a worker knew its task (a task that did not unpickle): the
# driver, which knows which task it sent, puts the task's name in its place.
BEFORE_THE_TASK = "mapred: in a worker, before the task's user code ran"


def task_error(exc: BaseException, where: str) -> BaseException:
    """What a task's exception becomes on its way home, ready for :func:`pack_exception`.

    SystemExit and KeyboardInterrupt raised by user code fail the task, not the driver:
    they become a :class:`MapredError`. An exception without a note of mapred's (one
    raised outside the user's code: a contract error, a bad task) gets one saying
    ``where`` it was raised, e.g. ``"in map task 3 attempt 1"``.
    """
    error = exc
    if not isinstance(exc, Exception):
        error = MapredError(f"user code raised {type(exc).__name__}({safe_str(exc)})")
        for note in getattr(exc, "__notes__", ()):
            error.add_note(note)
        error.__cause__ = exc
    notes = getattr(error, "__notes__", None)
    if not (isinstance(notes, list) and any(str(n).startswith("mapred:") for n in notes)):
        error.add_note(f"mapred: {where}")
    return error


def pack_exception(exc: BaseException) -> bytes:
    """Serialize ``exc`` with its traceback text, falling back to type name and message.

    The worker sends these bytes home; :func:`unpack_exception` rebuilds the exception.
    Never raises, whatever the exception does (a ``__str__`` or ``__reduce__`` that
    raises): a worker that failed to pack an error would die, and the task would be
    retried as if its process had been lost.
    """
    try:
        return _pack(exc)
    except Exception as failure:  # a hostile exception: its type name still travels
        name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return pickle.dumps((b"", f"{name}: <could not be packed: {failure!r}>", ""))


def _pack(exc: BaseException) -> bytes:
    try:
        tb = "".join(traceback.format_exception(exc))
    except Exception as failure:
        tb = f"<traceback could not be formatted: {failure!r}>\n"
    # Pickle the exception alone: its traceback travels as text above, and its chain,
    # if pickled (tblib does, once distributed is imported), would show frames twice or
    # drag in objects that cannot be pickled and cost the exception its type.
    chain = exc.__traceback__, exc.__cause__, exc.__context__, exc.__suppress_context__
    exc.__traceback__ = exc.__cause__ = exc.__context__ = None
    try:
        payload = cloudpickle.dumps(exc)
        pickle.loads(payload)  # an exception that pickles but will not unpickle is common
    except Exception:
        payload = b""
    finally:
        exc.__traceback__, exc.__cause__, exc.__context__, exc.__suppress_context__ = chain
    fallback = f"{type(exc).__module__}.{type(exc).__qualname__}: {safe_str(exc)}"
    return pickle.dumps((payload, fallback, tb))


def unpack_exception(data: bytes) -> BaseException:
    """Rebuild an exception packed by :func:`pack_exception`, its traceback as ``__cause__``."""
    payload, fallback, tb = pickle.loads(data)
    exc: BaseException
    try:
        exc = pickle.loads(payload) if payload else RemoteError(fallback)
    except Exception:
        exc = RemoteError(fallback)
    exc.__cause__ = RemoteTraceback(tb)
    return exc
