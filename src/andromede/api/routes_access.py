"""Operator access requests (decision 0107): an operator asks to touch a tenant's data, the
tenant approves, refuses or revokes, and the operator gets S3 credentials bounded by
the request's scope and end.

- operators open requests (``POST``), list and read their own, and get credentials for their
  own approved ones;
- a tenant's principals list its tenant's requests, read them and decide on them as their IAM
  policies allow (``andromede:ListOperatorAccessRequests``, ``GetOperatorAccessRequest``,
  ``ApproveOperatorAccess``, ``RefuseOperatorAccess``, ``RevokeOperatorAccess`` on
  ``arn:aws:andromede::ACCOUNT:operator-access/oar-…``; its root user, always: decision
  0113), 403 otherwise; anyone else, and another tenant's or operator's request, 404.

Every step is an event of the tenant's transparency log (``audit/access_service.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Request

from andromede.api.auth import Caller, context, operator
from andromede.api.context import ApiContext
from andromede.api.permissions import (
    Action,
    Authorizer,
    authorizer,
    operator_access_arn,
    operator_access_keys,
)
from andromede.api.problems import ApiProblem
from andromede.api.schemas import (
    AccessCredentials,
    AccessRequestList,
    AccessRequestView,
    OpenAccessRequest,
)
from andromede.audit.access import AccessMode, AccessRequest, Actor
from andromede.audit.access_service import OperatorAccessService
from andromede.iam.errors import NoSuchTenant
from andromede.iam.model import Principal

__all__ = ["router"]

router = APIRouter(prefix="/access-requests", tags=["operator access"])

RequestRef = Annotated[
    str, Path(pattern=r"^oar-[0-9a-f]{20}$", description="The access request's id.")
]
Responses = dict[int | str, dict[str, Any]]
_HIDDEN: Responses = {404: {"description": "No such request, or not one the caller may see"}}
_DECISION: Responses = {
    **_HIDDEN,
    403: {"description": "An operator, or a tenant principal its IAM policies do not allow"},
    409: {
        "description": "The request's state does not allow it (access-request-lapsed: left"
        " undecided past operator_access_request_ttl)"
    },
}


def actor(principal: Principal) -> Actor:
    """The audit context's view of the caller."""
    if principal.is_operator:
        return Actor(
            principal.arn, operator_id=principal.user_id, operator_name=principal.user_name
        )
    return Actor(principal.arn, tenant_id=principal.tenant_id)


def _service(ctx: ApiContext) -> OperatorAccessService:
    if ctx.operator_access is None:
        raise ApiProblem("not-found", 404, "Not found", "This server takes no access requests.")
    return ctx.operator_access


