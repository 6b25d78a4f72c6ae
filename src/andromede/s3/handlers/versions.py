"""Bucket versioning: Get/PutBucketVersioning and ListObjectVersions (decisions 0078, 0097).

A versioned bucket (Enabled or Suspended) lists its versions and delete markers from the
version store. A bucket never versioned keeps 0078's answer, S3's own for such a bucket:
- GetBucketVersioning is an empty ``VersioningConfiguration``: no ``Status``, the state of a
  bucket never versioned;
- every object is its key's one version, with the version id ``null``, and is the latest;
- there are no delete markers.

Tools call these to learn that a bucket is unversioned and to empty it: Terraform's
``force_destroy``, boto3's ``bucket.object_versions.delete()``, ``aws s3api
list-object-versions``. The ``null`` versions they name are accepted wherever a version id
is (DeleteObjects, ``versionId=null``).
"""

from __future__ import annotations

from andromede.http.dates import iso8601_ms
from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import (
    S3Services,
    encode_if,
    encoding_type,
    parse_max,
    xml_response,
)
from andromede.s3.handlers.listing import checksum_elements, owner_elements
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, escape, parse_xml
from andromede.storage.model import VersioningStatus
from andromede.storage.versioning import is_version_id, shown_version_id

__all__ = ["get_bucket_versioning", "list_object_versions", "put_bucket_versioning"]

_NULL_VERSION = "null"
_STATUSES = {status.value: status for status in VersioningStatus}


async def get_bucket_versioning(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)  # NoSuchBucket
    xml = XmlWriter("VersioningConfiguration")
    if bucket.versioning is not None:
        xml.element("Status", bucket.versioning.value)
    return xml_response(xml)


async def put_bucket_versioning(ctx: S3Context, svc: S3Services) -> Response:
    """Enabled or Suspended. MFA Delete is not implemented: asking for it is refused, never
    dropped; ``Disabled``, the truth here, is accepted."""
    root = parse_xml(await ctx.read_xml_body(), "VersioningConfiguration")
    if len(children(root, "Status")) > 1 or len(children(root, "MfaDelete")) > 1:
        raise S3Error("MalformedXML")
    status = _STATUSES.get((child_text(root, "Status") or "").strip())
    mfa_delete = child_text(root, "MfaDelete")
    if mfa_delete is not None and mfa_delete.strip() not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if "x-amz-mfa" in ctx.headers or (mfa_delete or "").strip() == "Enabled":
        raise S3Error("NotImplemented", "MFA Delete is not implemented", Header="MfaDelete")
    if status is None:
        raise S3Error("MalformedXML")
    if (
        status is VersioningStatus.SUSPENDED
        and await svc.objects.get_bucket_replication(ctx.bucket) is not None
    ):
        # S3's answer: a source bucket's new versions must keep their ids (decision 0112).
        # A destination may still be suspended: its pending replicas then fail, as on S3.
        raise S3Error(
            "InvalidBucketState",
            "A replication configuration is present on this bucket, so the versioning state "
            "cannot be changed.",
        )
    # Object Lock keeps every version, and a Suspended bucket would overwrite the null one:
    # the store refuses that (409 InvalidBucketState) in its write, where a concurrent
    # PutObjectLockConfiguration cannot slip past the check (decision 0104).
    await svc.objects.set_bucket_versioning(ctx.bucket, status)
    return Response(status=200)


