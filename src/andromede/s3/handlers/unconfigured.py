"""What S3 answers about the bucket configurations no bucket here has (decision 0083): event
notifications, replication, Object Lock, Transfer Acceleration and Requester Pays (server
access logging was among them until decision 0084).

A bucket that never had one of them has a definite answer on S3, and the tools that read
every configuration of a bucket (Terraform's refresh, inventory scripts, `aws s3api`, backup
tools) expect it rather than a 501:
- GetBucketNotificationConfiguration: an empty ``NotificationConfiguration``;
- GetBucketReplication: ``ReplicationConfigurationNotFoundError``;
- GetObjectLockConfiguration: ``ObjectLockConfigurationNotFoundError``; an object's retention
  and legal hold, read or set (and Object Lock's headers on writes): ``InvalidRequest``,
  "Bucket is missing Object Lock Configuration";
- GetBucketAccelerateConfiguration: an empty ``AccelerateConfiguration`` (never enabled);
- GetBucketRequestPayment: ``BucketOwner`` pays.

Writes that ask for the state the bucket is in are taken (no notification, the owner paying;
deleting a replication configuration there is none of). Writes that would turn
a feature on are refused, never silently kept: replication and Object Lock with S3's own answer
for a bucket whose versioning is not enabled, which every bucket here is; notifications and
requester-pays with ``NotImplemented``.
"""

from __future__ import annotations

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import NO_OBJECT_LOCK, S3Services, xml_response
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, local_name, parse_xml
from andromede.storage.versioning import VersioningStatus

__all__ = [
    "delete_bucket_replication",
    "get_bucket_accelerate_configuration",
    "get_bucket_notification_configuration",
    "get_bucket_replication",
    "get_bucket_request_payment",
    "get_object_lock_configuration",
    "object_lock_of_an_object",
    "put_bucket_notification_configuration",
    "put_bucket_replication",
    "put_bucket_request_payment",
    "put_object_lock_configuration",
]

_OBJECT_LOCK_WRITES = frozenset({S3Operation.PutObjectRetention, S3Operation.PutObjectLegalHold})


async def get_bucket_notification_configuration(ctx: S3Context, svc: S3Services) -> Response:
    return xml_response(XmlWriter("NotificationConfiguration"))


async def put_bucket_notification_configuration(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "NotificationConfiguration")
    configured = sorted({local_name(child) for child in root})
    if configured:
        raise S3Error(
            "NotImplemented",
            "Event notifications are not implemented: " + ", ".join(configured)[:256],
        )
    return Response()


async def get_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    raise S3Error("ReplicationConfigurationNotFoundError", BucketName=ctx.bucket)


async def put_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    parse_xml(await ctx.read_xml_body(integrity_required=True), "ReplicationConfiguration")
    if _versioning_enabled(ctx):
        raise S3Error("NotImplemented", "Replication is not implemented by this server")
    raise S3Error(
        "InvalidRequest",
        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
    )


async def delete_bucket_replication(ctx: S3Context, svc: S3Services) -> Response:
    return Response(status=204)


async def get_object_lock_configuration(ctx: S3Context, svc: S3Services) -> Response:
    raise S3Error("ObjectLockConfigurationNotFoundError", BucketName=ctx.bucket)


async def put_object_lock_configuration(ctx: S3Context, svc: S3Services) -> Response:
    parse_xml(await ctx.read_xml_body(integrity_required=True), "ObjectLockConfiguration")
    if _versioning_enabled(ctx):
        raise S3Error("NotImplemented", "Object Lock is not implemented by this server")
    raise S3Error(
        "InvalidBucketState",
        "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
    )


def _versioning_enabled(ctx: S3Context) -> bool:
    """Whether S3's refusal for an unversioned bucket would be untrue (decision 0097): a
    bucket with versioning Enabled is refused the feature itself, as not implemented."""
    bucket = ctx.bucket_record
    return bucket is not None and bucket.versioning is VersioningStatus.ENABLED


async def object_lock_of_an_object(ctx: S3Context, svc: S3Services) -> Response:
    """Get/PutObjectRetention and Get/PutObjectLegalHold: S3's answer in a bucket without an
    Object Lock configuration, which every bucket here is."""
    if ctx.route.operation in _OBJECT_LOCK_WRITES:
        await ctx.read_xml_body()  # read, so that the connection stays usable
    raise S3Error("InvalidRequest", NO_OBJECT_LOCK)


async def get_bucket_accelerate_configuration(ctx: S3Context, svc: S3Services) -> Response:
    return xml_response(XmlWriter("AccelerateConfiguration"))


async def get_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    xml = XmlWriter("RequestPaymentConfiguration")
    xml.element("Payer", "BucketOwner")
    return xml_response(xml)


async def put_bucket_request_payment(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "RequestPaymentConfiguration")
    payer = child_text(root, "Payer")
    if payer is None or payer.strip() not in ("BucketOwner", "Requester"):
        raise S3Error("MalformedXML")
    if payer.strip() == "Requester":
        raise S3Error("NotImplemented", "Requester Pays buckets are not implemented")
    return Response()
