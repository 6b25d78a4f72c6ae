"""Bucket handlers: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

CreateBucket places the bucket in a region (docs/decisions/0013-regions-and-residency.md): its
LocationConstraint, or the default region when it has none. A region the deployment does not
declare is InvalidLocationConstraint; one declared but not served by this gateway is
IllegalLocationConstraintException (AWS's answer to a constraint sent to another region's
endpoint); one the tenant's allow-list or the caller's policies exclude (``s3:LocationConstraint``)
is AccessDenied, as an AWS Organizations policy restricting regions answers.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from andromede.http.dates import iso8601_ms
from andromede.http.response import Response
from andromede.s3.authorise import request_condition_keys
from andromede.s3.errors import S3Error
from andromede.s3.handlers.access import acl_from_request, parse_object_ownership
from andromede.s3.handlers.common import (
    S3Services,
    parse_max,
    reject_unsupported_headers,
    tenant_owner_id,
    write_owner,
    xml_response,
)
from andromede.s3.handlers.tagging import parse_bucket_tags
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage.model import Bucket, ObjectOwnership, PublicAccessBlock
from andromede.storage.object_lock import ObjectLockConfiguration

__all__ = [
    "create_bucket",
    "delete_bucket",
    "get_bucket_location",
    "head_bucket",
    "list_buckets",
]


async def list_buckets(ctx: S3Context, svc: S3Services) -> Response:
    owner_id = tenant_owner_id(ctx)
    tenant_id = ctx.principal.tenant_id or ""
    buckets = await svc.objects.list_buckets(tenant_id)
    prefix = ctx.query.get("prefix", "")
    if prefix:
        buckets = [b for b in buckets if b.name.startswith(prefix)]
    token = ctx.query.get("continuation-token")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, ValueError, UnicodeError) as exc:
            raise S3Error(
                "InvalidArgument", "The continuation token provided is incorrect"
            ) from exc
        buckets = [b for b in buckets if b.name > after]
    limit = parse_max(ctx, "max-buckets", default=10_000, cap=10_000)
    if "max-buckets" in ctx.query and limit < 1:
        raise S3Error("InvalidArgument", "Argument max-buckets must be between 1 and 10000")
    page, truncated = buckets[:limit], len(buckets) > limit
    xml = XmlWriter("ListAllMyBucketsResult")
    write_owner(xml, owner_id)
    xml.open("Buckets")
    for bucket in page:
        xml.open("Bucket")
        xml.element("Name", bucket.name)
        xml.element("CreationDate", iso8601_ms(bucket.created_at))
        xml.element("BucketRegion", bucket.region)
        xml.close("Bucket")
    xml.close("Buckets")
    if truncated and page:
        xml.element("ContinuationToken", base64.urlsafe_b64encode(page[-1].name.encode()).decode())
    if prefix:
        xml.element("Prefix", prefix)
    return xml_response(xml)


async def create_bucket(ctx: S3Context, svc: S3Services) -> Response:
    owner_id = tenant_owner_id(ctx)
    tenant_id = ctx.principal.tenant_id or ""
    body = await ctx.read_xml_body()
    constraint = None
    tags: tuple[tuple[str, str], ...] = ()
    if body.strip():
        root = parse_xml(body, "CreateBucketConfiguration")
        constraint = child_text(root, "LocationConstraint")
        tag_sets = children(root, "Tags")
        if len(tag_sets) > 1:
            raise S3Error("MalformedXML")
        if tag_sets:
            tags = parse_bucket_tags(tag_sets[0])
    region = await _bucket_region(ctx, svc, tenant_id, constraint or None, tags)
    # Object Lock from the start (decision 0102): versioned Enabled, and locked, for good.
    lock_header = ctx.headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower()
    object_lock = ObjectLockConfiguration() if lock_header == "true" else None
    namespace = ctx.headers.get("x-amz-bucket-namespace")
    if namespace is not None and namespace.strip() != "global":
        # Account-regional namespaces: bucket names only one account may take. Not here.
        raise S3Error("NotImplemented", Header="x-amz-bucket-namespace")
    raw_ownership = ctx.headers.get("x-amz-object-ownership")
    ownership = (
        ObjectOwnership.BUCKET_OWNER_ENFORCED
        if raw_ownership is None
        else parse_object_ownership(raw_ownership)
    )
    reject_unsupported_headers(ctx)
    # The bucket as it will be created, for the ACL rules of its ownership and public access.
    planned = Bucket(
        name=ctx.bucket,
        tenant_id=tenant_id,
        owner_id=owner_id,
        region=region,
        created_at=datetime.now(UTC),
        object_ownership=ownership,
        public_access_block=PublicAccessBlock(),
    )
    acl = acl_from_request(ctx, planned, owner_id=owner_id, creating_bucket=True)
    await svc.objects.create_bucket(
        ctx.bucket,
        tenant_id=tenant_id,
        owner_id=owner_id,
        region=region,
        object_ownership=ownership,
        acl=acl,
        object_lock=object_lock,
    )
    if tags:
        # The tag set PutBucketTagging and TagResource serve; ABAC starts Disabled, so the
        # moment the bucket exists without them grants nothing by them.
        await svc.objects.set_bucket_tags(ctx.bucket, tags)
    return Response(headers=[("Location", f"/{ctx.bucket}")])


async def _bucket_region(
    ctx: S3Context,
    svc: S3Services,
    tenant_id: str,
    constraint: str | None,
    tags: tuple[tuple[str, str], ...] = (),
) -> str:
    """The region a new bucket goes to, authorised: the S3 app leaves CreateBucket's policy
    check to this handler, since ``s3:LocationConstraint`` comes from the request body. Tags
    in the body (decision 0418) are ``aws:RequestTag/<key>`` and ``aws:TagKeys`` of the call,
    and take ``s3:TagResource`` on the new bucket besides, as AWS asks."""
    settings = svc.settings
    region = constraint or settings.region
    if settings.region_settings(region) is None:
        raise S3Error(
            "InvalidLocationConstraint",
            "The specified location-constraint is not valid",
            LocationConstraint=region[:64],
        )
    if region not in settings.served_region_names:
        subject = region if constraint else "unspecified"
        raise S3Error(
            "IllegalLocationConstraintException",
            f"The {subject} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        )
    keys = request_condition_keys(ctx.route.operation, ctx.query, ctx.headers)
    keys["s3:LocationConstraint"] = region
    if tags:
        keys.update({f"aws:RequestTag/{key}": value for key, value in tags})
        keys["aws:TagKeys"] = [key for key, _ in tags]
    actions = (None, "s3:TagResource") if tags else (None,)
    for action in actions:
        await svc.authoriser.authorise(
            ctx.principal,
            ctx.route.operation,
            bucket=None,
            bucket_name=ctx.bucket,
            key=None,
            keys=keys,
            source_ip=ctx.source_ip,
            secure=ctx.secure,
            action=action,
        )
    if svc.allowed_regions is not None:
        allowed = await svc.allowed_regions(tenant_id)
        if allowed and region not in allowed:
            # The operator's guardrail for the tenant, like a region-restricting SCP on AWS.
            raise S3Error("AccessDenied", f"Your account may not create buckets in {region}")
    return region


async def head_bucket(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    return Response(headers=[("x-amz-bucket-region", bucket.region)], head=True)


async def delete_bucket(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.delete_bucket(ctx.bucket)
    if svc.expirations is not None:
        # Its rules went with it: a bucket created again under the name has none (0086).
        svc.expirations.configured(ctx.bucket, None)
    if svc.request_metrics is not None:
        # And its metrics configurations: a bucket made again under the name counts nothing.
        svc.request_metrics.configured(ctx.bucket, [])
    return Response(status=204)


async def get_bucket_location(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    xml = XmlWriter("LocationConstraint")
    xml.text(bucket.region)
    return xml_response(xml)
