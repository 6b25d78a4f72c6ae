"""A bucket's data events (decision 0109): whether its data reads become events of its tenant's
transparency log. Writes are, always; reads only when the tenant asks, since every GET would
otherwise be an entry.

Only the tenant's root user reads and changes the setting, as only root reads the trail (0105):
the choice of what the trail shows is the trail's owner's. Another tenant, an operator, and a
bucket that is not the tenant's get 404 (a name's existence does not leak); the tenant's other
users 403. Every change is itself an event of the tenant's log, so turning reads off shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from andromede.api.auth import Caller, caller, context
from andromede.api.context import ApiContext, BucketSettings
from andromede.api.problems import ApiProblem
from andromede.api.schemas import TENANT_REFERENCE, BucketDataEvents, BucketDataEventsUpdate
from andromede.audit.model import Outcome
from andromede.iam.errors import NoSuchTenant
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket

__all__ = ["router"]

router = APIRouter(prefix="/tenants", tags=["data events"])

TenantRef = Annotated[
    str, Path(pattern=TENANT_REFERENCE, description="Account id or name of the tenant.")
]
BucketName = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="The bucket's name.")
]
Responses = dict[int | str, dict[str, Any]]
_RESPONSES: Responses = {
    403: {"description": "A tenant user other than root"},
    404: {"description": "No such tenant or bucket, or not one the caller may see"},
}


def _buckets(ctx: ApiContext) -> BucketSettings:
    if ctx.buckets is None:
        raise ApiProblem("not-found", 404, "Not found", "This server stores no objects.")
    return ctx.buckets


async def _own_bucket(ctx: ApiContext, who: Caller, tenant: str, name: str) -> Bucket:
    """The bucket if it is the caller's tenant's and the caller is that tenant's root."""
    principal = who.principal
    if principal.is_operator or principal.tenant_id is None:
        raise NoSuchTenant(f"no tenant {tenant}")
    try:
        found = await ctx.identity.get_tenant(tenant)
    except NoSuchTenant:
        found = None
    if found is None or found.id != principal.tenant_id:
        raise NoSuchTenant(f"no tenant {tenant}")
    if not principal.is_root:
        raise ApiProblem(
            "root-only",
            403,
            "Access denied",
            "Only the tenant's root user chooses what its audit trail records.",
        )
    missing = ApiProblem("no-such-bucket", 404, "No such bucket", f"No bucket {name}.")
    try:
        bucket = await _buckets(ctx).get_bucket(name)
    except NoSuchBucket:
        raise missing from None
    if bucket.tenant_id != found.id:
        raise missing
    return bucket


def _view(bucket: Bucket) -> BucketDataEvents:
    return BucketDataEvents(bucket=bucket.name, read=bucket.data_reads_logged)


@router.get(
    "/{tenant}/buckets/{bucket}/data-events",
    summary="Which of the bucket's data events go to the tenant's audit trail",
    responses=_RESPONSES,
)
async def get_data_events(
    tenant: TenantRef,
    bucket: BucketName,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BucketDataEvents:
    return _view(await _own_bucket(ctx, who, tenant, bucket))


@router.put(
    "/{tenant}/buckets/{bucket}/data-events",
    summary="Log the bucket's data reads in the tenant's audit trail, or stop (tenant root)",
    responses=_RESPONSES,
)
async def put_data_events(
    tenant: TenantRef,
    bucket: BucketName,
    body: BucketDataEventsUpdate,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BucketDataEvents:
    found = await _own_bucket(ctx, who, tenant, bucket)
    try:
        changed = await _buckets(ctx).set_bucket_data_reads_logged(found.name, body.read)
    except NoSuchBucket:  # deleted meanwhile
        raise ApiProblem("no-such-bucket", 404, "No such bucket", f"No bucket {bucket}.") from None
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=found.tenant_id,
        principal=who.principal.arn,
        action="andromede:PutBucketDataEvents",
        resource=f"arn:aws:s3:::{found.name}",
        outcome=Outcome.SUCCESS,
        details={"read": "true" if body.read else "false"},
    )
    return _view(changed)
