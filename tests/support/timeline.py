"""``ANDROMEDE_TEST_TIMELINE=FILE``: when each test ran and on which xdist worker, one JSON line
per test (setup, call and teardown together) appended to FILE.

A parallel run's wall time is set by which worker ran what and when; pytest's reports give a
duration per test and nothing of that. ``scripts/test-timeline.py FILE`` reads it: each
worker's busy and idle time, when it finished, and the long tests in the order they started
(decision 0118). Off unless the variable is set. Each line is one ``write`` on a descriptor
opened with ``O_APPEND``, so the workers' lines never interleave.

Each line also carries the test's ``outcome`` as pytest's summary counts it: ``passed``,
``failed``, ``skipped``, ``error`` (its setup or teardown failed), ``xfailed`` or ``xpassed``.
A run killed before its summary (CI's timeout) still names its failures in the lines written
so far (decision 0412).

Where the cgroup v1 ``cpuacct`` hierarchy is writable (root on this project's machines), each
worker moves itself into a cgroup of its own first, so that everything it starts after (the
servers, their workers, daemonized QEMU guests, Terraform and its provider) is counted there,
and each line also carries ``cpu``: the CPU seconds of that cgroup during the test. What the
run shares (the PostgreSQL and Ceph clusters of scripts/run-tests.sh) is in no worker's.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import pytest

__all__ = ["TimelinePlugin", "outcome_after"]

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _cpuacct_cgroup() -> Path | None:
    """This process's cgroup in the ``cpuacct`` hierarchy, from ``/proc/self/cgroup``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            return CPUACCT / path.lstrip("/")
    return None


class _WorkerCgroup:
    """A ``cpuacct`` cgroup holding this process and what it starts from now on."""

    def __init__(self, name: str) -> None:
        self._home = _cpuacct_cgroup()
        # Below the cgroup the worker was in, whose usage then still includes it: a run
        # started by a test of an outer, measured run stays counted to that test.
        self.path = (self._home or CPUACCT) / "andromede-tests" / f"{name}-{os.getpid()}"
        # Earlier runs' cgroups, left where a server or the launcher outlived the worker's
        # exit: removed once empty (a live worker's holds at least the worker).
        for stale in self.path.parent.glob("*-*"):
            _remove_if_empty(stale)
        self.path.mkdir(parents=True)
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def leave(self) -> None:
        if self._home is not None:
            with contextlib.suppress(OSError):
                (self._home / "cgroup.procs").write_text(str(os.getpid()))
        # A process that outlived its test keeps it; the folder of the workers' cgroups goes
        # with the last of them.
        _remove_if_empty(self.path)
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()


def _remove_if_empty(cgroup: Path) -> None:
    """Remove ``cgroup`` and the cgroups below it, deepest first, where no process is left in
    them (the kernel refuses the rest: they stay)."""
    for child in cgroup.iterdir() if cgroup.is_dir() else ():
        if child.is_dir():
            _remove_if_empty(child)
    with contextlib.suppress(OSError):
        cgroup.rmdir()


def outcome_after(known: str | None, report: pytest.TestReport) -> str | None:
    """A test's outcome once ``report`` (one of its setup, call and teardown) is in, given what
    its earlier reports made it: as pytest's terminal summary counts them."""
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        return report.outcome
    if report.failed:
        # A failed teardown after a failed call stays a failure in the summary's count too,
        # beside the error it adds; the setup's or a passed test's teardown is an error.
        return known if known == "failed" else "error"
    if report.when == "setup" and report.skipped:
        return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    return known


def worker_cgroup(name: str) -> _WorkerCgroup | None:
    """A cgroup of the worker's own, or None where cgroups are not ours to make."""
    try:
        return _WorkerCgroup(name)
    except OSError:
        return None


class TimelinePlugin:
    """Registered by the conftest when ``ANDROMEDE_TEST_TIMELINE`` names a file."""

    def __init__(self, path: str, worker: str) -> None:
        self._path = path
        self._worker = worker
        self._cgroup = worker_cgroup(worker) if CPUACCT.is_dir() else None
        self._started: dict[str, tuple[float, float]] = {}
        self._outcomes: dict[str, str] = {}

    def _cpu(self) -> float:
        return self._cgroup.seconds() if self._cgroup is not None else 0.0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._started[nodeid] = (time.time(), self._cpu())

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Last, so that the report is read as the conftest's hooks left it (a skip that
        # ANDROMEDE_TEST_REQUIRE_ALL turns into a failure).
        outcome = outcome_after(self._outcomes.get(report.nodeid), report)
        if outcome is not None:
            self._outcomes[report.nodeid] = outcome

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        started = self._started.pop(nodeid, None)
        if started is None:
            return
        start, cpu = started
        record: dict[str, str | float] = {
            "worker": self._worker,
            "test": nodeid,
            "start": start,
            "end": time.time(),
            # No report at all would be a run interrupted inside the test's hooks.
            "outcome": self._outcomes.pop(nodeid, "unknown"),
        }
        if self._cgroup is not None:
            record["cpu"] = round(self._cpu() - cpu, 3)
        descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (json.dumps(record) + "\n").encode())
        finally:
            os.close(descriptor)

    def pytest_unconfigure(self) -> None:
        if self._cgroup is not None:
            self._cgroup.leave()
