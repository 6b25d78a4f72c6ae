"""The audit log: one JSON line per record, hash-chained, continued across restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from andromede.xks.auditlog import GENESIS, AuditLog, verify_chain


def test_records_are_chained_and_continue_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    log.record(operation="Encrypt", externalKeyId="k", status=200, errorName=None)
    log.record(operation="Decrypt", externalKeyId="k", status=400)
    log.close()
    again = AuditLog(path)
    again.record(operation="GetHealthStatus", status=200)
    again.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert verify_chain(lines) == 3
    first = json.loads(lines[0])
    assert first["prev"] == GENESIS
    assert "errorName" not in first  # None values are left out
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("tamper", ["edit", "remove", "swap"])
def test_tampering_breaks_the_chain(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    for number in range(4):
        log.record(operation="Encrypt", kmsRequestId=f"r-{number}", status=200)
    log.close()
    lines = path.read_bytes().splitlines(keepends=True)
    if tamper == "edit":
        lines[1] = lines[1].replace(b"r-1", b"r-9")
    elif tamper == "remove":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    with pytest.raises(ValueError, match="does not follow"):
        verify_chain(lines)
