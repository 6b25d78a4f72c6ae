"""Bucket and object tagging: Get/Put/DeleteBucketTagging (decision 0066) and
Get/Put/DeleteObjectTagging with the ``x-amz-tagging`` header of object writes (decision 0068).

A tag set is validated as S3 validates it: at most 50 tags, keys of 1 to 128 characters and
values of at most 256, letters, digits, white space and ``_ . : / = + - @`` only, no ``aws:``
prefix and no key twice (``InvalidTag``). An empty ``TagSet`` removes the tags. A bucket with
none answers GetBucketTagging with 404 ``NoSuchTagSet``, which is what Terraform and the SDKs
expect. Tags are kept beside the bucket row, not in it, and in clear: they are labels for cost
allocation and policies, read by the operator's billing as on AWS (see the decision).

An object holds at most ``max_object_tags`` tags (10, as on S3; more is 400 BadRequest), under
the same rules. Unlike a bucket's, an object's tags are the customer's data: they are sealed
with its headers and user metadata, under the tenant's key.
"""

from __future__ import annotations

import unicodedata
from typing import Final
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.s3.authorise import request_object_tag_keys
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import (
    S3Services,
    addressed_bucket,
    authorise_object,
    event_source,
    xml_response,
)
from andromede.s3.handlers.version_reads import (
    delete_marker_not_allowed,
    named_version_id,
    read_version,
)
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage import errors as storage_errors
from andromede.storage.model import Bucket, ObjectRecord
from andromede.storage.versioning import shown_version_id

__all__ = [
    "delete_bucket_tagging",
    "delete_object_tagging",
    "get_bucket_tagging",
    "get_object_tagging",
    "parse_bucket_tags",
    "parse_tag_set",
    "parse_tagging_header",
    "put_bucket_tagging",
    "put_object_tagging",
    "tags_from_request",
]

BUCKET_TAGS_MAX: Final = 50
_KEY_MAX: Final = 128
_VALUE_MAX: Final = 256
_PUNCTUATION: Final = frozenset("_.:/=+-@")


def _allowed(text: str) -> bool:
    """Letters, digits and white space in any script, and ``_ . : / = + - @`` (AWS's
    ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``)."""
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text)


def parse_tag_set(body: bytes, limit: int, *, objects: bool = False) -> tuple[tuple[str, str], ...]:
    """The tags of a ``<Tagging><TagSet>`` document, in order; InvalidTag or MalformedXML
    (BadRequest for too many tags on an object, as S3 answers it)."""
    root = parse_xml(body, "Tagging")
    sets = children(root, "TagSet")
    if len(sets) != 1:
        raise S3Error("MalformedXML")
    tags: list[tuple[str, str]] = []
    for tag in children(sets[0], "Tag"):
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        tags.append((key, value))
    if len({key for key, _ in tags}) != len(tags):
        raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
    return _checked(tags, limit, objects=objects)


def parse_bucket_tags(element: Element) -> tuple[tuple[str, str], ...]:
    """CreateBucket's ``<Tags><Tag><Key/><Value/></Tag>…</Tags>`` (decision 0418), under a
    bucket tag set's rules."""
    tags: list[tuple[str, str]] = []
    for tag in children(element, "Tag"):
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        tags.append((key, value))
    if len({key for key, _ in tags}) != len(tags):
        raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
    return _checked(tags, BUCKET_TAGS_MAX, objects=False)


def parse_tagging_header(value: str, limit: int) -> tuple[tuple[str, str], ...]:
    """The tags of an ``x-amz-tagging`` header (PutObject, CopyObject, CreateMultipartUpload):
    URL query parameters, ``key1=value1&key2=value2``, each key at most once."""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        pairs = None
    if pairs is None or len({key for key, _ in pairs}) != len(pairs):
        raise S3Error(
            "InvalidArgument",
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.",
            ArgumentName="x-amz-tagging",
        )
    return _checked(pairs, limit, objects=True)


async def tags_from_request(
    ctx: S3Context, svc: S3Services, bucket: Bucket
) -> tuple[tuple[str, str], ...]:
    """The tag set an object write asks for in ``x-amz-tagging`` (none without the header).
    Setting tags takes ``s3:PutObjectTagging`` besides the write's own permission, as on AWS."""
    value = ctx.headers.get("x-amz-tagging")
    if value is None:
        return ()
    tags = parse_tagging_header(value, ctx.settings.max_object_tags)
    if tags:
        await authorise_object(ctx, svc, S3Operation.PutObjectTagging, bucket, ctx.key)
    return tags


