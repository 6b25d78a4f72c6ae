"""A bucket's data events (decision 0109): whether its data reads become events of its tenant's
transparency log. Writes are, always; reads only when the tenant asks, since every GET would
otherwise be an entry.

The tenant's principals read and change the setting as their IAM policies allow
(``andromede:GetBucketDataEvents``, ``andromede:PutBucketDataEvents`` on the bucket's ARN,
``arn:aws:s3:::NAME``; its root user, always: decision 0113), 403 otherwise, decided on the
name before the bucket is looked up, as S3 does. Another tenant, an operator, and a bucket
that is not the tenant's get 404 (a name's existence does not leak). Every change is itself
an event of the tenant's log, so turning reads off shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from andromede.api.auth import context
from andromede.api.context import ApiContext, BucketSettings
from andromede.api.permissions import Action, Authorizer, authorizer, bucket_arn
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
    403: {"description": "A tenant principal its IAM policies do not allow"},
    404: {"description": "No such tenant or bucket, or not one the caller may see"},
}


def _buckets(ctx: ApiContext) -> BucketSettings:
    if ctx.buckets is None:
        raise ApiProblem("not-found", 404, "Not found", "This server stores no objects.")
    return ctx.buckets


async def _own_bucket(
    ctx: ApiContext, allow: Authorizer, tenant: str, name: str, action: Action
) -> Bucket:
    """The bucket if it is the caller's tenant's and the caller's policies allow ``action``."""
    principal = allow.who.principal
    if principal.is_operator or principal.tenant_id is None:
        raise NoSuchTenant(f"no tenant {tenant}")
    try:
        found = await ctx.identity.get_tenant(tenant)
    except NoSuchTenant:
        found = None
    if found is None or found.id != principal.tenant_id:
        raise NoSuchTenant(f"no tenant {tenant}")
    await allow(action, bucket_arn(name), account=found.id)
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
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BucketDataEvents:
    return _view(await _own_bucket(ctx, allow, tenant, bucket, Action.GET_BUCKET_DATA_EVENTS))


@router.put(
    "/{tenant}/buckets/{bucket}/data-events",
    summary="Log the bucket's data reads in the tenant's audit trail, or stop (its tenant)",
    responses=_RESPONSES,
)
async def put_data_events(
    tenant: TenantRef,
    bucket: BucketName,
    body: BucketDataEventsUpdate,
    request: Request,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> BucketDataEvents:
    found = await _own_bucket(ctx, allow, tenant, bucket, Action.PUT_BUCKET_DATA_EVENTS)
    try:
        changed = await _buckets(ctx).set_bucket_data_reads_logged(found.name, body.read)
    except NoSuchBucket:  # deleted meanwhile
        raise ApiProblem("no-such-bucket", 404, "No such bucket", f"No bucket {bucket}.") from None
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=found.tenant_id,
        principal=allow.who.principal.arn,
        action=Action.PUT_BUCKET_DATA_EVENTS.value,
        resource=f"arn:aws:s3:::{found.name}",
        outcome=Outcome.SUCCESS,
        details={"read": "true" if body.read else "false"},
    )
    return _view(changed)
