"""Versions of an unversioned bucket: GetBucketVersioning and ListObjectVersions as S3 answers
them for a bucket whose versioning was never enabled (decision 0078).

Every bucket here is such a bucket: PutBucketVersioning is not implemented (501), so no bucket
ever holds more than one version of a key. S3's answer for such a bucket is exact, not an
approximation:
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
from andromede.s3.xml import XmlWriter, escape

__all__ = ["get_bucket_versioning", "list_object_versions"]

_NULL_VERSION = "null"


async def get_bucket_versioning(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.get_bucket(ctx.bucket)  # NoSuchBucket
    return xml_response(XmlWriter("VersioningConfiguration"))


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
        if version_marker != _NULL_VERSION:
            raise S3Error("InvalidArgument", "Invalid version id specified")
    max_keys = parse_max(ctx, "max-keys", default=1000, cap=svc.settings.max_list_keys)
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
