"""``andromede admin invoice``: issue a tenant's invoice of an ended month, list a tenant's
invoices, write one as PDF (decision 0123), on the data folder's database — what the
management API's ``/tenants/{tenant}/invoices`` does, for an operator's monthly script. An
issue is an ``andromede:IssueInvoice`` event of the tenant's log, by the operator's CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from andromede.audit.model import Outcome
from andromede.billing.errors import BillingError
from andromede.billing.invoice import Invoice
from andromede.billing.invoice_pdf import LANGUAGES, invoice_pdf
from andromede.billing.model import parse_month
from andromede.errors import ConfigurationError
from andromede.iam.errors import IamError
from andromede.iam.tenant_actions import invoice_arn
from andromede.settings import Settings, load_settings

__all__ = ["invoice_app"]

invoice_app = typer.Typer(no_args_is_help=True, help="Invoices: issue, list, PDF (decision 0123).")
out = Console(soft_wrap=True)
err = Console(stderr=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant name or account id.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (also ANDROMEDE_CONFIG).")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (ANDROMEDE_DATA_DIR).")
]


def _settings(config: Path | None, data_dir: Path | None) -> Settings:
    try:
        return load_settings(config, data_dir=data_dir)
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
    return typer.Exit(1)


def _summary(invoice: Invoice) -> dict[str, str]:
    return {
        "number": invoice.number,
        "period": invoice.period.label,
        "issued_at": invoice.issued_at.isoformat(),
        "due_at": invoice.due_at.isoformat(),
        "net": str(invoice.net),
        "vat": str(invoice.vat),
        "total": str(invoice.total),
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
    settings = _settings(config, data_dir)
    try:
        invoice, issued = asyncio.run(_issue(settings, tenant, month))
    except (BillingError, IamError) as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps({**_summary(invoice), "issued_now": issued}))


async def _list(settings: Settings, tenant: str) -> list[Invoice]:
    from andromede.app import open_invoicing

    async with open_invoicing(settings) as (identity, billing, _):
        found = await identity.get_tenant(tenant)
        return await billing.invoices(found.id)


@invoice_app.command("list")
def list_invoices(
    tenant: TenantOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The tenant's invoices, oldest month first."""
    settings = _settings(config, data_dir)
    try:
        found = asyncio.run(_list(settings, tenant))
    except (BillingError, IamError) as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps([_summary(i) for i in found]))
        return
    table = Table(title=f"Invoices of {tenant} (EUR)")
    for column in ("number", "month", "issued", "due", "net", "VAT", "total"):
        table.add_column(column, justify="right" if column in ("net", "VAT", "total") else "left")
    for invoice in found:
        table.add_row(
            invoice.number, invoice.period.label, f"{invoice.issued_at:%Y-%m-%d}",
            f"{invoice.due_at:%Y-%m-%d}", str(invoice.net), str(invoice.vat), str(invoice.total),
        )  # fmt: skip
    with contextlib.suppress(BrokenPipeError):
        out.print(table)


async def _one(settings: Settings, tenant: str, number: str) -> Invoice:
    from andromede.app import open_invoicing

    async with open_invoicing(settings) as (identity, billing, _):
        found = await identity.get_tenant(tenant)
        return await billing.invoice(found.id, number)


@invoice_app.command("pdf")
def pdf(
    tenant: TenantOption,
    number: Annotated[str, typer.Argument(help="The invoice's number.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PDF.")],
    language: Annotated[str, typer.Option(help=f"One of {', '.join(LANGUAGES)}.")] = "en",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write one of the tenant's invoices as a PDF."""
    if language not in LANGUAGES:
        raise typer.BadParameter(f"the language is one of {', '.join(LANGUAGES)}")
    settings = _settings(config, data_dir)
    try:
        found = asyncio.run(_one(settings, tenant, number))
    except (BillingError, IamError) as exc:
        raise _fail(exc) from exc
    output.write_bytes(invoice_pdf(found, language=language))
    err.print(f"{found.number} written to {output}")
