"""``andromede admin billing-profile show|set``: a tenant's billing profile (decision 0126) on the
data folder's database — what the management API's ``/tenants/{tenant}/billing-profile`` does,
for an operator filling in a customer's details. ``set`` changes the fields given and keeps the
others; every field is checked as on the API (a bad one is named, nothing is changed), and the
change is an ``andromede:PutBillingProfile`` event of the tenant's log, by the operator's CLI
(decision 0124). Invoices issued keep the profile they were issued with."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from andromede.audit.model import Outcome
from andromede.billing.errors import BillingError, NoBillingProfile
from andromede.billing.profile import BillingProfile
from andromede.cli.options import ConfigOption, DataDirOption, TenantOption, failed, settings_from
from andromede.iam.errors import IamError
from andromede.iam.tenant_actions import Action, billing_profile_arn
from andromede.settings import Settings

__all__ = ["billing_profile_app"]

billing_profile_app = typer.Typer(
    no_args_is_help=True, help="A tenant's billing profile: show, set (decision 0126)."
)


def _view(tenant_id: str, profile: BillingProfile) -> dict[str, Any]:
    fields = profile.to_dict()
    del fields["format"]
    return {"tenant_id": tenant_id, **fields}


async def _show(settings: Settings, tenant: str) -> dict[str, Any]:
    from andromede.app import open_invoicing

    async with open_invoicing(settings) as (identity, billing, _):
        found = await identity.get_tenant(tenant)
        return _view(found.id, await billing.billing_profile(found.id))


@billing_profile_app.command("show")
def show(tenant: TenantOption, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Print the tenant's billing profile as JSON."""
    settings = settings_from(config, data_dir)
    try:
        typer.echo(json.dumps(asyncio.run(_show(settings, tenant)), indent=2, ensure_ascii=False))
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc


async def _set(settings: Settings, tenant: str, changes: dict[str, Any]) -> dict[str, Any]:
    from andromede.app import open_invoicing, operator_cli_principal

    async with open_invoicing(settings) as (identity, billing, audit):
        found = await identity.get_tenant(tenant)
        try:
            current = (await billing.billing_profile(found.id)).to_dict()
        except NoBillingProfile:
            current = {}
        profile = await billing.set_billing_profile(found.id, {**current, **changes})
        audit.record(
            request_id=f"cli-billing-profile-{found.id}",
            tenant_id=found.id,
            principal=operator_cli_principal(),
            action=Action.PUT_BILLING_PROFILE.value,
            resource=billing_profile_arn(found.id),
            outcome=Outcome.SUCCESS,
        )
        return _view(found.id, profile)


def _option(help_text: str, name: str) -> Any:
    return typer.Option(name, help=help_text)


@billing_profile_app.command("set")
def set_profile(
    tenant: TenantOption,
    legal_name: Annotated[str | None, _option("The customer's legal name.", "--legal-name")] = None,
    address_line: Annotated[
        list[str] | None,
        _option("A line of the street address; repeat it (1 to 4), in order.", "--address-line"),
    ] = None,
    postcode: Annotated[str | None, _option("Postcode.", "--postcode")] = None,
    city: Annotated[str | None, _option("City.", "--city")] = None,
    country: Annotated[str | None, _option("ISO 3166-1 alpha-2 (FR, DE…).", "--country")] = None,
    vat_number: Annotated[
        str | None, _option('VAT identification number ("" to remove).', "--vat-number")
    ] = None,
    siret: Annotated[str | None, _option('SIREN or SIRET ("" to remove).', "--siret")] = None,
    purchase_order: Annotated[
        str | None, _option('Purchase order reference ("" to remove).', "--purchase-order")
    ] = None,
    email: Annotated[str | None, _option("Where invoices are sent.", "--email")] = None,
    language: Annotated[str | None, _option("The invoices' language: en or fr.", "--language")] = (
        None
    ),
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the fields given of the tenant's billing profile (the others kept) and print it."""
    given = {
        "legal_name": legal_name,
        "address_lines": address_line or None,
        "postcode": postcode,
        "city": city,
        "country": country,
        "vat_number": vat_number,
        "siret": siret,
        "purchase_order": purchase_order,
        "invoice_email": email,
        "language": language,
    }
    changes = {field: value for field, value in given.items() if value is not None}
    if not changes:
        raise typer.BadParameter("give at least one field to set")
    settings = settings_from(config, data_dir)
    try:
        typer.echo(
            json.dumps(asyncio.run(_set(settings, tenant, changes)), indent=2, ensure_ascii=False)
        )
    except (BillingError, IamError) as exc:
        raise failed(exc) from exc
