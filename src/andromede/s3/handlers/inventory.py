"""Put/Get/Delete/ListBucketInventoryConfigurations: S3 Inventory's configurations on the S3
API (decision 0154). The reports are ``storage/inventory_report.py``'s.

Checked as S3 checks them: the ``id`` of the query is the body's, 1 to 64 letters, digits,
``-``, ``_`` or ``.``; the destination is a bucket ARN of a bucket in the source's region (of
``AccountId``'s owner when it is given); schema values (``Format``, ``Frequency``,
``IncludedObjectVersions``, the optional fields) are S3's or ``MalformedXML``; SSE-KMS names a
KMS key ARN; a bucket holds at most ``inventory_max_configurations`` (S3's 1,000,
``TooManyConfigurations``). CSV, ORC and Parquet reports are all written (decision 0170).
"""

from __future__ import annotations

from typing import Final
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, addressed_bucket, xml_response
from andromede.s3.handlers.configuration_ids import (
    CONFIGURATION_ID,
    configuration_id,
    configurations_page,
)
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, children, only_child, parse_xml, stripped_child_text
from andromede.storage.errors import NoSuchBucket
from andromede.storage.inventory import FREQUENCIES, OPTIONAL_FIELDS, InventoryConfiguration

__all__ = [
    "delete_bucket_inventory_configuration",
    "get_bucket_inventory_configuration",
    "list_bucket_inventory_configurations",
    "put_bucket_inventory_configuration",
]

_ARN_PREFIX: Final = "arn:aws:s3:::"
_FORMATS: Final = ("CSV", "ORC", "Parquet")
_VERSIONS: Final = ("All", "Current")


async def get_bucket_inventory_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Inventory")
    for config in await svc.objects.get_inventory_configurations(ctx.bucket):
        if config.config_id == config_id:
            xml = XmlWriter("InventoryConfiguration")
            _write(xml, config)
            return xml_response(xml)
    raise S3Error("NoSuchConfiguration")


async def list_bucket_inventory_configurations(ctx: S3Context, svc: S3Services) -> Response:
    token = ctx.query.get("continuation-token")
    page, truncated = configurations_page(
        await svc.objects.get_inventory_configurations(ctx.bucket), token
    )
    xml = XmlWriter("ListInventoryConfigurationsResult")
    if token is not None:
        xml.element("ContinuationToken", token)
    for config in page:
        xml.open("InventoryConfiguration")
        _write(xml, config)
        xml.close("InventoryConfiguration")
    xml.element("IsTruncated", truncated)
    if truncated:
        xml.element("NextContinuationToken", page[-1].config_id)
    return xml_response(xml)


async def delete_bucket_inventory_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Inventory")

    def without(configs: list[InventoryConfiguration]) -> list[InventoryConfiguration]:
        kept = [c for c in configs if c.config_id != config_id]
        if len(kept) == len(configs):
            raise S3Error("NoSuchConfiguration")
        return kept

    await svc.objects.change_inventory_configurations(ctx.bucket, without)
    ctx.audit_details["inventory_id"] = config_id
    return Response(status=204)


async def put_bucket_inventory_configuration(ctx: S3Context, svc: S3Services) -> Response:
    config_id = configuration_id(ctx, "Inventory")
    root = parse_xml(await ctx.read_xml_body(), "InventoryConfiguration")
    config = _parse(root)
    if config.config_id != config_id:
        raise S3Error(
            "InvalidArgument",
            "The ID in the configuration does not match the ID in the request",
            ArgumentName="id",
        )
    source = await addressed_bucket(ctx, svc)
    try:
        destination = await svc.objects.get_bucket(config.destination_bucket)
    except NoSuchBucket:
        raise S3Error(
            "InvalidArgument", "The destination bucket does not exist", ArgumentName="Bucket"
        ) from None
    if destination.region != source.region:
        raise S3Error(
            "InvalidArgument",
            "The destination bucket must be in the same region as the source bucket",
            ArgumentName="Bucket",
        )
    if config.destination_account not in (None, destination.tenant_id):
        raise S3Error(
            "InvalidArgument",
            "The destination bucket is not owned by the account given",
            ArgumentName="AccountId",
        )
    limit = ctx.settings.inventory_max_configurations

    def put(configs: list[InventoryConfiguration]) -> list[InventoryConfiguration]:
        kept = [c for c in configs if c.config_id != config_id]
        if len(kept) == len(configs) and len(configs) >= limit:
            raise S3Error(
                "TooManyConfigurations",
                "You are attempting to create a new configuration but have already reached "
                f"the {limit:,}-configuration limit.",
            )
        return [*kept, config]

    await svc.objects.change_inventory_configurations(ctx.bucket, put)
    ctx.audit_details["inventory_id"] = config_id
    ctx.audit_details["inventory_destination"] = destination.name
    return Response()


