"""Time bombs: the most clock-sensitive store contracts, run again with the wall clock a year and
a month ahead (libfaketime), must still pass.

These contracts pin their instants (``NOW = 2026-12-05 09:00``…) and hand them to the stores.
A store that also reads the wall clock somewhere (``datetime.now()``, SQLite's
``CURRENT_TIMESTAMP``) mixes the two, and the test passes only while the real date stands where
it stood when the test was written: the CI of 2026-12-05 failed so once 09:00 had passed (the
queue stamped some events with the wall clock and the test claimed at its fixed NOW). Run ahead,
such a test fails the day it is written instead of months later.

The nested run keeps to the in-memory and SQLite variants (the PostgreSQL server would run on
the real clock, or cost a private cluster of its own). ``FAKETIME_DONT_FAKE_MONOTONIC`` stays
unset: with it, Python's ``time.sleep`` fails with EINVAL under libfaketime (an absolute
``clock_nanosleep`` on a clock moved by one but not the other), which is what made subprocesses
and servers look broken under it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
AHEAD_DAYS = 400
CONTRACTS = (
    "tests/contract/test_notification_stores.py",
    "tests/contract/test_replication_queue.py",
    "tests/contract/test_audit_log_store.py",
    "tests/contract/test_kms_key_store.py",
    "tests/contract/test_access_request_store.py",
    "tests/contract/test_identity_and_audit_stores.py",  # sessions, TOTP steps, key ages
)
LIBRARIES = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/faketime/libfaketime.so.1"),
)


def _library() -> Path:
    for library in LIBRARIES:
        if library.exists():
            return library
    pytest.skip("libfaketime not found (apt-get install libfaketime)")


def _ahead() -> dict[str, str]:
    env = {**os.environ, "LD_PRELOAD": str(_library()), "FAKETIME": f"+{AHEAD_DAYS}d"}
    # Nor is the nested run one of the outer run's workers, nor does it write into its timeline.
    for name in ("FAKETIME_DONT_FAKE_MONOTONIC", "ANDROMEDE_TEST_TIMELINE"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("PYTEST_XDIST_")]:
        env.pop(name)
    return env


def test_the_library_moves_the_clock_of_a_child() -> None:
    # Without this, a library that failed to load would leave the contracts on the real clock,
    # and the guard below would pass for nothing.
    probe = "import time, datetime; time.sleep(0.01); print(time.time())"
    run = subprocess.run(
        [sys.executable, "-c", probe],
        env=_ahead(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert float(run.stdout) - time.time() > (AHEAD_DAYS - 1) * 86400


def test_clock_sensitive_store_contracts_pass_a_year_ahead(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:xdist",
         "-k", "memory or sqlite", "--basetemp", str(tmp_path / "basetemp"), *CONTRACTS],
        cwd=ROOT, env=_ahead(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " skipped" not in run.stdout, run.stdout[-2000:]
