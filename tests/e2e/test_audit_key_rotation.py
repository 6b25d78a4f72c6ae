"""Rotating the audit log signing key of a real ``andromede serve`` (decision 0140): a tenant
downloads its trail and pins the region's key; the operator runs ``andromede admin audit-key
rotate --to file`` beside the running server; the server's workers sign with the new key
with no restart; the tenant's next trail verifies offline with ``andromede audit verify``
against the key it pinned before (and its earlier trail as trusted), the published key is
the new one, and a checkpoint the old key signs after the transition — what a stolen old key
could do — is refused."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from andromede.audit.note import Checkpoint, open_note, parse_verifier_key
from andromede.audit.signing import KEY_FILE_NAME, FileLogSigningKey
from e2e.test_audit_trail import act, download, verify, wait_for_requests
from support.server import ANDROMEDE, REGION, running_server

TIMEOUT = 120


@pytest.mark.slow
def test_a_tenants_offline_verification_passes_across_the_rotation(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        wait_for_requests(server, act(server))
        first = tmp_path / "first.json"
        download(server, first)
        pinned = tmp_path / "pinned.pub"  # what the tenant kept of the region's key
        pinned.write_text((server.data_dir / "audit-log.pub").read_text())
        done = subprocess.run(
            [str(ANDROMEDE), "audit", "verify", str(first), "--public-key", str(pinned)],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

        rotated = subprocess.run(
            [str(ANDROMEDE), "admin", "audit-key", "rotate", "--to", "file", "--json",
             "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, timeout=TIMEOUT,
            env={**os.environ, "ANDROMEDE_REGION": REGION},
        )  # fmt: skip
        assert rotated.returncode == 0, rotated.stderr
        rotation = json.loads(rotated.stdout)
        assert rotation["old_verifier_key"] == pinned.read_text().strip()

        wait_for_requests(server, act(server))
        second = tmp_path / "second.json"
        download(server, second)
        # The pinned (old) key, the earlier trail as trusted: OK across the rotation.
        done = subprocess.run(
            [str(ANDROMEDE), "audit", "verify", str(second), "--public-key", str(pinned),
             "--trusted", str(first)],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "extending" in done.stdout and "across 1 key transition(s)" in done.stdout
        # The server now publishes the new key, and signs with it.
        assert (server.data_dir / "audit-log.pub").read_text().strip() == rotation["verifier_key"]
        assert verify(server, second).returncode == 0
        content = json.loads(second.read_text())
        [transition] = content["key_transitions"]
        name, new_key = parse_verifier_key(rotation["verifier_key"])
        origin = f"{name}/{content['log']}"
        open_note(content["checkpoint"], origin, new_key)

        # The old key, still in the data folder, signs the latest tree: refused.
        old_key = FileLogSigningKey.load(server.data_dir / "keys" / KEY_FILE_NAME, name)
        text, _, _ = content["checkpoint"].partition("\n\n")
        checkpoint = Checkpoint.parse(text + "\n")
        assert (
            checkpoint.size
            > Checkpoint.parse(transition["checkpoint"].partition("\n\n")[0] + "\n").size
        )
        content["checkpoint"] = old_key.sign(text + "\n", origin)
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps(content))
        done = subprocess.run(
            [str(ANDROMEDE), "audit", "verify", str(forged), "--public-key", str(pinned)],
            capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 1
        assert "retired at size" in done.stderr
