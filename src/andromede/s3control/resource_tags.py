"""S3 Control's resource tagging (decision 0392): TagResource, UntagResource and
ListTagsForResource on ``/v20180820/tags/{resourceArn}``, for the two kinds of resource the
platform serves that AWS lets these calls tag: an access point of a general purpose bucket
(``arn:aws:s3:<region>:<account>:accesspoint/<name>``) and a general purpose bucket
(``arn:aws:s3:::<bucket>``, the same tag set as S3's Put/Get/DeleteBucketTagging). Storage
Lens groups and Access Grants are not served here (501 ``NotImplemented``); any other ARN is
400 ``InvalidRequest``.

AWS's rules: a key of 1 to 128 characters, a value of at most 256, both letters, digits,
white space and ``_ . : / = + - @``; no key under ``aws:``; each key once per request
(``InvalidTagError``); at most 50 tags on a resource once the new ones are merged in
(``TooManyTagsException``). TagResource adds or replaces the keys it names and keeps the
others; UntagResource removes the keys it names (one it does not have: nothing to do).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE
from andromede.storage.access_points import AccessPointStore, Tags
from andromede.storage.errors import NoSuchBucket
from andromede.storage.service import ObjectService

__all__ = [
    "MAX_RESOURCE_TAGS",
    "ResourceTagCalls",
    "TaggedResource",
    "check_tags",
    "merged",
    "parse_tag_list",
    "parse_tag_resource",
    "parse_untag_keys",
    "resource_of",
    "tagged_resource",
    "without",
]

MAX_RESOURCE_TAGS: Final = 50
_KEY_MAX: Final = 128
_VALUE_MAX: Final = 256
# AWS's ``^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`` (the same rule as S3's bucket tags, whose
# parser belongs to the S3 wire package, which this one does not import).
_PUNCTUATION: Final = frozenset("_.:/=+-@")
_ACCESS_POINT_ARN = re.compile(
    r"arn:aws:s3:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):accesspoint/(?P<name>[^/]+)"
)
_BUCKET_ARN = re.compile(r"arn:aws:s3:::(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
_NOT_SERVED = re.compile(r"arn:aws:s3:[a-z0-9-]*:[0-9]{12}:(storage-lens-group|access-grants)/.*")


def _allowed(text: str) -> bool:
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text)


def resource_of(path: str) -> str:
    """The ARN a ``/v20180820/tags/{resourceArn+}`` path names, "" for any other path. The
    path is the ASGI scope's, already percent-decoded (botocore encodes the ARN's ``:``)."""
    prefix = "/v20180820/tags/"
    return path[len(prefix) :] if path.startswith(prefix) else ""


def check_tags(tags: Sequence[tuple[str, str]]) -> Tags:
    """Tags as AWS takes them (``InvalidTagError``)."""
    for key, value in tags:
        if not 1 <= len(key) <= _KEY_MAX or len(value) > _VALUE_MAX:
            raise S3ControlError(
                "InvalidTagError", "A tag key is 1 to 128 characters, a value at most 256"
            )
        if not _allowed(key) or not _allowed(value):
            raise S3ControlError("InvalidTagError", "The tag key or value has invalid characters")
        if key.lower().startswith("aws:"):
            raise S3ControlError("InvalidTagError", "A tag key cannot begin with aws:")
    if len({key for key, _ in tags}) != len(tags):
        raise S3ControlError("InvalidTagError", "Cannot provide multiple tags with the same key")
    return tuple(tags)


def parse_tag_list(node: Element) -> Tags:
    """A ``Tags`` element's ``Tag`` (or ``member``) children, checked."""
    tags = []
    for tag in node:
        keys = [c for c in tag if local_name(c.tag) == "Key"]
        values = [c for c in tag if local_name(c.tag) == "Value"]
        if len(keys) != 1 or len(values) > 1 or len(tag) != len(keys) + len(values):
            raise S3ControlError("MalformedXML")
        tags.append((keys[0].text or "", (values[0].text or "") if values else ""))
    if len(tags) > MAX_RESOURCE_TAGS:
        raise S3ControlError("TooManyTagsException")
    return check_tags(tags)


def parse_tag_resource(body: bytes) -> Tags:
    """A ``TagResourceRequest``: its ``Tags`` (required)."""
    root = request_document(body, "TagResourceRequest")
    nodes = list(root)
    if len(nodes) != 1 or local_name(nodes[0].tag) != "Tags":
        raise S3ControlError("MalformedXML")
    return parse_tag_list(nodes[0])


def parse_untag_keys(query: str) -> tuple[str, ...]:
    """UntagResource's ``tagKeys`` (one parameter per key, at most 50)."""
    keys = parse_qs(query, keep_blank_values=True).get("tagKeys", [])
    if not keys:
        raise S3ControlError("InvalidRequest", "tagKeys is required")
    if len(keys) > MAX_RESOURCE_TAGS:
        raise S3ControlError("TooManyTagsException")
    return tuple(keys)


