"""Object handlers: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import unquote

from andromede.http.dates import iso8601_ms
from andromede.http.response import Response
from andromede.s3.conditions import (
    ConditionOutcome,
    UnsupportedCondition,
    evaluate_copy_source_conditions,
    evaluate_delete_condition,
    evaluate_get_conditions,
    evaluate_put_conditions,
)
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers.access import acl_from_request
from andromede.s3.handlers.common import (
    S3Services,
    addressed_bucket,
    authorise_object,
    checksum_headers,
    content_headers_from_request,
    event_source,
    object_owner_id,
    object_response_headers,
    reject_unsupported_headers,
    website_redirect_from_request,
    write_checksum_elements,
    write_replication_status,
    xml_response,
)
from andromede.s3.handlers.copy_sources import source_bucket, split_arn_source
from andromede.s3.handlers.encryption import (
    check_kms_read,
    copy_source_customer_key,
    read_customer_key,
    record_encryption_headers,
    require_kms_transport,
    write_encryption,
    write_encryption_headers,
)
from andromede.s3.handlers.lifecycle import write_expiration
from andromede.s3.handlers.object_lock import (
    bypass_governance,
    lock_for_write,
    lock_response_headers,
)
from andromede.s3.handlers.tagging import tags_from_request
from andromede.s3.handlers.version_reads import read_version
from andromede.s3.operations import S3Operation
from andromede.s3.ranges import ByteRange, RangeNotSatisfiable, parse_range
from andromede.s3.request import S3Context, parse_checksum_algorithm
from andromede.s3.request_payment import check_request_payer
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage import errors as storage_errors
from andromede.storage.model import (
    Bucket,
    ChecksumAlgorithm,
    ContentHeaders,
    ExpectedObject,
    ObjectRecord,
)
from andromede.storage.versioning import is_version_id, shown_version_id

__all__ = [
    "CopySource",
    "check_write_conditions",
    "copy_object",
    "copy_source_version_header",
    "delete_object",
    "delete_objects",
    "get_object",
    "head_object",
    "load_copy_source",
    "put_object",
    "resolve_copy_source",
]

# response-* query parameters GetObject accepts, and the header each overrides.
_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
_COPY_SOURCE_MAX = 5 * 1024**3


async def check_write_conditions(ctx: S3Context, svc: S3Services) -> ExpectedObject | None:
    """A conditional write (PutObject, CopyObject, CompleteMultipartUpload): 412
    PreconditionFailed when ``If-None-Match: *`` finds an object or ``If-Match`` another ETag,
    404 NoSuchKey when ``If-Match`` finds none; else what the key must still hold when the
    write commits, which the store checks in the commit (409 ConditionalRequestConflict when a
    write or delete came in between, as on AWS). None for an unconditional write.

    Matching an ETag reads the object's, so ``If-Match`` needs ``s3:GetObject`` too, as on
    AWS; ``If-None-Match`` needs only the write's own permission."""
    if "if-match" not in ctx.headers and "if-none-match" not in ctx.headers:
        return None
    if "if-match" in ctx.headers:
        bucket = await addressed_bucket(ctx, svc)
        await authorise_object(ctx, svc, S3Operation.GetObject, bucket, ctx.key)
    try:
        current: ObjectRecord | None = await svc.objects.head_object(ctx.bucket, ctx.key)
    except storage_errors.NoSuchKey:
        current = None
    try:
        outcome = evaluate_put_conditions(
            ctx.headers, current_etag=current.etag if current is not None else None
        )
    except UnsupportedCondition as exc:
        raise S3Error("NotImplemented", exc.message, Header=exc.header) from exc
    if outcome is ConditionOutcome.PRECONDITION_FAILED:
        raise S3Error(
            "PreconditionFailed",
            Condition="If-Match" if "if-match" in ctx.headers else "If-None-Match",
        )
    if outcome is ConditionOutcome.NO_SUCH_KEY:
        raise S3Error("NoSuchKey", Key=ctx.key)
    return ExpectedObject(None if current is None else current.etag)


