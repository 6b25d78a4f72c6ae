"""Billing: the meters, the price catalogue (operators set it, anyone authenticated reads it),
each tenant's usage and cost for a month, as JSON or CSV (decision 0108), and its invoices
(decision 0123): issued by operators once a month has ended, read as JSON, PDF or Factur-X
XML (decision 0131) by operators and by the tenant's principals as their policies allow
(``andromede:GetInvoice`` on ``arn:aws:andromede::ACCOUNT:invoice/NUMBER``).

A tenant's usage is any operator's to read, and its principals' as their IAM policies allow
(``andromede:GetUsageReport`` on ``arn:aws:andromede::ACCOUNT:usage``, for JSON and CSV
alike; its root user, always: decision 0113), 403 otherwise; another tenant's caller gets 404,
as for a tenant that does not exist, so a name's existence does not leak. The catalogue
(meters, prices, VAT rates) is any authenticated caller's: the deployment's public prices.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from andromede.api.auth import Caller, caller, context, operator
from andromede.api.context import ApiContext
from andromede.api.permissions import Action, Authorizer, authorizer, invoice_arn, usage_arn
from andromede.api.problems import ApiProblem
from andromede.api.schemas import TENANT_REFERENCE
from andromede.api.schemas_billing import (
    InvoiceIssue,
    InvoiceList,
    InvoiceSummary,
    InvoiceView,
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
from andromede.billing.facturx import invoice_xml
from andromede.billing.model import Period, UsageReport, parse_month
from andromede.billing.profile import BillingProfile
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


async def _own_tenant(ctx: ApiContext, allow: Authorizer, reference: str) -> Tenant:
    """The tenant ``reference`` names if it is the caller's own, or the caller an operator;
    NoSuchTenant otherwise (another tenant's name does not leak)."""
    principal = allow.who.principal
    try:
        tenant = await ctx.identity.get_tenant(reference)
    except NoSuchTenant:
        tenant = None
    if tenant is None or not (principal.is_operator or tenant.id == principal.tenant_id):
        raise NoSuchTenant(f"no tenant {reference}")
    return tenant


async def _readable_usage(ctx: ApiContext, allow: Authorizer, reference: str) -> Tenant:
    tenant = await _own_tenant(ctx, allow, reference)
    if not allow.who.principal.is_operator:
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


# -- invoices (decision 0123) -------------------------------------------------------------------

NUMBER_PATTERN = r"^[A-Z0-9]{1,16}-[0-9]{4}-[0-9]{6,12}$"  # invoices' and credit notes'
InvoiceRef = Annotated[str, Path(pattern=NUMBER_PATTERN, description="The number.")]
Language = Annotated[
    str | None,
    Query(
        pattern="^(en|fr)$",
        description="en or fr; absent: the customer's language as its billing profile said "
        "at issue, else en.",
    ),
]


def document_language(asked: str | None, customer: BillingProfile | None) -> str:
    """The language asked, else the one the customer's profile prefers (decision 0126)."""
    if asked is not None:
        return asked
    return customer.language if customer is not None else "en"


_INVOICES: Responses = {
    **_USAGE,
    409: {"description": "The month has not ended"},
}


async def _readable_invoices(
    ctx: ApiContext, allow: Authorizer, reference: str, number: str
) -> Tenant:
    """The tenant whose invoices the caller may read: any operator, or the tenant's own
    principals as their policies allow ``andromede:GetInvoice`` on the invoice (``*``: the
    listing); another tenant's caller gets 404, as for a tenant that does not exist."""
    tenant = await _own_tenant(ctx, allow, reference)
    if not allow.who.principal.is_operator:
        await allow(Action.GET_INVOICE, invoice_arn(tenant.id, number), account=tenant.id)
    return tenant


@router.post(
    "/tenants/{tenant}/invoices",
    summary="Issue the tenant's invoice of an ended month (operators only; once per month)",
    responses={**_INVOICES, 200: {"description": "Issued before: that invoice"}},
    status_code=201,
)
async def issue_invoice(
    tenant: TenantRef,
    body: InvoiceIssue,
    request: Request,
    response: Response,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> InvoiceView:
    found = await ctx.identity.get_tenant(tenant)
    invoice, issued = await _billing(ctx).issue_invoice(
        found.id, found.name, parse_month(body.month)
    )
    if issued:
        # In the tenant's log, where the tenant sees what the operator did to its account.
        ctx.audit.record(
            request_id=ctx.request_id(request),
            tenant_id=found.id,
            principal=who.principal.arn,
            action="andromede:IssueInvoice",
            resource=invoice_arn(found.id, invoice.number),
            outcome=Outcome.SUCCESS,
        )
    else:
        response.status_code = 200
    return InvoiceView.of(invoice, await _billing(ctx).credit_notes(found.id, invoice.number))


@router.get(
    "/tenants/{tenant}/invoices",
    summary="The tenant's invoices, oldest month first (its principals, or operators)",
    responses=_USAGE,
)
async def list_invoices(
    tenant: TenantRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> InvoiceList:
    found = await _readable_invoices(ctx, allow, tenant, "*")
    billing = _billing(ctx)
    invoices = await billing.invoices(found.id)
    notes = await billing.credit_notes(found.id)
    return InvoiceList(
        invoices=[
            InvoiceSummary.of(i, [n for n in notes if n.invoice_number == i.number])
            for i in invoices
        ]
    )


@router.get(
    "/tenants/{tenant}/invoices/{number}.pdf",
    summary="One invoice as a PDF document, in English or French",
    responses={**_USAGE, 200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
    response_class=Response,
)
async def get_invoice_pdf(
    tenant: TenantRef,
    number: InvoiceRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    language: Language = None,
) -> Response:
    # Imported by the first PDF: fpdf2 and fontTools were 0.2 s of every start (decision 0347).
    from andromede.billing.invoice_pdf import invoice_pdf

    found = await _readable_invoices(ctx, allow, tenant, number)
    invoice = await _billing(ctx).invoice(found.id, number)
    # fpdf2 lays the pages out in Python: a thread, so the event loop goes on meanwhile.
    document = await asyncio.to_thread(
        invoice_pdf, invoice, language=document_language(language, invoice.customer)
    )
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )


# An invoice without a billing profile or without a line is no EN 16931 invoice (decision 0131).
E_INVOICE: Responses = {
    200: {"content": {"application/xml": {}}, "description": "The CII XML (Factur-X EN 16931)"},
    409: {"description": "Issued without a billing profile or without a line: no e-invoice"},
}


@router.get(
    "/tenants/{tenant}/invoices/{number}.xml",
    summary="One invoice as a Factur-X / EN 16931 electronic invoice (CII XML)",
    responses={**_USAGE, **E_INVOICE},
    response_class=Response,
)
async def get_invoice_xml(
    tenant: TenantRef,
    number: InvoiceRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    language: Language = None,
) -> Response:
    found = await _readable_invoices(ctx, allow, tenant, number)
    invoice = await _billing(ctx).invoice(found.id, number)
    document = invoice_xml(invoice, language=document_language(language, invoice.customer))
    return Response(
        document,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.xml"'},
    )


@router.get(
    "/tenants/{tenant}/invoices/{number}",
    summary="One invoice, as issued (its principals, or operators)",
    responses=_USAGE,
)
async def get_invoice(
    tenant: TenantRef,
    number: InvoiceRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> InvoiceView:
    found = await _readable_invoices(ctx, allow, tenant, number)
    billing = _billing(ctx)
    invoice = await billing.invoice(found.id, number)
    return InvoiceView.of(invoice, await billing.credit_notes(found.id, number))
