"""Factur-X in the console (decision 0131): an invoice issued with a billing profile, and its
credit notes, offer their XML beside their PDF; the XML downloads in the console's language,
the same the PDF carries, read as the invoice is (403 naming ``andromede:GetInvoice``
without it); an invoice issued without a profile offers none and its XML is a 409 page."""

from __future__ import annotations

from andromede.billing.credit_note import parse_request
from andromede.billing.facturx import credit_note_xml, invoice_xml
from support.console import ConsoleHarness, log_in
from unit.billing.test_facturx import _embedded
from unit.console.test_console_invoices import USER, _billing, _issue_last_month, _policy

PROFILE = {
    "legal_name": "Éléphant SAS",
    "address_lines": ["12 rue de la Paix"],
    "city": "Paris",
    "country": "FR",
    "invoice_email": "factures@elephant.example",
}


async def test_the_xml_is_offered_and_downloads_in_the_consoles_language(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    billing = _billing(console)
    await billing.set_billing_profile(tenant, PROFILE)
    invoice = await _issue_last_month(console, tenant, "admin")
    note = await billing.issue_credit_note(tenant, invoice.number, parse_request("Outage", None))
    path = f"/invoices/{invoice.number}"
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
        xml = await client.get(f"{path}.xml")
        pdf = await client.get(f"{path}.pdf")
        note_xml = await client.get(f"{path}/credit-notes/{note.number}.xml")
    assert f'href="/console/invoices/{invoice.number}.xml"' in page.text
    assert f'href="/console/invoices/{invoice.number}/credit-notes/{note.number}.xml"' in page.text
    assert "XML Factur-X" in page.text
    assert xml.status_code == 200 and xml.headers["content-type"] == "application/xml"
    assert xml.headers["content-disposition"] == f'attachment; filename="{invoice.number}.xml"'
    assert xml.content == invoice_xml(invoice, language="fr") == _embedded(pdf.content)[0]
    assert note_xml.status_code == 200
    assert note_xml.content == credit_note_xml(note, language="fr")


async def test_the_xml_is_read_as_the_invoice_is(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await _billing(console).set_billing_profile(tenant, PROFILE)
    invoice = await _issue_last_month(console, tenant, "admin")
    await console.user_with_password(tenant, USER)
    path = f"/invoices/{invoice.number}.xml"
    async with console.client() as client:
        await log_in(client, "admin", USER)
        refused = await client.get(path)
        arn = f"arn:aws:andromede::{tenant}:invoice/{invoice.number}"
        await console.identity.put_user_policy(
            tenant, USER, "one", _policy("andromede:GetInvoice", arn)
        )
        allowed = await client.get(path)
        absent = await client.get("/invoices/INV-2020-000099.xml")
    assert refused.status_code == 403 and "andromede:GetInvoice" in refused.text
    assert allowed.status_code == 200 and allowed.content.startswith(b"<?xml")
    assert absent.status_code == 403  # decided before it is looked up, as the PDF is


async def test_an_invoice_without_profile_offers_no_xml(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    invoice = await _issue_last_month(console, tenant, "admin")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
        xml = await client.get(f"/invoices/{invoice.number}.xml")
    assert page.status_code == 200 and ".xml" not in page.text
    assert xml.status_code == 409
    assert "has no electronic invoice" in xml.text
