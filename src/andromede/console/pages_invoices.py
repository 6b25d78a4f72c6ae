"""The tenant's invoices (decision 0123): the list of those issued, each with its credit notes
and its balance (decision 0126) and its customer as the invoice copied the billing profile at
issue (a later change of the profile alters none, as the page says), and each invoice or
credit note as the PDF the management API serves, in the console's language, or as its
Factur-X XML alone (decision 0131) when it has one.

Decided as on the management API: ``andromede:GetInvoice`` on ``invoice/*`` for the list and on
``invoice/NUMBER`` for one and its credit notes, asked of the same decision
(``iam/tenant_actions``) through the console's ``authorise`` (a refusal is a 403 page naming the
action and an event of the tenant's log). Another tenant's number, as an unknown one, is 404:
the billing service finds only the caller's own tenant's invoices and credit notes."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.billing.credit_note import CreditNote
from andromede.billing.errors import NoEInvoice, NoSuchCreditNote, NoSuchInvoice
from andromede.billing.facturx import credit_note_xml, has_e_invoice, invoice_xml
from andromede.billing.invoice import Invoice
from andromede.console.handlers import signed_in
from andromede.iam.tenant_actions import Action, invoice_arn

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

# The API's pattern for a number (``api/routes_billing.NUMBER_PATTERN``), an invoice's or a
# credit note's: anything else names no document, and is not made into an ARN to decide on.
_NUMBER: Final = re.compile(r"^[A-Z0-9]{1,16}-[0-9]{4}-[0-9]{6,12}$")


def _absent(
    console: Console, request: Request, session: Session, title: str, error: str
) -> Response:
    return console.render(
        request, "message.html", session=session, status=404, title=title, error=error
    )


@signed_in
async def invoices(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    title = _("Invoices")
    billing = console.billing
    account = session.principal.tenant_id
    if billing is None or account is None:
        return _absent(
            console, request, session, title, _("This server does not keep these records.")
        )
    refused = await console.authorise(
        request, session, (Action.GET_INVOICE,), invoice_arn(account, "*"), account=account
    )
    if refused is not None:
        return refused
    notes = await billing.credit_notes(account)
    rows = [
        _row(invoice, [n for n in notes if n.invoice_number == invoice.number])
        for invoice in reversed(await billing.invoices(account))  # the latest month first
    ]
    return console.render(request, "invoices.html", session=session, title=title, rows=rows)


def _row(invoice: Invoice, notes: list[CreditNote]) -> dict[str, Any]:
    credited = -sum((note.total for note in notes), Decimal("0.00"))
    return {
        "number": invoice.number,
        # The customer as the invoice copied it at issue (decision 0126); its account's name
        # on an invoice issued before any profile was set.
        "customer": invoice.customer.legal_name if invoice.customer else invoice.customer_name,
        "month": invoice.period.label,
        "issued": invoice.issued_at.date().isoformat(),
        "due": invoice.due_at.date().isoformat(),
        "net": invoice.net,
        "vat": invoice.vat,
        "total": invoice.total,
        "balance": invoice.total - credited,
        "currency": invoice.currency,
        "e_invoice": has_e_invoice(invoice),  # its credit notes have one as it has
        "credit_notes": [
            {
                "number": note.number,
                "issued": note.issued_at.date().isoformat(),
                "reason": note.reason,
                "net": note.net,
                "vat": note.vat,
                "total": note.total,
            }
            for note in notes
        ],
    }


@signed_in
async def invoice_document(console: Console, request: Request, session: Session) -> Response:
    """One invoice as a PDF, in the console's language (the PDF speaks English or French)."""
    return await _invoice_document(console, request, session, as_xml=False)


@signed_in
async def invoice_xml_document(console: Console, request: Request, session: Session) -> Response:
    """One invoice's Factur-X XML alone, its notes in the console's language."""
    return await _invoice_document(console, request, session, as_xml=True)


