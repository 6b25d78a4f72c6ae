"""Multipart handlers: Create, UploadPart, UploadPartCopy, Complete, Abort."""

from __future__ import annotations

from datetime import UTC, datetime

from andromede.http.dates import http_date, iso8601_ms
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.access import acl_from_request
from andromede.s3.handlers.common import (
    S3Services,
    addressed_bucket,
    checksum_headers,
    content_headers_from_request,
    event_source,
    object_owner_id,
    reject_unsupported_headers,
    write_checksum_elements,
    xml_response,
)
from andromede.s3.handlers.encryption import (
    copy_source_customer_key,
    record_encryption_headers,
    write_encryption,
    write_encryption_headers,
)
from andromede.s3.handlers.lifecycle import write_expiration
from andromede.s3.handlers.object_lock import default_lock, requested_lock
from andromede.s3.handlers.objects import (
    check_write_conditions,
    copy_source_version_header,
    load_copy_source,
)
from andromede.s3.handlers.tagging import tags_from_request
from andromede.s3.ranges import InvalidCopySourceRange, parse_copy_source_range
from andromede.s3.request import S3Context, parse_checksum_algorithm, reject_unknown_checksums
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage.checksums import InvalidChecksumValue, validate_checksum_type
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.lifecycle import due_at
from andromede.storage.model import Checksum, ChecksumAlgorithm, ChecksumType
from andromede.storage.service import CompletedPart
from andromede.storage.versioning import shown_version_id

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "upload_part",
    "upload_part_copy",
]


def _part_number(ctx: S3Context, svc: S3Services) -> int:
    raw = ctx.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= svc.settings.max_parts:
        raise S3Error(
            "InvalidArgument",
            f"Part number must be an integer between 1 and {svc.settings.max_parts}, inclusive",
            ArgumentName="partNumber",
        )
    return int(raw)


async def create_multipart_upload(ctx: S3Context, svc: S3Services) -> Response:
    reject_unsupported_headers(ctx, object_lock=True)
    bucket = await addressed_bucket(ctx, svc)
    owner_id = object_owner_id(ctx, bucket)
    acl = acl_from_request(ctx, bucket, owner_id=owner_id)
    encryption = await write_encryption(ctx, svc, bucket)
    raw_algorithm = ctx.headers.get("x-amz-checksum-algorithm")
    algorithm = parse_checksum_algorithm(raw_algorithm) if raw_algorithm else None
    raw_type = ctx.headers.get("x-amz-checksum-type")
    checksum_type: ChecksumType | None = None
    if raw_type:
        try:
            checksum_type = ChecksumType(raw_type.strip().upper())
        except ValueError as exc:
            raise S3Error(
                "InvalidRequest", "Value for x-amz-checksum-type header is invalid."
            ) from exc
        if algorithm is None:
            raise S3Error(
                "InvalidRequest",
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header.",
            )
    if algorithm is not None and checksum_type is not None:
        try:
            validate_checksum_type(algorithm, checksum_type)
        except ValueError as exc:
            raise S3Error("InvalidRequest", str(exc)) from exc
    tags = await tags_from_request(ctx, svc, bucket)
    # The lock headers are checked now, as PutObject's (no Content-MD5 here: the request has
    # no body), and kept with the upload for the version its completion makes (decision 0104).
    lock = await requested_lock(ctx, svc, bucket, datetime.now(UTC), integrity=False)
    upload = await svc.objects.create_multipart_upload(
        ctx.bucket,
        ctx.key,
        headers=content_headers_from_request(ctx, tags),
        owner_id=owner_id,
        checksum_algorithm=algorithm,
        checksum_type=checksum_type,
        encryption=encryption,
        acl=acl,
        lock=lock,
    )
    xml = XmlWriter("InitiateMultipartUploadResult")
    xml.element("Bucket", ctx.bucket)
    xml.element("Key", ctx.key)
    xml.element("UploadId", upload.upload_id)
    response = xml_response(xml)
    if upload.checksum_algorithm is not None:
        response.header("x-amz-checksum-algorithm", upload.checksum_algorithm.value)
    if upload.checksum_type is not None:
        response.header("x-amz-checksum-type", upload.checksum_type.value)
    write_encryption_headers(ctx, response, encryption)
    await _abort_date_headers(ctx, svc, response, upload.initiated)
    return response