async def put_object(ctx: S3Context, svc: S3Services) -> Response:
    size = ctx.declared_size()
    if size > svc.settings.max_object_size:
        raise S3Error("EntityTooLarge", MaxSizeAllowed=str(svc.settings.max_object_size))
    reject_unsupported_headers(ctx, object_lock=True)
    bucket = await addressed_bucket(ctx, svc)
    owner_id = object_owner_id(ctx, bucket)
    acl = acl_from_request(ctx, bucket, owner_id=owner_id)
    lock = await lock_for_write(ctx, svc, bucket, datetime.now(UTC))
    encryption = await write_encryption(ctx, svc, bucket)
    tags = await tags_from_request(ctx, svc, bucket)
    expected = await check_write_conditions(ctx, svc)
    integrity = ctx.integrity(default_algorithm=ChecksumAlgorithm.CRC64NVME)
    record = await svc.objects.put_object(
        bucket,  # as read for authorisation: the commit checks it again, no second read
        ctx.key,
        ctx.body(integrity),
        size=size,
        headers=content_headers_from_request(ctx, tags),
        owner_id=owner_id,
        integrity=integrity,
        encryption=encryption,
        acl=acl,
        expected=expected,
        lock=lock,
        notify=event_source(ctx, "ObjectCreated:Put"),
    )
    response = Response(headers=[("ETag", f'"{record.etag}"')])
    if record.checksum is not None:
        checksum_headers(response, record.checksum)
    if bucket.versioning is not None:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    write_encryption_headers(ctx, response, encryption)
    write_expiration(response, svc, record)
    return response


def _part_range(record: ObjectRecord, part_number: int) -> ByteRange | None:
    """The byte range of one part; None for part 1 of a single-PUT object (the whole object)."""
    if record.parts_count is None:
        if part_number == 1:
            return None
        raise S3Error("InvalidPartNumber")
    if part_number > record.parts_count:
        raise S3Error("InvalidPartNumber")
    start = sum(segment.size for segment in record.segments[: part_number - 1])
    return ByteRange(start, start + record.segments[part_number - 1].size - 1)


async def _read(ctx: S3Context, svc: S3Services, *, head: bool) -> Response:
    customer = read_customer_key(ctx)
    record = await read_version(ctx, svc)
    await svc.objects.check_customer_key(record, customer)
    if head:
        # HEAD answers the stored encryption headers and decrypts nothing: as on AWS it uses
        # no KMS key (s3:GetObject alone; no kms:Decrypt, no KMS request, no key audit event),
        # while SSE-C still needs its key above (decision 0150's addendum).
        require_kms_transport(ctx, record)
    else:
        await check_kms_read(ctx, svc, record)
    outcome = evaluate_get_conditions(
        ctx.headers, etag=record.etag, last_modified=record.last_modified
    )
    if outcome is ConditionOutcome.PRECONDITION_FAILED:
        raise S3Error("PreconditionFailed", Condition="If-Match")
    if outcome is ConditionOutcome.NOT_MODIFIED:
        response = Response(status=304, head=True)
        object_response_headers(response, record, with_checksum=False)
        response.headers = [(n, v) for n, v in response.headers if n in ("ETag", "Last-Modified")]
        response.content_length = 0
        return response
    part_param = ctx.query.get("partNumber")
    byte_range: ByteRange | None
    if part_param is not None:
        if "range" in ctx.headers:
            raise S3Error(
                "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"
            )
        if not part_param.isdigit() or not 1 <= int(part_param) <= svc.settings.max_parts:
            raise S3Error(
                "InvalidArgument",
                f"Part number must be an integer between 1 and {svc.settings.max_parts}, inclusive",
            )
        byte_range = _part_range(record, int(part_param))
    else:
        try:
            byte_range = parse_range(ctx.headers.get("range"), record.size)
        except RangeNotSatisfiable as exc:
            raise S3Error("InvalidRange", ActualObjectSize=str(record.size)) from exc
    whole = byte_range is None
    bucket = ctx.object_lookup.bucket if ctx.object_lookup is not None else ctx.bucket_record
    versioned = bucket is not None and bucket.versioning is not None
    checksum_wanted = ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    response = Response(head=head)
    object_response_headers(response, record, with_checksum=whole and checksum_wanted)
    if versioned:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    record_encryption_headers(response, record, customer)
    write_expiration(response, svc, record)
    await lock_response_headers(ctx, svc, response, record)
    write_replication_status(response, record)
    if byte_range is not None:
        response.status = 206
        response.header("Content-Range", f"bytes {byte_range.start}-{byte_range.end}/{record.size}")
    _apply_overrides(ctx, response)
    start, end = (0, record.size - 1) if byte_range is None else (byte_range.start, byte_range.end)
    response.content_length = end - start + 1
    if not head and response.content_length > 0:
        response.stream = svc.objects.read_object(record, start, end, customer_key=customer)
    return response


