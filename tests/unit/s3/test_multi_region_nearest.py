"""Decision 0413: a Multi-Region Access Point request goes to the active Region nearest the
client where the operator places it, with the places Route 53's name servers read — the
client's ``route53_client_regions`` Region first, else the Region whose declared place is
nearest its ``route53_client_locations`` point or its GeoIP coordinates (a MaxMind DB here) —
and to the gateway's Region when it is placed nowhere; a passive Region never. In process,
SigV4a-signed, two Regions' buckets; CopyObject from the access point's ARN reads alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.settings import RegionSettings
from andromede.storage.model import PublicAccessBlock
from andromede.storage.multi_region_access_points import (
    PASSIVE,
    MemoryMultiRegionAccessPointStore,
    MultiRegionAccessPoint,
    MultiRegionRoute,
    client_region,
    new_alias,
)
from support.geoip_mmdb import geolite2_record, write_mmdb
from support.s3app import REGION, Client, in_process_client

FAR = "eu-de-1"  # declared at Frankfurt; the gateway's own (REGION) at Paris
BERLIN, WARSAW, MADRID = (52.52, 13.40), (52.23, 21.01), (40.42, -3.70)
BY_GEOIP = "203.0.113.9"  # GeoLite2 places it in Warsaw: nearer Frankfurt
BY_NETWORK = "198.51.100.7"  # route53_client_locations: Berlin
MEASURED = "192.0.2.7"  # route53_client_regions: the gateway's Region, though in Warsaw too
IN_SPAIN = "203.0.114.9"  # GeoLite2: Madrid, nearer Paris
NOWHERE = "10.9.9.9"


@dataclass
class Placed:
    owner: Client
    points: MemoryMultiRegionAccessPointStore
    point: MultiRegionAccessPoint


@pytest.fixture
async def placed(tmp_path: Path) -> AsyncIterator[Placed]:
    database = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        {
            "203.0.113.0/24": geolite2_record("EU", "PL", point=WARSAW),
            "192.0.2.0/24": geolite2_record("EU", "PL", point=WARSAW),
            "203.0.114.0/24": geolite2_record("EU", "ES", point=MADRID),
        },
    )
    points = MemoryMultiRegionAccessPointStore()
    async with in_process_client(
        tmp_path,
        multi_region_access_points=points,
        regions=(RegionSettings(name=REGION), RegionSettings(name=FAR)),
        route53_region_coordinates={REGION: "48.86,2.35", FAR: "50.11,8.68"},
        route53_client_geolocation_file=str(database),
        route53_client_locations={"198.51.100.0/24": "52.52,13.40"},
        route53_client_regions={"192.0.2.0/24": REGION},
    ) as owner:
        await owner.request("PUT", "/near-bucket")
        where = f"<CreateBucketConfiguration><LocationConstraint>{FAR}"
        where += "</LocationConstraint></CreateBucketConfiguration>"
        reply = await owner.request("PUT", "/far-bucket", where.encode(), region=FAR)
        assert reply.status == 200, reply.body
        for bucket, region in (("near-bucket", REGION), ("far-bucket", FAR)):
            put = await owner.request("PUT", f"/{bucket}/doc.txt", region.encode(), region=region)
            assert put.status == 200
        point = MultiRegionAccessPoint(
            tenant_id=owner.tenant_id,
            name="docs",
            alias=new_alias(),
            routes=(
                MultiRegionRoute("near-bucket", owner.tenant_id, REGION),
                MultiRegionRoute("far-bucket", owner.tenant_id, FAR),
            ),
            public_access_block=PublicAccessBlock(),
            created_at=datetime.now(UTC),
        )
        await points.create(point, quota=10)
        yield Placed(owner, points, point)


async def _read_from(placed: Placed, source: str | None) -> str:
    host = f"{placed.point.alias}.accesspoint.s3-global.localhost"
    got = await placed.owner.request("GET", "/doc.txt", host=host, region_set="*", source_ip=source)
    assert got.status == 200, got.body
    return got.body.decode()


async def test_the_client_s_nearest_active_region_serves(placed: Placed) -> None:
    assert await _read_from(placed, BY_GEOIP) == FAR  # its GeoIP coordinates
    assert await _read_from(placed, BY_NETWORK) == FAR  # its declared network's point
    assert await _read_from(placed, MEASURED) == REGION  # its Region beats a distance
    assert await _read_from(placed, IN_SPAIN) == REGION
    assert await _read_from(placed, NOWHERE) == REGION  # placed nowhere: the gateway's
    assert await _read_from(placed, None) == REGION


async def test_a_copy_from_the_access_point_reads_the_client_s_nearest(placed: Placed) -> None:
    owner, point = placed.owner, placed.point
    source = f"arn:aws:s3::{owner.tenant_id}:accesspoint/{point.alias}/object/doc.txt"
    for client, expected in ((BY_GEOIP, FAR), (NOWHERE, REGION)):
        copied = await owner.request(
            "PUT", "/near-bucket/copy.txt", headers={"x-amz-copy-source": source},
            source_ip=client,
        )  # fmt: skip
        assert copied.status == 200, copied.body
        got = await owner.request("GET", "/near-bucket/copy.txt")
        assert got.body.decode() == expected


async def test_a_passive_region_is_never_the_nearest(placed: Placed) -> None:
    near, far = placed.point.routes
    dialled = (near, MultiRegionRoute(far.bucket, far.bucket_account, far.region, PASSIVE))
    assert await placed.points.set_routes(placed.owner.tenant_id, "docs", dialled)
    assert await _read_from(placed, BY_GEOIP) == REGION
    # With the near Region passive instead, a client nearer it is served by the far one.
    dialled = (MultiRegionRoute(near.bucket, near.bucket_account, near.region, PASSIVE), far)
    assert await placed.points.set_routes(placed.owner.tenant_id, "docs", dialled)
    assert await _read_from(placed, IN_SPAIN) == FAR
    assert client_region(REGION, frozenset({REGION, FAR}), dialled) == REGION  # no places
