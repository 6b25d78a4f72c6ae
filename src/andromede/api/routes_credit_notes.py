"""A tenant's billing profile and its invoices' credit notes (decision 0126).

The billing profile (``/tenants/{tenant}/billing-profile``) is the tenant's principals' to read
and write as their policies allow ``andromede:GetBillingProfile`` and
``andromede:PutBillingProfile`` on ``arn:aws:andromede::ACCOUNT:billing-profile`` (its root
always), and any operator's; every change is an ``andromede:PutBillingProfile`` event of the
tenant's log. A field that cannot be one is a 400 ``invalid-billing-profile`` naming it.

Credit notes are issued by operators only (``POST …/invoices/{number}/credit-notes``: 404 for
an invoice the tenant does not have, 409 ``over-credit`` beyond what remains of it), each an
``andromede:IssueCreditNote`` event of the tenant's log; they are read as JSON and PDF under
``andromede:GetInvoice`` on the invoice they credit, as the invoice is, and as Factur-X XML
(decision 0131). Another tenant's
caller gets 404, as for a tenant that does not exist.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from andromede.api.auth import Caller, context, operator
from andromede.api.context import ApiContext
from andromede.api.permissions import (
    Action,
    Authorizer,
    authorizer,
    billing_profile_arn,
    credit_note_arn,
)
from andromede.api.routes_billing import (
    E_INVOICE,
    NUMBER_PATTERN,
    InvoiceRef,
    Language,
    Responses,
    TenantRef,
    _billing,
    _own_tenant,
    _readable_invoices,
    document_language,
)
from andromede.api.schemas_billing import (
    BillingProfileBody,
    BillingProfileView,
    CreditNoteList,
    CreditNoteRequest,
    CreditNoteSummary,
    CreditNoteView,
)
from andromede.audit.model import Outcome
from andromede.billing.credit_note import parse_request
from andromede.billing.facturx import credit_note_xml
from andromede.iam.model import Tenant

__all__ = ["router"]

router = APIRouter(tags=["billing"])

CreditNoteRef = Annotated[str, Path(pattern=NUMBER_PATTERN, description="The credit note.")]
_PROFILE: Responses = {
    403: {"description": "A tenant principal its IAM policies do not allow"},
    404: {"description": "No such tenant (or not the caller's), or no profile set yet"},
}
_PUT_PROFILE: Responses = {
    **_PROFILE,
    400: {"description": "A field that cannot be one: the problem's field names it"},
}
_READ: Responses = {
    403: {"description": "A tenant principal its IAM policies do not allow"},
    404: {"description": "No such tenant, invoice or credit note the caller may see"},
}
_CREDIT: Responses = {
    400: {"description": "No reason, a line the invoice does not have, a bad amount"},
    403: {"description": "Operators only"},
    404: {"description": "No such tenant or invoice"},
    409: {"description": "More than what remains of the invoice or of a line"},
}


async def _profile_owner(
    ctx: ApiContext, allow: Authorizer, reference: str, action: Action
) -> Tenant:
    tenant = await _own_tenant(ctx, allow, reference)
    if not allow.who.principal.is_operator:
        await allow(action, billing_profile_arn(tenant.id), account=tenant.id)
    return tenant


@router.get(
    "/tenants/{tenant}/billing-profile",
    summary="The tenant's billing profile (its principals, or operators)",
    responses=_PROFILE,
)
async def get_billing_profile(
    tenant: TenantRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BillingProfileView:
    found = await _profile_owner(ctx, allow, tenant, Action.GET_BILLING_PROFILE)
    return BillingProfileView.of(found.id, await _billing(ctx).billing_profile(found.id))


@router.put(
    "/tenants/{tenant}/billing-profile",
    summary="Set the tenant's billing profile, whole (its principals, or operators); "
    "invoices issued keep the profile they were issued with",
    responses=_PUT_PROFILE,
)
async def put_billing_profile(
    tenant: TenantRef,
    body: BillingProfileBody,
    request: Request,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BillingProfileView:
    found = await _profile_owner(ctx, allow, tenant, Action.PUT_BILLING_PROFILE)
    profile = await _billing(ctx).set_billing_profile(found.id, body.model_dump())
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=found.id,
        principal=allow.who.principal.arn,
        action=Action.PUT_BILLING_PROFILE.value,
        resource=billing_profile_arn(found.id),
        outcome=Outcome.SUCCESS,
    )
    return BillingProfileView.of(found.id, profile)


@router.post(
    "/tenants/{tenant}/invoices/{number}/credit-notes",
    summary="Issue a credit note of an invoice, in full or for chosen lines and amounts "
    "(operators only)",
    responses=_CREDIT,
    status_code=201,
)
async def issue_credit_note(
    tenant: TenantRef,
    number: InvoiceRef,
    body: CreditNoteRequest,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> CreditNoteView:
    found = await ctx.identity.get_tenant(tenant)
    amounts: list[tuple[Any, Any]] | None = None
    if body.lines is not None:
        amounts = [(line.line, line.net) for line in body.lines]
    asked = parse_request(body.reason, amounts)
    note = await _billing(ctx).issue_credit_note(found.id, number, asked)
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=found.id,
        principal=who.principal.arn,
        action="andromede:IssueCreditNote",
        resource=credit_note_arn(found.id, number, note.number),
        outcome=Outcome.SUCCESS,
    )
    return CreditNoteView.of(note)


@router.get(
    "/tenants/{tenant}/invoices/{number}/credit-notes",
    summary="The invoice's credit notes, in the order issued (its principals, or operators)",
    responses=_READ,
)
async def list_credit_notes(
    tenant: TenantRef,
    number: InvoiceRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> CreditNoteList:
    found = await _readable_invoices(ctx, allow, tenant, number)
    billing = _billing(ctx)
    await billing.invoice(found.id, number)  # 404 for an invoice it does not have
    notes = await billing.credit_notes(found.id, number)
    return CreditNoteList(credit_notes=[CreditNoteSummary.of(n) for n in notes])


@router.get(
    "/tenants/{tenant}/invoices/{number}/credit-notes/{credit_note}.pdf",
    summary="One credit note as a PDF document, in English or French",
    responses={**_READ, 200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
    response_class=Response,
)
async def get_credit_note_pdf(
    tenant: TenantRef,
    number: InvoiceRef,
    credit_note: CreditNoteRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    language: Language = None,
) -> Response:
    # Imported by the first PDF: fpdf2 and fontTools were 0.2 s of every start (decision 0347).
    from andromede.billing.invoice_pdf import credit_note_pdf

    found = await _readable_invoices(ctx, allow, tenant, number)
    note = await _billing(ctx).credit_note(found.id, number, credit_note)
    document = await asyncio.to_thread(
        credit_note_pdf, note, language=document_language(language, note.customer)
    )
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{note.number}.pdf"'},
    )


@router.get(
    "/tenants/{tenant}/invoices/{number}/credit-notes/{credit_note}.xml",
    summary="One credit note as a Factur-X / EN 16931 electronic credit note (CII XML)",
    responses={**_READ, **E_INVOICE},
    response_class=Response,
)
async def get_credit_note_xml(
    tenant: TenantRef,
    number: InvoiceRef,
    credit_note: CreditNoteRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    language: Language = None,
) -> Response:
    found = await _readable_invoices(ctx, allow, tenant, number)
    note = await _billing(ctx).credit_note(found.id, number, credit_note)
    document = credit_note_xml(note, language=document_language(language, note.customer))
    return Response(
        document,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{note.number}.xml"'},
    )


@router.get(
    "/tenants/{tenant}/invoices/{number}/credit-notes/{credit_note}",
    summary="One credit note, as issued (its principals, or operators)",
    responses=_READ,
)
async def get_credit_note(
    tenant: TenantRef,
    number: InvoiceRef,
    credit_note: CreditNoteRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> CreditNoteView:
    found = await _readable_invoices(ctx, allow, tenant, number)
    return CreditNoteView.of(await _billing(ctx).credit_note(found.id, number, credit_note))
