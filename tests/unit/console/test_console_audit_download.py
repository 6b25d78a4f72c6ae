"""The audit trail downloaded from the console: the document ``andromede audit verify`` checks
offline with the public key the console also gives, streamed a page of the log at a time,
refused to a user without every read a download needs."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from andromede.audit.cosignature import format_cosigner_key
from andromede.audit.cosigned import Cosigned
from andromede.audit.note import parse_verifier_key, public_key_bytes
from andromede.audit.verify import verify_cosignatures, verify_trail
from andromede.audit.witness import MemoryWitnessState, Witness
from andromede.cli.main import app
from support.console import ConsoleHarness, console_harness, csrf, log_in


async def test_the_downloaded_trail_verifies_offline_and_a_change_is_caught(
    tmp_path: Path,
) -> None:
    # Pages of two entries: the document is assembled from many reads, as a long log's is.
    async with console_harness(tmp_path, audit_max_entries=2) as console:
        await console.user_with_password(console.admin_tenant_id, "root")
        running = console.application._running
        assert running is not None
        async with console.client() as client:
            await log_in(client, "admin", "root")
            token = await csrf(client, "/iam/users")
            for number in range(4):  # IAM's changes, each an entry of the tenant's log
                await client.post("/iam/users", data={"csrf": token, "name": f"u{number}"})
            await running.audit.flush()
            page = await client.get("/audit")
            downloaded = await client.get("/audit/trail.json")
            key = await client.get("/audit/audit-log.pub")
        trail = running.console.console.trail
        assert trail is not None
        size = (await trail.checkpoint(console.admin_tenant_id)).size
    assert 'href="/console/audit/trail.json"' in page.text
    assert downloaded.status_code == 200
    name = f"audit-trail-{console.admin_tenant_id}-{size}.json"
    assert downloaded.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert key.text.strip() == trail.verifier_key
    document = json.loads(downloaded.content)
    assert len(document["entries"]) == size >= 4
    assert verify_trail(document, key.text).size == size

    trail_file, key_file = tmp_path / name, tmp_path / "audit-log.pub"
    trail_file.write_bytes(downloaded.content)
    key_file.write_text(key.text)
    verify = ["audit", "verify", str(trail_file), "--public-key", str(key_file)]
    assert CliRunner().invoke(app, verify).exit_code == 0
    changed = document["entries"][-1].replace("iam:CreateUser", "iam:DeleteUser")
    assert changed != document["entries"][-1]
    document["entries"][-1] = changed
    trail_file.write_text(json.dumps(document))
    tampered = CliRunner().invoke(app, verify)
    assert tampered.exit_code == 1 and "FAILED" in tampered.output


async def test_a_download_needs_every_read_of_the_log(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    arn = f"arn:aws:andromede::{tenant}:audit-log"
    page_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["andromede:GetAuditCheckpoint", "andromede:GetAuditEntries"],
                "Resource": arn,
            }
        ],
    }
    await console.identity.put_user_policy(tenant, "reader", "trail", json.dumps(page_only))
    async with console.client() as client:
        await log_in(client, "admin", "reader")
        page = await client.get("/audit")
        refused = await client.get("/audit/trail.json")
    assert page.status_code == 200
    assert refused.status_code == 403
    assert "andromede:GetAuditPrunedHashes" in refused.text


async def test_a_later_download_proves_it_extends_the_one_verified_before(
    tmp_path: Path,
) -> None:
    """``since``: the consistency proof ``verify --trusted`` checks against the earlier trail
    (a proof altered fails it); a size past the log's is refused."""
    async with console_harness(tmp_path, audit_max_entries=2) as console:
        await console.user_with_password(console.admin_tenant_id, "root")
        running = console.application._running
        assert running is not None
        async with console.client() as client:
            await log_in(client, "admin", "root")
            token = await csrf(client, "/iam/users")
            await client.post("/iam/users", data={"csrf": token, "name": "first"})
            await running.audit.flush()
            earlier = await client.get("/audit/trail.json")
            for number in range(3):
                await client.post("/iam/users", data={"csrf": token, "name": f"later{number}"})
            await running.audit.flush()
            old_size = len(json.loads(earlier.content)["entries"])
            later = await client.get("/audit/trail.json", params={"since": str(old_size)})
            too_far = await client.get("/audit/trail.json", params={"since": "100000"})
            nonsense = await client.get("/audit/trail.json", params={"since": "-1"})
            key = await client.get("/audit/audit-log.pub")
    document = json.loads(later.content)
    assert document["consistency"]["first"] == old_size < len(document["entries"])
    earlier_file, later_file = tmp_path / "earlier.json", tmp_path / "later.json"
    key_file = tmp_path / "audit-log.pub"
    earlier_file.write_bytes(earlier.content)
    later_file.write_bytes(later.content)
    key_file.write_text(key.text)
    verify = [
        "audit", "verify", str(later_file), "--public-key", str(key_file),
        "--trusted", str(earlier_file),
    ]  # fmt: skip
    assert CliRunner().invoke(app, verify).exit_code == 0
    # The proof is what links the two: one of its hashes changed, the link breaks.
    document["consistency"]["hashes"][0] = base64.b64encode(bytes(32)).decode()
    later_file.write_text(json.dumps(document))
    assert CliRunner().invoke(app, verify).exit_code == 1
    assert too_far.status_code == 409 and nonsense.status_code == 400


