"""Shared fixtures. ``ANDROMEDE_TEST_REQUIRE_ALL=1`` (CI) turns every skip into a failure."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.logs import logging_restored
from support.passwords import CHEAP_HASHER
from support.scheduling import DEFAULT_SLOW_SECONDS, file_seconds, order_for_worksteal
from support.server import ServerProcess, free_port, running_server, server_logs
from support.timeline import TimelinePlugin

# postgres_cluster, postgres_url, postgres_empty_url: a private PostgreSQL (tests/support);
# ceph_cluster, rados_client, rados_blob_store: a private Ceph cluster (tests/support/ceph.py);
# rbd_pool, rbd_namespace: an RBD pool in it for the hypervisor's volumes (tests/support/rbd.py).
pytest_plugins = ["support.postgres", "support.ceph", "support.rbd"]

REQUIRE_ALL = os.environ.get("ANDROMEDE_TEST_REQUIRE_ALL") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> Iterator[None]:
    """In CI a missing component is a failure, not a skip."""
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under ANDROMEDE_TEST_REQUIRE_ALL=1: {report.longrepr}"
    yield


def pytest_configure(config: pytest.Config) -> None:
    """``ANDROMEDE_TEST_TIMELINE=FILE``: each test's worker, start and end, written by the
    process that ran it (support/timeline.py); the xdist controller, which only relays the
    workers' reports, writes nothing."""
    path = os.environ.get("ANDROMEDE_TEST_TIMELINE")
    workerinput = getattr(config, "workerinput", None)
    if not path or (workerinput is None and config.getoption("dist", "no") != "no"):
        return
    worker = str(workerinput["workerid"]) if workerinput else "main"
    config.pluginmanager.register(TimelinePlugin(path, worker), "andromede-timeline")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker how the controller schedules: the worker's own ``dist`` option
    reads ``no`` (xdist resets it), and the order below is for ``worksteal``."""
    node.workerinput["andromede_dist"] = node.config.getoption("dist")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``worksteal`` with several workers, each worker's chunk opens with its share of
    the long files, so every worker starts on long tests at once (tests/support/scheduling.py,
    decision 0110). Otherwise the tests marked ``slow`` first, in their order, the rest after
    in theirs."""
    workerinput = getattr(config, "workerinput", None)
    workers = int(workerinput["workercount"]) if workerinput else 1
    if workerinput and workerinput.get("andromede_dist") == "worksteal" and workers > 1:
        measured = file_seconds()

        def seconds_of(name: str, members: list[pytest.Item]) -> float:
            if name in measured:
                return measured[name]
            if any(item.get_closest_marker("slow") for item in members):
                return DEFAULT_SLOW_SECONDS
            return 0.0

        items[:] = order_for_worksteal(
            items, workers, lambda item: item.nodeid.split("::", 1)[0], seconds_of
        )
        return
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


LOG_TAIL = 12_000
_LOG_MARKS = pytest.StashKey[dict[Path, int]]()


@pytest.fixture(autouse=True)
def _mark_server_logs(request: pytest.FixtureRequest) -> None:
    """Remember where each server's log stood when the test started (see the report hook)."""
    request.node.stash[_LOG_MARKS] = {
        log: log.stat().st_size for log in server_logs() if log.exists()
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a test whose ``andromede serve`` logged an unexpected error while it ran, and add
    to a failed test's report what every server wrote meanwhile: the session's server and the
    test's own (a server started by the test's fixtures is shown from its start). Done here
    rather than in a fixture's teardown because xdist ships the report to the controller as
    soon as it exists."""
    report = yield
    marks = item.stash.get(_LOG_MARKS, None)
    checked = report.passed and call.when == "call"
    if marks is None or not (checked or report.failed):
        return report  # a passing setup or teardown: nothing to read
    written = {log: _written_since(log, marks.get(log, 0)) for log in server_logs()}
    if checked and _server_failed(item, written):
        # A request the server failed with a 500 it did not mean (an exception no handler
        # maps): clients that retry (Terraform's provider, boto3) can hide it, and a test that
        # checks only what it came for would pass. Never a 500: the test fails here.
        report.outcome = "failed"
        report.longrepr = (
            "an andromede serve logged an unexpected error while the test ran (a 500 that the "
            "client may have retried); its log is below"
        )
    if not report.failed:
        return report
    for log, data in written.items():
        if data:
            tail = data[-LOG_TAIL:].decode("utf-8", "replace")
            report.sections.append((f"andromede serve log {log.name} ({call.when})", tail))
    return report


# What the servers' apps log for an exception no handler maps (a 500 they did not mean).
_UNEXPECTED_ERROR = b": unexpected error"


def _written_since(log: Path, offset: int) -> bytes:
    if not log.exists() or log.stat().st_size <= offset:
        return b""
    with log.open("rb") as stream:
        stream.seek(offset)
        return stream.read()


def _server_failed(item: pytest.Item, written: dict[Path, bytes]) -> bool:
    if item.get_closest_marker("server_errors_expected") is not None:
        return False
    return any(_UNEXPECTED_ERROR in data for data in written.values())


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A test that configures logging (create_app, the CLI) leaves no batched handler, whose
    flusher would write after the session (tests/support/logs.py)."""
    with logging_restored():
        yield


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Console passwords hashed in process cost 1 ms, not 120 (tests/support/passwords.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("andromede.iam.login._HASHER", CHEAP_HASHER)
        yield


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real ``andromede serve`` for the session (per xdist worker), its public Route 53
    name servers on a port of their own (decision 0289), its Route 53 health checks allowed to
    probe loopback (Terraform's TCP check of the server's own port: decision 0297), its DNS
    query logs flushed every half second (decision 0305)."""
    env = {
        "ANDROMEDE_ROUTE53_DNS_LISTEN": f'["127.0.0.1:{free_port()}"]',
        "ANDROMEDE_ROUTE53_QUERY_LOG_FLUSH_SECONDS": "0.5",
        "ANDROMEDE_ROUTE53_HEALTH_CHECK_ALLOW_CIDRS": '["127.0.0.1/32"]',
    }
    with running_server(tmp_path_factory.mktemp("andromede") / "data", extra_env=env) as process:
        yield process


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh directory under /tmp: a QEMU host's state directory must be short, as QMP
    socket paths fit in 107 bytes and pytest's ``tmp_path`` (its worker's and the test's
    names in it) can be longer."""
    folder = Path(tempfile.mkdtemp(prefix="andr-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
