"""Which bucket a copy's source names, and the access point it is read through.

``x-amz-copy-source`` names a bucket (``bucket/key``), an access point's alias in place of
the bucket (decision 0157), or an access point's ARN — the form botocore sends when
``CopySource``'s ``Bucket`` is one: ``arn:aws:s3:<region>:<account>:accesspoint/<name>/
object/<key>``, and a Multi-Region Access Point's ``arn:aws:s3::<account>:accesspoint/
<alias>/object/<key>`` (decision 0391), URL-encoded. A source read through an access point
is authorised as the access point's reads: its policy as well as the bucket's.
"""

from __future__ import annotations

import re

from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import S3Services
from andromede.storage.access_points import ALIAS_SUFFIX
from andromede.storage.model import AccessPointUse
from andromede.storage.multi_region_access_points import client_region, serving_route

__all__ = ["source_bucket", "split_arn_source"]

# An access point's ARN (no Region: a Multi-Region Access Point's, by its alias).
_POINT_ARN = (
    r"arn:aws[a-z-]*:s3:(?P<region>[a-z0-9-]*):(?P<account>[0-9]{12}):"
    r"accesspoint[/:](?P<name>[a-zA-Z0-9.-]{1,63})"
)
_ARN = re.compile(_POINT_ARN)
# botocore's ``_quote_source_header_from_dict``: ``<access point ARN>/object/<key>``.
_ARN_SOURCE = re.compile(rf"(?P<arn>{_POINT_ARN})/object/(?P<key>.+)", re.DOTALL)


def split_arn_source(decoded: str) -> tuple[str, str] | None:
    """The access point ARN and the key of a decoded copy source naming one (None: it names
    a bucket). A source that starts as an ARN and is not one of these is InvalidArgument."""
    if not decoded.startswith("arn:"):
        return None
    found = _ARN_SOURCE.fullmatch(decoded)
    if found is None:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    return found["arn"], found["key"]


async def source_bucket(
    svc: S3Services, named: str, client: str | None = None
) -> tuple[str, AccessPointUse | None]:
    """The bucket ``named`` (a bucket, an alias or an access point ARN) reads from, and the
    access point it goes through (None: the bucket itself). An ARN nobody holds is
    NoSuchAccessPoint; an alias nobody holds stays a bucket name, which no bucket can have.
    ``client`` the request's source address (a Multi-Region Access Point's nearest Region)."""
    if named.endswith(ALIAS_SUFFIX) and svc.access_points is not None:
        by_alias = await svc.access_points.by_alias(named)
        if by_alias is not None:
            return by_alias.bucket, by_alias.use(svc.settings.region)
        return named, None
    found = _ARN.fullmatch(named)
    if found is None:
        return named, None
    if found["region"] == "":
        return await _multi_region_source(svc, found["account"], found["name"], client)
    point = None
    # Access points are regional: one of another Region is not this gateway's to read.
    if svc.access_points is not None and found["region"] == svc.settings.region:
        point = await svc.access_points.get(found["account"], found["name"])
    if point is None:
        raise S3Error("NoSuchAccessPoint")
    return point.bucket, point.use(svc.settings.region)


async def _multi_region_source(
    svc: S3Services, account: str, alias: str, client: str | None
) -> tuple[str, AccessPointUse]:
    """A Multi-Region Access Point's source: the bucket of the Region its routes send this
    client's requests to (``client_region``, ``serving_route``: as a GET through its global
    host would read)."""
    store = svc.multi_region_access_points
    point = None if store is None else await store.by_alias(alias)
    if point is None or point.tenant_id != account:
        raise S3Error("NoSuchAccessPoint")
    served = svc.settings.served_region_names
    nearest = client_region(svc.settings.region, served, point.routes, svc.nearest_region, client)
    chosen = serving_route(point.routes, nearest, served)
    if chosen is None:
        raise S3Error("ServiceUnavailable")  # every Region passive: none to read from
    return chosen.bucket, point.use()
