"""The tenant's invoices in the console (decisions 0111 and 0123): the list with each invoice's
totals, its PDF in the console's language, ``andromede:GetInvoice`` decided as on the API (the
listing on ``invoice/*``, one invoice on ``invoice/NUMBER``), another tenant's number or an
unknown one not found, and an empty list before any invoice is issued; each invoice's credit
notes and balance, their PDFs read as their invoice is (decision 0126)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from andromede.billing.credit_note import CreditNote, parse_request
from andromede.billing.invoice import Invoice
from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf
from andromede.billing.model import UsageIncrement, parse_month
from andromede.billing.service import BillingService
from support.console import ConsoleHarness, log_in

USER = "accountant"


def _billing(console: ConsoleHarness) -> BillingService:
    running = console.application._running
    assert running is not None
    return running.billing


async def _issue_last_month(console: ConsoleHarness, tenant: str, name: str) -> Invoice:
    """The tenant's invoice of last month: 2,000,000 class-A requests at 0.005 EUR per 1000
    requests, VAT at 20 %: 10.00 net, 2.00 VAT, 12.00 in all."""
    billing = _billing(console)
    region = console.application.settings.region
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    await billing._store.add_usage(
        [UsageIncrement(tenant, region, "s3.requests.class-a", start, 2_000_000)]
    )
    await billing.set_price(region, "s3.requests.class-a", "0.005")
    await billing.set_vat_rate(region, "0.20")
    invoice, issued = await billing.issue_invoice(tenant, name, parse_month(f"{start:%Y-%m}"))
    assert issued
    return invoice


def _policy(action: str, resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def _menu(page: str) -> str:
    return page.split("<nav", 1)[1].split("</nav>", 1)[0]


async def test_the_list_shows_each_invoice_with_its_totals(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    invoice = await _issue_last_month(console, tenant, "admin")
    assert (invoice.net, invoice.vat, invoice.total) == (
        Decimal("10.00"),
        Decimal("2.00"),
        Decimal("12.00"),
    )
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
        usage = await client.get("/usage")
    assert page.status_code == 200, page.text
    assert 'href="/console/invoices"' in _menu(page.text)
    assert page.text.count('class="invoice"') == 1
    row = page.text.split('class="invoice"', 1)[1].split("</tr>", 1)[0]
    for cell in (
        invoice.number,
        invoice.period.label,
        invoice.issued_at.date().isoformat(),
        invoice.due_at.date().isoformat(),
        "10.00 EUR",
        "2.00 EUR",
        "12.00 EUR",
    ):
        assert cell in row, (cell, row)
    assert f'href="/console/invoices/{invoice.number}.pdf"' in row
    # The usage page leads to the invoices.
    assert 'id="usage-invoices"' in usage.text


async def test_the_pdf_downloads_in_the_consoles_language(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    invoice = await _issue_last_month(console, tenant, "admin")
    path = f"/invoices/{invoice.number}.pdf"
    async with console.client() as client:
        await log_in(client, "admin", "root")
        english = await client.get(path)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
        french = await client.get(path)
    for answer in (english, french):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="{invoice.number}.pdf"'
        )
        assert answer.headers["cache-control"] == "no-store"
        assert answer.content.startswith(b"%PDF-")
    # The same invoice gives the same bytes: each answer is the rendering in its language.
    assert english.content == invoice_pdf(invoice, language="en")
    assert french.content == invoice_pdf(invoice, language="fr")
    assert english.content != french.content
    assert "<h1>Factures</h1>" in page.text and "Télécharger en PDF" in page.text


async def test_before_any_invoice_the_list_says_there_is_none(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        english = await client.get("/invoices")
    async with console.client(**{"accept-language": "fr"}) as client:
        await log_in(client, "admin", "root")
        french = await client.get("/invoices")
    assert english.status_code == 200 and 'class="invoice"' not in english.text
    assert "No invoice yet: operators issue one once a month has ended." in english.text
    assert french.status_code == 200
    assert "Aucune facture pour l\N{RIGHT SINGLE QUOTATION MARK}instant" in french.text


async def test_a_user_without_policy_is_refused_with_the_action_named(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    invoice = await _issue_last_month(console, tenant, "admin")
    await console.user_with_password(tenant, USER)
    async with console.client() as client:
        await log_in(client, "admin", USER)
        buckets = await client.get("/buckets")
        listed = await client.get("/invoices")
        document = await client.get(f"/invoices/{invoice.number}.pdf")
    assert 'href="/console/invoices"' not in _menu(buckets.text)
    for answer in (listed, document):
        assert answer.status_code == 403
        assert "Access denied" in answer.text and "andromede:GetInvoice" in answer.text
        assert not answer.content.startswith(b"%PDF-")
    assert f"arn:aws:andromede::{tenant}:invoice/*" in listed.text
    assert f"arn:aws:andromede::{tenant}:invoice/{invoice.number}" in document.text


async def test_a_policy_allowing_get_invoice_opens_the_list_and_the_pdf(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    invoice = await _issue_last_month(console, tenant, "admin")
    await console.user_with_password(tenant, USER)
    await console.identity.put_user_policy(
        tenant, USER, "invoices", _policy("andromede:GetInvoice", "*")
    )
    async with console.client() as client:
        await log_in(client, "admin", USER)
        listed = await client.get("/invoices")
        document = await client.get(f"/invoices/{invoice.number}.pdf")
        usage = await client.get("/usage")
    assert listed.status_code == 200 and invoice.number in listed.text
    assert 'href="/console/invoices"' in _menu(listed.text)
    assert document.status_code == 200 and document.content.startswith(b"%PDF-")
    assert usage.status_code == 403  # GetInvoice is not GetUsageReport


async def test_one_invoices_arn_allows_that_pdf_and_not_the_list(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    invoice = await _issue_last_month(console, tenant, "admin")
    await console.user_with_password(tenant, USER)
    arn = f"arn:aws:andromede::{tenant}:invoice/{invoice.number}"
    await console.identity.put_user_policy(
        tenant, USER, "one", _policy("andromede:GetInvoice", arn)
    )
    async with console.client() as client:
        await log_in(client, "admin", USER)
        listed = await client.get("/invoices")
        document = await client.get(f"/invoices/{invoice.number}.pdf")
    assert listed.status_code == 403 and "andromede:GetInvoice" in listed.text
    assert document.status_code == 200 and document.content.startswith(b"%PDF-")


async def test_another_tenants_number_and_an_unknown_one_are_not_found(
    console: ConsoleHarness,
) -> None:
    other = (await console.identity.create_tenant("other")).tenant.id
    theirs = await _issue_last_month(console, other, "other")
    await console.user_with_password(console.admin_tenant_id, "root")
    year = datetime.now(UTC).year
    async with console.client() as client:
        await log_in(client, "admin", "root")
        listed = await client.get("/invoices")
        answers = [
            await client.get(f"/invoices/{number}.pdf")
            for number in (theirs.number, f"INV-{year}-000099", "not-a-number")
        ]
    assert listed.status_code == 200 and theirs.number not in listed.text
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert "No such invoice." in answer.text and not answer.content.startswith(b"%PDF-")


async def test_without_a_session_the_pages_lead_to_the_login(console: ConsoleHarness) -> None:
    async with console.client() as client:
        answers = [await client.get(p) for p in ("/invoices", "/invoices/INV-2026-000001.pdf")]
    for answer in answers:
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"


# -- credit notes (decision 0126) ----------------------------------------------------------------


async def _credited(console: ConsoleHarness, tenant: str, name: str) -> tuple[Invoice, CreditNote]:
    """Last month's invoice of 12.00, credited 3.00 (2.50 net and 0.50 VAT)."""
    invoice = await _issue_last_month(console, tenant, name)
    note = await _billing(console).issue_credit_note(
        tenant, invoice.number, parse_request("Outage on the 12th", [(0, "2.50")])
    )
    return invoice, note


