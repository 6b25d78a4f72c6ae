"""``andromede admin invoice``: issue a tenant's invoice of an ended month, list a tenant's
invoices, write one as PDF (decision 0123), credit one (decision 0126) and write a credit
note as PDF — Factur-X PDFs, or their XML alone with ``--xml`` (decision 0131) —, on the data
folder's database: what the management API's ``/tenants/{tenant}/invoices`` does, for an
operator's monthly script. An issue is an ``andromede:IssueInvoice`` event of the tenant's
log, a credit note an ``andromede:IssueCreditNote`` one, by the operator's CLI (decision
0124)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from andromede.audit.model import Outcome
from andromede.billing.credit_note import CreditNote, parse_request
from andromede.billing.errors import BillingError, NoEInvoice
from andromede.billing.facturx import credit_note_xml, invoice_xml
from andromede.billing.invoice import Invoice
from andromede.billing.invoice_wording import LANGUAGES
from andromede.billing.model import parse_month
from andromede.cli.options import (
    ConfigOption,
    DataDirOption,
    TenantOption,
    err,
    failed,
    settings_from,
)
from andromede.iam.errors import IamError
from andromede.iam.tenant_actions import credit_note_arn, invoice_arn
from andromede.settings import Settings

__all__ = ["invoice_app"]

invoice_app = typer.Typer(
    no_args_is_help=True, help="Invoices: issue, list, PDF (decision 0123), credit notes (0126)."
)
out = Console(soft_wrap=True)


def _summary(invoice: Invoice, notes: Sequence[CreditNote] = ()) -> dict[str, Any]:
    credited = -sum((note.total for note in notes), Decimal("0.00"))
    return {
        "number": invoice.number,
        "period": invoice.period.label,
        "issued_at": invoice.issued_at.isoformat(),
        "due_at": invoice.due_at.isoformat(),
        "net": str(invoice.net),
        "vat": str(invoice.vat),
        "total": str(invoice.total),
        "credit_notes": [note.number for note in notes],
        "balance": str(invoice.total - credited),
    }


async def _issue(settings: Settings, tenant: str, month: str) -> tuple[Invoice, bool]:
    from andromede.app import open_invoicing, operator_cli_principal  # late: heavy stack

    period = parse_month(month)
    async with open_invoicing(settings) as (identity, billing, audit):
        found = await identity.get_tenant(tenant)
        invoice, issued = await billing.issue_invoice(found.id, found.name, period)
        if issued:
            audit.record(
                request_id=f"cli-{invoice.number}",
                tenant_id=found.id,
                principal=operator_cli_principal(),
                action="andromede:IssueInvoice",
                resource=invoice_arn(found.id, invoice.number),
                outcome=Outcome.SUCCESS,
            )
        return invoice, issued


@invoice_app.command("issue")
def issue(
    tenant: TenantOption,
    month: Annotated[str, typer.Option("--month", help="The ended month, YYYY-MM (UTC).")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue the tenant's invoice of an ended month (the one issued before, if it was)."""
    settings = settings_from(config, data_dir)
    try:
        invoice, issued = asyncio.run(_issue(settings, tenant, month))
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc
    typer.echo(json.dumps({**_summary(invoice), "issued_now": issued}))


async def _list(settings: Settings, tenant: str) -> list[dict[str, Any]]:
    from andromede.app import open_invoicing

    async with open_invoicing(settings) as (identity, billing, _):
        found = await identity.get_tenant(tenant)
        notes = await billing.credit_notes(found.id)
        return [
            _summary(i, [n for n in notes if n.invoice_number == i.number])
            for i in await billing.invoices(found.id)
        ]