def merged(current: Tags, added: Tags) -> Tags:
    """``current`` with ``added``'s keys replaced or appended (TooManyTagsException past 50)."""
    new = dict(current)
    new.update(added)
    if len(new) > MAX_RESOURCE_TAGS:
        raise S3ControlError(
            "TooManyTagsException",
            f"A resource holds at most {MAX_RESOURCE_TAGS} tags",
        )
    return tuple(new.items())


def without(current: Tags, keys: Sequence[str]) -> Tags:
    return tuple((k, v) for k, v in current if k not in keys)


@dataclass(frozen=True, slots=True)
class TaggedResource:
    """What an ARN names: an access point of the caller's account (``name``), or a bucket
    (``bucket``)."""

    arn: str
    access_point: str | None = None
    bucket: str | None = None


def tagged_resource(arn: str, account: str, region: str) -> TaggedResource:
    """The resource ``arn`` names, for ``account`` calling in ``region``: an access point of
    another account or Region is 403 ``AccessDenied`` / 404 ``NoSuchAccessPoint`` as AWS
    answers them; the resource types not served, 501; anything else, 400."""
    if (found := _ACCESS_POINT_ARN.fullmatch(arn)) is not None:
        if found["account"] != account:
            raise S3ControlError("AccessDenied")
        if found["region"] != region:
            # Access points are regional: none of that name in this Region.
            raise S3ControlError("NoSuchAccessPoint")
        return TaggedResource(arn, access_point=found["name"])
    if (found := _BUCKET_ARN.fullmatch(arn)) is not None:
        return TaggedResource(arn, bucket=found["bucket"])
    if _NOT_SERVED.fullmatch(arn):
        raise S3ControlError("NotImplemented", "This resource type is not served")
    raise S3ControlError("InvalidRequest", "The resource ARN is not valid")


class ResourceTagCalls:
    """The three tagging calls over the access point store and the object service."""

    def __init__(self, access_points: AccessPointStore, objects: ObjectService) -> None:
        self._access_points = access_points
        self._objects = objects

    async def current(self, account: str, resource: TaggedResource) -> Tags:
        """The resource's tags (NoSuchAccessPoint, NoSuchBucket; another account's bucket:
        AccessDenied)."""
        if resource.access_point is not None:
            point = await self._access_points.get(account, resource.access_point)
            if point is None:
                raise S3ControlError("NoSuchAccessPoint")
            return point.tags
        return await self._bucket_tags(account, resource.bucket or "")

    async def _bucket_tags(self, account: str, name: str) -> Tags:
        try:
            bucket = await self._objects.get_bucket(name)
            if bucket.tenant_id != account:
                raise S3ControlError("AccessDenied")
            return await self._objects.get_bucket_tags(name) or ()
        except NoSuchBucket as exc:
            raise S3ControlError("NoSuchBucket") from exc

    async def bucket_abac_tags(self, account: str, name: str) -> Tags | None:
        """The tags of the account's bucket while its ABAC is Enabled (decision 0418), as its
        row carries them; None otherwise (Disabled, absent, or another account's)."""
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            return None
        return bucket.abac_tags if bucket.tenant_id == account else None

    async def tag(self, account: str, resource: TaggedResource, body: bytes) -> Response:
        added = parse_tag_resource(body)
        if resource.access_point is not None:
            changed = await self._access_points.change_tags(
                account, resource.access_point, lambda tags: merged(tags, added)
            )
            if not changed:
                raise S3ControlError("NoSuchAccessPoint")
        else:
            # The bucket's tag set is S3's (PutBucketTagging replaces it whole): read, merged,
            # written, as two PutBucketTagging calls would race the same way.
            bucket = resource.bucket or ""
            tags = merged(await self._bucket_tags(account, bucket), added)
            await self._set_bucket_tags(bucket, tags)
        return Response(status=204)

    async def untag(self, account: str, resource: TaggedResource, query: str) -> Response:
        keys = parse_untag_keys(query)
        if resource.access_point is not None:
            changed = await self._access_points.change_tags(
                account, resource.access_point, lambda tags: without(tags, keys)
            )
            if not changed:
                raise S3ControlError("NoSuchAccessPoint")
        else:
            bucket = resource.bucket or ""
            tags = without(await self._bucket_tags(account, bucket), keys)
            await self._set_bucket_tags(bucket, tags)
        return Response(status=204)

    async def _set_bucket_tags(self, bucket: str, tags: Tags) -> None:
        try:
            await self._objects.set_bucket_tags(bucket, tags or None)
        except NoSuchBucket as exc:
            raise S3ControlError("NoSuchBucket") from exc

    async def list(self, account: str, resource: TaggedResource) -> Response:
        tags = await self.current(account, resource)
        xml = XmlWriter("ListTagsForResourceResult", namespace=NAMESPACE)
        xml.open("Tags")
        for key, value in tags:
            xml.open("Tag")
            xml.element("Key", key)
            xml.element("Value", value)
            xml.close("Tag")
        xml.close("Tags")
        return Response(headers=[("Content-Type", "application/xml")], body=xml.document())
