"""``andromede admin usage``: a tenant's usage and cost over a month, as a table or CSV
(the management API's ``GET /tenants/{tenant}/usage`` report, read from the data folder's
database; decision 0108)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from andromede.billing.errors import BillingError
from andromede.billing.export import usage_csv_text
from andromede.billing.model import UsageReport, parse_month
from andromede.errors import ConfigurationError
from andromede.iam.errors import IamError
from andromede.settings import Settings, load_settings

__all__ = ["usage", "usage_report"]

out = Console(soft_wrap=True)
err = Console(stderr=True)


async def usage_report(settings: Settings, tenant: str, month: str) -> UsageReport:
    from andromede.app import open_billing  # late: the application stack is heavy

    period = parse_month(month)
    async with open_billing(settings) as (identity, billing):
        found = await identity.get_tenant(tenant)
        return await billing.usage_report(found.id, period)


def usage(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant name or account id.")],
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (UTC); the current month if absent.")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (also ANDROMEDE_CONFIG).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data folder (ANDROMEDE_DATA_DIR).")
    ] = None,
) -> None:
    """A tenant's usage per region and meter over a month, and its cost in EUR (VAT apart)."""
    try:
        settings = load_settings(config, data_dir=data_dir)
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        found = asyncio.run(
            usage_report(settings, tenant, month or datetime.now(UTC).strftime("%Y-%m"))
        )
    except (BillingError, IamError) as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_csv:
        typer.echo(usage_csv_text(found), nl=False)
        return
    table = Table(title=f"Usage of {found.tenant_id}, {found.period.label} (EUR)")
    for column in ("region", "meter", "usage", "unit price", "net", "VAT", "total"):
        table.add_column(column, justify="left" if column in ("region", "meter") else "right")
    for line in found.lines:
        table.add_row(
            line.region,
            line.meter,
            f"{line.usage:f} {line.price_unit}",
            "-" if line.unit_price is None else f"{line.unit_price}",
            f"{line.net}",
            f"{line.vat} ({line.vat_rate})",
            f"{line.total}",
        )
    table.add_row("", "total", "", "", f"{found.net}", f"{found.vat}", f"{found.total}")
    with contextlib.suppress(BrokenPipeError):
        out.print(table)
