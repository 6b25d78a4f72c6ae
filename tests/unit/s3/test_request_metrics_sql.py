"""S3 request metrics configurations stored in SQLite and PostgreSQL (decision 0187): two S3
apps on one database, as two ``andromede serve`` gateways, put configurations at the same
time and both land (compare-and-set); each reads them back, and the other gateway's request
metrics count a bucket once its refresh has read them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.app import s3_services, storage_limits
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.metrics.store import Point
from andromede.s3.app import S3App
from andromede.s3_request_metrics import S3RequestMetrics
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.keys import cipher_in
from support.s3app import Client
from support.store_backends import SQL_BACKENDS, sql_url

REGION = "eu-paris-1"
BUCKET = "shop"


class Writer:
    def __init__(self) -> None:
        self.points: list[Point] = []

    async def put_platform(self, points: Sequence[Point]) -> None:
        self.points.extend(points)


def body(config_id: str) -> bytes:
    return (
        '<MetricsConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Id>{config_id}</Id><Filter><Prefix>{config_id}/</Prefix></Filter>"
        "</MetricsConfiguration>"
    ).encode()


@pytest.fixture(params=SQL_BACKENDS)
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[list[tuple[Client, S3RequestMetrics, Writer]]]:
    url = sql_url(request, tmp_path)
    settings = Settings(data_dir=tmp_path, region=REGION, s3_metrics_max_configurations=3)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    made: list[tuple[Client, S3RequestMetrics, Writer]] = []
    databases = [open_database(url), open_database(url)]
    audit = AuditService(MemoryAuditStore())
    blobs = MemoryBlobStore()
    try:
        for db in databases:
            store = SqlMetadataStore(db)
            objects = ObjectService(
                store,
                RegionalBlobs({REGION: blobs}, REGION),
                storage_limits(settings),
                cipher_in(tmp_path / "keys"),
            )
            writer = Writer()
            metrics = S3RequestMetrics(
                store, writer, flush_interval=1.0, refresh_interval=1.0, max_series=100
            )
            app = S3App(
                s3_services(settings, objects, identity, request_metrics=metrics), identity, audit
            )
            client = Client(
                app,
                Credentials(boot.access_key_id, boot.secret_access_key),
                MemoryAuditStore(),
                audit,
                boot.tenant.id,
                identity,
            )
            made.append((client, metrics, writer))
        yield made
    finally:
        await audit.close()
        for db in databases:
            await db.close()


async def test_two_gateways_configurations_both_land_and_count(
    gateways: list[tuple[Client, S3RequestMetrics, Writer]],
) -> None:
    (first, first_metrics, _), (second, second_metrics, second_writer) = gateways
    assert (await first.request("PUT", f"/{BUCKET}", region=REGION)).status == 200
    replies = await asyncio.gather(
        *(
            (first if n % 2 else second).request(
                "PUT", f"/{BUCKET}?metrics&id=c{n}", body(f"c{n}"), region=REGION
            )
            for n in range(3)
        )
    )
    assert [r.status for r in replies] == [200, 200, 200]
    for client in (first, second):
        listed = await client.request("GET", f"/{BUCKET}?metrics", region=REGION)
        assert listed.status == 200
        assert [f"<Id>c{n}</Id>" in listed.body.decode() for n in range(3)] == [True] * 3
        got = await client.request("GET", f"/{BUCKET}?metrics&id=c1", region=REGION)
        assert b"<Prefix>c1/</Prefix>" in got.body
    full = await second.request("PUT", f"/{BUCKET}?metrics&id=c9", body("c9"), region=REGION)
    assert (full.status, full.error_code()) == (400, "TooManyConfigurations")
    # Each gateway knows at once what it wrote; the other's, once it re-reads.
    await first_metrics.refresh()
    await second_metrics.refresh()
    assert first_metrics.observes(BUCKET) and second_metrics.observes(BUCKET)
    put = await second.request("PUT", f"/{BUCKET}/c2/object", b"data", region=REGION)
    assert put.status == 200
    await second_metrics.flush()
    counted = {
        dict(p.series.dimensions)["FilterId"]
        for p in second_writer.points
        if p.series.name == "PutRequests"
    }
    assert counted == {"c2"}
    for n in range(3):
        deleted = await first.request("DELETE", f"/{BUCKET}?metrics&id=c{n}", region=REGION)
        assert deleted.status == 204
    await second_metrics.refresh()
    assert not second_metrics.observes(BUCKET) and not first_metrics.observes(BUCKET)
