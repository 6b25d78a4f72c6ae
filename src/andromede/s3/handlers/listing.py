"""Listing handlers: ListObjects (v1), ListObjectsV2, ListMultipartUploads, ListParts."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from andromede.http.dates import iso8601_ms
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import (
    S3Services,
    encode_if,
    encoding_type,
    owner_element,
    parse_max,
    write_checksum_elements,
    write_owner,
    xml_response,
)
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, escape
from andromede.storage.model import ObjectSummary
from andromede.storage.service import ObjectListing
from andromede.storage.versioning import VersionEntry

__all__ = [
    "checksum_elements",
    "list_multipart_uploads",
    "list_objects",
    "list_objects_v2",
    "list_parts",
    "owner_elements",
]

_TOKEN_PREFIX = b"v1:"


def checksum_elements(entry: ObjectSummary | VersionEntry) -> str:
    """A listed object's ``ChecksumAlgorithm`` and ``ChecksumType`` elements, as text."""
    if entry.checksum_algorithm is None:
        return ""
    checksum = f"<ChecksumAlgorithm>{entry.checksum_algorithm.value}</ChecksumAlgorithm>"
    if entry.checksum_type is not None:
        checksum += f"<ChecksumType>{entry.checksum_type.value}</ChecksumType>"
    return checksum


def owner_elements() -> Callable[[str], str]:
    """A listing's ``Owner`` element by owner id, each made once per listing."""
    owners: dict[str, str] = {}

    def owner(owner_id: str) -> str:
        return owners.get(owner_id) or owners.setdefault(owner_id, owner_element(owner_id))

    return owner


def _write_contents(xml: XmlWriter, listing: ObjectListing, *, url: bool, with_owner: bool) -> None:
    # The hot part of LIST: one formatted string per key. Only the key needs escaping; every
    # other value is generated here (hex ETags and ids, digits, ISO dates, enum names).
    owner_of = owner_elements()
    for entry in listing.objects:
        checksum = checksum_elements(entry)
        owner = owner_of(entry.owner_id) if with_owner else ""
        xml.raw(
            f"<Contents><Key>{escape(encode_if(url, entry.key) or '')}</Key>"
            f"<LastModified>{iso8601_ms(entry.last_modified)}</LastModified>"
            f"<ETag>&quot;{entry.etag}&quot;</ETag>{checksum}<Size>{entry.size}</Size>"
            f"<StorageClass>STANDARD</StorageClass>{owner}</Contents>"
        )
    for prefix in listing.common_prefixes:
        xml.open("CommonPrefixes")
        xml.element("Prefix", encode_if(url, prefix))
        xml.close("CommonPrefixes")


