"""Billing: the meters, the price catalogue (operators set it, anyone authenticated reads it)
and each tenant's usage and cost for a month, as JSON or CSV (decision 0108).

A tenant's usage is any operator's to read, and its principals' as their IAM policies allow
(``andromede:GetUsageReport`` on ``arn:aws:andromede::ACCOUNT:usage``, for JSON and CSV
alike; its root user, always: decision 0113), 403 otherwise; another tenant's caller gets 404,
as for a tenant that does not exist, so a name's existence does not leak. The catalogue
(meters, prices, VAT rates) is any authenticated caller's: the deployment's public prices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from andromede.api.auth import Caller, caller, context, operator
from andromede.api.context import ApiContext
from andromede.api.permissions import Action, Authorizer, authorizer, usage_arn
from andromede.api.problems import ApiProblem
from andromede.api.schemas import TENANT_REFERENCE
from andromede.api.schemas_billing import (
    MeterList,
    MeterView,
    PriceList,
    PriceUpdate,
    PriceView,
    UsageReportView,
    VatRates,
    VatRateUpdate,
    VatRateView,
)
from andromede.audit.model import Outcome
from andromede.billing.export import usage_csv_text
from andromede.billing.model import Period, UsageReport, parse_month
from andromede.billing.service import BillingService
from andromede.iam.errors import NoSuchTenant
from andromede.iam.model import Tenant

__all__ = ["router"]

router = APIRouter(tags=["billing"])

Responses = dict[int | str, dict[str, Any]]
_REGION = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_METER = r"^[a-z0-9][a-z0-9.-]{0,127}$"
RegionRef = Annotated[str, Path(pattern=_REGION, description="A region of the deployment.")]
MeterRef = Annotated[str, Path(pattern=_METER, description="A meter of GET /billing/meters.")]
TenantRef = Annotated[
    str, Path(pattern=TENANT_REFERENCE, description="Account id or name of the tenant.")
]
Month = Annotated[
    str | None,
    Query(
        pattern=r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$",
        description="YYYY-MM (UTC, from 1970-01); the current month if absent.",
    ),
]
_SET: Responses = {
    400: {"description": "Not a price or rate the catalogue takes"},
    403: {"description": "Operators only"},
    404: {"description": "No such region or meter"},
}
_USAGE: Responses = {
    400: {"description": "Not a month"},
    403: {"description": "A tenant principal its IAM policies do not allow"},
    404: {"description": "No such tenant, or not one the caller may see"},
}


def _billing(ctx: ApiContext) -> BillingService:
    if ctx.billing is None:
        raise ApiProblem("not-found", 404, "Not found", "This server keeps no billing.")
    return ctx.billing


def _known_region(ctx: ApiContext, region: str) -> str:
    if ctx.settings.region_settings(region) is None:
        raise ApiProblem(
            "no-such-region", 404, "No such region", "The deployment declares no such region."
        )
    return region


def _audit(ctx: ApiContext, request: Request, who: Caller, action: str, resource: str) -> None:
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=None,
        principal=who.principal.arn,
        action=f"andromede:{action}",
        resource=resource,
        outcome=Outcome.SUCCESS,
    )


@router.get("/billing/meters", summary="What is metered, in which unit, priced per what")
async def list_meters(
    _who: Annotated[Caller, Depends(caller)], ctx: Annotated[ApiContext, Depends(context)]
) -> MeterList:
    meters = _billing(ctx).meters
    return MeterList(meters=[MeterView.of(m) for _, m in sorted(meters.items())])


@router.get("/billing/prices", summary="The price catalogue (EUR, VAT excluded)")
async def list_prices(
    _who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
    region: Annotated[str | None, Query(pattern=_REGION)] = None,
) -> PriceList:
    prices = await _billing(ctx).prices(region)
    return PriceList(prices=[PriceView.of(p) for p in prices])


@router.put(
    "/billing/prices/{region}/{meter}",
    summary="Set a meter's unit price in a region (operators only)",
    responses=_SET,
)
async def set_price(
    region: RegionRef,
    meter: MeterRef,
    body: PriceUpdate,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> PriceView:
    price = await _billing(ctx).set_price(_known_region(ctx, region), meter, body.unit_price)
    _audit(ctx, request, who, "SetPrice", f"price/{region}/{meter}")
    return PriceView.of(price)


@router.delete(
    "/billing/prices/{region}/{meter}",
    status_code=204,
    summary="Remove a price: the meter's usage costs nothing there (operators only)",
    responses={403: {"description": "Operators only"}, 404: {"description": "No such price"}},
)
async def delete_price(
    region: RegionRef,
    meter: MeterRef,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> Response:
    if not await _billing(ctx).delete_price(region, meter):
        raise ApiProblem("no-such-price", 404, "No such price", "No price is set there.")
    _audit(ctx, request, who, "DeletePrice", f"price/{region}/{meter}")
    return Response(status_code=204)


@router.get("/billing/vat-rates", summary="The VAT rate of each region (0 where none is set)")
async def list_vat_rates(
    _who: Annotated[Caller, Depends(caller)], ctx: Annotated[ApiContext, Depends(context)]
) -> VatRates:
    rates = await _billing(ctx).vat_rates()
    return VatRates(vat_rates=[VatRateView(region=r, rate=str(v)) for r, v in rates.items()])


@router.put(
    "/billing/vat-rates/{region}",
    summary="Set a region's VAT rate (operators only)",
    responses=_SET,
)
async def set_vat_rate(
    region: RegionRef,
    body: VatRateUpdate,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> VatRateView:
    rate = await _billing(ctx).set_vat_rate(_known_region(ctx, region), body.rate)
    _audit(ctx, request, who, "SetVatRate", f"vat-rate/{region}")
    return VatRateView(region=region, rate=str(rate))


async def _readable_usage(ctx: ApiContext, allow: Authorizer, reference: str) -> Tenant:
    principal = allow.who.principal
    try:
        tenant = await ctx.identity.get_tenant(reference)
    except NoSuchTenant:
        tenant = None
    if tenant is None or not (principal.is_operator or tenant.id == principal.tenant_id):
        raise NoSuchTenant(f"no tenant {reference}")
    if not principal.is_operator:
        await allow(Action.GET_USAGE_REPORT, usage_arn(tenant.id), account=tenant.id)
    return tenant


def _period(month: str | None) -> Period:
    return parse_month(month or datetime.now(UTC).strftime("%Y-%m"))


async def _report(
    ctx: ApiContext, allow: Authorizer, tenant: str, month: str | None
) -> UsageReport:
    billing = _billing(ctx)
    period = _period(month)
    found = await _readable_usage(ctx, allow, tenant)
    return await billing.usage_report(found.id, period)


@router.get(
    "/tenants/{tenant}/usage",
    summary="The tenant's usage and cost over a month (its principals, or operators)",
    responses=_USAGE,
)
async def usage_report(
    tenant: TenantRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    month: Month = None,
) -> UsageReportView:
    return UsageReportView.of(await _report(ctx, allow, tenant, month))


@router.get(
    "/tenants/{tenant}/usage.csv",
    summary="The same report as CSV, one row per region and meter",
    responses={**_USAGE, 200: {"content": {"text/csv": {}}, "description": "The report"}},
    response_class=Response,
)
async def usage_csv(
    tenant: TenantRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    month: Month = None,
) -> Response:
    found = await _report(ctx, allow, tenant, month)
    return Response(
        usage_csv_text(found),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="usage-{found.tenant_id}-{found.period.label}.csv"'
            )
        },
    )
