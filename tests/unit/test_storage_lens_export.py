"""The Storage Lens metrics export in process (decision 0415): the rows of what the buckets
hold, in AWS's schema as CSV or Parquet, at AWS's keys, one export a period, and none into a
destination whose policy does not open it to Storage Lens or that is not the named account's."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.storage.storage_lens import MemoryStorageLensStore, StorageLensRecord
from andromede.storage_lens_export import COLUMNS, NAMESPACE, LensExport, StorageLensExporter
from support.s3app import REGION, Client, in_process_client


def document(config_id: str, account: str, *, fmt: str = "CSV", scope: str = "") -> str:
    return (
        f"<StorageLensConfiguration><Id>{config_id}</Id><AccountLevel><BucketLevel/>"
        f"</AccountLevel>{scope}<DataExport><S3BucketDestination><Format>{fmt}</Format>"
        f"<OutputSchemaVersion>V_1</OutputSchemaVersion><AccountId>{account}</AccountId>"
        "<Arn>arn:aws:s3:::reports</Arn><Prefix>lens/</Prefix></S3BucketDestination>"
        "</DataExport><IsEnabled>true</IsEnabled></StorageLensConfiguration>"
    )


def policy(account: str) -> bytes:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "storage-lens.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::reports/*",
                    "Condition": {
                        "StringEquals": {
                            "aws:SourceAccount": account,
                            "s3:x-amz-acl": "bucket-owner-full-control",
                        }
                    },
                }
            ],
        }
    ).encode()


class World:
    def __init__(self, s3: Client) -> None:
        assert s3.objects is not None
        self.s3 = s3
        self.store = MemoryStorageLensStore()
        self.now = datetime.now(UTC)
        self.exports: list[LensExport] = []
        self.exporter = StorageLensExporter(
            s3.objects,
            self.store,
            region=REGION,
            interval=86400,
            on_export=self.exports.append,
            clock=lambda: self.now,
        )

    async def put(self, config_id: str, **kwargs: str) -> None:
        text = document(config_id, self.s3.tenant_id, **kwargs)
        record = StorageLensRecord(self.s3.tenant_id, config_id, True, text, (), self.now)
        await self.store.put(record, quota=50, keep_tags=False)

    async def read(self, key: str) -> bytes:
        reply = await self.s3.request("GET", f"/reports/{key}")
        assert reply.status == 200, key
        return reply.body


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with in_process_client(tmp_path) as s3:
        for name in ("data", "logs", "reports"):
            assert (await s3.request("PUT", f"/{name}")).status == 200
        assert (await s3.request("PUT", "/data/a", b"x" * 100)).status == 200
        assert (await s3.request("PUT", "/data/b", b"y" * 20)).status == 200
        assert (await s3.request("PUT", "/logs/c", b"z" * 3)).status == 200
        yield World(s3)


async def test_a_csv_export_once_a_period(world: World) -> None:
    account = world.s3.tenant_id
    assert (await world.s3.request("PUT", "/reports?policy", policy(account))).status == 204
    await world.put("dash", scope="<Include><Buckets><Arn>arn:aws:s3:::data</Arn>"
        "<Arn>arn:aws:s3:::logs</Arn></Buckets></Include>")  # fmt: skip
    (made,) = await world.exporter.run_once()
    assert made.delivered and made.rows == 6
    date = world.now.date().isoformat()
    base = f"lens/StorageLens/{account}/dash/V_1"
    assert made.manifest_key == f"{base}/manifests/dt={date}/manifest.json"
    manifest = json.loads(await world.read(made.manifest_key))
    assert manifest["reportSchema"] == ",".join(COLUMNS)
    (entry,) = manifest["reportFiles"]
    assert entry["key"].startswith(f"{base}/reports/dt={date}/") and entry["key"].endswith(".csv")
    data = await world.read(entry["key"])
    assert (entry["size"], entry["md5Checksum"]) == (
        len(data),
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    rows = [tuple(r) for r in csv.reader(io.StringIO(data.decode()))]
    assert rows[0] == COLUMNS
    prefix = ("V_1", "dash", date, account, REGION, "STANDARD")
    assert rows[1:] == [
        (*prefix, "BUCKET", "data", "data", "StorageBytes", "120"),
        (*prefix, "BUCKET", "data", "data", "ObjectCount", "2"),
        (*prefix, "BUCKET", "logs", "logs", "StorageBytes", "3"),
        (*prefix, "BUCKET", "logs", "logs", "ObjectCount", "1"),
        (*prefix, "ACCOUNT", account, "", "StorageBytes", "123"),
        (*prefix, "ACCOUNT", account, "", "ObjectCount", "3"),
    ]
    # The period is done: the next pass makes nothing until the next period.
    assert await world.exporter.run_once() == []
    world.now += timedelta(days=1)
    (again,) = await world.exporter.run_once()
    assert again.delivered and again.manifest_key != made.manifest_key
    assert world.exports == [made, again]


async def test_a_parquet_export_read_back_by_pyarrow(world: World) -> None:
    account = world.s3.tenant_id
    assert (await world.s3.request("PUT", "/reports?policy", policy(account))).status == 204
    excluded = "<Arn>arn:aws:s3:::reports</Arn><Arn>arn:aws:s3:::logs</Arn>"
    await world.put(
        "columns", fmt="Parquet", scope=f"<Exclude><Buckets>{excluded}</Buckets></Exclude>"
    )
    (made,) = await world.exporter.run_once()
    manifest = json.loads(await world.read(made.manifest_key))
    assert manifest["reportFormat"] == "Parquet"
    assert manifest["reportSchema"].startswith("message s3.storage.lens {")
    table = pq.read_table(io.BytesIO(await world.read(manifest["reportFiles"][0]["key"])))
    assert table.column_names == list(COLUMNS)
    got = {(r["record_type"], r["metric_name"]): r["metric_value"] for r in table.to_pylist()}
    assert got == {("BUCKET", "StorageBytes"): 120, ("BUCKET", "ObjectCount"): 2,
        ("ACCOUNT", "StorageBytes"): 120, ("ACCOUNT", "ObjectCount"): 2}  # fmt: skip


async def test_no_export_where_storage_lens_may_not_write(world: World) -> None:
    # No bucket policy: refused, as AWS refuses; nothing written.
    await world.put("dash")
    (made,) = await world.exporter.run_once()
    assert not made.delivered
    listed = await world.s3.request("GET", "/reports?list-type=2")
    assert b"<Key>" not in listed.body
    # Another account's destination named as this one's: refused too.
    other = "999999999999"
    text = document("elsewhere", other)
    record = StorageLensRecord(world.s3.tenant_id, "elsewhere", True, text, (), world.now)
    await world.store.put(record, quota=50, keep_tags=False)
    assert (
        await world.s3.request("PUT", "/reports?policy", policy(world.s3.tenant_id))
    ).status == 204
    exported = {e.config_id: e.delivered for e in await world.exporter.run_once()}
    assert exported == {"elsewhere": False}


async def test_cloudwatch_metrics_of_a_configuration_that_publishes_them(world: World) -> None:
    account = world.s3.tenant_id
    metrics = MetricsService(MemoryMetricStore())
    assert world.s3.objects is not None
    exporter = StorageLensExporter(world.s3.objects, world.store, region=REGION,
        interval=86400, on_export=world.exports.append, metrics=metrics,
        clock=lambda: world.now)  # fmt: skip
    text = (
        "<StorageLensConfiguration><Id>watch</Id><AccountLevel><BucketLevel/></AccountLevel>"
        "<DataExport><CloudWatchMetrics><IsEnabled>true</IsEnabled></CloudWatchMetrics>"
        "</DataExport><IsEnabled>true</IsEnabled></StorageLensConfiguration>"
    )
    record = StorageLensRecord(account, "watch", True, text, (), world.now)
    await world.store.put(record, quota=50, keep_tags=False)
    assert await exporter.run_once() == []  # no S3 destination: nothing written there
    common = [
        ("configuration_id", "watch"),
        ("metrics_version", "1.0"),
        ("aws_account_number", account),
        ("aws_region", REGION),
        ("storage_class", "STANDARD"),
    ]
    day = world.now.replace(hour=0, minute=0, second=0, microsecond=0)

    async def value(name: str, dimensions: list[tuple[str, str]]) -> float:
        (point,) = await metrics.get_metric_statistics(account, NAMESPACE, name, dimensions,
            day, day + timedelta(days=1), 86400, ["Maximum"], [], None)  # fmt: skip
        return point.statistics["Maximum"]

    bucket = [*common, ("record_type", "BUCKET"), ("bucket_name", "data")]
    assert await value("StorageBytes", bucket) == 120
    assert await value("ObjectCount", bucket) == 2
    assert await value("StorageBytes", [*common, ("record_type", "ACCOUNT")]) == 123
    series, _ = await metrics.list_metrics(account, NAMESPACE, None, [])
    assert len(series) == 8  # three buckets and the account, two metrics each
