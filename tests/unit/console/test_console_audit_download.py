"""The audit trail downloaded from the console: the document ``andromede audit verify`` checks
offline with the public key the console also gives, streamed a page of the log at a time,
refused to a user without every read a download needs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from andromede.audit.verify import verify_trail
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