def _apply_overrides(ctx: S3Context, response: Response) -> None:
    overrides = {
        header: ctx.query[param] for param, header in _OVERRIDES.items() if param in ctx.query
    }
    if not overrides:
        return
    if ctx.principal.is_anonymous:
        raise S3Error(
            "InvalidRequest",
            "Request specific response headers cannot be used for anonymous GET requests.",
        )
    response.headers = [(n, v) for n, v in response.headers if n not in overrides]
    response.headers.extend(overrides.items())


async def get_object(ctx: S3Context, svc: S3Services) -> Response:
    return await _read(ctx, svc, head=False)


async def head_object(ctx: S3Context, svc: S3Services) -> Response:
    return await _read(ctx, svc, head=True)


async def delete_object(ctx: S3Context, svc: S3Services) -> Response:
    for header in (
        "if-none-match",
        "x-amz-if-match-last-modified-time",  # AWS: directory buckets only
        "x-amz-if-match-size",  # AWS: directory buckets only
    ):
        if header in ctx.headers:
            # A condition not evaluated here must not become an unconditional delete.
            raise S3Error("NotImplemented", Header=header)
    checked_etag = None
    if_match = ctx.headers.get("if-match")
    bucket = await addressed_bucket(ctx, svc)
    named_version = ctx.query.get("versionId") if bucket.versioning is not None else None
    if if_match is not None and named_version is not None:
        # AWS evaluates a delete condition on the current version only; a condition on a
        # named version is refused rather than dropped into an unconditional delete.
        raise S3Error("NotImplemented", Header="If-Match")
    if if_match is not None:
        checked_etag = await _check_delete_condition(ctx, svc, if_match)
    bypass = named_version is not None and await bypass_governance(ctx, svc, bucket, ctx.key)
    if bucket.versioning is not None:
        # With If-Match, the marker goes only over the object the condition held for (409
        # ConditionalRequestConflict if another write or delete came in between), as the
        # unversioned delete below takes only that object.
        version_id, is_marker = await svc.objects.delete_versioned(
            bucket,
            ctx.key,
            named_version,
            owner_id=object_owner_id(ctx, bucket),
            if_etag=checked_etag,
            bypass_governance=bypass,
            replicated=True,
            notify=event_source(ctx, "ObjectRemoved:Delete"),
        )
        response = Response(status=204)
        response.header("x-amz-version-id", shown_version_id(version_id))
        if is_marker:
            response.header("x-amz-delete-marker", "true")
        return response
    # The delete takes only the object the condition was checked on: a write or delete that
    # came in between makes it 409 ConditionalRequestConflict, as on AWS.
    await svc.objects.delete_object(
        ctx.bucket,
        ctx.key,
        if_etag=checked_etag,
        notify=(bucket, event_source(ctx, "ObjectRemoved:Delete")),
    )
    return Response(status=204)


async def _check_delete_condition(ctx: S3Context, svc: S3Services, if_match: str) -> str:
    """A conditional delete (``If-Match``, AWS since September 2025): 404 NoSuchKey when there
    is no object, 412 when its ETag is not the one given (``*``: any); else the ETag of the
    object it was checked on. Matching an ETag reads the object's, so it needs
    ``s3:GetObject`` too, as AWS requires."""
    condition = if_match.strip()
    if condition != "*":
        bucket = await addressed_bucket(ctx, svc)
        await authorise_object(ctx, svc, S3Operation.GetObject, bucket, ctx.key)
    return await _checked_etag(svc, ctx.bucket, ctx.key, condition, label="If-Match")


async def _checked_etag(
    svc: S3Services, bucket: str, key: str, condition: str, *, label: str
) -> str:
    """The ETag of the object a delete condition holds for: NoSuchKey without an object,
    PreconditionFailed (its ``Condition`` the request's ``label``) when it does not hold."""
    try:
        current = await svc.objects.head_object(bucket, key)
    except storage_errors.NoSuchKey:
        raise S3Error("NoSuchKey", Key=key) from None
    if evaluate_delete_condition(condition, current.etag) is ConditionOutcome.PRECONDITION_FAILED:
        raise S3Error("PreconditionFailed", Condition=label)
    return current.etag


