"""Requests to a Multi-Region Access Point's global host (decision 0385), in process on
memory twins, with two Regions: the active Region's bucket serves them (the gateway's own
while active, the other once it is passive); the Multi-Region Access Point's policy AND the
bucket's must allow another account (a Deny in the Multi-Region Access Point's wins even for
the owner's user); only access points' operations pass; an unknown alias is
NoSuchAccessPoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import defusedxml.ElementTree as ElementTree
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest

from andromede.settings import RegionSettings
from andromede.storage.model import PublicAccessBlock
from andromede.storage.multi_region_access_points import (
    PASSIVE,
    MemoryMultiRegionAccessPointStore,
    MultiRegionAccessPoint,
    MultiRegionRoute,
    new_alias,
)
from support.s3app import REGION, Client, in_process_client

OTHER_REGION = "eu-de-1"
HOME, AWAY = "mrap-home", "mrap-away"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass
class World:
    owner: Client
    points: MemoryMultiRegionAccessPointStore
    point: MultiRegionAccessPoint

    @property
    def host(self) -> str:
        return f"{self.point.alias}.accesspoint.s3-global.localhost"


def _hmac_presigned(world: World, path: str) -> str:
    """A SigV4 (HMAC) presigned URL's path and query for the global host, for the serving
    Region."""
    request = AWSRequest(method="GET", url=f"http://{world.host}{path}")
    assert world.owner.credentials is not None
    S3SigV4QueryAuth(world.owner.credentials, "s3", REGION, expires=300).add_auth(request)
    return str(request.url)[len(f"http://{world.host}") :]


def _doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    points = MemoryMultiRegionAccessPointStore()
    regions = (RegionSettings(name=REGION), RegionSettings(name=OTHER_REGION))
    async with in_process_client(
        tmp_path, multi_region_access_points=points, regions=regions
    ) as owner:
        assert (await owner.request("PUT", f"/{HOME}")).status == 200
        where = f"<CreateBucketConfiguration><LocationConstraint>{OTHER_REGION}"
        where += "</LocationConstraint></CreateBucketConfiguration>"
        reply = await owner.request("PUT", f"/{AWAY}", where.encode(), region=OTHER_REGION)
        assert reply.status == 200, reply.body
        for bucket, region in ((HOME, REGION), (AWAY, OTHER_REGION)):
            body = f"from {region}".encode()
            put = await owner.request("PUT", f"/{bucket}/doc.txt", body, region=region)
            assert put.status == 200
        point = MultiRegionAccessPoint(
            tenant_id=owner.tenant_id,
            name="docs",
            alias=new_alias(),
            routes=(
                MultiRegionRoute(HOME, owner.tenant_id, REGION),
                MultiRegionRoute(AWAY, owner.tenant_id, OTHER_REGION),
            ),
            public_access_block=PublicAccessBlock(),
            created_at=datetime.now(UTC),
        )
        await points.create(point, quota=10)
        yield World(owner, points, point)


async def test_the_active_region_serves(world: World) -> None:
    got = await world.owner.request("GET", "/doc.txt", host=world.host, region_set="*")
    assert (got.status, got.body) == (200, f"from {REGION}".encode())
    dialled = (
        MultiRegionRoute(HOME, world.owner.tenant_id, REGION, PASSIVE),
        world.point.routes[1],
    )
    assert await world.points.set_routes(world.owner.tenant_id, "docs", dialled)
    away = await world.owner.request("GET", "/doc.txt", host=world.host, region_set="*")
    assert (away.status, away.body) == (200, f"from {OTHER_REGION}".encode())


async def test_unknown_aliases_and_other_operations(world: World) -> None:
    unknown = "zzzzzzzzzzzzz.mrap.accesspoint.s3-global.localhost"
    missing = await world.owner.request("GET", "/doc.txt", host=unknown, region_set="*")
    assert missing.status == 404 and b"NoSuchAccessPoint" in missing.body
    config = await world.owner.request("GET", "/?policy", host=world.host, region_set="*")
    assert config.status == 400 and b"InvalidRequest" in config.body


async def test_both_policies_decide(world: World) -> None:
    other = await world.owner.other_tenant("partner")
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
             "Action": "s3:GetObject"}  # fmt: skip
    assert (await other.request("GET", "/doc.txt", host=world.host, region_set="*")).status == 403
    arn = world.point.arn
    policy = _doc({**grant, "Resource": f"{arn}/object/*"})
    assert await world.points.set_policy(world.owner.tenant_id, "docs", policy)
    assert (await other.request("GET", "/doc.txt", host=world.host, region_set="*")).status == 403
    delegation = {
        **grant,
        "Resource": f"arn:aws:s3:::{HOME}/*",
        "Condition": {"StringEquals": {"s3:DataAccessPointArn": arn}},
    }
    reply = await world.owner.request("PUT", f"/{HOME}?policy", _doc(delegation).encode())
    assert reply.status == 204, reply.body
    assert (await other.request("GET", "/doc.txt", host=world.host, region_set="*")).status == 200
    # The bucket's delegation holds through the Multi-Region Access Point only.
    assert (await other.request("GET", f"/{HOME}/doc.txt")).status == 403

    # A Deny in the Multi-Region Access Point's policy refuses even the owner's root.
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"{arn}/object/*"}  # fmt: skip
    assert await world.points.set_policy(world.owner.tenant_id, "docs", _doc(deny))
    assert (
        await world.owner.request("GET", "/doc.txt", host=world.host, region_set="*")
    ).status == 403
    assert (await world.owner.request("GET", f"/{HOME}/doc.txt")).status == 200


async def test_sigv4a_is_required(world: World) -> None:
    """AWS requires SigV4a through a Multi-Region Access Point: an HMAC signature is refused
    even for the serving bucket's Region, so is an anonymous request; a SigV4a Region set
    must hold the serving Region (or be ``*``)."""
    hmac = await world.owner.request("GET", "/doc.txt", host=world.host, region=REGION)
    assert (hmac.status, hmac.error_code()) == (400, "AuthorizationHeaderMalformed")
    assert b"AWS4-ECDSA-P256-SHA256" in hmac.body
    presigned = _hmac_presigned(world, "/doc.txt")
    refused = await world.owner.request("GET", presigned, host=world.host, sign=False)
    assert (refused.status, refused.error_code()) == (400, "AuthorizationQueryParametersError")
    anonymous = await world.owner.as_anonymous().request("GET", "/doc.txt", host=world.host)
    assert (anonymous.status, anonymous.error_code()) == (403, "AccessDenied")
    elsewhere = await world.owner.request(
        "GET", "/doc.txt", host=world.host, region_set=OTHER_REGION
    )
    assert (elsewhere.status, elsewhere.error_code()) == (400, "AuthorizationHeaderMalformed")
    for region_set in (REGION, f"{OTHER_REGION},{REGION}", "*"):
        got = await world.owner.request("GET", "/doc.txt", host=world.host, region_set=region_set)
        assert (got.status, got.body) == (200, f"from {REGION}".encode()), region_set


def _copy_source(world: World, key: str) -> dict[str, str]:
    """``x-amz-copy-source`` as botocore sends it for ``{"Bucket": <MRAP ARN>, "Key": key}``."""
    return {"x-amz-copy-source": quote(f"{world.point.arn}/object/{key}", safe="/-._~")}


async def test_a_copy_source_named_by_its_arn(world: World) -> None:
    """CopyObject and UploadPartCopy read a source named by the Multi-Region Access Point's
    ARN from the bucket its routes choose, authorised as reads through it."""
    source = _copy_source(world, "doc.txt")
    copied = await world.owner.request("PUT", f"/{HOME}/copy.txt", headers=source)
    assert copied.status == 200, copied.body
    got = await world.owner.request("GET", f"/{HOME}/copy.txt")
    assert got.body == f"from {REGION}".encode()
    dialled = (
        MultiRegionRoute(HOME, world.owner.tenant_id, REGION, PASSIVE),
        world.point.routes[1],
    )
    assert await world.points.set_routes(world.owner.tenant_id, "docs", dialled)
    upload = await world.owner.request("POST", f"/{HOME}/part.txt?uploads")
    upload_id = ElementTree.fromstring(upload.body).findtext(f"{_NS}UploadId")
    part = await world.owner.request(
        "PUT", f"/{HOME}/part.txt?partNumber=1&uploadId={upload_id}", headers=source
    )
    assert part.status == 200, part.body
    etag = ElementTree.fromstring(part.body).findtext(f"{_NS}ETag")
    done = f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>"
    done += "</Part></CompleteMultipartUpload>"
    completed = await world.owner.request(
        "POST", f"/{HOME}/part.txt?uploadId={upload_id}", done.encode()
    )
    assert completed.status == 200, completed.body
    got = await world.owner.request("GET", f"/{HOME}/part.txt")
    assert got.body == f"from {OTHER_REGION}".encode()

    unknown = {
        "x-amz-copy-source": source["x-amz-copy-source"].replace(world.point.alias, "zz.mrap")
    }
    missing = await world.owner.request("PUT", f"/{HOME}/copy2.txt", headers=unknown)
    assert (missing.status, missing.error_code()) == (404, "NoSuchAccessPoint")


async def test_a_copy_through_it_needs_its_policy(world: World) -> None:
    """Another account copies through the Multi-Region Access Point only when its policy AND
    the bucket's delegation allow the read; a Deny in its policy refuses the owner too."""
    other = await world.owner.other_tenant("partner")
    assert (await other.request("PUT", "/partner-copies")).status == 200
    source = _copy_source(world, "doc.txt")
    refused = await other.request("PUT", "/partner-copies/doc.txt", headers=source)
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
             "Action": "s3:GetObject"}  # fmt: skip
    arn = world.point.arn
    policy = _doc({**grant, "Resource": f"{arn}/object/*"})
    assert await world.points.set_policy(world.owner.tenant_id, "docs", policy)
    still = await other.request("PUT", "/partner-copies/doc.txt", headers=source)
    assert (still.status, still.error_code()) == (403, "AccessDenied")
    delegation = {
        **grant,
        "Resource": f"arn:aws:s3:::{HOME}/*",
        "Condition": {"StringEquals": {"s3:DataAccessPointArn": arn}},
    }
    reply = await world.owner.request("PUT", f"/{HOME}?policy", _doc(delegation).encode())
    assert reply.status == 204, reply.body
    allowed = await other.request("PUT", "/partner-copies/doc.txt", headers=source)
    assert allowed.status == 200, allowed.body
    # The delegation holds through the Multi-Region Access Point only.
    direct = {"x-amz-copy-source": f"{HOME}/doc.txt"}
    assert (await other.request("PUT", "/partner-copies/d.txt", headers=direct)).status == 403

    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"{arn}/object/*"}  # fmt: skip
    assert await world.points.set_policy(world.owner.tenant_id, "docs", _doc(deny))
    denied = await world.owner.request("PUT", f"/{HOME}/copy.txt", headers=source)
    assert (denied.status, denied.error_code()) == (403, "AccessDenied")