def _checked(
    tags: list[tuple[str, str]], limit: int, *, objects: bool
) -> tuple[tuple[str, str], ...]:
    for key, value in tags:
        if not 1 <= len(key) <= _KEY_MAX or len(value) > _VALUE_MAX:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is too long")
        if not _allowed(key) or not _allowed(value):
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
    if len(tags) > limit:
        if objects:
            raise S3Error("BadRequest", f"Object tags cannot be greater than {limit}")
        raise S3Error("InvalidTag", f"A tag set holds at most {limit} tags")
    return tuple(tags)


def _write_tag_set(tags: tuple[tuple[str, str], ...]) -> Response:
    xml = XmlWriter("Tagging")
    xml.open("TagSet")
    for key, value in tags:
        xml.open("Tag")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("Tag")
    xml.close("TagSet")
    return xml_response(xml)


async def get_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    tags = await svc.objects.get_bucket_tags(ctx.bucket)
    if tags is None:
        raise S3Error("NoSuchTagSet", BucketName=ctx.bucket)
    return _write_tag_set(tags)


async def put_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    await _refused_while_abac(ctx, svc, "PutBucketTagging")
    body = await ctx.read_xml_body(integrity_required=True)
    tags = parse_tag_set(body, BUCKET_TAGS_MAX)
    await svc.objects.set_bucket_tags(ctx.bucket, tags or None)
    return Response(status=204)


async def delete_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    await _refused_while_abac(ctx, svc, "DeleteBucketTagging")
    await svc.objects.set_bucket_tags(ctx.bucket, None)
    return Response(status=204)


async def _refused_while_abac(ctx: S3Context, svc: S3Services, operation: str) -> None:
    """An ABAC bucket's tags are access control: AWS changes them through S3 Control's
    TagResource and UntagResource only (their own actions, s3:TagResource and
    s3:UntagResource, which a policy may condition on aws:TagKeys), never through the old
    whole-set calls. AWS publishes no error code for the refusal: InvalidRequest, in its
    reference's words (decision 0418)."""
    bucket = await addressed_bucket(ctx, svc)
    if bucket.abac_enabled:
        raise S3Error(
            "InvalidRequest",
            f"{operation} is not allowed on a bucket with ABAC enabled: use the TagResource "
            "and UntagResource actions to manage tags on this bucket",
        )


def _with_version(response: Response, bucket: Bucket, record: ObjectRecord) -> Response:
    """The version a versioned bucket's tagging call read or changed, as S3 answers it."""
    if bucket.versioning is not None:
        response.header("x-amz-version-id", shown_version_id(record.version_id))
    return response


async def get_object_tagging(ctx: S3Context, svc: S3Services) -> Response:
    """The tag set of the object, or of the version named (decision 0099); an empty TagSet
    when it has none (not an error, unlike buckets)."""
    bucket = await addressed_bucket(ctx, svc)
    record = await read_version(ctx, svc)
    return _with_version(_write_tag_set(record.headers.tags), bucket, record)


async def put_object_tagging(ctx: S3Context, svc: S3Services) -> Response:
    """Authorised here, once the body is read: a policy may test the tags it sets
    (``s3:RequestObjectTag/<key>``, ``s3:RequestObjectTagKeys``)."""
    body = await ctx.read_xml_body(integrity_required=True)
    tags = parse_tag_set(body, ctx.settings.max_object_tags, objects=True)
    bucket = await addressed_bucket(ctx, svc)
    keys = request_object_tag_keys(tags)
    version_id = named_version_id(ctx, bucket)
    await authorise_object(
        ctx,
        svc,
        S3Operation.PutObjectTagging,
        bucket,
        ctx.key,
        extra_keys=keys,
        version_id=version_id,
    )
    record = await _set_tags(ctx, svc, bucket, tags, "ObjectTagging:Put")
    return _with_version(Response(status=200), bucket, record)


async def delete_object_tagging(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await addressed_bucket(ctx, svc)
    record = await _set_tags(ctx, svc, bucket, (), "ObjectTagging:Delete")
    return _with_version(Response(status=204), bucket, record)


async def _set_tags(
    ctx: S3Context,
    svc: S3Services,
    bucket: Bucket,
    tags: tuple[tuple[str, str], ...],
    event_name: str,
) -> ObjectRecord:
    version_id = named_version_id(ctx, bucket)
    try:
        return await svc.objects.set_object_tags(
            ctx.bucket,
            ctx.key,
            tags,
            version_id=version_id,
            notify=(bucket, event_source(ctx, event_name)),
        )
    except storage_errors.DeleteMarkerFound as found:
        raise delete_marker_not_allowed(ctx, found.marker) from None
    except storage_errors.NoSuchKey:
        if bucket.versioning is not None and version_id is None:
            await read_version(ctx, svc)  # 404 with the current delete marker's headers
        raise
