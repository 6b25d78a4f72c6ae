"""The tag condition keys of S3 Control calls on access points and their tags (decision
0392), as AWS's service authorization reference lists them for S3:

- every call on an existing access point (Get/DeleteAccessPoint, its policy calls, and the
  three tagging calls on its ARN): ``aws:ResourceTag/<key>`` for each of its tags;
- CreateAccessPoint with ``Tags``, TagResource: ``aws:RequestTag/<key>`` and ``aws:TagKeys``;
- UntagResource: ``aws:TagKeys``;
- the three tagging calls on a bucket's ARN while its ABAC is Enabled (decision 0418):
  ``aws:ResourceTag/<key>`` for each of the bucket's tags.

Read leniently: a body, query or resource that cannot be read gives no key (the call's own
handler then answers its error, once the caller is allowed to learn it).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs

from andromede.iam.policy.context import ContextValue
from andromede.s3control.access_points import parse_create
from andromede.s3control.errors import S3ControlError
from andromede.s3control.operations import S3ControlOperation
from andromede.s3control.resource_tags import (
    ResourceTagCalls,
    parse_tag_resource,
    tagged_resource,
)
from andromede.storage.access_points import AccessPointStore

__all__ = ["tag_condition_keys"]

_O = S3ControlOperation


def _request_tags(tags: Sequence[tuple[str, str]]) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


async def tag_condition_keys(
    operation: S3ControlOperation,
    *,
    account: str,
    region: str,
    access_point: str,
    resource_arn: str,
    body: bytes,
    query: str,
    access_points: AccessPointStore,
    tag_calls: ResourceTagCalls,
) -> dict[str, ContextValue]:
    """``access_point``: the name an ``accesspoint/{name}`` path gives ("" for none);
    ``resource_arn``: the ARN a ``tags/{arn}`` path gives ("" for none)."""
    keys: dict[str, ContextValue] = {}
    if operation is _O.CreateAccessPoint:
        try:
            tags = parse_create(body).tags
        except S3ControlError:
            return keys
        return _request_tags(tags) if tags else keys
    if access_point and operation is not _O.ListAccessPoints:
        point = await access_points.get(account, access_point)
        if point is not None:
            keys.update({f"aws:ResourceTag/{k}": v for k, v in point.tags})
        return keys
    if not resource_arn:
        return keys
    if operation is _O.TagResource:
        try:
            keys.update(_request_tags(parse_tag_resource(body)))
        except S3ControlError:
            pass
    if operation is _O.UntagResource:
        keys["aws:TagKeys"] = parse_qs(query).get("tagKeys", [])
    try:
        resource = tagged_resource(resource_arn, account, region)
        if resource.access_point is not None:
            current = await tag_calls.current(account, resource)
            keys.update({f"aws:ResourceTag/{k}": v for k, v in current})
        elif resource.bucket is not None:
            # An ABAC bucket's tags are access control (decision 0418): who may retag it.
            abac = await tag_calls.bucket_abac_tags(account, resource.bucket)
            keys.update({f"aws:ResourceTag/{k}": v for k, v in abac or ()})
    except S3ControlError:
        pass
    return keys