@router.post(
    "",
    status_code=201,
    summary="Open an access request on a tenant's data (operators only); it is pending",
    responses={
        400: {"description": "A duration or reason outside the settings' bounds"},
        403: {"description": "Operators only"},
        404: {"description": "No such tenant"},
    },
)
async def open_request(
    body: OpenAccessRequest,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestView:
    service = _service(ctx)
    tenant = await ctx.identity.get_tenant(body.tenant)
    if tenant is None:
        raise NoSuchTenant(f"no tenant {body.tenant}")
    opened = await service.open(
        actor(who.principal),
        tenant.id,
        buckets=body.buckets,
        mode=AccessMode(body.mode),
        reason=body.reason,
        duration_seconds=body.duration_seconds,
        request_id=ctx.request_id(request),
        include_kms=body.include_kms,
    )
    return _view(service, opened)


@router.get(
    "",
    summary="An operator's own requests; a tenant's requests to its principals",
    responses={403: {"description": "A tenant principal its IAM policies do not allow"}},
)
async def list_requests(
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestList:
    service = _service(ctx)
    principal = allow.who.principal
    if principal.is_operator:
        found = await service.operator_requests(actor(principal))
    else:
        tenant_id = principal.tenant_id or ""
        await allow(
            Action.LIST_OPERATOR_ACCESS_REQUESTS,
            operator_access_arn(tenant_id, "*"),
            account=tenant_id,
        )
        found = await service.tenant_requests(tenant_id)
    return AccessRequestList(access_requests=[_view(service, r) for r in found])


@router.get(
    "/{access_request}",
    summary="One access request",
    responses={**_HIDDEN, 403: {"description": "A tenant principal its policies do not allow"}},
)
async def get_request(
    access_request: RequestRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestView:
    service = _service(ctx)
    found = await _tenants_request(
        service, allow, access_request, Action.GET_OPERATOR_ACCESS_REQUEST
    )
    return _view(service, found)


@router.post(
    "/{access_request}/approve",
    summary="Approve a pending request (its tenant): it grants from now for its duration",
    responses=_DECISION,
)
async def approve(
    access_request: RequestRef,
    request: Request,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestView:
    return await _decide(ctx, allow, request, access_request, Action.APPROVE_OPERATOR_ACCESS)


@router.post(
    "/{access_request}/refuse", summary="Refuse a pending request (its tenant)",
    responses=_DECISION,
)  # fmt: skip
async def refuse(
    access_request: RequestRef,
    request: Request,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestView:
    return await _decide(ctx, allow, request, access_request, Action.REFUSE_OPERATOR_ACCESS)


@router.post(
    "/{access_request}/revoke",
    summary="Revoke an approved request now (its tenant): its credentials stop working",
    responses=_DECISION,
)
async def revoke(
    access_request: RequestRef,
    request: Request,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessRequestView:
    return await _decide(ctx, allow, request, access_request, Action.REVOKE_OPERATOR_ACCESS)


@router.post(
    "/{access_request}/credentials",
    summary="S3 credentials for the operator's own approved request, ending with it",
    responses={
        **_HIDDEN,
        403: {"description": "Operators only"},
        409: {"description": "The request is pending, refused, revoked or expired"},
    },
)
async def credentials(
    access_request: RequestRef,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AccessCredentials:
    service = _service(ctx)
    acting = actor(who.principal)
    request_id = ctx.request_id(request)
    granting = await service.granting(acting, access_request, request_id=request_id)
    issued = await ctx.identity.issue_operator_access_credentials(
        granting.tenant_id, granting.operator_id, granting.id, granting.expires_at or service.now()
    )
    service.credentials_issued(granting, acting, issued.access_key_id, request_id=request_id)
    return AccessCredentials(
        access_request=_view(service, granting),
        access_key_id=issued.access_key_id,
        secret_access_key=issued.secret_access_key,
        session_token=issued.session_token,
        expiration=issued.expiration,
    )


def _view(service: OperatorAccessService, request: AccessRequest) -> AccessRequestView:
    return AccessRequestView.of(request, service.now(), service.lapses_at(request))


class _Decision(Protocol):
    """One of the service's decisions on a request, as an unbound method."""

    def __call__(
        self,
        service: OperatorAccessService,
        caller: Actor,
        access_request_id: str,
        /,
        *,
        request_id: str,
    ) -> Awaitable[AccessRequest]: ...


_DECISIONS: dict[Action, _Decision] = {
    Action.APPROVE_OPERATOR_ACCESS: OperatorAccessService.approve,
    Action.REFUSE_OPERATOR_ACCESS: OperatorAccessService.refuse,
    Action.REVOKE_OPERATOR_ACCESS: OperatorAccessService.revoke,
}


async def _decide(
    ctx: ApiContext, allow: Authorizer, request: Request, access_request: str, action: Action
) -> AccessRequestView:
    """Approve, refuse or revoke: the caller allowed ``action`` on the request (as
    :func:`_tenants_request` checks), then the service's decision that ``action`` names."""
    service = _service(ctx)
    await _tenants_request(service, allow, access_request, action)
    decided = await _DECISIONS[action](
        service, actor(allow.who.principal), access_request, request_id=ctx.request_id(request)
    )
    return _view(service, decided)


async def _tenants_request(
    service: OperatorAccessService, allow: Authorizer, access_request: str, action: Action
) -> AccessRequest:
    """The request if the caller may see it (404 otherwise) and, for a tenant's principal,
    if its policies allow ``action`` on it, given what it grants (403 otherwise). An
    operator's decisions are the service's to refuse."""
    principal = allow.who.principal
    found = await service.get(actor(principal), access_request)
    if not principal.is_operator:
        await allow(
            action,
            operator_access_arn(found.tenant_id, found.id),
            account=found.tenant_id,
            keys=operator_access_keys(found),
        )
    return found