async def _invoice_document(
    console: Console, request: Request, session: Session, *, as_xml: bool
) -> Response:
    words = console.catalogue(request)
    _ = words.gettext
    title = _("Invoices")
    billing = console.billing
    account = session.principal.tenant_id
    number = request.path_params["number"]
    if billing is None or account is None or not _NUMBER.fullmatch(number):
        return _absent(console, request, session, title, _("No such invoice."))
    # Decided before it is looked up, as on the API: the same 403 whether or not it exists.
    refused = await console.authorise(
        request, session, (Action.GET_INVOICE,), invoice_arn(account, number), account=account
    )
    if refused is not None:
        return refused
    try:
        invoice = await billing.invoice(account, number)
    except NoSuchInvoice:
        return _absent(console, request, session, title, _("No such invoice."))
    return await _download(console, request, session, invoice, words.locale, as_xml=as_xml)


@signed_in
async def credit_note_document(console: Console, request: Request, session: Session) -> Response:
    """One credit note as a PDF, in the console's language, read as its invoice is."""
    return await _credit_note_document(console, request, session, as_xml=False)


@signed_in
async def credit_note_xml_document(
    console: Console, request: Request, session: Session
) -> Response:
    """One credit note's Factur-X XML alone, read as its invoice is."""
    return await _credit_note_document(console, request, session, as_xml=True)


async def _credit_note_document(
    console: Console, request: Request, session: Session, *, as_xml: bool
) -> Response:
    words = console.catalogue(request)
    _ = words.gettext
    title = _("Invoices")
    billing = console.billing
    account = session.principal.tenant_id
    number = request.path_params["number"]
    credit_note = request.path_params["credit_note"]
    if (
        billing is None
        or account is None
        or not _NUMBER.fullmatch(number)
        or not _NUMBER.fullmatch(credit_note)
    ):
        return _absent(console, request, session, title, _("No such credit note."))
    refused = await console.authorise(
        request, session, (Action.GET_INVOICE,), invoice_arn(account, number), account=account
    )
    if refused is not None:
        return refused
    try:
        note = await billing.credit_note(account, number, credit_note)
    except NoSuchCreditNote:
        return _absent(console, request, session, title, _("No such credit note."))
    return await _download(console, request, session, note, words.locale, as_xml=as_xml)


async def _download(
    console: Console,
    request: Request,
    session: Session,
    document: Invoice | CreditNote,
    locale: str,
    *,
    as_xml: bool,
) -> Response:
    """``document`` as a PDF or its Factur-X XML, in French for a French reader and in
    English otherwise (the languages the documents speak)."""
    language = "fr" if locale == "fr" else "en"
    if as_xml:
        return _xml(console, request, session, document, language)
    # Imported by the first PDF: fpdf2 and fontTools were 0.2 s of every start (decision 0347).
    from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf

    # fpdf2 lays the pages out in Python: a thread, so the event loop goes on meanwhile.
    pdf = await (
        asyncio.to_thread(credit_note_pdf, document, language=language)
        if isinstance(document, CreditNote)
        else asyncio.to_thread(invoice_pdf, document, language=language)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{document.number}.pdf"'},
    )


def _xml(
    console: Console,
    request: Request,
    session: Session,
    document: Invoice | CreditNote,
    language: str,
) -> Response:
    """``document``'s Factur-X XML, or a 409 page when it was issued without a billing
    profile or a line (decision 0131)."""
    try:
        xml = (
            credit_note_xml(document, language=language)
            if isinstance(document, CreditNote)
            else invoice_xml(document, language=language)
        )
    except NoEInvoice:
        _ = console.catalogue(request).gettext
        return console.render(
            request,
            "message.html",
            session=session,
            status=409,
            title=_("Invoices"),
            error=_(
                "Issued without a billing profile, or without a line: this document has no"
                " electronic invoice."
            ),
        )
    return Response(
        xml,
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{document.number}.xml"'},
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/invoices", invoices, ["GET"]),
    ("/invoices/{number}.pdf", invoice_document, ["GET"]),
    ("/invoices/{number}.xml", invoice_xml_document, ["GET"]),
    ("/invoices/{number}/credit-notes/{credit_note}.pdf", credit_note_document, ["GET"]),
    ("/invoices/{number}/credit-notes/{credit_note}.xml", credit_note_xml_document, ["GET"]),
]