@invoice_app.command("list")
def list_invoices(
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The tenant's invoices, oldest month first."""
    settings = settings_from(config, data_dir)
    try:
        found = asyncio.run(_list(settings, tenant))
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc
    if as_json:
        typer.echo(json.dumps(found))
        return
    table = Table(title=f"Invoices of {tenant} (EUR)")
    money = ("net", "VAT", "total", "balance")
    for column in ("number", "month", "issued", "due", *money, "credit notes"):
        table.add_column(column, justify="right" if column in money else "left")
    for row in found:
        table.add_row(
            row["number"], row["period"], row["issued_at"][:10], row["due_at"][:10],
            row["net"], row["vat"], row["total"], row["balance"], " ".join(row["credit_notes"]),
        )  # fmt: skip
    with contextlib.suppress(BrokenPipeError):
        out.print(table)


async def _document(
    settings: Settings, tenant: str, number: str, credit_note: str | None
) -> Invoice | CreditNote:
    from andromede.app import open_invoicing

    async with open_invoicing(settings) as (identity, billing, _):
        found = await identity.get_tenant(tenant)
        if credit_note is not None:
            return await billing.credit_note(found.id, number, credit_note)
        return await billing.invoice(found.id, number)


@invoice_app.command("pdf")
def pdf(
    tenant: TenantOption,
    number: Annotated[str, typer.Argument(help="The invoice's number.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PDF.")],
    language: Annotated[
        str | None,
        typer.Option(
            help=f"One of {', '.join(LANGUAGES)}; the customer's as its profile said, else en."
        ),
    ] = None,
    credit_note: Annotated[
        str | None,
        typer.Option("--credit-note", help="That credit note of the invoice instead (AV-…)."),
    ] = None,
    xml: Annotated[
        bool,
        typer.Option(
            "--xml", help="Its Factur-X / EN 16931 XML alone instead (the PDF carries it too)."
        ),
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write one of the tenant's invoices, or one of its credit notes, as a PDF (Factur-X:
    with its XML inside) or, with --xml, as its CII XML alone."""
    if language is not None and language not in LANGUAGES:
        raise typer.BadParameter(f"the language is one of {', '.join(LANGUAGES)}")
    settings = settings_from(config, data_dir)
    try:
        found = asyncio.run(_document(settings, tenant, number, credit_note))
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc
    chosen = language or (found.customer.language if found.customer is not None else "en")
    # fpdf2 and fontTools are imported here, by the command that renders a PDF: every command
    # of the command line, `serve` included, imports this module (decision 0347).
    from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf

    try:
        if isinstance(found, CreditNote):
            render = credit_note_xml if xml else credit_note_pdf
            output.write_bytes(render(found, language=chosen))
        else:
            output.write_bytes((invoice_xml if xml else invoice_pdf)(found, language=chosen))
    except NoEInvoice as exc:
        raise failed(exc) from exc
    err.print(f"{found.number} written to {output}")


def _amounts(lines: list[str]) -> list[tuple[object, object]] | None:
    """``--line 2`` (all that remains of line 2) or ``--line 2=12.50`` (12.50 EUR of it)."""
    if not lines:
        return None
    parsed: list[tuple[object, object]] = []
    for text in lines:
        index, _, amount = text.partition("=")
        if not index.strip().isdigit():
            raise typer.BadParameter(f"--line is INDEX or INDEX=AMOUNT, not {text[:40]!r}")
        parsed.append((int(index), amount.strip() or None))
    return parsed


async def _credit(
    settings: Settings, tenant: str, number: str, reason: str, lines: list[str]
) -> CreditNote:
    from andromede.app import open_invoicing, operator_cli_principal

    asked = parse_request(reason, _amounts(lines))
    async with open_invoicing(settings) as (identity, billing, audit):
        found = await identity.get_tenant(tenant)
        note = await billing.issue_credit_note(found.id, number, asked)
        audit.record(
            request_id=f"cli-{note.number}",
            tenant_id=found.id,
            principal=operator_cli_principal(),
            action="andromede:IssueCreditNote",
            resource=credit_note_arn(found.id, number, note.number),
            outcome=Outcome.SUCCESS,
        )
        return note


@invoice_app.command("credit")
def credit(
    tenant: TenantOption,
    number: Annotated[str, typer.Argument(help="The invoice's number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is credited (printed on it).")],
    line: Annotated[
        list[str] | None,
        typer.Option(
            "--line",
            help="INDEX (all that remains of that line, from 0) or INDEX=AMOUNT (EUR, VAT "
            "excluded); repeat it. None: all that remains of the invoice.",
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a credit note of one of the tenant's invoices, in full or for chosen lines."""
    settings = settings_from(config, data_dir)
    try:
        note = asyncio.run(_credit(settings, tenant, number, reason, line or []))
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc
    typer.echo(
        json.dumps(
            {
                "number": note.number,
                "invoice_number": note.invoice_number,
                "issued_at": note.issued_at.isoformat(),
                "reason": note.reason,
                "net": str(note.net),
                "vat": str(note.vat),
                "total": str(note.total),
            }
        )
    )
