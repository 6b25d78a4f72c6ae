"""``andromede admin invoice`` (decision 0123), through typer's runner on a temporary data
folder: an ended month issued once, listed, written as PDF, the issue an event of the tenant's
log; the running month and an unknown number refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from andromede.audit.store_sql import SqlAuditStore
from andromede.cli.main import app
from andromede.db.database import open_database
from andromede.settings import load_settings


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "--data-dir", str(data_dir)])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def test_issue_list_and_pdf(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "tenant", "create", "acme")
    first = datetime.now(UTC).replace(day=1)
    month = (first - timedelta(days=1)).strftime("%Y-%m")
    issued = json.loads(run(data_dir, "invoice", "issue", "--tenant", "acme", "--month", month))
    assert issued["issued_now"] is True and issued["period"] == month
    again = json.loads(run(data_dir, "invoice", "issue", "--tenant", "acme", "--month", month))
    assert again["issued_now"] is False and again["number"] == issued["number"]
    # The running month is not invoiced.
    run(data_dir, "invoice", "issue", "--tenant", "acme", "--month", first.strftime("%Y-%m"),
        code=1)  # fmt: skip
    listed = json.loads(run(data_dir, "invoice", "list", "--tenant", "acme", "--json"))
    assert [i["number"] for i in listed] == [issued["number"]]
    pdf = tmp_path / "invoice.pdf"
    run(data_dir, "invoice", "pdf", "--tenant", "acme", issued["number"], "-o", str(pdf),
        "--language", "fr")  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF-")
    run(data_dir, "invoice", "pdf", "--tenant", "acme", "INV-2000-000001", "-o", str(pdf),
        code=1)  # fmt: skip

    async def events() -> list[str]:
        settings = load_settings(data_dir=data_dir)
        db = open_database(settings.effective_database_url)
        try:
            listed = await SqlAuditStore(db).list_events(None, after_id=0, limit=100)
        finally:
            await db.close()
        return [e.resource for _, e in listed if e.action == "andromede:IssueInvoice"]

    [resource] = asyncio.run(events())
    assert resource.endswith(f":invoice/{issued['number']}")
