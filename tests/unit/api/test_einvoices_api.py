"""Factur-X on the management API (decision 0131), in process: an invoice and its credit note
are served as EN 16931 CII XML beside their PDF (``….xml``), the same XML the PDF carries, in
the profile's language unless another is asked; an invoice issued without a billing profile is
a 409 ``no-e-invoice`` (its PDF stays plain); the XML is read under ``andromede:GetInvoice`` on
the invoice's ARN as the PDF is, and another tenant finds none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import facturx
import pytest
from botocore.credentials import Credentials

from andromede.billing.facturx import credit_note_xml, invoice_xml
from support.apiclient import ApiHarness, HttpxSigV4, api_harness
from unit.api.test_audit_trail_api import assert_problem
from unit.api.test_credit_notes_api import PROFILE, _priced_usage
from unit.billing.test_facturx import _embedded


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        yield harness


async def _issue(api: ApiHarness, profile: bool = True) -> str:
    month = await _priced_usage(api, api.admin_tenant_id)
    async with api.as_operator() as operator:
        if profile:
            put = await operator.put("/api/v1/tenants/admin/billing-profile", json=PROFILE)
            assert put.status_code == 200, put.text
        issued = await operator.post("/api/v1/tenants/admin/invoices", json={"month": month})
        assert issued.status_code == 201, issued.text
    return str(issued.json()["number"])


async def test_an_invoice_and_its_credit_note_are_served_as_xml(api: ApiHarness) -> None:
    number = await _issue(api)
    path = f"/api/v1/tenants/admin/invoices/{number}"
    async with api.as_operator() as operator:
        credited = await operator.post(f"{path}/credit-notes", json={"reason": "Outage"})
        assert credited.status_code == 201, credited.text
    note_number = credited.json()["number"]
    async with api.as_admin() as admin:
        xml = await admin.get(f"{path}.xml")
        english = await admin.get(f"{path}.xml", params={"language": "en"})
        pdf = await admin.get(f"{path}.pdf")
        note_xml = await admin.get(f"{path}/credit-notes/{note_number}.xml")
        note_pdf = await admin.get(f"{path}/credit-notes/{note_number}.pdf")
    kept = await api.billing.invoice(api.admin_tenant_id, number)
    note = await api.billing.credit_note(api.admin_tenant_id, number, note_number)
    assert xml.status_code == 200 and xml.headers["content-type"] == "application/xml"
    assert f'filename="{number}.xml"' in xml.headers["content-disposition"]
    assert xml.content == invoice_xml(kept, language="fr")  # the profile's language
    assert english.content == invoice_xml(kept, language="en")
    assert facturx.xml_check_xsd(xml.content, flavor="factur-x", level="en16931")
    assert _embedded(pdf.content)[0] == xml.content  # the PDF carries the same XML
    assert b"<ram:GrandTotalAmount>12.00</ram:GrandTotalAmount>" in xml.content
    assert note_xml.status_code == 200, note_xml.text
    assert note_xml.content == credit_note_xml(note, language="fr")
    assert facturx.xml_check_xsd(note_xml.content, flavor="factur-x", level="en16931")
    assert b"<ram:TypeCode>381</ram:TypeCode>" in note_xml.content
    assert _embedded(note_pdf.content)[0] == note_xml.content


async def test_an_invoice_without_profile_has_no_xml(api: ApiHarness) -> None:
    number = await _issue(api, profile=False)
    async with api.as_admin() as admin:
        answer = await admin.get(f"/api/v1/tenants/admin/invoices/{number}.xml")
        pdf = await admin.get(f"/api/v1/tenants/admin/invoices/{number}.pdf")
        missing = await admin.get("/api/v1/tenants/admin/invoices/INV-2020-000009.xml")
    assert_problem(answer, 409, "no-e-invoice")
    assert pdf.status_code == 200 and b"factur-x.xml" not in pdf.content
    assert_problem(missing, 404, "no-such-invoice")


async def test_the_xml_is_read_as_the_invoice_is(api: ApiHarness) -> None:
    number = await _issue(api)
    account = api.admin_tenant_id
    await api.identity.create_user(account, "officer")
    key = await api.identity.create_access_key(account, "officer")
    officer = HttpxSigV4(Credentials(key.key.access_key_id, key.secret_access_key))
    path = f"/api/v1/tenants/admin/invoices/{number}.xml"
    async with api.client(officer) as client:
        assert_problem(await client.get(path), 403, "access-denied")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "andromede:GetInvoice",
                "Resource": f"arn:aws:andromede::{account}:invoice/{number}",
            }
        ],
    }
    await api.identity.put_user_policy(account, "officer", "invoices", json.dumps(policy))
    async with api.client(officer) as client:
        assert (await client.get(path)).status_code == 200
    other = await api.identity.create_tenant("other")
    stranger = HttpxSigV4(Credentials(other.access_key_id, other.secret_access_key))
    async with api.client(stranger) as client:
        assert (await client.get(path)).status_code == 404