async def _abort_date_headers(
    ctx: S3Context, svc: S3Services, response: Response, initiated: datetime
) -> None:
    """``x-amz-abort-date`` and ``x-amz-abort-rule-id``: when the bucket's lifecycle rules
    will abort this upload, if one does (the earliest, as S3 answers; decision 0082)."""
    lifecycle = await svc.objects.get_bucket_lifecycle(ctx.bucket)
    if lifecycle is None:
        return
    due = [
        (due_at(initiated, rule.abort_after_days), rule.rule_id or "")
        for rule in lifecycle.rules
        if rule.enabled and rule.abort_after_days is not None and ctx.key.startswith(rule.prefix)
    ]
    if due:
        date, rule_id = min(due)
        response.header("x-amz-abort-date", http_date(date))
        response.header("x-amz-abort-rule-id", rule_id)


_SSE = "x-amz-server-side-encryption"


async def _part_encryption(ctx: S3Context, svc: S3Services) -> ObjectEncryption:
    """A part is encrypted as its upload: under the upload's KMS key for SSE-KMS uploads."""
    bucket = await addressed_bucket(ctx, svc)
    upload_kms = None
    if svc.kms_keys is not None:
        upload_kms = await svc.objects.upload_kms_key(ctx.bucket, ctx.key, ctx.query["uploadId"])
    if upload_kms is None and ctx.headers.get(_SSE, "").strip().startswith("aws:kms"):
        # Parts take their upload's encryption; they cannot switch an upload to SSE-KMS.
        raise S3Error(
            "InvalidArgument",
            "Server Side Encryption with AWS KMS managed key is not applicable to this upload",
            ArgumentName=_SSE,
        )
    return await write_encryption(ctx, svc, bucket, upload_kms=upload_kms)


async def upload_part(ctx: S3Context, svc: S3Services) -> Response:
    part_number = _part_number(ctx, svc)
    size = ctx.declared_size()
    if size > svc.settings.max_part_size:
        raise S3Error("EntityTooLarge", MaxSizeAllowed=str(svc.settings.max_part_size))
    integrity = ctx.integrity()
    encryption = await _part_encryption(ctx, svc)
    part = await svc.objects.upload_part(
        ctx.bucket_record or ctx.bucket,  # as read for authorisation, not read again
        ctx.key,
        ctx.query["uploadId"],
        part_number,
        ctx.body(integrity),
        size=size,
        integrity=integrity,
        encryption=encryption,
    )
    response = Response(headers=[("ETag", f'"{part.etag}"')])
    if part.checksum is not None:
        response.header(part.checksum.algorithm.header, part.checksum.value)
    write_encryption_headers(ctx, response, encryption, with_context=False)
    return response


async def upload_part_copy(ctx: S3Context, svc: S3Services) -> Response:
    part_number = _part_number(ctx, svc)
    encryption = await _part_encryption(ctx, svc)
    copied = await load_copy_source(ctx, svc)
    source = copied.record
    raw_range = ctx.headers.get("x-amz-copy-source-range")
    if raw_range is None:
        start, end = 0, source.size - 1
    else:
        try:
            byte_range = parse_copy_source_range(raw_range, source.size)
        except InvalidCopySourceRange as exc:
            raise S3Error(
                "InvalidArgument", str(exc), ArgumentName="x-amz-copy-source-range"
            ) from exc
        start, end = byte_range.start, byte_range.end
    if end - start + 1 > svc.settings.max_part_size:
        raise S3Error("EntityTooLarge", MaxSizeAllowed=str(svc.settings.max_part_size))
    part = await svc.objects.upload_part_copy(
        ctx.bucket,
        ctx.key,
        ctx.query["uploadId"],
        part_number,
        source,
        start,
        end,
        encryption=encryption,
        source_customer_key=copy_source_customer_key(ctx),
    )
    xml = XmlWriter("CopyPartResult")
    xml.element("LastModified", iso8601_ms(part.last_modified))
    xml.element("ETag", f'"{part.etag}"')
    write_checksum_elements(xml, part.checksum, with_type=False)
    response = xml_response(xml)
    write_encryption_headers(ctx, response, encryption, with_context=False)
    copy_source_version_header(response, copied)
    return response


