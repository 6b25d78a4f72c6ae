"""Which version of an object a request reads or changes (decisions 0097, 0099).

GET, HEAD and the per-object subresources (tagging, ACL, attributes) take ``?versionId=``. In
a bucket never versioned the only version is ``null`` (the app refuses any other id), so they
read the current object, as they always did. In a versioned bucket:
- no ``versionId``: the current version; a current delete marker is 404 NoSuchKey with
  ``x-amz-delete-marker: true`` and the marker's ``x-amz-version-id``;
- a ``versionId``: that version, current or not; a delete marker is 405 MethodNotAllowed with
  the same headers, ``Last-Modified`` and ``Allow: DELETE``: a delete marker has no data, tags
  or ACL, and DELETE is the one call it takes (AWS's "Working with delete markers").
"""

from __future__ import annotations

from typing import Final

from andromede.http.dates import http_date
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.storage import errors as storage_errors
from andromede.storage.model import Bucket, ObjectRecord
from andromede.storage.versioning import DeleteMarker, shown_version_id

__all__ = [
    "delete_marker_not_allowed",
    "marker_headers",
    "named_version_id",
    "read_version",
]

_O = S3Operation
# The HTTP method of each call that may name a version, for MethodNotAllowed's <Method>.
_METHODS: Final = {
    _O.HeadObject: "HEAD",
    _O.PutObjectTagging: "PUT",
    _O.PutObjectAcl: "PUT",
    _O.DeleteObjectTagging: "DELETE",
}


def named_version_id(ctx: S3Context, bucket: Bucket | None) -> str | None:
    """The version the request names, None for the current one. In a bucket never versioned,
    ``null`` is the current object itself."""
    if bucket is None or bucket.versioning is None:
        return None
    return ctx.query.get("versionId")


def marker_headers(marker: DeleteMarker) -> tuple[tuple[str, str], ...]:
    return (
        ("x-amz-delete-marker", "true"),
        ("x-amz-version-id", shown_version_id(marker.version_id)),
    )


def delete_marker_not_allowed(ctx: S3Context, marker: DeleteMarker) -> S3Error:
    """405 for a call other than DELETE on a version that is a delete marker."""
    method = _METHODS.get(ctx.route.operation, "GET")
    error = S3Error("MethodNotAllowed", Method=method, ResourceType="DeleteMarker")
    error.response_headers = (
        *marker_headers(marker),
        ("Last-Modified", http_date(marker.last_modified)),
        ("Allow", "DELETE"),
    )
    return error


async def read_version(ctx: S3Context, svc: S3Services) -> ObjectRecord:
    """The record the request reads: the current object, or (``versionId``) that version,
    as the module docstring says."""
    lookup = ctx.object_lookup
    bucket = lookup.bucket if lookup is not None else ctx.bucket_record
    version_id = named_version_id(ctx, bucket)
    if version_id is None:
        try:
            # A GET's object was read with its bucket: the one query of a small GET.
            return await svc.objects.head_object(ctx.bucket, ctx.key, lookup=lookup)
        except storage_errors.NoSuchKey:
            if bucket is None or bucket.versioning is None:
                raise
            marker = await svc.objects.current_delete_marker(ctx.bucket, ctx.key)
            if marker is None:
                raise
        error = S3Error("NoSuchKey", Key=ctx.key)
        error.response_headers = marker_headers(marker)
        raise error
    try:
        return await svc.objects.get_version(ctx.bucket, ctx.key, version_id)
    except storage_errors.DeleteMarkerFound as found:
        raise delete_marker_not_allowed(ctx, found.marker) from None
