"""GetObjectAttributes: what HEAD and ListParts say of an object, in one XML answer, without
its bytes (decision 0076).

As on AWS:
- ``x-amz-object-attributes`` names what to answer: ``ETag``, ``Checksum``, ``ObjectParts``,
  ``StorageClass`` and ``ObjectSize``;
- the caller needs ``s3:GetObjectAttributes`` and ``s3:GetObject``;
- an SSE-C object needs its key; an SSE-KMS or DSSE-KMS object's key is not used (nothing is
  decrypted: no ``kms:Decrypt``, no KMS request, decision 0150's addendum); the ``If-*``
  conditions of a GET apply;
- the ETag is unquoted, and a composite checksum is answered without its ``-N`` suffix;
- ``ObjectParts`` is answered for objects made of parts. Its parts are listed, with their own
  checksums, only under a composite checksum, where they are what the object's checksum is
  made of; ``x-amz-max-parts`` and ``x-amz-part-number-marker`` page them as ListParts does.
"""

from __future__ import annotations

from typing import Final

from andromede.http.dates import http_date
from andromede.http.response import Response
from andromede.s3.conditions import ConditionOutcome, evaluate_get_conditions
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import (
    S3Services,
    addressed_bucket,
    authorise_object,
    write_checksum_elements,
    xml_response,
)
from andromede.s3.handlers.encryption import read_customer_key, require_kms_transport
from andromede.s3.handlers.version_reads import named_version_id, read_version
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter
from andromede.storage.model import Checksum, ChecksumType, ObjectRecord
from andromede.storage.versioning import shown_version_id

__all__ = ["get_object_attributes"]

_ATTRIBUTES_HEADER = "x-amz-object-attributes"
_ATTRIBUTES: Final = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})
_DEFAULT_MAX_PARTS = 1000


def _wanted(ctx: S3Context) -> frozenset[str]:
    raw = ctx.headers.get(_ATTRIBUTES_HEADER, "")
    names = frozenset(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise S3Error(
            "InvalidArgument",
            "The x-amz-object-attributes header specifying the attributes to be retrieved is "
            "either missing or empty",
            ArgumentName=_ATTRIBUTES_HEADER,
        )
    if not names <= _ATTRIBUTES:
        raise S3Error(
            "InvalidArgument",
            "Invalid attribute name specified.",
            ArgumentName=_ATTRIBUTES_HEADER,
            ArgumentValue=sorted(names - _ATTRIBUTES)[0][:64],
        )
    return names


def _header_number(ctx: S3Context, name: str, *, default: int) -> int:
    raw = ctx.headers.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip()
    if not value.isdigit() or int(value) > 2_147_483_647:
        raise S3Error(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
        )
    return int(value)


async def get_object_attributes(ctx: S3Context, svc: S3Services) -> Response:
    wanted = _wanted(ctx)
    max_parts = min(
        _header_number(ctx, "x-amz-max-parts", default=_DEFAULT_MAX_PARTS),
        svc.settings.max_list_keys,
    )
    marker = _header_number(ctx, "x-amz-part-number-marker", default=0)
    # s3:GetObjectAttributes is the operation's own; AWS asks for s3:GetObject too.
    bucket = await addressed_bucket(ctx, svc)
    version_id = named_version_id(ctx, bucket)
    await authorise_object(ctx, svc, S3Operation.GetObject, bucket, ctx.key, version_id=version_id)
    customer = read_customer_key(ctx)
    record = await read_version(ctx, svc)  # the version named, if any (decision 0099)
    await svc.objects.check_customer_key(record, customer)
    # Metadata only, as HEAD: no KMS key use, as on AWS (decision 0150's addendum).
    require_kms_transport(ctx, record)
    outcome = evaluate_get_conditions(
        ctx.headers, etag=record.etag, last_modified=record.last_modified
    )
    if outcome is ConditionOutcome.PRECONDITION_FAILED:
        raise S3Error("PreconditionFailed", Condition="If-Match")
    if outcome is ConditionOutcome.NOT_MODIFIED:
        response = Response(status=304, head=True)
        response.header("ETag", f'"{record.etag}"')
        response.header("Last-Modified", http_date(record.last_modified))
        return response
    xml = XmlWriter("GetObjectAttributesOutput")
    if "ETag" in wanted:
        xml.element("ETag", record.etag)
    if "Checksum" in wanted and record.checksum is not None:
        xml.open("Checksum")
        write_checksum_elements(xml, _without_part_count(record.checksum), with_type=True)
        xml.close("Checksum")
    if "ObjectParts" in wanted and record.parts_count is not None:
        _write_parts(xml, record, marker, max_parts)
    if "StorageClass" in wanted:
        xml.element("StorageClass", "STANDARD")
    if "ObjectSize" in wanted:
        xml.element("ObjectSize", record.size)
    response = xml_response(xml)
    response.header("Last-Modified", http_date(record.last_modified))
    if bucket.versioning is not None:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    return response


def _without_part_count(checksum: Checksum) -> Checksum:
    """A composite checksum as GetObjectAttributes answers it: without the ``-N`` that HEAD and
    CompleteMultipartUpload append."""
    if checksum.type is ChecksumType.COMPOSITE and "-" in checksum.value:
        return Checksum(checksum.algorithm, checksum.value.rsplit("-", 1)[0], checksum.type)
    return checksum


def _write_parts(xml: XmlWriter, record: ObjectRecord, marker: int, max_parts: int) -> None:
    xml.open("ObjectParts")
    xml.element("PartsCount", record.parts_count)  # boto3: TotalPartsCount
    checksum = record.checksum
    if checksum is not None and checksum.type is ChecksumType.COMPOSITE:
        # The parts whose checksums make the object's, paged as ListParts pages them.
        after = [segment for segment in record.segments if segment.part_number > marker]
        page = after[:max_parts]
        xml.element("PartNumberMarker", marker)
        if page:
            xml.element("NextPartNumberMarker", page[-1].part_number)
        xml.element("MaxParts", max_parts)
        xml.element("IsTruncated", len(after) > len(page))
        for segment in page:
            xml.open("Part")
            write_checksum_elements(xml, segment.checksum, with_type=False)
            xml.element("PartNumber", segment.part_number)
            xml.element("Size", segment.size)
            xml.close("Part")
    xml.close("ObjectParts")
