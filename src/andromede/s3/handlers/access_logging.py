"""Get/PutBucketLogging: a bucket's server access logging on the S3 API (decision 0084). The
records and their delivery are ``s3/access_log.py``'s and ``storage/access_log_delivery.py``'s.

PutBucketLogging is checked as S3 checks it: the target bucket must exist (else
``InvalidTargetBucketForLogging``), be the source's owner's (the same), be in the same region
(``CrossLocationLoggingProhibitted``) and not be a Requester Pays bucket (decision 0133;
checked by the store in the write, decision 0150).
``TargetGrants`` are refused: log objects are their bucket owner's, as every object under
Object Ownership's BucketOwnerEnforced. An empty ``BucketLoggingStatus`` turns logging off.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, children, only_child, parse_xml, stripped_child_text
from andromede.storage.access_logging import LoggingTarget
from andromede.storage.errors import NoSuchBucket

__all__ = ["get_bucket_logging", "put_bucket_logging"]

_DATE_SOURCES = frozenset({"EventTime", "DeliveryTime"})


async def get_bucket_logging(ctx: S3Context, svc: S3Services) -> Response:
    target = await svc.objects.get_bucket_logging(ctx.bucket)
    xml = XmlWriter("BucketLoggingStatus")
    if target is not None:
        xml.open("LoggingEnabled")
        xml.element("TargetBucket", target.bucket)
        xml.element("TargetPrefix", target.prefix)
        xml.open("TargetObjectKeyFormat")
        if target.partitioned:
            xml.open("PartitionedPrefix")
            xml.element("PartitionDateSource", target.partition_date_source)
            xml.close("PartitionedPrefix")
        else:
            xml.raw("<SimplePrefix></SimplePrefix>")
        xml.close("TargetObjectKeyFormat")
        xml.close("LoggingEnabled")
    return xml_response(xml)


async def put_bucket_logging(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(await ctx.read_xml_body(), "BucketLoggingStatus")
    enabled = only_child(root, "LoggingEnabled")
    target = None if enabled is None else await _target(ctx, svc, enabled)
    await svc.objects.set_bucket_logging(ctx.bucket, target)
    if svc.access_logs is not None:
        svc.access_logs.configured(ctx.bucket, target)
    return Response()


async def _target(ctx: S3Context, svc: S3Services, enabled: Element) -> LoggingTarget:
    name = stripped_child_text(enabled, "TargetBucket")
    prefix = stripped_child_text(enabled, "TargetPrefix")
    if not name or prefix is None:
        raise S3Error("MalformedXML")
    if children(enabled, "TargetGrants"):
        raise S3Error(
            "InvalidArgument",
            "Target grants are not supported: log objects belong to the target bucket's owner",
        )
    partitioned = False
    date_source = "EventTime"
    key_format = only_child(enabled, "TargetObjectKeyFormat")
    if key_format is not None:
        partition = only_child(key_format, "PartitionedPrefix")
        simple = only_child(key_format, "SimplePrefix")
        if (partition is None) == (simple is None):
            raise S3Error("MalformedXML")
        if partition is not None:
            partitioned = True
            date_source = stripped_child_text(partition, "PartitionDateSource") or "EventTime"
            if date_source not in _DATE_SOURCES:
                raise S3Error("MalformedXML")
    source = await addressed_bucket(ctx, svc)
    try:
        target_bucket = await svc.objects.get_bucket(name)
    except NoSuchBucket:
        raise S3Error(
            "InvalidTargetBucketForLogging", "The target bucket for logging does not exist"
        ) from None
    if target_bucket.tenant_id != source.tenant_id:
        raise S3Error(
            "InvalidTargetBucketForLogging",
            "The owner for the bucket to be logged and the target bucket must be the same.",
        )
    if target_bucket.region != source.region:
        raise S3Error("CrossLocationLoggingProhibitted")
    # Nor may it be a Requester Pays bucket (decision 0133): the store checks that in its
    # write, under the target's lock, against a concurrent PutBucketRequestPayment (0150).
    return LoggingTarget(name, prefix, partitioned, date_source)
