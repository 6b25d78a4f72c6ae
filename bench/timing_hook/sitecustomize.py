"""Thread-CPU time of named functions inside a server process, for ``bench.cpu_per_op
--time-functions``: put this folder first on a process's ``PYTHONPATH`` and Python imports it
at start-up.

``ANDROMEDE_TIME_FUNCTIONS`` names the functions, comma-separated, each ``module:name`` (a
module-level function) or ``module:Class.method``. Once its module has finished importing (a
thread polls, and polls again in a forked child), each is replaced by a wrapper that adds the
calling thread's CPU time (``time.thread_time_ns``) spent inside it to a count: CPU, not wall
time, so a request waiting for the GIL or the disk is not charged. A module-level function is
replaced in every loaded module that imported it by name, a method in its class. At exit the
process writes ``<pid>.tsv`` into ``ANDROMEDE_TIME_FUNCTIONS_DIR``: one line per function
(name, calls, nanoseconds), or ``name  missing  <reason>`` for one that was never found.

What it measures, and what it does not:
- A coroutine function is timed from its call to its return: right only for one that does not
  suspend in between (on the embedded default the metadata reads and the key service run
  inline); one that awaits I/O would be charged for the other requests run meanwhile.
- A timed function called from another timed one adds its wrapper's own cost (under a
  microsecond) to the outer one.
- Stdlib only: it runs before the server's own imports.

Python imports only the first ``sitecustomize`` on its path: this one hides the
interpreter's own, if it has one (Debian's only installs apport's exception hook).
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPECS_VARIABLE = "ANDROMEDE_TIME_FUNCTIONS"
FOLDER_VARIABLE = "ANDROMEDE_TIME_FUNCTIONS_DIR"
_POLL_S = 0.02
_POLL_LIMIT_S = 120.0

_specs = [spec.strip() for spec in os.environ.get(SPECS_VARIABLE, "").split(",") if spec.strip()]
_counts: dict[str, list[int]] = {}  # spec -> [calls, nanoseconds]
_missing: dict[str, str] = {}
_patched: set[str] = set()
_patch_lock = threading.Lock()


def _timed(spec: str, function: Callable[..., Any]) -> Callable[..., Any]:
    count = _counts.setdefault(spec, [0, 0])
    clock = time.thread_time_ns
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed_coroutine(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return await function(*args, **kwargs)
            finally:
                count[0] += 1
                count[1] += clock() - started

        return timed_coroutine

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            count[0] += 1
            count[1] += clock() - started

    return timed


def _patch(spec: str) -> None:
    module_name, _, qualified = spec.partition(":")
    module = sys.modules[module_name]
    owner_name, _, attribute = qualified.rpartition(".")
    if owner_name:
        owner = getattr(module, owner_name, None)
        original = None if owner is None else owner.__dict__.get(attribute)
        if not inspect.isfunction(original):
            _missing[spec] = "not a function of that class"
            return
        setattr(owner, attribute, _timed(spec, original))
        return
    original = getattr(module, attribute, None)
    if not inspect.isfunction(original):
        _missing[spec] = "not a function of that module"
        return
    timed = _timed(spec, original)
    # Callers that imported it by name hold their own reference: replace those too.
    for loaded in list(sys.modules.values()):
        names = getattr(loaded, "__dict__", None)
        if not isinstance(names, dict):
            continue
        for name, value in list(names.items()):
            if value is original:
                names[name] = timed


def _imported(module_name: str) -> bool:
    """Whether the module has finished importing: it is in ``sys.modules`` from the start of
    its import, before it has defined anything."""
    module = sys.modules.get(module_name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _patch_when_imported() -> None:
    deadline = time.monotonic() + _POLL_LIMIT_S
    while time.monotonic() < deadline:
        with _patch_lock:
            for spec in _specs:
                if spec not in _patched and _imported(spec.partition(":")[0]):
                    _patched.add(spec)
                    try:
                        _patch(spec)
                    except Exception as exc:  # reported in the output, never raised into the server
                        _missing[spec] = f"{type(exc).__name__}: {exc}"
            if len(_patched) == len(_specs):
                return
        time.sleep(_POLL_S)
    for spec in _specs:
        if spec not in _patched:
            _missing.setdefault(spec, "its module was never imported")


def _write() -> None:
    folder = os.environ.get(FOLDER_VARIABLE)
    if not folder:
        return
    lines = [f"{spec}\t{calls}\t{nanoseconds}" for spec, (calls, nanoseconds) in _counts.items()]
    missing = dict(_missing)
    for spec in _specs:
        if spec not in _patched:  # still polled for when the process ended
            missing.setdefault(spec, "its module was never imported")
    lines += [f"{spec}\tmissing\t{reason}" for spec, reason in missing.items()]
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{os.getpid()}.tsv").write_text("".join(line + "\n" for line in lines))


def _start() -> None:
    threading.Thread(target=_patch_when_imported, name="time-functions", daemon=True).start()


def _restart_in_child() -> None:
    # A forked child has no polling thread (and the lock may have been held by it at the fork);
    # what the parent patched stays patched, and its counts start again from zero in the
    # child's own file.
    global _patch_lock
    _patch_lock = threading.Lock()
    for count in _counts.values():
        count[0] = count[1] = 0
    if len(_patched) < len(_specs):
        _start()


if _specs:
    _start()
    os.register_at_fork(after_in_child=_restart_in_child)
    atexit.register(_write)