async def test_the_trail_the_witnesses_cosigned_downloads_with_their_cosignatures(
    tmp_path: Path,
) -> None:
    """Decision 0122: once a witness has cosigned the tenant's log, the audit page names it and
    offers the trail at that size with the cosignature, which ``verify --witness-key`` takes;
    before, that download is 404."""
    async with console_harness(tmp_path) as console:
        await console.user_with_password(console.admin_tenant_id, "root")
        running = console.application._running
        assert running is not None
        trail = running.console.console.trail
        assert trail is not None
        tenant = console.admin_tenant_id
        async with console.client() as client:
            await log_in(client, "admin", "root")
            token = await csrf(client, "/iam/users")
            await client.post("/iam/users", data={"csrf": token, "name": "u0"})
            await running.audit.flush()
            assert (await client.get("/audit/trail.json?cosigned=1")).status_code == 404
            assert 'id="download-cosigned"' not in (await client.get("/audit")).text
            # A witness of the region cosigns the log as it stands (what a round keeps).
            name, region_key = parse_verifier_key(trail.verifier_key)
            witness_key = Ed25519PrivateKey.generate()
            witness = Witness("w.example/1", witness_key, {name: region_key}, MemoryWitnessState())
            checkpoint = await trail.checkpoint(tenant)
            answer = witness.add_checkpoint(f"old 0\n\n{checkpoint.note}".encode())
            assert answer.status == 200
            assert trail._cosigned is not None
            await trail._cosigned.record(
                Cosigned(tenant, "w.example/1", checkpoint.size, checkpoint.root_hash,
                         answer.body.strip(), datetime.now(UTC))
            )  # fmt: skip
            # More entries since: the cosigned trail stops at the size cosigned.
            await client.post("/iam/users", data={"csrf": token, "name": "u1"})
            await running.audit.flush()
            page = await client.get("/audit")
            downloaded = await client.get("/audit/trail.json?cosigned=1")
    assert 'id="download-cosigned"' in page.text and "w.example/1" in page.text
    assert downloaded.status_code == 200
    document = json.loads(downloaded.content)
    assert len(document["entries"]) == checkpoint.size
    assert verify_trail(document, trail.verifier_key).size == checkpoint.size
    vkey = format_cosigner_key("w.example/1", public_key_bytes(witness_key.public_key()))
    [found] = verify_cosignatures(document["checkpoint"], [vkey], 1, now=time.time())
    assert found.name == "w.example/1"
