"""Rotating the audit log signing key of a real ``andromede serve`` (decision 0140): a tenant
downloads its trail and pins the region's key; the operator runs ``andromede admin audit-key
rotate --to file`` beside the running server; the server's workers sign with the new key
with no restart; the tenant's next trail verifies offline with ``andromede audit verify``
against the key it pinned before (and its earlier trail as trusted), the published key is
the new one, and a checkpoint the old key signs after the transition — what a stolen old key
could do — is refused. And a real ``andromede witness serve`` given only the region's old
key keeps cosigning across the rotation with no step of its operator: the server's witnessing
round sends it the transition statement (decision 0140's addendum)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from andromede.audit.note import Checkpoint, open_note, parse_verifier_key
from andromede.audit.signing import KEY_FILE_NAME, FileLogSigningKey
from e2e.test_audit_trail import act, andromede, download, verify, wait_for_requests
from e2e.test_audit_witness import NAME, running_witness, witness_key
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, free_port, running_server

TIMEOUT = 120


@pytest.mark.slow
def test_a_tenants_offline_verification_passes_across_the_rotation(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        wait_for_requests(server, act(server))
        first = tmp_path / "first.json"
        download(server, first)
        pinned = tmp_path / "pinned.pub"  # what the tenant kept of the region's key
        pinned.write_text((server.data_dir / "audit-log.pub").read_text())
        done = run_command(
            [str(ANDROMEDE), "audit", "verify", str(first), "--public-key", str(pinned)],
            timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

        rotated = run_command(
            [str(ANDROMEDE), "admin", "audit-key", "rotate", "--to", "file", "--json",
             "--data-dir", str(server.data_dir)],
            timeout=TIMEOUT,
            env={**os.environ, "ANDROMEDE_REGION": REGION},
        )  # fmt: skip
        assert rotated.returncode == 0, rotated.stderr
        rotation = json.loads(rotated.stdout)
        assert rotation["old_verifier_key"] == pinned.read_text().strip()

        wait_for_requests(server, act(server))
        second = tmp_path / "second.json"
        download(server, second)
        # The pinned (old) key, the earlier trail as trusted: OK across the rotation.
        done = run_command(
            [str(ANDROMEDE), "audit", "verify", str(second), "--public-key", str(pinned),
             "--trusted", str(first)],
            timeout=TIMEOUT,
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
        done = run_command(
            [str(ANDROMEDE), "audit", "verify", str(forged), "--public-key", str(pinned)],
            timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 1
        assert "retired at size" in done.stderr


def rotate(server: ServerProcess) -> dict[str, str]:
    rotated = run_command(
        [str(ANDROMEDE), "admin", "audit-key", "rotate", "--to", "file", "--json",
         "--data-dir", str(server.data_dir)],
        timeout=TIMEOUT,
        env={**os.environ, "ANDROMEDE_REGION": REGION},
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    result: dict[str, str] = json.loads(rotated.stdout)
    return result


def cosigned_past(server: ServerProcess, trail: Path, size: int) -> dict[str, object]:
    """The cosigned trail, once the witnesses cosigned a checkpoint larger than ``size``."""
    deadline = time.monotonic() + 60
    while True:
        done = andromede(
            "download", "admin", "--cosigned", "--output", str(trail),
            "--endpoint", server.api_endpoint,
            "--credentials-file", str(server.credentials_file), "--region", REGION,
        )  # fmt: skip
        if done.returncode == 0:
            content: dict[str, object] = json.loads(trail.read_text())
            text = str(content["checkpoint"]).partition("\n\n")[0] + "\n"
            if Checkpoint.parse(text).size > size:
                return content
        assert time.monotonic() < deadline, done.stderr
        time.sleep(0.5)


@pytest.mark.slow
def test_a_witness_given_only_the_old_key_keeps_cosigning(tmp_path: Path) -> None:
    key_file, vkey = witness_key(tmp_path)
    port = free_port()
    env = {
        "ANDROMEDE_AUDIT_WITNESSES": json.dumps(
            [{"url": f"http://127.0.0.1:{port}", "key": vkey.read_text().strip()}]
        ),
        "ANDROMEDE_AUDIT_WITNESS_INTERVAL": "0.5",
    }
    with running_server(tmp_path / "data", extra_env=env) as server:
        pinned = tmp_path / "pinned.pub"  # the region's key as the witness's operator took it
        pinned.write_text((server.data_dir / "audit-log.pub").read_text())
        with running_witness(key_file, pinned, port, tmp_path) as _:
            wait_for_requests(server, act(server))
            first = cosigned_past(server, tmp_path / "first.json", 0)
            rotation = rotate(server)
            assert rotation["old_verifier_key"] == pinned.read_text().strip()
            wait_for_requests(server, act(server))
            last = len(first["entries"])  # type: ignore[arg-type]
            second = cosigned_past(server, tmp_path / "second.json", last)
            # Signed by the new key, cosigned by the witness that was given the old one.
            name, new_key = parse_verifier_key(rotation["verifier_key"])
            origin = f"{name}/{second['log']}"
            open_note(str(second["checkpoint"]), origin, new_key)
            done = run_command(
                [str(ANDROMEDE), "audit", "verify", str(tmp_path / "second.json"),
                 "--public-key", str(pinned), "--witness-key", str(vkey)],
                timeout=TIMEOUT,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert f"cosigned by {NAME}" in done.stdout
            assert "across 1 key transition(s)" in done.stdout
        # The witness recorded the handover it followed, in its state file.
        state = json.loads((tmp_path / "witness-state.json").read_text())
        [handover] = state["regions"][name]
        assert handover["generation"] == 1


@pytest.mark.slow
def test_serve_rotates_the_key_on_schedule_once(tmp_path: Path) -> None:
    """``audit_key_rotation_days``: the key made older than that in the database (the clock
    cannot be moved under a real process), the server — two workers, each checking every half
    second — rotates it once, to a key file, with the reason ``scheduled``; the tenant's next
    trail verifies from the key it pinned."""
    env = {
        "ANDROMEDE_AUDIT_KEY_ROTATION_DAYS": "30",
        "ANDROMEDE_AUDIT_KEY_ROTATION_CHECK_INTERVAL": "0.5",
    }
    with running_server(tmp_path / "data", extra_env=env) as server:
        wait_for_requests(server, act(server))
        first = tmp_path / "first.json"
        download(server, first)
        pinned = tmp_path / "pinned.pub"
        pinned.write_text((server.data_dir / "audit-log.pub").read_text())
        time.sleep(1.5)  # three checks: not due
        assert (server.data_dir / "audit-log.pub").read_text() == pinned.read_text()
        with sqlite3.connect(server.data_dir / "metadata.sqlite3", timeout=30) as db:
            db.execute(  # 31 days older, in the microseconds SQLite keeps
                "UPDATE audit_signing_keys SET created_at = created_at - ?",
                (31 * 86_400 * 1_000_000,),
            )
        deadline = time.monotonic() + 30
        while (server.data_dir / "audit-log.pub").read_text() == pinned.read_text():
            assert time.monotonic() < deadline, "the key was not rotated"
            time.sleep(0.2)
        time.sleep(1.5)  # more checks by both workers: the new key is not due
        wait_for_requests(server, act(server))
        second = tmp_path / "second.json"
        download(server, second)
        done = run_command(
            [str(ANDROMEDE), "audit", "verify", str(second), "--public-key", str(pinned),
             "--trusted", str(first)],
            timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        [transition] = json.loads(second.read_text())["key_transitions"]
        assert transition["statement"].split("\n")[5] == "scheduled"
        assert len(list((server.data_dir / "keys").glob("audit-log.*.key"))) == 1
