"""Tenants, their quotas and their regions: operators manage every tenant; a tenant's own users
may read their tenant, its quota and its regions, and learn nothing of the others (404, as for a
tenant that does not exist, rather than 403, so a name's existence does not leak)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from andromede.api.auth import Caller, caller, context, operator
from andromede.api.context import ApiContext
from andromede.api.problems import ApiProblem
from andromede.api.schemas import (
    TENANT_REFERENCE,
    CreateTenant,
    Credentials,
    Quota,
    QuotaUpdate,
    TenantCreated,
    TenantList,
    TenantRegions,
    TenantRegionsUpdate,
    TenantView,
)
from andromede.audit.model import Outcome
from andromede.iam.errors import NoSuchTenant
from andromede.iam.model import Tenant

__all__ = ["router"]

router = APIRouter(prefix="/tenants", tags=["tenants"])

TenantRef = Annotated[
    str, Path(pattern=TENANT_REFERENCE, description="Account id or name of the tenant.")
]
Responses = dict[int | str, dict[str, Any]]
_HIDDEN: Responses = {404: {"description": "No such tenant, or not one the caller may see"}}


async def _visible_tenant(ctx: ApiContext, who: Caller, reference: str) -> Tenant:
    """The tenant if the caller may see it: operators see all, others their own only."""
    try:
        tenant = await ctx.identity.get_tenant(reference)
    except NoSuchTenant:
        tenant = None
    if tenant is None or not (who.principal.is_operator or tenant.id == who.principal.tenant_id):
        raise NoSuchTenant(f"no tenant {reference}")
    return tenant


def _audit(ctx: ApiContext, request: Request, who: Caller, action: str, tenant_id: str) -> None:
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=tenant_id,
        principal=who.principal.arn,
        action=f"andromede:{action}",
        resource=f"tenant/{tenant_id}",
        outcome=Outcome.SUCCESS,
    )


_OPERATORS: Responses = {403: {"description": "Operators only"}}


@router.get("", summary="Every tenant (operators only)", responses=_OPERATORS)
async def list_tenants(
    _who: Annotated[Caller, Depends(operator)], ctx: Annotated[ApiContext, Depends(context)]
) -> TenantList:
    return TenantList(tenants=[TenantView.of(t) for t in await ctx.identity.list_tenants()])


@router.post(
    "",
    status_code=201,
    summary="Create a tenant with its root user and the root's access key (operators only)",
    responses={**_OPERATORS, 409: {"description": "A tenant of that name exists"}},
)
async def create_tenant(
    body: CreateTenant,
    request: Request,
    who: Annotated[Caller, Depends(operator)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantCreated:
    created = await ctx.identity.create_tenant(body.name)
    _audit(ctx, request, who, "CreateTenant", created.tenant.id)
    return TenantCreated(
        tenant=TenantView.of(created.tenant),
        root_arn=created.root.arn,
        credentials=Credentials(
            access_key_id=created.access_key_id, secret_access_key=created.secret_access_key
        ),
    )


@router.get("/{tenant}", summary="One tenant (operators; a tenant's own users)", responses=_HIDDEN)
async def get_tenant(
    tenant: TenantRef,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantView:
    return TenantView.of(await _visible_tenant(ctx, who, tenant))


async def _change_status(
    ctx: ApiContext, request: Request, who: Caller, reference: str, action: str
) -> TenantView:
    found = await _visible_tenant(ctx, who, reference)
    _operators_only(who)
    moves = {
        "SuspendTenant": ctx.identity.suspend_tenant,
        "ReactivateTenant": ctx.identity.reactivate_tenant,
        "CloseTenant": ctx.close_tenant,
    }
    moved = await moves[action](found.id)
    _audit(ctx, request, who, action, moved.id)
    return TenantView.of(moved)


_TRANSITION: Responses = {
    **_HIDDEN,
    403: {"description": "Operators only"},
    409: {"description": "The tenant's status does not allow it"},
}


@router.post("/{tenant}/suspend", summary="Suspend: its keys stop working", responses=_TRANSITION)
async def suspend_tenant(
    tenant: TenantRef,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantView:
    return await _change_status(ctx, request, who, tenant, "SuspendTenant")


@router.post("/{tenant}/reactivate", summary="Reactivate a suspended tenant", responses=_TRANSITION)
async def reactivate_tenant(
    tenant: TenantRef,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantView:
    return await _change_status(ctx, request, who, tenant, "ReactivateTenant")


@router.post(
    "/{tenant}/close",
    summary="Close for good: keys crypto-shredded, access keys deactivated, sessions ended",
    responses=_TRANSITION,
)
async def close_tenant(
    tenant: TenantRef,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantView:
    return await _change_status(ctx, request, who, tenant, "CloseTenant")


@router.get("/{tenant}/quota", summary="The tenant's quota", responses=_HIDDEN)
async def get_quota(
    tenant: TenantRef,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> Quota:
    found = await _visible_tenant(ctx, who, tenant)
    return Quota.of(await ctx.identity.get_tenant_quota(found.id))


@router.put(
    "/{tenant}/quota",
    summary="Set the tenant's quota (operators only; null: no limit)",
    responses={**_HIDDEN, 403: {"description": "Operators only"}},
)
async def put_quota(
    tenant: TenantRef,
    body: QuotaUpdate,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> Quota:
    found = await _visible_tenant(ctx, who, tenant)
    _operators_only(who)
    quota = await ctx.identity.set_tenant_quota(
        found.id, max_buckets=body.max_buckets, max_bytes=body.max_bytes
    )
    _audit(ctx, request, who, "PutTenantQuota", found.id)
    return Quota.of(quota)


@router.get("/{tenant}/regions", summary="The regions the tenant may use", responses=_HIDDEN)
async def get_regions(
    tenant: TenantRef,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantRegions:
    found = await _visible_tenant(ctx, who, tenant)
    allowed = await ctx.identity.get_tenant_regions(found.id)
    return TenantRegions(tenant_id=found.id, allowed_regions=sorted(allowed))


@router.put(
    "/{tenant}/regions",
    summary="Set the regions the tenant's new buckets may go to (operators only; []: all)",
    responses={
        404: {"description": "No such tenant (or not one the caller may see), or no such region"},
        403: {"description": "Operators only"},
    },
)
async def put_regions(
    tenant: TenantRef,
    body: TenantRegionsUpdate,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> TenantRegions:
    found = await _visible_tenant(ctx, who, tenant)
    _operators_only(who)
    declared = {region.name for region in ctx.settings.declared_regions}
    unknown = sorted(set(body.allowed_regions) - declared)
    if unknown:
        # 404, as IAM's NoSuchEntity for a policy ARN named in a body that does not exist.
        raise ApiProblem(
            "no-such-region", 404, "No such region", f"Not regions here: {', '.join(unknown)}"
        )
    allowed = await ctx.identity.set_tenant_regions(found.id, body.allowed_regions)
    _audit(ctx, request, who, "PutTenantRegions", found.id)
    return TenantRegions(tenant_id=found.id, allowed_regions=sorted(allowed))


def _operators_only(who: Caller) -> None:
    # Reached only for the caller's own tenant (others are 404 before): no existence to hide.
    if not who.principal.is_operator:
        raise ApiProblem(
            "operators-only", 403, "Access denied", "Only platform operators may do this."
        )