async def delete_objects(ctx: S3Context, svc: S3Services) -> Response:
    """Each key is authorised for s3:DeleteObject on its own ARN, as S3 does, and a denied key
    is reported as that key's AccessDenied error; when every key is denied the whole request is
    (403), so a caller with no right on the bucket learns nothing about its keys."""
    body = await ctx.read_xml_body(integrity_required=True)
    root = parse_xml(body, "Delete")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    entries = children(root, "Object")
    if not entries or len(entries) > svc.settings.max_delete_objects:
        raise S3Error("MalformedXML")
    bucket = await addressed_bucket(ctx, svc)
    requested: list[_DeleteEntry] = []
    for entry in entries:
        key = child_text(entry, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        requested.append(
            _DeleteEntry(
                key,
                child_text(entry, "VersionId"),
                child_text(entry, "ETag"),
                # Conditions AWS offers in directory buckets only: refused per key, never
                # taken for an unconditional delete.
                next(
                    (name for name in ("LastModifiedTime", "Size") if children(entry, name)),
                    None,
                ),
            )
        )
    # A version named (its VersionId, "null" included) is a permanent delete: it needs
    # s3:DeleteObjectVersion, as AWS requires, and s3:DeleteObject is not enough.
    denied: set[tuple[str, str | None]] = set()
    bypassing: set[str] = set()  # keys whose GOVERNANCE retentions the request may bypass
    for wanted in requested:
        action = "s3:DeleteObjectVersion" if wanted.version else None
        try:
            await authorise_object(
                ctx, svc, S3Operation.DeleteObject, bucket, wanted.key, action=action
            )
            if wanted.etag is not None and wanted.etag.strip() != "*":
                # Matching an ETag reads the object's: s3:GetObject too, as AWS requires.
                await authorise_object(ctx, svc, S3Operation.GetObject, bucket, wanted.key)
        except S3Error:
            denied.add((wanted.key, wanted.version))
            continue
        if wanted.version and wanted.key not in bypassing:
            try:
                if await bypass_governance(ctx, svc, bucket, wanted.key):
                    bypassing.add(wanted.key)
            except S3Error:
                pass  # not allowed to bypass: the retention counts, the entry may still go
    if denied and len(denied) == len({(wanted.key, wanted.version) for wanted in requested}):
        raise S3Error("AccessDenied")
    xml = XmlWriter("DeleteResult")
    for key, version, etag, unsupported in requested:
        answered: tuple[str | None, bool] | None = None
        try:
            if (key, version) in denied:
                raise S3Error("AccessDenied")
            named_version = version or None
            if named_version not in (None, "null") and not (
                bucket.versioning is not None and is_version_id(named_version)
            ):
                raise S3Error("InvalidArgument", "Invalid version id specified")
            if len(key.encode()) > svc.settings.max_key_length:
                raise S3Error("KeyTooLongError")
            if unsupported is not None:
                raise S3Error("NotImplemented", f"A {unsupported} condition is not implemented")
            if etag is not None and bucket.versioning is not None and named_version is not None:
                # A condition is evaluated on the current version only (as DeleteObject).
                raise S3Error("NotImplemented", Header="ETag")
            checked_etag = (
                None
                if etag is None
                else await _checked_etag(svc, ctx.bucket, key, etag, label="ETag")
            )
            if bucket.versioning is not None:
                # Without a version, a delete marker, as DeleteObject makes (over the object
                # the ETag was checked on only); with one, that version removed for good
                # (decisions 0097, 0099).
                answered = await svc.objects.delete_versioned(
                    bucket,
                    key,
                    named_version,
                    owner_id=object_owner_id(ctx, bucket),
                    if_etag=checked_etag,
                    bypass_governance=key in bypassing,
                    replicated=True,
                    notify=event_source(ctx, "ObjectRemoved:Delete"),
                )
            else:
                await svc.objects.delete_object(
                    ctx.bucket,
                    key,
                    if_etag=checked_etag,
                    notify=(bucket, event_source(ctx, "ObjectRemoved:Delete")),
                )
        except (S3Error, storage_errors.ObjectError) as exc:
            wire = to_s3_error(exc) or S3Error("InternalError")
            xml.open("Error")
            xml.element("Key", key)
            if version:
                xml.element("VersionId", version)
            xml.element("Code", wire.code)
            xml.element("Message", wire.message)
            xml.close("Error")
            continue
        if not quiet:
            xml.open("Deleted")
            xml.element("Key", key)
            if version:
                xml.element("VersionId", version)
            if answered is not None and answered[1]:
                # A marker made (no version named) or a marker removed (named): S3 says so.
                xml.element("DeleteMarker", "true")
                xml.element("DeleteMarkerVersionId", shown_version_id(answered[0]))
            xml.close("Deleted")
    return xml_response(xml)


class _DeleteEntry(NamedTuple):
    """One ``<Object>`` of a DeleteObjects request."""

    key: str
    version: str | None
    etag: str | None  # a conditional delete: the ETag the object must have, or "*"
    unsupported: str | None  # a condition element not implemented here


class CopySource(NamedTuple):
    """The object a copy reads, and the version the request named (None: the current one)."""

    record: ObjectRecord
    bucket: Bucket
    version_id: str | None


def resolve_copy_source(ctx: S3Context) -> tuple[str, str, str | None]:
    """Bucket (or access point ARN), key and version id (None: the current version) of
    ``x-amz-copy-source`` (``[/]bucket/key[?versionId=…]``, URL-encoded)."""
    raw = ctx.headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    version_id = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or (value not in ("", "null") and not is_version_id(value)):
            raise S3Error("InvalidArgument", "Invalid version id specified")
        version_id = value or None
    decoded = unquote(path).lstrip("/")
    if (through_arn := split_arn_source(decoded)) is not None:
        return *through_arn, version_id  # an access point's ARN (decision 0391)
    bucket, sep, key = decoded.partition("/")
    if not bucket or not sep or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    return bucket, key, version_id


async def load_copy_source(ctx: S3Context, svc: S3Services) -> CopySource:
    """The source of CopyObject or UploadPartCopy. A version named (decision 0099) needs
    ``s3:GetObjectVersion`` rather than ``s3:GetObject``, as on AWS; a delete marker named is
    400 InvalidRequest (AWS: a delete marker may not be a copy source), a current one a
    missing key."""
    bucket_name, key, version_id = resolve_copy_source(ctx)
    # A source named by an access point's alias (decision 0157) or ARN (0391): its bucket,
    # read through the access point, whose policy then decides the read as the bucket's does.
    bucket_name, point = await source_bucket(svc, bucket_name, ctx.source_ip)
    bucket = await svc.objects.get_bucket(bucket_name)
    if point is not None:
        bucket = dataclasses.replace(bucket, access_point=point)
    if version_id is not None and version_id != "null" and bucket.versioning is None:
        raise S3Error("InvalidArgument", "Invalid version id specified")
    # A Requester Pays source needs the caller's consent to pay, as its reads do (0133).
    if check_request_payer(bucket, ctx.principal, ctx.route.operation, ctx.headers, ctx.query):
        ctx.requester_charged = True
    named = version_id if bucket.versioning is not None else None
    await authorise_object(
        ctx,
        svc,
        S3Operation.GetObject,
        bucket,
        key,
        action="s3:GetObjectVersion" if version_id is not None else None,
        version_id=named,
    )
    expected_owner = ctx.headers.get("x-amz-source-expected-bucket-owner")
    if expected_owner is not None and expected_owner.strip() != bucket.tenant_id:
        raise S3Error("AccessDenied")
    if named is None:
        source = await svc.objects.head_object(bucket_name, key)
    else:
        try:
            source = await svc.objects.get_version(bucket_name, key, named)
        except storage_errors.DeleteMarkerFound:
            raise S3Error(
                "InvalidRequest",
                "The source of a copy request may not specifically refer to a delete marker "
                "by version id.",
            ) from None
    await svc.objects.check_customer_key(source, copy_source_customer_key(ctx))
    await check_kms_read(ctx, svc, source)
    outcome = evaluate_copy_source_conditions(
        ctx.headers, etag=source.etag, last_modified=source.last_modified
    )
    if outcome is not ConditionOutcome.PROCEED:
        raise S3Error("PreconditionFailed", Condition="x-amz-copy-source-If-Match")
    return CopySource(source, bucket, named)


def copy_source_version_header(response: Response, source: CopySource) -> None:
    """``x-amz-copy-source-version-id``: the version copied, when its bucket is versioned."""
    if source.bucket.versioning is not None:
        response.header("x-amz-copy-source-version-id", shown_version_id(source.record.version_id))


async def copy_object(ctx: S3Context, svc: S3Services) -> Response:
    reject_unsupported_headers(ctx, object_lock=True)
    bucket = await addressed_bucket(ctx, svc)
    owner_id = object_owner_id(ctx, bucket)
    acl = acl_from_request(ctx, bucket, owner_id=owner_id)
    # The copy's own lock (headers or the bucket's default), never the source's, as on AWS.
    lock = await lock_for_write(ctx, svc, bucket, datetime.now(UTC))
    encryption = await write_encryption(ctx, svc, bucket)
    copied = await load_copy_source(ctx, svc)
    source = copied.record
    if source.size > _COPY_SOURCE_MAX:
        raise S3Error(
            "InvalidRequest",
            "The specified copy source is larger than the maximum allowable size for a copy "
            f"source: {_COPY_SOURCE_MAX}",
        )
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    tagging_directive = ctx.headers.get("x-amz-tagging-directive", "COPY").strip().upper()
    if tagging_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging directive.")
    algorithm_header = ctx.headers.get("x-amz-checksum-algorithm")
    algorithm = parse_checksum_algorithm(algorithm_header) if algorithm_header else None
    # Copying an older version onto its key restores it: not a copy onto itself.
    same = (source.bucket, source.key) == (ctx.bucket, ctx.key) and copied.version_id is None
    changes_encryption = encryption.customer_key is not None or any(
        name.startswith("x-amz-server-side-encryption") for name in ctx.headers
    )
    if (
        same
        and directive == "COPY"
        and tagging_directive == "COPY"
        and algorithm is None
        and not changes_encryption
        and "x-amz-website-redirect-location" not in ctx.headers
    ):
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or "
            "encryption attributes.",
        )
    headers = await _copy_headers(ctx, svc, bucket, copied, directive, tagging_directive)
    expected = await check_write_conditions(ctx, svc)
    record = await svc.objects.copy_object(
        source,
        ctx.bucket,
        ctx.key,
        headers=headers,
        owner_id=owner_id,
        checksum_algorithm=algorithm,
        encryption=encryption,
        source_customer_key=copy_source_customer_key(ctx),
        acl=acl,
        expected=expected,
        lock=lock,
        notify=event_source(ctx, "ObjectCreated:Copy"),
    )
    xml = XmlWriter("CopyObjectResult")
    xml.element("LastModified", iso8601_ms(record.last_modified))
    xml.element("ETag", f'"{record.etag}"')
    write_checksum_elements(xml, record.checksum, with_type=True)
    response = xml_response(xml)
    write_encryption_headers(ctx, response, encryption)
    write_expiration(response, svc, record)
    copy_source_version_header(response, copied)
    if bucket.versioning is not None:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    return response


