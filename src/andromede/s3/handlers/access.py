"""Bucket access configuration: Object Ownership controls and Block Public Access.

New buckets start as AWS's do since April 2023: ``BucketOwnerEnforced`` (ACLs disabled) and every
Block Public Access switch on. The authoriser reads both with the bucket on each request.
"""

from __future__ import annotations

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage.model import ObjectOwnership, PublicAccessBlock

__all__ = [
    "delete_bucket_ownership_controls",
    "delete_public_access_block",
    "get_bucket_ownership_controls",
    "get_public_access_block",
    "parse_object_ownership",
    "put_bucket_ownership_controls",
    "put_public_access_block",
]

_PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def parse_object_ownership(value: str) -> ObjectOwnership:
    try:
        return ObjectOwnership(value.strip())
    except ValueError as exc:
        raise S3Error(
            "InvalidArgument", f"Invalid x-amz-object-ownership header: {value[:64]}"
        ) from exc


async def get_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    if bucket.object_ownership is None:
        raise S3Error("OwnershipControlsNotFoundError")
    xml = XmlWriter("OwnershipControls")
    xml.open("Rule")
    xml.element("ObjectOwnership", bucket.object_ownership.value)
    xml.close("Rule")
    return xml_response(xml)


async def put_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(integrity_required=True), "OwnershipControls")
    rules = children(root, "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    raw = child_text(rules[0], "ObjectOwnership")
    if raw is None:
        raise S3Error("MalformedXML")
    try:
        ownership = ObjectOwnership(raw.strip())
    except ValueError as exc:
        raise S3Error("MalformedXML") from exc
    await svc.objects.set_object_ownership(ctx.bucket, ownership)
    return Response()


async def delete_bucket_ownership_controls(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_object_ownership(ctx.bucket, None)
    return Response(status=204)


async def get_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    block = bucket.public_access_block
    if block is None:
        raise S3Error("NoSuchPublicAccessBlockConfiguration")
    xml = XmlWriter("PublicAccessBlockConfiguration")
    xml.element("BlockPublicAcls", block.block_public_acls)
    xml.element("IgnorePublicAcls", block.ignore_public_acls)
    xml.element("BlockPublicPolicy", block.block_public_policy)
    xml.element("RestrictPublicBuckets", block.restrict_public_buckets)
    return xml_response(xml)


async def put_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(
        await ctx.read_xml_body(integrity_required=True), "PublicAccessBlockConfiguration"
    )
    flags: list[bool] = []
    for name in _PAB_FIELDS:
        raw = child_text(root, name)
        # A switch the document leaves out is off, as on AWS.
        value = (raw or "false").strip().lower()
        if value not in ("true", "false"):
            raise S3Error("MalformedXML")
        flags.append(value == "true")
    await svc.objects.set_public_access_block(ctx.bucket, PublicAccessBlock(*flags))
    return Response()


async def delete_public_access_block(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_public_access_block(ctx.bucket, None)
    return Response(status=204)
