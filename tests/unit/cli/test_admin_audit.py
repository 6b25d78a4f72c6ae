"""Every change ``andromede admin`` makes is an event of the log of the tenant it touched (the
platform's for none), as the management API records the same change (decision 0124): an
operator with a shell acts in the log too. Driven through typer's runner on a temporary data
folder; the events read back from the database's logs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from andromede.audit.store_sql import SqlAuditStore
from andromede.cli.main import app
from andromede.db.database import open_database
from andromede.settings import load_settings


def run(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "--data-dir", str(data_dir)], input=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def events(data_dir: Path) -> list[tuple[str | None, str, str, str | None]]:
    async def work() -> list[tuple[str | None, str, str, str | None]]:
        db = open_database(load_settings(data_dir=data_dir).effective_database_url)
        try:
            listed = await SqlAuditStore(db).list_events(None, after_id=0, limit=500)
        finally:
            await db.close()
        return [(e.tenant_id, e.action, e.resource, e.principal) for _, e in listed]

    return asyncio.run(work())


def test_every_change_of_the_admin_cli_is_in_the_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    account = json.loads(run(data_dir, "tenant", "create", "acme", "--json"))["tenant_id"]
    run(data_dir, "user", "create", "alice", "--tenant", "acme", "--access-key", "--json")
    run(data_dir, "user", "create", "bob", "--tenant", "acme")
    run(data_dir, "user", "delete", "bob", "--tenant", "acme")
    run(data_dir, "user", "set-password", "root", "--tenant", "acme", "--password-stdin",
        stdin="a-long-enough-password-1\n")  # fmt: skip
    run(data_dir, "tenant", "regions", "acme")  # a read: no event
    run(data_dir, "tenant", "regions", "acme", "--all")
    run(data_dir, "tenant", "suspend", "acme")
    run(data_dir, "tenant", "reactivate", "acme")
    operator = json.loads(run(data_dir, "operator", "create", "ops", "--json"))["arn"]
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    imported = run(data_dir, "image", "import", str(disk), "--name", "debian", "--tenant",
                   "acme", "--json")  # fmt: skip
    image = json.loads(imported)["image_id"]
    run(data_dir, "tenant", "close", "acme")
    run(data_dir, "tenant", "list")  # a read: no event
    user = f"arn:aws:iam::{account}:user"
    found = events(data_dir)
    assert [(t, a, r) for t, a, r, _ in found] == [
        (account, "andromede:CreateTenant", f"tenant/{account}"),
        (account, "iam:CreateUser", f"{user}/alice"),
        (account, "iam:CreateAccessKey", f"{user}/alice"),
        (account, "iam:CreateUser", f"{user}/bob"),
        (account, "iam:DeleteUser", f"{user}/bob"),
        (account, "iam:UpdateLoginProfile", f"arn:aws:iam::{account}:root"),
        (account, "andromede:PutTenantRegions", f"tenant/{account}"),
        (account, "andromede:SuspendTenant", f"tenant/{account}"),
        (account, "andromede:ReactivateTenant", f"tenant/{account}"),
        (None, "andromede:CreateOperator", operator),
        (account, "andromede:ImportImage", f"arn:aws:ec2:eu-fr-1::image/{image}"),
        (account, "andromede:CloseTenant", f"tenant/{account}"),
    ]
    assert all(p is not None and p.startswith("operator-cli:") for *_, p in found)
    # The password is nowhere in the log.
    assert "a-long-enough-password-1" not in repr(found)
