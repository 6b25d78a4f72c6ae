"""A DynamoDB table page's recovery sections (decision 0263): point-in-time recovery turned on
with a period (its window shown) and off; the table's key changed among the AWS-owned, the
AWS-managed and the account's customer keys; a backup created, listed, restored to a new
table under a customer key and deleted after a ticked box; a point-in-time restore to a new
table. DynamoDB's refusals in its words with the form as typed; each checked against what
DynamoDB answers apart from the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf, sign_in_root
from unit.console.test_console_dynamodb_edits import alert, dynamodb, form_of, orders_table


async def _kms_key(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    """A customer key made from the console's keys page; its id."""
    running = console.application._running
    assert running is not None
    kms = running.console.console.kms
    assert kms is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await kms.create_key(scope, principal, "orders key")


@pytest.fixture
async def restorable(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """A console whose tables restore up to the present (no lag behind it)."""
    async with console_harness(tmp_path, dynamodb_pitr_restore_lag=0) as harness:
        yield harness


async def test_point_in_time_recovery_turned_on_shown_restored_and_off(
    restorable: ConsoleHarness,
) -> None:
    console = restorable
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="recovery-status">DISABLED<' in page.text
        assert 'id="restore-time-form"' not in page.text
        refused = await client.post(
            "/dynamodb/orders/recovery", data={"csrf": token, "enabled": "yes", "period": "40"}
        )
        assert refused.status_code == 400
        assert "recoveryPeriodInDays" in alert(refused)
        assert 'value="40"' in form_of(refused, "recovery-form")
        made = await client.post(
            "/dynamodb/orders/recovery", data={"csrf": token, "enabled": "yes", "period": "7"}
        )
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/dynamodb/orders?saved=recovery#recovery"
        described = await dynamodb(
            console, client, "DescribeContinuousBackups", {"TableName": "orders"}
        )
        recovery = described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["RecoveryPeriodInDays"] == 7
        page = await client.get("/dynamodb/orders")
        assert 'id="recovery-status">ENABLED<' in page.text
        assert 'id="recovery-period">7<' in page.text
        assert 'id="recovery-earliest">20' in page.text
        assert 'id="restore-time-form"' in page.text
        early = await client.post(
            "/dynamodb/orders/restore-time",
            data={"csrf": token, "target": "orders-then", "when": "time",
                  "time": "2001-01-01T00:00", "key": "aws-owned"},
        )  # fmt: skip
        assert early.status_code == 400
        assert "not within the restorable range" in alert(early)
        assert 'value="orders-then"' in form_of(early, "restore-time-form")
        unnamed = await client.post(
            "/dynamodb/orders/restore-time", data={"csrf": token, "target": " ", "when": "latest"}
        )
        assert unnamed.status_code == 400
        assert alert(unnamed) == "Name the new table."
        restored = await client.post(
            "/dynamodb/orders/restore-time",
            data={"csrf": token, "target": "orders-latest", "when": "latest", "key": "aws-owned"},
        )
        assert restored.status_code == 303, alert(restored)
        assert restored.headers["location"] == "/console/dynamodb/orders-latest"
        table = await dynamodb(console, client, "DescribeTable", {"TableName": "orders-latest"})
        assert table["Table"]["TableName"] == "orders-latest"
        off = await client.post("/dynamodb/orders/recovery", data={"csrf": token, "enabled": "no"})
        assert off.status_code == 303, alert(off)
        described = await dynamodb(
            console, client, "DescribeContinuousBackups", {"TableName": "orders"}
        )
        recovery = described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "DISABLED"


async def test_the_table_key_changed_among_the_accounts_keys(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        key_id = await _kms_key(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="table-key">AWS owned key<' in page.text
        assert f'<option value="{key_id}">' in form_of(page, "encryption-form")
        changed = await client.post(
            "/dynamodb/orders/encryption", data={"csrf": token, "key": key_id}
        )
        assert changed.status_code == 303, alert(changed)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert table["SSEDescription"]["KMSMasterKeyArn"].endswith(key_id)
        page = await client.get("/dynamodb/orders")
        assert "Customer managed key" in page.text.split('id="table-key">', 1)[1].split("</p>")[0]
        managed = await client.post(
            "/dynamodb/orders/encryption", data={"csrf": token, "key": "aws-managed"}
        )
        assert managed.status_code == 303, alert(managed)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert not table["SSEDescription"]["KMSMasterKeyArn"].endswith(key_id)
        page = await client.get("/dynamodb/orders")
        assert "AWS managed key" in page.text.split('id="table-key">', 1)[1].split("</p>")[0]
        unknown = await client.post(
            "/dynamodb/orders/encryption", data={"csrf": token, "key": "alias/nothing-here"}
        )
        assert unknown.status_code == 400
        assert "Invalid keyId alias/nothing-here" in alert(unknown)
        owned = await client.post(
            "/dynamodb/orders/encryption", data={"csrf": token, "key": "aws-owned"}
        )
        assert owned.status_code == 303, alert(owned)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert "KMSMasterKeyArn" not in table.get("SSEDescription", {})


async def test_a_backup_created_listed_restored_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        key_id = await _kms_key(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="no-backups"' in page.text
        refused = await client.post(
            "/dynamodb/orders/create-backup", data={"csrf": token, "backup_name": "a b!"}
        )
        assert refused.status_code == 400
        assert "BackupName" in alert(refused) or "backup" in alert(refused).lower()
        assert 'value="a b!"' in form_of(refused, "create-backup-form")
        made = await client.post(
            "/dynamodb/orders/create-backup", data={"csrf": token, "backup_name": "nightly"}
        )
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/dynamodb/orders?saved=backups#backups"
        listed = await dynamodb(console, client, "ListBackups", {"TableName": "orders"})
        (summary,) = listed["BackupSummaries"]
        arn = summary["BackupArn"]
        page = await client.get("/dynamodb/orders")
        rows = page.text.split('<tr class="backup">')[1:]
        assert len(rows) == 1
        assert '<td class="backup-name">nightly</td><td>AVAILABLE</td>' in rows[0]
        assert f'value="{arn}"' in rows[0]
        taken = await client.post(
            "/dynamodb/orders/restore-backup",
            data={"csrf": token, "backup_arn": arn, "target": "orders", "key": "aws-owned"},
        )
        assert taken.status_code == 400  # the table is there: DynamoDB says so
        assert "orders" in alert(taken)
        restored = await client.post(
            "/dynamodb/orders/restore-backup",
            data={"csrf": token, "backup_arn": arn, "target": "orders-copy", "key": key_id},
        )
        assert restored.status_code == 303, alert(restored)
        assert restored.headers["location"] == "/console/dynamodb/orders-copy"
        copy = await dynamodb(console, client, "DescribeTable", {"TableName": "orders-copy"})
        assert copy["Table"]["SSEDescription"]["KMSMasterKeyArn"].endswith(key_id)
        unticked = await client.post(
            "/dynamodb/orders/delete-backup", data={"csrf": token, "backup_arn": arn}
        )
        assert unticked.status_code == 400
        assert alert(unticked) == "Tick the box to confirm the deletion."
        assert (
            len(
                (await dynamodb(console, client, "ListBackups", {"TableName": "orders"}))[
                    "BackupSummaries"
                ]
            )
            == 1
        )
        deleted = await client.post(
            "/dynamodb/orders/delete-backup",
            data={"csrf": token, "backup_arn": arn, "confirm": "yes"},
        )
        assert deleted.status_code == 303, alert(deleted)
        listed = await dynamodb(console, client, "ListBackups", {"TableName": "orders"})
        assert listed["BackupSummaries"] == []


async def test_recovery_forms_need_the_csrf_token(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        await orders_table(console, client)
        await csrf(client, "/dynamodb/orders")
        refused = await client.post(
            "/dynamodb/orders/create-backup", data={"csrf": "forged", "backup_name": "x123"}
        )
        assert refused.status_code == 403
        listed = await dynamodb(console, client, "ListBackups", {"TableName": "orders"})
        assert listed["BackupSummaries"] == []