def _choice(element: Element, name: str, allowed: tuple[str, ...]) -> str:
    value = stripped_child_text(element, name)
    if value not in allowed:
        raise S3Error("MalformedXML")
    return value


def _parse(root: Element) -> InventoryConfiguration:
    config_id = stripped_child_text(root, "Id")
    enabled = stripped_child_text(root, "IsEnabled")
    destination = only_child(root, "Destination")
    if not config_id or enabled not in ("true", "false") or destination is None:
        raise S3Error("MalformedXML")
    if not CONFIGURATION_ID.fullmatch(config_id):
        raise S3Error("InvalidArgument", "Invalid ID", ArgumentName="Id", ArgumentValue=config_id)
    target = only_child(destination, "S3BucketDestination")
    if target is None:
        raise S3Error("MalformedXML")
    arn = stripped_child_text(target, "Bucket") or ""
    bucket = arn[len(_ARN_PREFIX) :] if arn.startswith(_ARN_PREFIX) else ""
    if not bucket or "/" in bucket:
        raise S3Error("InvalidArgument", "Invalid bucket ARN", ArgumentName="Bucket")
    file_format = _choice(target, "Format", _FORMATS)
    sse_s3, kms_key = _encryption(target)
    schedule = only_child(root, "Schedule")
    if schedule is None:
        raise S3Error("MalformedXML")
    filter_element = only_child(root, "Filter")
    filter_prefix = None
    if filter_element is not None:
        filter_prefix = stripped_child_text(filter_element, "Prefix")
        if filter_prefix is None:
            raise S3Error("MalformedXML")
    fields: list[str] = []
    optional = only_child(root, "OptionalFields")
    if optional is not None:
        for field in children(optional, "Field"):
            name = (field.text or "").strip()
            if name not in OPTIONAL_FIELDS:
                raise S3Error("MalformedXML")
            fields.append(name)
    return InventoryConfiguration(
        config_id=config_id,
        enabled=enabled == "true",
        destination_bucket=bucket,
        destination_account=stripped_child_text(target, "AccountId") or None,
        file_format=file_format,
        destination_prefix=stripped_child_text(target, "Prefix") or "",
        sse_s3=sse_s3,
        kms_key_id=kms_key,
        filter_prefix=filter_prefix,
        all_versions=_choice(root, "IncludedObjectVersions", _VERSIONS) == "All",
        optional_fields=tuple(fields),
        frequency=_choice(schedule, "Frequency", FREQUENCIES),
    ).ordered()


def _encryption(target: Element) -> tuple[bool, str | None]:
    encryption = only_child(target, "Encryption")
    if encryption is None:
        return False, None
    sse_s3 = only_child(encryption, "SSE-S3")
    kms = only_child(encryption, "SSE-KMS")
    if (sse_s3 is None) == (kms is None):
        raise S3Error("MalformedXML")
    if kms is None:
        return True, None
    key_id = stripped_child_text(kms, "KeyId")
    if not key_id:
        raise S3Error("MalformedXML")
    if not key_id.startswith("arn:aws:kms:"):
        raise S3Error(
            "InvalidArgument", "SSE-KMS KeyId must be a KMS key ARN", ArgumentName="KeyId"
        )
    return False, key_id


def _write(xml: XmlWriter, config: InventoryConfiguration) -> None:
    xml.open("Destination")
    xml.open("S3BucketDestination")
    if config.destination_account is not None:
        xml.element("AccountId", config.destination_account)
    xml.element("Bucket", _ARN_PREFIX + config.destination_bucket)
    xml.element("Format", config.file_format)
    if config.destination_prefix:
        xml.element("Prefix", config.destination_prefix)
    if config.kms_key_id is not None:
        xml.open("Encryption")
        xml.open("SSE-KMS")
        xml.element("KeyId", config.kms_key_id)
        xml.close("SSE-KMS")
        xml.close("Encryption")
    elif config.sse_s3:
        xml.raw("<Encryption><SSE-S3></SSE-S3></Encryption>")
    xml.close("S3BucketDestination")
    xml.close("Destination")
    xml.element("IsEnabled", config.enabled)
    if config.filter_prefix is not None:
        xml.open("Filter")
        xml.element("Prefix", config.filter_prefix)
        xml.close("Filter")
    xml.element("Id", config.config_id)
    xml.element("IncludedObjectVersions", "All" if config.all_versions else "Current")
    if config.optional_fields:
        xml.open("OptionalFields")
        for name in config.optional_fields:
            xml.element("Field", name)
        xml.close("OptionalFields")
    xml.open("Schedule")
    xml.element("Frequency", config.frequency)
    xml.close("Schedule")
