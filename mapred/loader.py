"""Loading the user functions of ``mapred run``: ``module:function`` or ``file.py:function``."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import os
import re
import sys
from collections.abc import Callable
from typing import Any


class UsageError(Exception):
    """A problem with the command line found after parsing it: exit status 2."""


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line."""
    return " ".join(str(exc).split())


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
        raise UsageError(f"{what}: cannot import {name}: {one_line(exc)}") from exc
    except Exception as exc:
        raise UsageError(f"{what}: cannot import {name}: {one_line(exc)}") from exc


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
        raise UsageError(f"{what}: cannot load {path}: {one_line(exc)}") from exc
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
