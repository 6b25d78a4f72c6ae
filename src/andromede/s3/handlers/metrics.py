"""Put/Get/Delete/ListBucketMetricsConfiguration(s): the configurations that turn a bucket's
CloudWatch request metrics on (decision 0187); the metrics are ``s3_request_metrics``'.

Checked as S3 checks them: the ``id`` of the query is the body's, 1 to 64 letters, digits,
``-``, ``_`` or ``.``; a ``Filter`` holds exactly one of ``Prefix``, ``Tag``,
``AccessPointArn`` or ``And`` (which holds some of them, tags several), else ``MalformedXML``;
an access point ARN is an S3 access point's; a bucket holds at most
``s3_metrics_max_configurations`` (S3's 1,000, ``TooManyConfigurations``). Each change is
told at once to this gateway's request metrics (others re-read within their refresh).
"""

from __future__ import annotations

import re
from typing import Final
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.handlers.configuration_ids import (
    CONFIGURATION_ID,
    configuration_id,
    configurations_page,
)
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, children, local_name, only_child, parse_xml
from andromede.storage.metrics_configuration import MetricsConfiguration

__all__ = [
    "delete_bucket_metrics_configuration",
    "get_bucket_metrics_configuration",
    "list_bucket_metrics_configurations",
    "parse_metrics_configuration",
    "put_bucket_metrics_configuration",
]

_ACCESS_POINT_ARN = re.compile(r"arn:aws:s3:[a-z0-9\-]+:\d{12}:accesspoint/[a-z0-9\-]{3,50}")
_FILTER_PARTS: Final = ("Prefix", "Tag", "AccessPointArn", "And")


async def get_bucket_metrics_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Metrics")
    for config in await svc.objects.get_metrics_configurations(ctx.bucket):
        if config.config_id == config_id:
            xml = XmlWriter("MetricsConfiguration")
            _write(xml, config)
            return xml_response(xml)
    raise S3Error("NoSuchConfiguration")


async def list_bucket_metrics_configurations(ctx: S3Context, svc: S3Services) -> Response:
    token = ctx.query.get("continuation-token")
    page, truncated = configurations_page(
        await svc.objects.get_metrics_configurations(ctx.bucket), token
    )
    xml = XmlWriter("ListMetricsConfigurationsResult")
    xml.element("IsTruncated", truncated)
    if token is not None:
        xml.element("ContinuationToken", token)
    if truncated:
        xml.element("NextContinuationToken", page[-1].config_id)
    for config in page:
        xml.open("MetricsConfiguration")
        _write(xml, config)
        xml.close("MetricsConfiguration")
    return xml_response(xml)


async def delete_bucket_metrics_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Metrics")

    def without(configs: list[MetricsConfiguration]) -> list[MetricsConfiguration]:
        kept = [c for c in configs if c.config_id != config_id]
        if len(kept) == len(configs):
            raise S3Error("NoSuchConfiguration")
        return kept

    written = await svc.objects.change_metrics_configurations(ctx.bucket, without)
    if svc.request_metrics is not None:
        svc.request_metrics.configured(ctx.bucket, written)
    ctx.audit_details["metrics_id"] = config_id
    return Response(status=204)


async def put_bucket_metrics_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Metrics")
    config = parse_metrics_configuration(
        parse_xml(await ctx.read_xml_body(), "MetricsConfiguration")
    )
    if config.config_id != config_id:
        raise S3Error(
            "InvalidArgument",
            "The ID in the configuration does not match the ID in the request",
            ArgumentName="id",
        )
    limit = ctx.settings.s3_metrics_max_configurations

    def put(configs: list[MetricsConfiguration]) -> list[MetricsConfiguration]:
        kept = [c for c in configs if c.config_id != config_id]
        if len(kept) == len(configs) and len(configs) >= limit:
            raise S3Error(
                "TooManyConfigurations",
                "You are attempting to create a new configuration but have already reached "
                f"the {limit:,}-configuration limit.",
            )
        return [*kept, config]

    written = await svc.objects.change_metrics_configurations(ctx.bucket, put)
    if svc.request_metrics is not None:
        svc.request_metrics.configured(ctx.bucket, written)
    ctx.audit_details["metrics_id"] = config_id
    return Response()


def parse_metrics_configuration(root: Element) -> MetricsConfiguration:
    """A ``MetricsConfiguration`` document, checked as S3 checks it."""
    ids = children(root, "Id")
    if len(ids) != 1 or not (ids[0].text or "").strip():
        raise S3Error("MalformedXML")
    config_id = (ids[0].text or "").strip()
    if not CONFIGURATION_ID.fullmatch(config_id):
        raise S3Error("InvalidArgument", "Invalid ID", ArgumentName="Id", ArgumentValue=config_id)
    for child in root:
        if local_name(child) not in ("Id", "Filter"):
            raise S3Error("MalformedXML")
    element = only_child(root, "Filter")
    if element is None:
        return MetricsConfiguration(config_id)
    parts = list(element)
    if len(parts) != 1 or local_name(parts[0]) not in _FILTER_PARTS:
        raise S3Error("MalformedXML")  # exactly one of Prefix, Tag, AccessPointArn, And
    part = parts[0]
    if local_name(part) != "And":
        prefix, tags, arn = _filter_parts([part])
        return MetricsConfiguration(config_id, prefix, tags, arn)
    within = list(part)
    if not within or any(local_name(p) not in _FILTER_PARTS[:3] for p in within):
        raise S3Error("MalformedXML")
    prefix, tags, arn = _filter_parts(within)
    return MetricsConfiguration(config_id, prefix, tags, arn, use_and=True)


def _filter_parts(
    parts: list[Element],
) -> tuple[str | None, tuple[tuple[str, str], ...], str | None]:
    prefix: str | None = None
    arn: str | None = None
    tags: list[tuple[str, str]] = []
    for part in parts:
        name = local_name(part)
        if name == "Prefix":
            if prefix is not None:
                raise S3Error("MalformedXML")
            prefix = part.text or ""
        elif name == "AccessPointArn":
            if arn is not None:
                raise S3Error("MalformedXML")
            arn = (part.text or "").strip()
            if not _ACCESS_POINT_ARN.fullmatch(arn):
                raise S3Error(
                    "InvalidArgument",
                    "Invalid access point ARN",
                    ArgumentName="AccessPointArn",
                    ArgumentValue=arn,
                )
        else:
            key, value = only_child(part, "Key"), only_child(part, "Value")
            if key is None or value is None or not (key.text or ""):
                raise S3Error("MalformedXML")
            tag = (key.text or "", value.text or "")
            if len(tag[0]) > 128 or len(tag[1]) > 256:
                raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is too long")
            if any(k == tag[0] for k, _ in tags):
                raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
            tags.append(tag)
    return prefix, tuple(tags), arn


def _write(xml: XmlWriter, config: MetricsConfiguration) -> None:
    xml.element("Id", config.config_id)
    if not config.has_filter:
        return
    xml.open("Filter")
    if config.use_and:
        xml.open("And")
    if config.prefix is not None:
        xml.element("Prefix", config.prefix)
    for key, value in config.tags:
        xml.open("Tag")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("Tag")
    if config.access_point_arn is not None:
        xml.element("AccessPointArn", config.access_point_arn)
    if config.use_and:
        xml.close("And")
    xml.close("Filter")