def _parse_completed_parts(body: bytes) -> list[CompletedPart]:
    root = parse_xml(body, "CompleteMultipartUpload")
    parts: list[CompletedPart] = []
    for element in children(root, "Part"):
        number = (child_text(element, "PartNumber") or "").strip()
        etag = (child_text(element, "ETag") or "").strip().strip('"')
        if not number.isdigit() or not etag:
            raise S3Error("MalformedXML")
        checksums = {
            algorithm: value.strip()
            for algorithm in ChecksumAlgorithm
            if (value := child_text(element, f"Checksum{algorithm.value}")) is not None
        }
        parts.append(CompletedPart(part_number=int(number), etag=etag, checksums=checksums))
    if not parts:
        raise S3Error("InvalidRequest", "You must specify at least one part")
    return parts


async def complete_multipart_upload(ctx: S3Context, svc: S3Services) -> Response:
    parts = _parse_completed_parts(await ctx.read_xml_body())
    reject_unknown_checksums(ctx.headers)
    expected_size = _expected_object_size(ctx)
    expected_object = await check_write_conditions(ctx, svc)
    expected: Checksum | None = None
    present = [a for a in ChecksumAlgorithm if a.header in ctx.headers]
    if present:
        algorithm = present[0]
        value = ctx.headers[algorithm.header].strip()
        raw_type = ctx.headers.get("x-amz-checksum-type", "").strip().upper()
        kind = (
            ChecksumType.COMPOSITE
            if "-" in value or raw_type == "COMPOSITE"
            else ChecksumType.FULL_OBJECT
        )
        expected = Checksum(algorithm, value, kind)
    try:
        bucket = await addressed_bucket(ctx, svc)
        record = await svc.objects.complete_multipart_upload(
            bucket,
            ctx.key,
            ctx.query["uploadId"],
            parts,
            expected_checksum=expected,
            expected_size=expected_size,
            expected=expected_object,
            # The bucket's default retention, counted from the completion: what the upload's
            # lock headers asked for wins over it (decision 0104).
            default_lock=default_lock(bucket, datetime.now(UTC)),
            notify=event_source(ctx, "ObjectCreated:CompleteMultipartUpload"),
        )
    except InvalidChecksumValue as exc:
        raise S3Error("InvalidRequest", "The checksum provided is invalid.") from exc
    scheme = "https" if ctx.secure else "http"
    host = ctx.headers.get("host", "")
    location = (
        f"{scheme}://{host}/{ctx.bucket}/{ctx.key}"
        if not ctx.route.virtual_host
        else f"{scheme}://{host}/{ctx.key}"
    )
    xml = XmlWriter("CompleteMultipartUploadResult")
    xml.element("Location", location)
    xml.element("Bucket", ctx.bucket)
    xml.element("Key", ctx.key)
    xml.element("ETag", f'"{record.etag}"')
    write_checksum_elements(xml, record.checksum, with_type=True)
    response = xml_response(xml)
    if record.checksum is not None:
        checksum_headers(response, record.checksum)
    record_encryption_headers(response, record, None)
    write_expiration(response, svc, record)
    # A versioned bucket's completion made a version (decision 0097): its id, "null" in a
    # Suspended bucket, as PutObject answers it.
    if record.version_id is not None or (await addressed_bucket(ctx, svc)).versioning is not None:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    return response


def _expected_object_size(ctx: S3Context) -> int | None:
    """``x-amz-mp-object-size``: the size the client expects the parts to add up to."""
    raw = ctx.headers.get("x-amz-mp-object-size")
    if raw is None:
        return None
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise S3Error(
            "InvalidArgument",
            "x-amz-mp-object-size must be a size in bytes",
            ArgumentName="x-amz-mp-object-size",
        )
    return int(value)


async def abort_multipart_upload(ctx: S3Context, svc: S3Services) -> Response:
    if "x-amz-if-match-initiated-time" in ctx.headers:
        # A conditional abort, which AWS offers in directory buckets only: refused rather than
        # aborting whatever the condition was meant to protect.
        raise S3Error("NotImplemented", Header="x-amz-if-match-initiated-time")
    await svc.objects.abort_multipart_upload(ctx.bucket, ctx.key, ctx.query["uploadId"])
    return Response(status=204)
