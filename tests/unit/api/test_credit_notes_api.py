"""Billing profiles and credit notes on the management API (decision 0126), in process: the
tenant sets and reads its profile, operators too, each change an event of the tenant's log; a
bad field is a 400 naming it, never a 500; an invoice copies the profile as it is at issue
(a later change alters none) and takes its VAT treatment and language from it; an operator
credits an invoice in part then in full, beyond which it is a 409; the invoice shows its
credit notes and its balance; each is read as JSON and as PDF; another tenant finds none.
(IAM's allow and deny on the new actions are test_management_iam.py's.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from andromede.billing.invoice_pdf import invoice_pdf
from andromede.billing.model import UsageIncrement
from support.apiclient import ApiHarness, HttpxSigV4, api_harness
from unit.api.test_audit_trail_api import assert_problem
from unit.billing.test_invoice_pdf import text_of

PROFILE: dict[str, Any] = {
    "legal_name": "Société Éléphant & Fils",
    "address_lines": ["12 rue de la Paix"],
    "postcode": "75002",
    "city": "Paris",
    "country": "FR",
    "vat_number": "FR 44 732 829 320",
    "siret": "73282932000074",
    "purchase_order": "PO-42",
    "invoice_email": "factures@elephant.example",
    "language": "fr",
}
GERMAN: dict[str, Any] = {
    "legal_name": "Kunde GmbH",
    "address_lines": ["Hauptstraße 1"],
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "vat_number": "DE123456789",
    "invoice_email": "rechnung@kunde.example",
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


def _last_month() -> tuple[str, datetime]:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start


async def _priced_usage(api: ApiHarness, tenant_id: str) -> str:
    """Last month's 2,000,000 class-A requests at 0.005 EUR per 1000, VAT 20 %: 10.00 net,
    2.00 VAT; its month."""
    month, start = _last_month()
    region = api.settings.region
    await api.billing._store.add_usage(
        [UsageIncrement(tenant_id, region, "s3.requests.class-a", start, 2_000_000)]
    )
    await api.billing.set_price(region, "s3.requests.class-a", "0.005")
    await api.billing.set_vat_rate(region, "0.20")
    return month


def assert_request_id(response: httpx.Response) -> None:
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_the_tenant_sets_and_reads_its_profile(api: ApiHarness) -> None:
    async with api.as_admin() as admin:
        assert_problem(
            await admin.get("/api/v1/tenants/admin/billing-profile"), 404, "no-billing-profile"
        )
        put = await admin.put("/api/v1/tenants/admin/billing-profile", json=PROFILE)
        assert put.status_code == 200, put.text
        read = (await admin.get("/api/v1/tenants/admin/billing-profile")).json()
    assert read == put.json()
    assert read["vat_number"] == "FR44732829320" and read["tenant_id"] == api.admin_tenant_id
    async with api.as_operator() as operator:
        changed = await operator.put(
            "/api/v1/tenants/admin/billing-profile", json={**PROFILE, "city": "Lyon"}
        )
        assert changed.status_code == 200 and changed.json()["city"] == "Lyon"
    # Both changes are events of the tenant's log, by whoever made them.
    await api.audit.flush()
    events = await api.audit_store.list_events(api.admin_tenant_id, after_id=0, limit=100)
    puts = [e for _, e in events if e.action == "andromede:PutBillingProfile"]
    assert [e.resource for e in puts] == [
        f"arn:aws:andromede::{api.admin_tenant_id}:billing-profile"
    ] * 2
    assert puts[0].principal == f"arn:aws:iam::{api.admin_tenant_id}:root"
    assert puts[1].principal != puts[0].principal


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vat_number": "FR45732829320"}, "vat_number"),
        ({"vat_number": "DE123456789"}, "vat_number"),
        ({"country": "ZZ"}, "country"),
        ({"siret": "73282932000075"}, "siret"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"address_lines": []}, "address_lines"),
        ({"invoice_email": "nobody"}, "invoice_email"),
        ({"language": "de"}, "language"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(
    api: ApiHarness, changes: dict[str, Any], field: str
) -> None:
    async with api.as_admin() as admin:
        refused = await admin.put(
            "/api/v1/tenants/admin/billing-profile", json={**PROFILE, **changes}
        )
        assert_problem(refused, 400, "invalid-billing-profile")
        assert refused.json()["field"] == field
        assert field in refused.json()["detail"]
        assert_request_id(refused)
        # Nothing was set.
        assert (await admin.get("/api/v1/tenants/admin/billing-profile")).status_code == 404


async def test_a_body_that_is_no_profile_is_refused_with_a_problem(api: ApiHarness) -> None:
    async with api.as_admin() as admin:
        for body in ({k: v for k, v in PROFILE.items() if k != "city"}, {**PROFILE, "x": 1}):
            answer = await admin.put("/api/v1/tenants/admin/billing-profile", json=body)
            assert_problem(answer, 422, "validation-failed")
            assert_request_id(answer)
        wrong_type = await admin.put(
            "/api/v1/tenants/admin/billing-profile", json={**PROFILE, "address_lines": "1 rue"}
        )
        assert wrong_type.status_code == 422


async def test_an_invoice_keeps_the_profile_it_was_issued_with(api: ApiHarness) -> None:
    month = await _priced_usage(api, api.admin_tenant_id)
    async with api.as_admin() as admin:
        assert (
            await admin.put("/api/v1/tenants/admin/billing-profile", json=PROFILE)
        ).status_code == 200
    async with api.as_operator() as operator:
        issued = await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        assert issued.status_code == 201, issued.text
    invoice = issued.json()
    assert invoice["customer"]["legal_name"] == PROFILE["legal_name"]
    assert invoice["customer_name"] == PROFILE["legal_name"]
    assert (invoice["vat_treatment"], invoice["vat"], invoice["total"]) == (
        "domestic",
        "2.00",
        "12.00",
    )
    number = invoice["number"]
    async with api.as_admin() as admin:
        await admin.put(
            "/api/v1/tenants/admin/billing-profile",
            json={**PROFILE, "legal_name": "Éléphant SA", "language": "en"},
        )
        read = (await admin.get(f"/api/v1/tenants/admin/invoices/{number}")).json()
        pdf = await admin.get(f"/api/v1/tenants/admin/invoices/{number}.pdf")
        english = await admin.get(
            f"/api/v1/tenants/admin/invoices/{number}.pdf", params={"language": "en"}
        )
    assert read["customer"] == invoice["customer"]
    # The PDF (compressed: compared with the rendering of the invoice kept): in the language
    # the profile preferred at issue unless another is asked, the customer block as issued.
    assert pdf.status_code == 200 and english.status_code == 200
    kept = await api.billing.invoice(api.admin_tenant_id, number)
    assert pdf.content == invoice_pdf(kept, language="fr")
    assert english.content == invoice_pdf(kept, language="en")
    shown = text_of(invoice_pdf(kept, language="fr", compress=False))
    for expected in ("Société Éléphant & Fils", "75002 Paris", "FR44732829320", "PO-42"):
        assert expected in shown
    assert "Éléphant SA" not in shown


async def test_another_member_states_customer_is_reverse_charged(api: ApiHarness) -> None:
    month = await _priced_usage(api, api.admin_tenant_id)
    async with api.as_operator() as operator:
        await operator.put("/api/v1/tenants/admin/billing-profile", json=GERMAN)
        invoice = (
            await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        ).json()
    assert invoice["vat_treatment"] == "reverse-charge"
    assert (invoice["net"], invoice["vat"], invoice["total"]) == ("10.00", "0.00", "10.00")
    assert invoice["lines"][0]["vat_rate"] == "0"


async def test_an_operator_credits_an_invoice_in_part_then_in_full(api: ApiHarness) -> None:
    month = await _priced_usage(api, api.admin_tenant_id)
    async with api.as_operator() as operator:
        number = (
            await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        ).json()["number"]
        path = f"/api/v1/tenants/admin/invoices/{number}/credit-notes"
        part = await operator.post(
            path, json={"reason": "Outage on the 12th", "lines": [{"line": 0, "net": "2.50"}]}
        )
        assert part.status_code == 201, part.text
        year = datetime.now(UTC).year
        assert part.json()["number"] == f"AV-{year}-000001"
        assert (part.json()["net"], part.json()["vat"], part.json()["total"]) == (
            "-2.50",
            "-0.50",
            "-3.00",
        )
        assert part.json()["invoice_number"] == number
        over = await operator.post(
            path, json={"reason": "too much", "lines": [{"line": 0, "net": "7.51"}]}
        )
        assert_problem(over, 409, "over-credit")
        assert_request_id(over)
        rest = await operator.post(path, json={"reason": "Contract ended"})
        assert rest.status_code == 201, rest.text
        assert rest.json()["number"] == f"AV-{year}-000002"  # the refused one took no number
        assert rest.json()["total"] == "-9.00"
        assert_problem(await operator.post(path, json={"reason": "again"}), 409, "over-credit")
        # Bad requests: problems, never a 500.
        for body, status, slug in (
            ({"reason": ""}, 400, "invalid-credit-note"),
            ({"reason": "x" * 501}, 400, "invalid-credit-note"),
            ({"reason": "x", "lines": [{"line": 5}]}, 400, "invalid-credit-note"),
            ({"reason": "x", "lines": []}, 400, "invalid-credit-note"),
            ({"reason": "x", "lines": [{"line": 0}, {"line": 0}]}, 400, "invalid-credit-note"),
            ({"reason": "x", "lines": [{"line": 0, "net": "1.001"}]}, 422, "validation-failed"),
            ({"reason": "x", "lines": [{"line": 0, "net": 1.5}]}, 422, "validation-failed"),
            ({"reason": "x", "lines": [{"line": -1}]}, 422, "validation-failed"),
            ({}, 422, "validation-failed"),
        ):
            answer = await operator.post(path, json=body)
            assert_problem(answer, status, slug)
            assert_request_id(answer)
        assert_problem(
            await operator.post(
                f"/api/v1/tenants/admin/invoices/INV-{year}-000099/credit-notes",
                json={"reason": "x"},
            ),
            404,
            "no-such-invoice",
        )
    async with api.as_admin() as admin:
        # Tenants do not credit their own invoices.
        assert (await admin.post(path, json={"reason": "please"})).status_code == 403
        invoice = (await admin.get(f"/api/v1/tenants/admin/invoices/{number}")).json()
        listed = (await admin.get("/api/v1/tenants/admin/invoices")).json()["invoices"]
        notes = (await admin.get(path)).json()["credit_notes"]
        one = await admin.get(f"{path}/{part.json()['number']}")
        pdf = await admin.get(f"{path}/{part.json()['number']}.pdf", params={"language": "fr"})
        assert_problem(await admin.get(f"{path}/AV-{year}-000099"), 404, "no-such-credit-note")
        assert_problem(
            await admin.get(f"/api/v1/tenants/admin/invoices/INV-{year}-000099/credit-notes"),
            404,
            "no-such-invoice",
        )
    assert [n["number"] for n in invoice["credit_notes"]] == [
        f"AV-{year}-000001",
        f"AV-{year}-000002",
    ]
    assert (invoice["total"], invoice["credited"], invoice["balance"]) == ("12.00", "12.00", "0.00")
    assert (listed[0]["credited"], listed[0]["balance"]) == ("12.00", "0.00")
    assert [n["reason"] for n in notes] == ["Outage on the 12th", "Contract ended"]
    assert one.status_code == 200 and one.json()["lines"][0]["invoice_line"] == 0
    assert one.json()["lines"][0]["net"] == "-2.50"
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="AV-{year}-000001.pdf"' in pdf.headers["content-disposition"]
    # Each issue is an event of the tenant's log, the credit note named under its invoice.
    await api.audit.flush()
    events = await api.audit_store.list_events(api.admin_tenant_id, after_id=0, limit=100)
    credited = [e.resource for _, e in events if e.action == "andromede:IssueCreditNote"]
    base = f"arn:aws:andromede::{api.admin_tenant_id}:invoice/{number}/credit-note"
    assert credited == [f"{base}/AV-{year}-000001", f"{base}/AV-{year}-000002"]


async def test_another_tenant_finds_no_profile_nor_credit_note(api: ApiHarness) -> None:
    month = await _priced_usage(api, api.admin_tenant_id)
    other = await api.identity.create_tenant("other")
    async with api.as_operator() as operator:
        await operator.put("/api/v1/tenants/admin/billing-profile", json=PROFILE)
        number = (
            await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        ).json()["number"]
        note = (
            await operator.post(
                f"/api/v1/tenants/admin/invoices/{number}/credit-notes", json={"reason": "x"}
            )
        ).json()["number"]
        # The other tenant's name does not reach the admin tenant's invoice either.
        assert_problem(
            await operator.post(
                f"/api/v1/tenants/other/invoices/{number}/credit-notes", json={"reason": "x"}
            ),
            404,
            "no-such-invoice",
        )
    creds = Credentials(other.access_key_id, other.secret_access_key)
    async with api.client(HttpxSigV4(creds)) as stranger:
        base = f"/api/v1/tenants/admin/invoices/{number}/credit-notes"
        for path in ("/api/v1/tenants/admin/billing-profile", base, f"{base}/{note}",
                     f"{base}/{note}.pdf"):  # fmt: skip
            assert (await stranger.get(path)).status_code == 404, path
        answer = await stranger.put("/api/v1/tenants/admin/billing-profile", json=GERMAN)
        assert answer.status_code == 404
        # Its own invoices' path does not hold the admin tenant's credit note.
        assert (
            await stranger.get(f"/api/v1/tenants/other/invoices/{number}/credit-notes/{note}")
        ).status_code == 404
    assert (await api.billing.billing_profile(api.admin_tenant_id)).country == "FR"
