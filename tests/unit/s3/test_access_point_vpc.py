"""Requests through a VPC-only access point (decision 0157's addendum), in process on memory
twins, the endpoint origin set as the gateway's gate sets it (``through_endpoint``): refused
(AccessDenied) unless they come through a VPC endpoint of the access point's VPC — the
owner's root included —, ``s3:AccessPointNetworkOrigin`` is ``VPC`` for them and
``Internet`` for an Internet access point's, which a bucket policy may test; the endpoint's
policy must allow the access point as well as the bucket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.s3.endpoint_origin import EndpointOrigin, through_endpoint
from andromede.storage.access_points import AccessPoint, MemoryAccessPointStore, new_alias
from andromede.storage.model import PublicAccessBlock
from support.s3app import REGION, Client, in_process_client

BUCKET = "shared-data"
VPC = "vpc-0aaaaaaaaaaaaaaaa"
INSIDE = EndpointOrigin(VPC, "vpce-0aaaaaaaaaaaaaaaa", DEFAULT_POLICY, "10.0.1.10")
ELSEWHERE = EndpointOrigin(
    "vpc-0bbbbbbbbbbbbbbbb", "vpce-0bbbbbbbbbbbbbbbb", DEFAULT_POLICY, "10.0.1.10"
)


@dataclass
class World:
    owner: Client
    user: Client
    points: MemoryAccessPointStore
    vpc_alias: str
    internet_alias: str


async def _point(points: MemoryAccessPointStore, owner: Client, name: str, vpc: str | None) -> str:
    point = AccessPoint(
        tenant_id=owner.tenant_id,
        name=name,
        bucket=BUCKET,
        bucket_account=owner.tenant_id,
        alias=new_alias(name),
        public_access_block=PublicAccessBlock(),
        created_at=datetime.now(UTC),
        vpc_id=vpc,
    )
    await points.create(point, quota=10)
    return point.alias


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    points = MemoryAccessPointStore()
    async with in_process_client(tmp_path, access_points=points) as owner:
        assert (await owner.request("PUT", f"/{BUCKET}")).status == 200
        assert (await owner.request("PUT", f"/{BUCKET}/doc.txt", b"hello")).status == 200
        user = await owner.iam_user("app-reader")
        yield World(
            owner,
            user,
            points,
            await _point(points, owner, "inside", VPC),
            await _point(points, owner, "outside", None),
        )


async def _get(client: Client, path: str, origin: EndpointOrigin | None = None) -> int:
    if origin is None:
        return (await client.request("GET", path)).status
    with through_endpoint(origin):
        return (await client.request("GET", path)).status


async def test_a_vpc_access_point_answers_only_through_its_vpcs_endpoints(world: World) -> None:
    owner, alias = world.owner, world.vpc_alias
    assert await _get(owner, f"/{alias}/doc.txt", INSIDE) == 200
    # From the Internet, or through another VPC's endpoint: AccessDenied, the root's too.
    assert await _get(owner, f"/{alias}/doc.txt") == 403
    reply = await owner.request("GET", f"/{alias}/doc.txt")
    assert reply.error_code() == "AccessDenied"
    assert await _get(owner, f"/{alias}/doc.txt", ELSEWHERE) == 403
    assert await _get(owner, f"/{alias}?list-type=2") == 403
    assert (await owner.request("PUT", f"/{alias}/new.txt", b"x")).status == 403
    with through_endpoint(INSIDE):
        assert (await owner.request("PUT", f"/{alias}/new.txt", b"x")).status == 200
    # The bucket itself and the Internet access point are not restricted.
    assert await _get(owner, f"/{BUCKET}/doc.txt") == 200
    assert await _get(owner, f"/{world.internet_alias}/doc.txt") == 200
    assert await _get(owner, f"/{world.internet_alias}/doc.txt", INSIDE) == 200


async def test_the_network_origin_key(world: World) -> None:
    user = f"arn:aws:iam::{world.owner.tenant_id}:user/app-reader"
    # The bucket delegates to the account's access points of VPC origin only.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:AccessPointNetworkOrigin": "VPC"}},
            }
        ],
    }
    reply = await world.owner.request("PUT", f"/{BUCKET}?policy", json.dumps(policy).encode())
    assert reply.status == 204, reply.body
    # Both access points let the user in (the user's identity has no policy: each access
    # point's side is its policy's).
    for name in ("inside", "outside"):
        arn = f"arn:aws:s3:{REGION}:{world.owner.tenant_id}:accesspoint/{name}"
        grant = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": user},
                    "Action": "s3:GetObject",
                    "Resource": f"{arn}/object/*",
                }
            ],
        }
        assert await world.points.set_policy(world.owner.tenant_id, name, json.dumps(grant))
    assert await _get(world.user, f"/{world.vpc_alias}/doc.txt", INSIDE) == 200
    # The Internet access point's origin is Internet, even from inside a VPC.
    assert await _get(world.user, f"/{world.internet_alias}/doc.txt", INSIDE) == 403
    assert await _get(world.user, f"/{BUCKET}/doc.txt", INSIDE) == 403


async def test_the_endpoint_policy_must_allow_the_access_point_too(world: World) -> None:
    def endpoint_allowing(*resources: str) -> EndpointOrigin:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": list(resources),
                }
            ],
        }
        return EndpointOrigin(VPC, INSIDE.vpc_endpoint_id, json.dumps(policy), "10.0.1.10")

    bucket_only = endpoint_allowing(f"arn:aws:s3:::{BUCKET}/*")
    point = f"arn:aws:s3:{REGION}:{world.owner.tenant_id}:accesspoint/inside/object/*"
    both = endpoint_allowing(f"arn:aws:s3:::{BUCKET}/*", point)
    assert await _get(world.owner, f"/{BUCKET}/doc.txt", bucket_only) == 200
    assert await _get(world.owner, f"/{world.vpc_alias}/doc.txt", bucket_only) == 403
    assert await _get(world.owner, f"/{world.vpc_alias}/doc.txt", both) == 200
    # The bucket is still the endpoint policy's to allow.
    point_only = endpoint_allowing(point)
    assert await _get(world.owner, f"/{world.vpc_alias}/doc.txt", point_only) == 403
