"""``ANDROMEDE_TEST_TIMELINE``: a real parallel run of a small test file writes one line per
test, by the worker that ran it, and the controller writes none (tests/support/timeline.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.timeline import CPUACCT, outcome_after

ROOT = Path(__file__).parents[2]
SAMPLE = "tests/unit/test_support_scheduling.py"


def test_each_test_is_one_line_from_the_worker_that_ran_it(tmp_path: Path) -> None:
    timeline = tmp_path / "timeline.jsonl"
    env = {**os.environ, "ANDROMEDE_TEST_TIMELINE": str(timeline)}
    # A base directory of its own: with pytest's default, the run would number a new one
    # beside the outer run's and delete the oldest of those (earlier runs', gigabytes of data
    # dirs and guest disks), which once took it past its timeout in CI.
    basetemp = tmp_path / "basetemp"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--dist", "worksteal", SAMPLE, "--junitxml", str(tmp_path / "run.xml"),
         "--basetemp", str(basetemp)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert basetemp.is_dir()  # made by the run, which then numbered none of its own
    records = [json.loads(line) for line in timeline.read_text().splitlines()]
    collected = (tmp_path / "run.xml").read_text().count("<testcase ")
    assert collected > 2
    assert len(records) == collected
    assert len({record["test"] for record in records}) == collected
    assert {record["worker"] for record in records} <= {"gw0", "gw1"}
    assert all(record["start"] <= record["end"] for record in records)
    assert {record["outcome"] for record in records} == {"passed"}
    if os.access(CPUACCT, os.W_OK):
        # Each worker in a cgroup of its own: every test has its CPU seconds, and the run's
        # are more than nothing (its tests build and check real schedules).
        assert all(record["cpu"] >= 0 for record in records)
        assert sum(record["cpu"] for record in records) > 0
    report = subprocess.run(
        [sys.executable, str(ROOT / "scripts/test-timeline.py"), str(timeline), "--top", "1"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"{collected} tests" in report.stdout


SAMPLE_TESTS = """
import os
import signal

import pytest


@pytest.fixture
def broken():
    raise RuntimeError("setup fails")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown fails")


def test_passes():
    pass


def test_fails():
    assert 1 == 2


def test_errors_in_setup(broken):
    pass


def test_errors_in_teardown(broken_teardown):
    pass


def test_skips():
    pytest.skip("not here")


@pytest.mark.xfail(reason="known", strict=False)
def test_expected_to_fail():
    assert 1 == 2


def test_zz_kills_the_run():
    os.kill(os.getpid(), signal.SIGKILL)
"""

SAMPLE_CONFTEST = """
import os

from support.timeline import TimelinePlugin


def pytest_configure(config):
    plugin = TimelinePlugin(os.environ["SAMPLE_TIMELINE"], "main")
    config.pluginmanager.register(plugin, "sample-timeline")
"""


def test_a_run_killed_before_its_summary_still_names_its_failures(tmp_path: Path) -> None:
    """A run SIGKILLed in its last test (CI's timeout) prints no summary; its timeline has
    each finished test's outcome, and the report names the two failing ones and only them."""
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "test_sample.py").write_text(SAMPLE_TESTS)
    (sample / "conftest.py").write_text(SAMPLE_CONFTEST)
    timeline = tmp_path / "timeline.jsonl"
    env = {
        **os.environ,
        "SAMPLE_TIMELINE": str(timeline),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("ANDROMEDE_TEST_TIMELINE", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(sample), "--basetemp", str(tmp_path / "basetemp"),
         str(sample / "test_sample.py")],
        cwd=sample, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == -9, run.stdout + run.stderr  # killed: no summary line
    assert " failed" not in run.stdout
    records = [json.loads(line) for line in timeline.read_text().splitlines()]
    outcomes = {record["test"].split("::")[1]: record["outcome"] for record in records}
    assert outcomes == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_errors_in_setup": "error",
        "test_errors_in_teardown": "error",
        "test_skips": "skipped",
        "test_expected_to_fail": "xfailed",
    }
    report = subprocess.run(
        [sys.executable, str(ROOT / "scripts/test-timeline.py"), str(timeline)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    failures = report.stdout.split("\noutcomes: ", 1)[1]
    assert failures.startswith("2 error, 1 failed, 1 passed, 1 skipped, 1 xfailed; 3 failing")
    named = {line.split()[-1].split("::")[1] for line in failures.splitlines()[1:]}
    assert named == {"test_fails", "test_errors_in_setup", "test_errors_in_teardown"}


def _report(when: str, outcome: str, **extra: object) -> pytest.TestReport:
    report = pytest.TestReport("t.py::t", ("t.py", 0, "t"), {}, outcome, None, when)  # type: ignore[arg-type]
    for name, value in extra.items():
        setattr(report, name, value)
    return report


def test_outcomes_are_counted_as_pytest_s_summary_counts_them() -> None:
    def after(*reports: pytest.TestReport) -> str | None:
        known: str | None = None
        for report in reports:
            known = outcome_after(known, report)
        return known

    passed_setup, passed_teardown = _report("setup", "passed"), _report("teardown", "passed")
    assert after(passed_setup, _report("call", "passed"), passed_teardown) == "passed"
    # A failed call stays "failed" when its teardown fails too; a passed one becomes an error.
    failed_call, failed_teardown = _report("call", "failed"), _report("teardown", "failed")
    assert after(passed_setup, failed_call, failed_teardown) == "failed"
    assert after(passed_setup, _report("call", "passed"), failed_teardown) == "error"
    assert after(_report("setup", "failed"), passed_teardown) == "error"
    assert after(_report("setup", "skipped"), passed_teardown) == "skipped"
    assert after(_report("call", "skipped", wasxfail="known")) == "xfailed"
    assert after(_report("call", "passed", wasxfail="known")) == "xpassed"
    # What ANDROMEDE_TEST_REQUIRE_ALL's hook leaves of a skip in the test's body: a failure.
    assert after(passed_setup, _report("call", "failed"), passed_teardown) == "failed"