async def test_the_list_shows_each_invoices_credit_notes_and_balance(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    invoice, note = await _credited(console, tenant, "admin")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
    async with console.client(**{"accept-language": "fr"}) as client:
        await log_in(client, "admin", "root")
        french = await client.get("/invoices")
    assert page.status_code == 200, page.text
    row = page.text.split('class="invoice"', 1)[1].split("</tr>", 1)[0]
    assert "12.00 EUR" in row and "9.00 EUR" in row  # the total, and the balance
    assert page.text.count('class="credit-note"') == 1
    credit = page.text.split('class="credit-note"', 1)[1].split("</tr>", 1)[0]
    for cell in (note.number, "Credit note", note.issued_at.date().isoformat(),
                 "Outage on the 12th", "-2.50 EUR", "-0.50 EUR", "-3.00 EUR"):  # fmt: skip
        assert cell in credit, (cell, credit)
    href = f"/console/invoices/{invoice.number}/credit-notes/{note.number}.pdf"
    assert f'href="{href}"' in credit
    assert "Reste dû" in french.text and ">Avoir<" in french.text


async def test_a_credit_notes_pdf_downloads_in_the_consoles_language(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    invoice, note = await _credited(console, tenant, "admin")
    path = f"/invoices/{invoice.number}/credit-notes/{note.number}.pdf"
    async with console.client() as client:
        await log_in(client, "admin", "root")
        english = await client.get(path)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await log_in(client, "admin", "root")
        french = await client.get(path)
    for answer in (english, french):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="{note.number}.pdf"'
        )
    assert english.content == credit_note_pdf(note, language="en")
    assert french.content == credit_note_pdf(note, language="fr")


async def test_a_credit_note_is_read_as_its_invoice_is(console: ConsoleHarness) -> None:
    """Without andromede:GetInvoice, 403 naming it; with it on the invoice's ARN, the credit
    note's PDF; another tenant's, an unknown one, or one under another invoice, 404."""
    tenant = console.admin_tenant_id
    invoice, note = await _credited(console, tenant, "admin")
    other = (await console.identity.create_tenant("other")).tenant.id
    theirs, their_note = await _credited(console, other, "other")
    await console.user_with_password(tenant, USER)
    path = f"/invoices/{invoice.number}/credit-notes/{note.number}.pdf"
    async with console.client() as client:
        await log_in(client, "admin", USER)
        refused = await client.get(path)
        arn = f"arn:aws:andromede::{tenant}:invoice/{invoice.number}"
        await console.identity.put_user_policy(
            tenant, USER, "one", _policy("andromede:GetInvoice", arn)
        )
        allowed = await client.get(path)
        await console.identity.put_user_policy(
            tenant, USER, "one", _policy("andromede:GetInvoice", "*")
        )
        year = datetime.now(UTC).year
        absent = [
            await client.get(p)
            for p in (
                f"/invoices/{theirs.number}/credit-notes/{their_note.number}.pdf",
                f"/invoices/{invoice.number}/credit-notes/{their_note.number}.pdf",
                f"/invoices/{invoice.number}/credit-notes/AV-{year}-000099.pdf",
                f"/invoices/{invoice.number}/credit-notes/not-a-number.pdf",
            )
        ]
    assert refused.status_code == 403 and "andromede:GetInvoice" in refused.text
    assert allowed.status_code == 200 and allowed.content.startswith(b"%PDF-")
    for answer in absent:
        assert answer.status_code == 404, answer.text
        assert "No such credit note." in answer.text


# -- the customer, as the billing profile was at issue (decision 0126) ---------------------------


async def test_each_invoice_keeps_the_customer_it_was_issued_to(console: ConsoleHarness) -> None:
    """The customer column is the profile copied at issue (the account's name before any
    profile): a later change of the profile alters no row, as the page says; the page leads
    to the profile."""
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    profile = {
        "legal_name": "Éléphant SAS",
        "address_lines": ["12 rue de la Paix"],
        "city": "Paris",
        "country": "FR",
        "invoice_email": "factures@elephant.example",
    }
    await _billing(console).set_billing_profile(tenant, profile)
    invoice = await _issue_last_month(console, tenant, "admin")
    await _billing(console).set_billing_profile(tenant, {**profile, "legal_name": "Renamed SA"})
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
    async with console.client(**{"accept-language": "fr"}) as client:
        await log_in(client, "admin", "root")
        french = await client.get("/invoices")
    assert page.status_code == 200, page.text
    row = page.text.split('class="invoice"', 1)[1].split("</tr>", 1)[0]
    assert invoice.number in row and '<td class="customer">Éléphant SAS</td>' in row
    assert "Renamed SA" not in page.text
    assert (
        "Each invoice keeps the customer as the billing profile was when it was issued" in page.text
    )
    assert 'id="invoices-billing-profile"' in page.text
    assert 'href="/console/billing-profile"' in _menu(page.text)
    assert "Chaque facture garde le client tel que le profil de facturation" in french.text
    assert ">Client<" in french.text and ">Profil de facturation<" in french.text


async def test_an_invoice_issued_without_a_profile_names_the_account(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    await _issue_last_month(console, tenant, "admin")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        page = await client.get("/invoices")
    row = page.text.split('class="invoice"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="customer">admin</td>' in row
