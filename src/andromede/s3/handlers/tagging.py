"""Bucket tagging: Get/Put/DeleteBucketTagging (decision 0066).

A tag set is validated as S3 validates it: at most 50 tags, keys of 1 to 128 characters and
values of at most 256, letters, digits, white space and ``_ . : / = + - @`` only, no ``aws:``
prefix and no key twice (``InvalidTag``). An empty ``TagSet`` removes the tags. A bucket with
none answers GetBucketTagging with 404 ``NoSuchTagSet``, which is what Terraform and the SDKs
expect. Tags are kept beside the bucket row, not in it, and in clear: they are labels for cost
allocation and policies, read by the operator's billing as on AWS (see the decision).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services, xml_response
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml

__all__ = ["delete_bucket_tagging", "get_bucket_tagging", "parse_tag_set", "put_bucket_tagging"]

BUCKET_TAGS_MAX: Final = 50
_KEY_MAX: Final = 128
_VALUE_MAX: Final = 256
_PUNCTUATION: Final = frozenset("_.:/=+-@")


def _allowed(text: str) -> bool:
    """Letters, digits and white space in any script, and ``_ . : / = + - @`` (AWS's
    ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``)."""
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text)


def parse_tag_set(body: bytes, limit: int) -> tuple[tuple[str, str], ...]:
    """The tags of a ``<Tagging><TagSet>`` document, in order; InvalidTag or MalformedXML."""
    root = parse_xml(body, "Tagging")
    sets = children(root, "TagSet")
    if len(sets) != 1:
        raise S3Error("MalformedXML")
    tags: list[tuple[str, str]] = []
    for tag in children(sets[0], "Tag"):
        key, value = child_text(tag, "Key"), child_text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        if not 1 <= len(key) <= _KEY_MAX or len(value) > _VALUE_MAX:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is too long")
        if not _allowed(key) or not _allowed(value):
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "Your TagKey cannot be prefixed with aws:")
        tags.append((key, value))
    if len({key for key, _ in tags}) != len(tags):
        raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
    if len(tags) > limit:
        raise S3Error("InvalidTag", f"A tag set holds at most {limit} tags")
    return tuple(tags)


async def get_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    tags = await svc.objects.get_bucket_tags(ctx.bucket)
    if tags is None:
        raise S3Error("NoSuchTagSet", BucketName=ctx.bucket)
    xml = XmlWriter("Tagging")
    xml.open("TagSet")
    for key, value in tags:
        xml.open("Tag")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("Tag")
    xml.close("TagSet")
    return xml_response(xml)


async def put_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    body = await ctx.read_xml_body(integrity_required=True)
    tags = parse_tag_set(body, BUCKET_TAGS_MAX)
    await svc.objects.set_bucket_tags(ctx.bucket, tags or None)
    return Response(status=204)


async def delete_bucket_tagging(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_tags(ctx.bucket, None)
    return Response(status=204)