async def list_objects(ctx: S3Context, svc: S3Services) -> Response:
    url = encoding_type(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter") or None
    marker = ctx.query.get("marker") or None
    max_keys = parse_max(ctx, "max-keys", default=1000, cap=svc.settings.max_list_keys)
    listing = await svc.objects.list_objects(
        ctx.bucket, prefix=prefix, delimiter=delimiter, after=marker, max_keys=max_keys
    )
    xml = XmlWriter("ListBucketResult")
    xml.element("Name", ctx.bucket)
    xml.element("Prefix", encode_if(url, prefix))
    xml.element("Marker", encode_if(url, marker or ""))
    xml.element("MaxKeys", max_keys)
    xml.element("Delimiter", encode_if(url, delimiter))
    xml.element("IsTruncated", listing.truncated)
    if listing.truncated and delimiter is not None:
        # AWS returns NextMarker only with a delimiter; without one the last key is the marker.
        xml.element("NextMarker", encode_if(url, listing.next_marker))
    if url:
        xml.element("EncodingType", "url")
    _write_contents(xml, listing, url=url, with_owner=True)
    return xml_response(xml)


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(_TOKEN_PREFIX + key.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        if not raw.startswith(_TOKEN_PREFIX):
            raise ValueError(token)
        return raw[len(_TOKEN_PREFIX) :].decode()
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from exc


async def list_objects_v2(ctx: S3Context, svc: S3Services) -> Response:
    url = encoding_type(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter") or None
    token = ctx.query.get("continuation-token")
    start_after = ctx.query.get("start-after") or None
    if token is not None and token == "":
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect")
    after = _decode_token(token) if token else start_after
    max_keys = parse_max(ctx, "max-keys", default=1000, cap=svc.settings.max_list_keys)
    fetch_owner = ctx.query.get("fetch-owner", "false").lower() == "true"
    listing = await svc.objects.list_objects(
        ctx.bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
    )
    xml = XmlWriter("ListBucketResult")
    xml.element("Name", ctx.bucket)
    xml.element("Prefix", encode_if(url, prefix))
    xml.element("MaxKeys", max_keys)
    xml.element("KeyCount", len(listing.objects) + len(listing.common_prefixes))
    xml.element("Delimiter", encode_if(url, delimiter))
    xml.element("IsTruncated", listing.truncated)
    if token:
        xml.element("ContinuationToken", token)
    if listing.truncated and listing.next_marker is not None:
        xml.element("NextContinuationToken", _encode_token(listing.next_marker))
    if start_after:
        xml.element("StartAfter", encode_if(url, start_after))
    if url:
        xml.element("EncodingType", "url")
    _write_contents(xml, listing, url=url, with_owner=fetch_owner)
    return xml_response(xml)


async def list_multipart_uploads(ctx: S3Context, svc: S3Services) -> Response:
    url = encoding_type(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter") or None
    key_marker = ctx.query.get("key-marker") or None
    upload_id_marker = ctx.query.get("upload-id-marker") or None
    max_uploads = parse_max(ctx, "max-uploads", default=1000, cap=svc.settings.max_list_keys)
    listing = await svc.objects.list_multipart_uploads(
        ctx.bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_id_marker if key_marker else None,
        max_uploads=max_uploads,
    )
    xml = XmlWriter("ListMultipartUploadsResult")
    xml.element("Bucket", ctx.bucket)
    xml.element("KeyMarker", encode_if(url, key_marker or ""))
    xml.element("UploadIdMarker", upload_id_marker or "")
    if listing.truncated:
        xml.element("NextKeyMarker", encode_if(url, listing.next_key_marker))
        xml.element("NextUploadIdMarker", listing.next_upload_id_marker)
    xml.element("Delimiter", encode_if(url, delimiter))
    xml.element("Prefix", encode_if(url, prefix))
    xml.element("MaxUploads", max_uploads)
    xml.element("IsTruncated", listing.truncated)
    if url:
        xml.element("EncodingType", "url")
    for upload in listing.uploads:
        xml.open("Upload")
        xml.element("Key", encode_if(url, upload.key))
        xml.element("UploadId", upload.upload_id)
        write_owner(xml, upload.owner_id, "Initiator")
        write_owner(xml, upload.owner_id)
        xml.element("StorageClass", "STANDARD")
        xml.element("Initiated", iso8601_ms(upload.initiated))
        if upload.checksum_algorithm is not None:
            xml.element("ChecksumAlgorithm", upload.checksum_algorithm.value)
        if upload.checksum_type is not None:
            xml.element("ChecksumType", upload.checksum_type.value)
        xml.close("Upload")
    for common in listing.common_prefixes:
        xml.open("CommonPrefixes")
        xml.element("Prefix", encode_if(url, common))
        xml.close("CommonPrefixes")
    return xml_response(xml)


async def list_parts(ctx: S3Context, svc: S3Services) -> Response:
    upload_id = ctx.query["uploadId"]
    raw_marker = ctx.query.get("part-number-marker") or "0"
    if not raw_marker.isdigit():
        raise S3Error(
            "InvalidArgument", "Provided part-number-marker not an integer or within integer range"
        )
    marker = int(raw_marker)
    max_parts = parse_max(ctx, "max-parts", default=1000, cap=svc.settings.max_list_keys)
    upload, parts, truncated = await svc.objects.list_parts(
        ctx.bucket, ctx.key, upload_id, after_part=marker, max_parts=max_parts
    )
    xml = XmlWriter("ListPartsResult")
    xml.element("Bucket", ctx.bucket)
    xml.element("Key", ctx.key)
    xml.element("UploadId", upload_id)
    write_owner(xml, upload.owner_id, "Initiator")
    write_owner(xml, upload.owner_id)
    xml.element("StorageClass", "STANDARD")
    xml.element("PartNumberMarker", marker)
    if parts:
        xml.element("NextPartNumberMarker", parts[-1].part_number)
    xml.element("MaxParts", max_parts)
    xml.element("IsTruncated", truncated)
    if upload.checksum_algorithm is not None:
        xml.element("ChecksumAlgorithm", upload.checksum_algorithm.value)
    if upload.checksum_type is not None:
        xml.element("ChecksumType", upload.checksum_type.value)
    for part in parts:
        xml.open("Part")
        xml.element("PartNumber", part.part_number)
        xml.element("LastModified", iso8601_ms(part.last_modified))
        xml.element("ETag", f'"{part.etag}"')
        xml.element("Size", part.size)
        write_checksum_elements(xml, part.checksum, with_type=False)
        xml.close("Part")
    return xml_response(xml)
