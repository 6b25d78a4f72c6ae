"""``bench.hsm_keygen`` runs both ways against a real SoftHSM2 token and prints a row for each."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(shutil.which("softhsm2-util") is None, reason="SoftHSM2 is not installed")
def test_it_measures_both_ways() -> None:
    # Its own process: the bench points SOFTHSM2_CONF at its own token folder.
    done = subprocess.run(
        [sys.executable, "-m", "bench.hsm_keygen", "--generations", "1", "--spec", "RSA_2048"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = done.stdout.splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["lock", "helper"], done.stdout
