"""``ANDROMEDE_TEST_TIMELINE``: a real parallel run of a small test file writes one line per
test, by the worker that ran it, and the controller writes none (tests/support/timeline.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.timeline import CPUACCT

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
