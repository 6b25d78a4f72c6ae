"""``ANDROMEDE_TEST_TIMELINE=FILE``: when each test ran and on which xdist worker, one JSON line
per test (setup, call and teardown together) appended to FILE.

A parallel run's wall time is set by which worker ran what and when; pytest's reports give a
duration per test and nothing of that. ``scripts/test-timeline.py FILE`` reads it: each
worker's busy and idle time, when it finished, and the long tests in the order they started
(decision 0118). Off unless the variable is set. Each line is one ``write`` on a descriptor
opened with ``O_APPEND``, so the workers' lines never interleave.
"""

from __future__ import annotations

import json
import os
import time

import pytest

__all__ = ["TimelinePlugin"]


class TimelinePlugin:
    """Registered by the conftest when ``ANDROMEDE_TEST_TIMELINE`` names a file."""

    def __init__(self, path: str, worker: str) -> None:
        self._path = path
        self._worker = worker
        self._started: dict[str, float] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._started[nodeid] = time.time()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        started = self._started.pop(nodeid, None)
        if started is None:
            return
        record = {"worker": self._worker, "test": nodeid, "start": started, "end": time.time()}
        descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (json.dumps(record) + "\n").encode())
        finally:
            os.close(descriptor)
