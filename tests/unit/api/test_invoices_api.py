"""Invoices on the management API (decision 0123), in process: an operator issues a tenant's
invoice of an ended month once (the month issued again answers the same invoice), not of a
month still running; the issue is an event of the tenant's log; the tenant reads its invoices
as JSON and PDF, numbered from one sequence without gap; another tenant finds none; a price
changed afterwards changes no invoice issued. (IAM's allow and deny on ``andromede:GetInvoice``
are test_management_iam.py's.)"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.app import auto_invoicing
from andromede.billing.model import UsageIncrement
from support.apiclient import ApiHarness, HttpxSigV4, api_harness
from unit.api.test_audit_trail_api import assert_problem


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


def _last_month() -> tuple[str, datetime]:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start


async def test_an_operator_issues_once_and_the_tenant_reads_it(api: ApiHarness) -> None:
    month, start = _last_month()
    region = api.settings.region
    await api.billing._store.add_usage(
        [UsageIncrement(api.admin_tenant_id, region, "s3.requests.class-a", start, 2500)]
    )
    async with api.as_operator() as operator:
        assert (
            await operator.put(
                f"/api/v1/billing/prices/{region}/s3.requests.class-a", json={"unit_price": "0.005"}
            )
        ).status_code == 200
        assert (
            await operator.put(f"/api/v1/billing/vat-rates/{region}", json={"rate": "0.20"})
        ).status_code == 200
        made = await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        assert made.status_code == 201, made.text
        invoice = made.json()
        year = datetime.now(UTC).year
        assert invoice["number"] == f"INV-{year}-000001"
        assert (invoice["period"], invoice["net"], invoice["total"]) == (month, "0.01", "0.01")
        assert invoice["lines"][0]["unit_price"] == "0.005"
        assert invoice["issuer_name"] == api.settings.billing_issuer_name
        # Again: the same invoice, not a second one.
        again = await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        assert again.status_code == 200 and again.json()["number"] == invoice["number"]
        # The month running now is not invoiced; a month that is not one is refused.
        running = datetime.now(UTC).strftime("%Y-%m")
        assert_problem(
            await operator.post("/api/v1/tenants/admin/invoices", json={"month": running}),
            409,
            "period-open",
        )
        refused = await operator.post("/api/v1/tenants/admin/invoices", json={"month": "2026-13"})
        assert refused.status_code == 422
        # A price changed afterwards changes no invoice issued.
        await operator.put(
            f"/api/v1/billing/prices/{region}/s3.requests.class-a", json={"unit_price": "9"}
        )
    async with api.as_admin() as admin:
        listed = (await admin.get("/api/v1/tenants/admin/invoices")).json()["invoices"]
        assert [i["number"] for i in listed] == [invoice["number"]]
        read = await admin.get(f"/api/v1/tenants/admin/invoices/{invoice['number']}")
        assert read.status_code == 200 and read.json()["total"] == "0.01"
        assert Decimal(read.json()["lines"][0]["unit_price"]) == Decimal("0.005")
        pdf = await admin.get(
            f"/api/v1/tenants/admin/invoices/{invoice['number']}.pdf", params={"language": "fr"}
        )
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert f'filename="{invoice["number"]}.pdf"' in pdf.headers["content-disposition"]
        assert_problem(
            await admin.get(f"/api/v1/tenants/admin/invoices/INV-{year}-000009"),
            404,
            "no-such-invoice",
        )
        # Tenants do not issue their own invoices.
        assert (
            await admin.post("/api/v1/tenants/admin/invoices", json={"month": month})
        ).status_code == 403
    # The issue is in the tenant's log, where it sees what the operator did.
    await api.audit.flush()
    events = await api.audit_store.list_events(api.admin_tenant_id, after_id=0, limit=100)
    issued = [e for _, e in events if e.action == "andromede:IssueInvoice"]
    assert [e.resource for e in issued] == [
        f"arn:aws:andromede::{api.admin_tenant_id}:invoice/{invoice['number']}"
    ]


async def test_the_invoice_names_the_account_it_was_issued_with(api: ApiHarness) -> None:
    """Decision 0136: the issuer's bank account as it was at issue, not as it is now."""
    month, _ = _last_month()
    issuer = api.billing.issuer
    api.billing.issuer = dataclasses.replace(
        issuer, iban="FR7630006000011234567890189", bic="AGRIFRPP882"
    )
    async with api.as_operator() as operator:
        made = (await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})).json()
        assert (made["issuer_iban"], made["issuer_bic"]) == (
            "FR7630006000011234567890189",
            "AGRIFRPP882",
        )
        api.billing.issuer = issuer  # the operator's bank details change, or go
        read = await operator.get(f"/api/v1/tenants/admin/invoices/{made['number']}")
        assert read.json()["issuer_iban"] == "FR7630006000011234567890189"
        await api.identity.create_tenant("other")
        theirs = await operator.post("/api/v1/tenants/other/invoices", json={"month": month})
        assert (theirs.json()["issuer_iban"], theirs.json()["issuer_bic"]) == ("", "")