async def list_object_versions(ctx: S3Context, svc: S3Services) -> Response:
    url = encoding_type(ctx)
    prefix = ctx.query.get("prefix", "")
    delimiter = ctx.query.get("delimiter") or None
    key_marker = ctx.query.get("key-marker") or None
    version_marker = ctx.query.get("version-id-marker") or None
    if version_marker is not None:
        if key_marker is None:
            raise S3Error(
                "InvalidArgument", "A version-id marker cannot be specified without a key marker."
            )
        if version_marker != _NULL_VERSION and not is_version_id(version_marker):
            raise S3Error("InvalidArgument", "Invalid version id specified")
    max_keys = parse_max(ctx, "max-keys", default=1000, cap=svc.settings.max_list_keys)
    bucket = ctx.bucket_record or await svc.objects.get_bucket(ctx.bucket)
    if bucket.versioning is not None:
        return await _list_versioned(
            ctx, svc, url, prefix, delimiter, key_marker, version_marker, max_keys
        )
    if version_marker is not None and version_marker != _NULL_VERSION:
        raise S3Error("InvalidArgument", "Invalid version id specified")
    # A key has one version: the versions after (key, "null") are those of the keys after it.
    listing = await svc.objects.list_objects(
        ctx.bucket, prefix=prefix, delimiter=delimiter, after=key_marker, max_keys=max_keys
    )
    xml = XmlWriter("ListVersionsResult")
    xml.element("Name", ctx.bucket)
    xml.element("Prefix", encode_if(url, prefix))
    xml.element("KeyMarker", encode_if(url, key_marker or ""))
    xml.element("VersionIdMarker", version_marker or "")
    if listing.truncated and listing.next_marker is not None:
        xml.element("NextKeyMarker", encode_if(url, listing.next_marker))
        xml.element("NextVersionIdMarker", _NULL_VERSION)
    xml.element("MaxKeys", max_keys)
    xml.element("Delimiter", encode_if(url, delimiter))
    xml.element("IsTruncated", listing.truncated)
    if url:
        xml.element("EncodingType", "url")
    owner_of = owner_elements()
    for entry in listing.objects:
        xml.raw(
            f"<Version><Key>{escape(encode_if(url, entry.key) or '')}</Key>"
            f"<VersionId>{_NULL_VERSION}</VersionId><IsLatest>true</IsLatest>"
            f"<LastModified>{iso8601_ms(entry.last_modified)}</LastModified>"
            f"<ETag>&quot;{entry.etag}&quot;</ETag>{checksum_elements(entry)}"
            f"<Size>{entry.size}</Size>{owner_of(entry.owner_id)}"
            "<StorageClass>STANDARD</StorageClass></Version>"
        )
    for common in listing.common_prefixes:
        xml.open("CommonPrefixes")
        xml.element("Prefix", encode_if(url, common))
        xml.close("CommonPrefixes")
    return xml_response(xml)


async def _list_versioned(
    ctx: S3Context,
    svc: S3Services,
    url: bool,
    prefix: str,
    delimiter: str | None,
    key_marker: str | None,
    version_marker: str | None,
    max_keys: int,
) -> Response:
    listing = await svc.objects.list_versions(
        ctx.bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_marker=version_marker,
        max_keys=max_keys,
    )
    xml = XmlWriter("ListVersionsResult")
    xml.element("Name", ctx.bucket)
    xml.element("Prefix", encode_if(url, prefix))
    xml.element("KeyMarker", encode_if(url, key_marker or ""))
    xml.element("VersionIdMarker", version_marker or "")
    if listing.truncated and listing.next_key_marker is not None:
        xml.element("NextKeyMarker", encode_if(url, listing.next_key_marker))
        xml.element("NextVersionIdMarker", listing.next_version_marker or "")
    xml.element("MaxKeys", max_keys)
    xml.element("Delimiter", encode_if(url, delimiter))
    xml.element("IsTruncated", listing.truncated)
    if url:
        xml.element("EncodingType", "url")
    owner_of = owner_elements()
    for entry in listing.versions:
        head = (
            f"<Key>{escape(encode_if(url, entry.key) or '')}</Key>"
            f"<VersionId>{escape(shown_version_id(entry.version_id))}</VersionId>"
            f"<IsLatest>{'true' if entry.is_latest else 'false'}</IsLatest>"
            f"<LastModified>{iso8601_ms(entry.last_modified)}</LastModified>"
        )
        if entry.delete_marker:
            xml.raw(f"<DeleteMarker>{owner_of(entry.owner_id)}{head}</DeleteMarker>")
            continue
        xml.raw(
            f"<Version>{head}<ETag>&quot;{entry.etag}&quot;</ETag>{checksum_elements(entry)}"
            f"<Size>{entry.size}</Size>{owner_of(entry.owner_id)}"
            "<StorageClass>STANDARD</StorageClass></Version>"
        )
    for common in listing.common_prefixes:
        xml.open("CommonPrefixes")
        xml.element("Prefix", encode_if(url, common))
        xml.close("CommonPrefixes")
    return xml_response(xml)