async def _copy_headers(
    ctx: S3Context,
    svc: S3Services,
    bucket: Bucket,
    copied: CopySource,
    directive: str,
    tagging_directive: str,
) -> ContentHeaders | None:
    """The copy's headers (None: the source's, tags included). Metadata and tags each come
    from the request or the source, by their own directive. The source's tags need
    ``s3:GetObjectTagging`` on it to be read, and tags set on the copy need
    ``s3:PutObjectTagging`` (``tags_from_request``), as on AWS. The website redirect is the
    request's alone, whatever the directive: S3 never copies it."""
    redirect = website_redirect_from_request(ctx)
    source = copied.record
    if tagging_directive == "COPY":
        if source.headers.tags:
            await authorise_object(
                ctx,
                svc,
                S3Operation.GetObjectTagging,
                copied.bucket,
                source.key,
                action=None if copied.version_id is None else "s3:GetObjectVersionTagging",
                version_id=copied.version_id,
            )
            await authorise_object(ctx, svc, S3Operation.PutObjectTagging, bucket, ctx.key)
        if directive == "COPY":
            if redirect == source.headers.website_redirect_location:
                return None
            return source.headers.with_website_redirect(redirect)
        tags = source.headers.tags
    else:
        tags = await tags_from_request(ctx, svc, bucket)
    if directive == "REPLACE":
        return content_headers_from_request(ctx, tags)
    return source.headers.with_tags(tags).with_website_redirect(redirect)