async def test_another_tenant_finds_no_invoice(api: ApiHarness) -> None:
    month, _ = _last_month()
    other = await api.identity.create_tenant("other")
    async with api.as_operator() as operator:
        mine = (await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})).json()
        theirs = await operator.post("/api/v1/tenants/other/invoices", json={"month": month})
        # One sequence: the next number, no gap.
        assert int(theirs.json()["number"][-6:]) == int(mine["number"][-6:]) + 1
    creds = Credentials(other.access_key_id, other.secret_access_key)
    async with api.client(HttpxSigV4(creds)) as stranger:
        for path in (
            "/api/v1/tenants/admin/invoices",
            f"/api/v1/tenants/admin/invoices/{mine['number']}",
            f"/api/v1/tenants/admin/invoices/{mine['number']}.pdf",
        ):
            answer = await stranger.get(path)
            assert answer.status_code == 404, path
        # Its own invoice under the admin tenant's name is not found either.
        number = theirs.json()["number"]
        assert (await stranger.get(f"/api/v1/tenants/admin/invoices/{number}")).status_code == 404
        assert (await stranger.get(f"/api/v1/tenants/other/invoices/{number}")).status_code == 200


async def test_gateways_issue_the_ended_months_invoices_themselves(api: ApiHarness) -> None:
    """``billing_auto_invoice_delay`` (decision 0123): once past, every open tenant's invoice
    of the last month is issued by the gateway's round — once, whoever runs it — each an
    event of its tenant's log; a closed tenant gets none."""
    month, _ = _last_month()
    other = await api.identity.create_tenant("other")
    gone = await api.identity.create_tenant("gone")
    await api.identity.close_tenant(gone.tenant.id)
    settings = api.settings.model_copy(
        update={"billing_auto_invoice_delay": 0.0, "billing_sample_interval": 1.0}
    )
    rounds = [
        asyncio.create_task(auto_invoicing(settings, api.identity, api.billing, api.audit))
        for _ in range(2)  # two gateways
    ]
    try:
        for _ in range(100):
            if await api.billing.invoices(other.tenant.id):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        for task in rounds:
            task.cancel()
        await asyncio.gather(*rounds, return_exceptions=True)
    for account in (api.admin_tenant_id, other.tenant.id):
        assert [i.period.label for i in await api.billing.invoices(account)] == [month]
    assert await api.billing.invoices(gone.tenant.id) == []
    await api.audit.flush()
    events = await api.audit_store.list_events(None, after_id=0, limit=500)
    issued = [e for _, e in events if e.action == "andromede:IssueInvoice"]
    assert sorted(e.tenant_id or "" for e in issued) == sorted(
        [api.admin_tenant_id, other.tenant.id]
    )
    assert {e.principal for e in issued} == {"andromede:auto-invoicing"}
    # Before the delay has passed since the month's end, nothing.
    assert await api.billing.issue_due_invoices([("x", "x")], timedelta(days=400)) == []
