"""``andromede admin billing-profile`` and ``andromede admin invoice credit`` (decision 0126),
through typer's runner on a temporary data folder: a profile set, changed field by field,
refused with the field named and nothing changed; an invoice issued with it, credited in part
then in full, over-credit refused; the credit note written as PDF; each change an event of
the tenant's log by the operator's command line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from andromede.audit.store_sql import SqlAuditStore
from andromede.billing.model import Price, UsageIncrement
from andromede.billing.store_sql import SqlBillingStore
from andromede.cli.main import app
from andromede.db.database import open_database
from andromede.settings import load_settings

PROFILE = (
    "--legal-name", "Société Éléphant & Fils", "--address-line", "12 rue de la Paix",
    "--address-line", "Bâtiment B", "--postcode", "75002", "--city", "Paris", "--country", "FR",
    "--vat-number", "FR44732829320", "--siret", "73282932000074",
    "--email", "factures@elephant.example", "--language", "fr",
)  # fmt: skip


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "--data-dir", str(data_dir)])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


def _events(data_dir: Path, action: str) -> list[tuple[str, str | None]]:
    async def read() -> list[tuple[str, str | None]]:
        settings = load_settings(data_dir=data_dir)
        db = open_database(settings.effective_database_url)
        try:
            listed = await SqlAuditStore(db).list_events(None, after_id=0, limit=200)
        finally:
            await db.close()
        return [(e.resource, e.principal) for _, e in listed if e.action == action]

    return asyncio.run(read())


def test_set_show_and_refuse(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "tenant", "create", "acme")
    assert "NoBillingProfile" in run(data_dir, "billing-profile", "show", "--tenant", "acme",
                                     code=1)  # fmt: skip
    # A first profile needs its required fields.
    refused = run(data_dir, "billing-profile", "set", "--tenant", "acme", "--city", "Paris",
                  code=1)  # fmt: skip
    assert "InvalidBillingProfile" in refused and "country" in refused
    made = json.loads(run(data_dir, "billing-profile", "set", "--tenant", "acme", *PROFILE))
    assert made["address_lines"] == ["12 rue de la Paix", "Bâtiment B"]
    assert made["vat_number"] == "FR44732829320"
    # One field changed, the others kept; "" removes an optional one.
    moved = json.loads(
        run(
            data_dir,
            "billing-profile",
            "set",
            "--tenant",
            "acme",
            "--city",
            "Lyon",
            "--postcode",
            "69002",
            "--siret",
            "",
        )
    )
    assert (moved["city"], moved["siret"], moved["legal_name"]) == ("Lyon", "", made["legal_name"])
    # A bad VAT number is named, and nothing changes.
    refused = run(data_dir, "billing-profile", "set", "--tenant", "acme", "--vat-number",
                  "FR00732829320", code=1)  # fmt: skip
    assert "vat_number" in refused
    shown = json.loads(run(data_dir, "billing-profile", "show", "--tenant", "acme"))
    assert shown == moved
    run(data_dir, "billing-profile", "set", "--tenant", "acme", code=2)  # nothing to set
    # Two changes, two events of the tenant's log, by the operator's command line.
    events = _events(data_dir, "andromede:PutBillingProfile")
    assert len(events) == 2
    assert all(r.endswith(f":{made['tenant_id']}:billing-profile") for r, _ in events)
    assert all((p or "").startswith("operator-cli:") for _, p in events)


async def _priced_usage(data_dir: Path, tenant_id: str, start: datetime) -> None:
    """2,000,000 class-A requests at 0.005 EUR per 1000: 10.00 net, no VAT set."""
    settings = load_settings(data_dir=data_dir)
    db = open_database(settings.effective_database_url)
    try:
        store = SqlBillingStore(db)
        region = settings.region
        await store.add_usage(
            [UsageIncrement(tenant_id, region, "s3.requests.class-a", start, 2_000_000)]
        )
        await store.set_price(Price(region, "s3.requests.class-a", Decimal("0.005")))
    finally:
        await db.close()


def test_an_invoice_credited_in_part_then_in_full(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tenant_id = json.loads(run(data_dir, "tenant", "create", "acme", "--json"))["tenant_id"]
    run(data_dir, "billing-profile", "set", "--tenant", "acme", *PROFILE)
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    asyncio.run(_priced_usage(data_dir, tenant_id, start))
    number = json.loads(
        run(data_dir, "invoice", "issue", "--tenant", "acme", "--month", f"{start:%Y-%m}")
    )["number"]
    # The invoice PDF defaults to the profile's language.
    invoice_pdf = tmp_path / "invoice.pdf"
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "-o", str(invoice_pdf))
    part = json.loads(
        run(
            data_dir,
            "invoice",
            "credit",
            "--tenant",
            "acme",
            number,
            "--reason",
            "Outage",
            "--line",
            "0=4.00",
        )
    )
    year = datetime.now(UTC).year
    assert (part["number"], part["total"]) == (f"AV-{year}-000001", "-4.00")
    refused = run(data_dir, "invoice", "credit", "--tenant", "acme", number, "--reason", "x",
                  "--line", "0=6.01", code=1)  # fmt: skip
    assert "OverCredit" in refused
    run(data_dir, "invoice", "credit", "--tenant", "acme", number, "--reason", "x", "--line",
        "zero", code=2)  # fmt: skip
    rest = json.loads(
        run(data_dir, "invoice", "credit", "--tenant", "acme", number, "--reason", "Closed")
    )
    assert (rest["number"], rest["total"]) == (f"AV-{year}-000002", "-6.00")
    listed = json.loads(run(data_dir, "invoice", "list", "--tenant", "acme", "--json"))
    assert listed[0]["credit_notes"] == [part["number"], rest["number"]]
    assert (listed[0]["total"], listed[0]["balance"]) == ("10.00", "0.00")
    pdf = tmp_path / "credit.pdf"
    run(data_dir, "invoice", "pdf", "--tenant", "acme", number, "--credit-note", part["number"],
        "-o", str(pdf), "--language", "en")  # fmt: skip
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert "NoSuchCreditNote" in run(
        data_dir, "invoice", "pdf", "--tenant", "acme", number, "--credit-note",
        f"AV-{year}-000099", "-o", str(pdf), code=1,
    )  # fmt: skip
    [(first_note, principal), _] = _events(data_dir, "andromede:IssueCreditNote")
    assert first_note.endswith(f":invoice/{number}/credit-note/{part['number']}")
    assert (principal or "").startswith("operator-cli:")
