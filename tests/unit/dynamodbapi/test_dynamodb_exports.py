"""Decision 0261 through botocore's own model, over an in-process object service: a table
exported at an instant of its point-in-time recovery window into the account's bucket as AWS
lays it out (``_started``, gzip'd DynamoDB JSON data files, the manifests), in the background
(IN_PROGRESS then COMPLETED, or FAILED with AWS's FailureCode), described and listed; PITR
required; what is not offered refused naming it; the export imported back into a new table
(DynamoDB JSON and CSV, gzip'd or not), its bad lines counted; IAM on the table, the export
and the bucket as the caller; jobs interrupted by a restart marked FAILED; the tenant closer."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.dynamodb.exports import DynamoExports, ExportJob, JobStatus
from andromede.dynamodb.exports_memory import MemoryExportStore
from andromede.dynamodb_export_buckets import CallerBuckets
from andromede.iam.model import Principal, PrincipalKind
from andromede.s3.authorise import S3Authoriser
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.batch_world import LIMITS
from support.dynamodbapp import REGION, World, dynamodb_world
from support.keys import cipher_in

SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in dynamodb_world(tmp_path):
        objects = ObjectService(
            MemoryMetadataStore(), MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "s3-keys")
        )
        await objects.create_bucket(
            "exports", tenant_id=made.tenant_id, owner_id=made.tenant_id, region=REGION
        )
        assert made.app.backups is not None
        buckets = CallerBuckets(
            objects, S3Authoriser(made.identity.policies_for, REGION), LIMITS.max_object_size, 1000
        )
        made.app.exports = DynamoExports(
            made.dynamodb, made.app.backups.store, MemoryExportStore(), buckets, items_per_file=2
        )
        made.objects = objects  # type: ignore[attr-defined]
        yield made


def _exports(world: World) -> DynamoExports:
    assert world.app.exports is not None
    return world.app.exports


async def _read(world: World, key: str) -> bytes:
    objects: ObjectService = world.objects  # type: ignore[attr-defined]
    record = await objects.head_object("exports", key)
    data = b""
    async for chunk in objects.read_object(record, 0, record.size - 1):
        data += chunk
    return data


async def _put(world: World, key: str, body: bytes) -> None:
    objects: ObjectService = world.objects  # type: ignore[attr-defined]

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    from andromede.storage.integrity import BodyIntegrity
    from andromede.storage.model import ContentHeaders

    await objects.put_object(
        "exports",
        key,
        chunks(),
        size=len(body),
        headers=ContentHeaders(),
        owner_id=world.tenant_id,
        integrity=BodyIntegrity(),
    )


async def _recovering_table(world: World, count: int = 5) -> str:
    await world.table("orders")
    for n in range(count):
        item = {"pk": {"S": f"p{n}"}, "n": {"N": str(n)}, "tags": {"SS": ["a", "b"]}}
        await world.client("PutItem", TableName="orders", Item=item)
    spec = {"PointInTimeRecoveryEnabled": True}
    await world.client(
        "UpdateContinuousBackups", TableName="orders", PointInTimeRecoverySpecification=spec
    )
    return f"arn:aws:dynamodb:{REGION}:{world.tenant_id}:table/orders"


async def test_an_export_is_written_as_aws_lays_it_out(world: World) -> None:
    table_arn = await _recovering_table(world)
    await asyncio.sleep(0.01)
    export_time = time.time()
    # The history keeps times to the millisecond: "later" must land in a later one.
    await asyncio.sleep(0.01)
    await world.client("PutItem", TableName="orders", Item={"pk": {"S": "later"}})
    started = (
        await world.client(
            "ExportTableToPointInTime",
            TableArn=table_arn,
            S3Bucket="exports",
            S3Prefix="backups/orders",
            ExportTime=export_time,
        )
    )["ExportDescription"]
    assert started["ExportStatus"] == "IN_PROGRESS"
    arn = started["ExportArn"]
    assert arn.startswith(f"{table_arn}/export/")
    await _exports(world).settle()
    done = (await world.client("DescribeExport", ExportArn=arn))["ExportDescription"]
    assert done["ExportStatus"] == "COMPLETED", done.get("FailureMessage")
    assert done["ItemCount"] == 5 and done["BilledSizeBytes"] > 0
    export_id = arn.rsplit("/", 1)[1]
    root = f"backups/orders/AWSDynamoDB/{export_id}/"
    assert done["ExportManifest"] == root + "manifest-summary.json"
    summary = json.loads(await _read(world, root + "manifest-summary.json"))
    assert summary["itemCount"] == 5 and summary["exportArn"] == arn
    assert summary["outputFormat"] == "DYNAMODB_JSON"
    assert await _read(world, root + "_started") == b""
    files = [
        json.loads(line)
        for line in (await _read(world, root + "manifest-files.json")).split(b"\n")
        if line
    ]
    assert [f["itemCount"] for f in files] == [2, 2, 1]  # two items a file here
    items = []
    for entry in files:
        assert entry["dataFileS3Key"].startswith(root + "data/")
        data = gzip.decompress(await _read(world, entry["dataFileS3Key"]))
        items += [json.loads(line)["Item"] for line in data.splitlines()]
    assert sorted(i["pk"]["S"] for i in items) == ["p0", "p1", "p2", "p3", "p4"]  # not "later"
    assert sorted(items[0]["tags"]["SS"]) == ["a", "b"]
    listed = (await world.client("ListExports", TableArn=table_arn))["ExportSummaries"]
    assert listed == [{"ExportArn": arn, "ExportStatus": "COMPLETED", "ExportType": "FULL_EXPORT"}]
    again = await world.client(
        "ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports", ClientToken="t1"
    )
    same = await world.client(
        "ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports", ClientToken="t1"
    )
    assert same["ExportDescription"]["ExportArn"] == again["ExportDescription"]["ExportArn"]
    await _exports(world).settle()


async def test_an_export_needs_recovery_and_refuses_what_is_not_offered(world: World) -> None:
    await world.table("plain")
    arn = f"arn:aws:dynamodb:{REGION}:{world.tenant_id}:table/plain"
    message = await world.fails(
        "ExportTableToPointInTime",
        "PointInTimeRecoveryUnavailableException",
        TableArn=arn,
        S3Bucket="exports",
    )
    assert "plain" in message
    table_arn = await _recovering_table(world, 1)
    for extra, named in (
        ({"ExportFormat": "ION"}, "ION"),
        ({"ExportType": "INCREMENTAL_EXPORT"}, "incremental"),
        ({"S3SseAlgorithm": "KMS"}, "KMS"),
    ):
        message = await world.fails(
            "ExportTableToPointInTime",
            "ValidationException",
            TableArn=table_arn,
            S3Bucket="exports",
            **extra,
        )
        assert named in message
    await world.fails(
        "ExportTableToPointInTime",
        "InvalidExportTimeException",
        TableArn=table_arn,
        S3Bucket="exports",
        ExportTime=time.time() - 86_400,
    )
    await world.fails(
        "ExportTableToPointInTime",
        "TableNotFoundException",
        TableArn=arn.replace("plain", "nothere"),
        S3Bucket="exports",
    )
    await world.fails(
        "DescribeExport",
        "ExportNotFoundException",
        ExportArn=f"{table_arn}/export/0000000000000-00000000",
    )


async def test_a_missing_or_refused_bucket_fails_the_export(world: World) -> None:
    table_arn = await _recovering_table(world, 1)
    arn = (await world.client("ExportTableToPointInTime", TableArn=table_arn, S3Bucket="nosuch"))[
        "ExportDescription"
    ]["ExportArn"]
    await _exports(world).settle()
    failed = (await world.client("DescribeExport", ExportArn=arn))["ExportDescription"]
    assert failed["ExportStatus"] == "FAILED" and failed["FailureCode"] == "S3NoSuchBucket"
    user = await world.iam_user("exporter")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "exporter", "d", json.dumps(policy))
    arn = (await user.client("ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports"))[
        "ExportDescription"
    ]["ExportArn"]
    await _exports(world).settle()
    failed = (await user.client("DescribeExport", ExportArn=arn))["ExportDescription"]
    assert failed["FailureCode"] == "S3AccessDenied"  # no s3:PutObject for the caller
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::exports/*"}
    )
    await world.identity.put_user_policy(world.tenant_id, "exporter", "d", json.dumps(policy))
    arn = (await user.client("ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports"))[
        "ExportDescription"
    ]["ExportArn"]
    await _exports(world).settle()
    done = (await user.client("DescribeExport", ExportArn=arn))["ExportDescription"]
    assert done["ExportStatus"] == "COMPLETED"


async def test_iam_and_tenants(world: World) -> None:
    table_arn = await _recovering_table(world, 1)
    user = await world.iam_user("nobody")
    message = await user.fails(
        "ExportTableToPointInTime", "AccessDeniedException", TableArn=table_arn, S3Bucket="exports"
    )
    assert "dynamodb:ExportTableToPointInTime" in message
    await user.fails("ListExports", "AccessDeniedException")
    await user.fails("ListImports", "AccessDeniedException")
    arn = (await world.client("ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports"))[
        "ExportDescription"
    ]["ExportArn"]
    await _exports(world).settle()
    await user.fails("DescribeExport", "AccessDeniedException", ExportArn=arn)
    other = await world.other_tenant("other")
    assert (await other.client("ListExports"))["ExportSummaries"] == []
    assert ("dynamodb:ExportTableToPointInTime", "success") in await world.audited()
    assert await _exports(world).forget_tenant(world.tenant_id) == 1
    assert (await world.client("ListExports"))["ExportSummaries"] == []


async def test_an_export_imports_back_into_a_new_table(world: World) -> None:
    table_arn = await _recovering_table(world)
    arn = (
        await world.client(
            "ExportTableToPointInTime", TableArn=table_arn, S3Bucket="exports", S3Prefix="x"
        )
    )["ExportDescription"]["ExportArn"]
    await _exports(world).settle()
    export_id = arn.rsplit("/", 1)[1]
    await _put(
        world,
        f"x/AWSDynamoDB/{export_id}/data/bad.json.gz",
        gzip.compress(b'{"Item": 1}\n{"Nope": {}}\n'),
    )
    creation: dict[str, Any] = {
        "TableName": "copy",
        "KeySchema": SCHEMA,
        "AttributeDefinitions": ATTRIBUTES,
        "BillingMode": "PAY_PER_REQUEST",
    }
    started = (
        await world.client(
            "ImportTable",
            S3BucketSource={
                "S3Bucket": "exports",
                "S3KeyPrefix": f"x/AWSDynamoDB/{export_id}/data/",
            },
            InputFormat="DYNAMODB_JSON",
            InputCompressionType="GZIP",
            TableCreationParameters=creation,
        )
    )["ImportTableDescription"]
    assert started["ImportStatus"] == "IN_PROGRESS"
    await _exports(world).settle()
    done = (await world.client("DescribeImport", ImportArn=started["ImportArn"]))[
        "ImportTableDescription"
    ]
    assert done["ImportStatus"] == "COMPLETED", done.get("FailureMessage")
    assert (done["ProcessedItemCount"], done["ImportedItemCount"], done["ErrorCount"]) == (7, 5, 2)
    scanned = (await world.client("Scan", TableName="copy"))["Items"]
    assert sorted(i["pk"]["S"] for i in scanned) == ["p0", "p1", "p2", "p3", "p4"]
    assert (await world.client("DescribeTable", TableName="copy"))["Table"][
        "TableStatus"
    ] == "ACTIVE"
    listed = (await world.client("ListImports"))["ImportSummaryList"]
    assert [i["ImportArn"] for i in listed] == [started["ImportArn"]]
    await world.fails(
        "ImportTable",
        "ResourceInUseException",
        S3BucketSource={"S3Bucket": "exports"},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters=creation,
    )


async def test_a_csv_import_and_what_is_refused(world: World) -> None:
    await _put(world, "csv/one.csv", b"pk,colour\nk1,red\nk2,\nk3,blue,extra\n")
    await _put(world, "csv/two.csv", b"k4;green\n")
    creation: dict[str, Any] = {
        "TableName": "fromcsv",
        "KeySchema": SCHEMA,
        "AttributeDefinitions": ATTRIBUTES,
        "BillingMode": "PAY_PER_REQUEST",
    }
    started = (
        await world.client(
            "ImportTable",
            S3BucketSource={"S3Bucket": "exports", "S3KeyPrefix": "csv/one"},
            InputFormat="CSV",
            TableCreationParameters=creation,
        )
    )["ImportTableDescription"]
    await _exports(world).settle()
    done = (await world.client("DescribeImport", ImportArn=started["ImportArn"]))[
        "ImportTableDescription"
    ]
    assert (done["ImportedItemCount"], done["ErrorCount"]) == (2, 1)
    got = await world.client("GetItem", TableName="fromcsv", Key={"pk": {"S": "k1"}})
    assert got["Item"] == {"pk": {"S": "k1"}, "colour": {"S": "red"}}
    creation["TableName"] = "headed"
    headed: dict[str, Any] = {
        "S3BucketSource": {"S3Bucket": "exports", "S3KeyPrefix": "csv/two"},
        "InputFormat": "CSV",
        "InputFormatOptions": {"Csv": {"Delimiter": ";", "HeaderList": ["pk", "colour"]}},
        "TableCreationParameters": creation,
        "ClientToken": "once",
    }
    started = (await world.client("ImportTable", **headed))["ImportTableDescription"]
    retried = (await world.client("ImportTable", **headed))["ImportTableDescription"]
    assert retried["ImportArn"] == started["ImportArn"]  # the same token: the same import
    headed["InputFormatOptions"] = {"Csv": {"Delimiter": ";"}}
    await world.fails("ImportTable", "ImportConflictException", **headed)
    await _exports(world).settle()
    got = await world.client("GetItem", TableName="headed", Key={"pk": {"S": "k4"}})
    assert got["Item"]["colour"] == {"S": "green"}
    creation["TableName"] = "never"
    for extra, named in (
        ({"InputFormat": "ION"}, "ION"),
        ({"InputCompressionType": "ZSTD"}, "ZSTD"),
    ):
        params: dict[str, Any] = {
            "S3BucketSource": {"S3Bucket": "exports"},
            "InputFormat": "CSV",
            "TableCreationParameters": creation,
        } | extra
        assert named in await world.fails("ImportTable", "ValidationException", **params)
    creation["TableName"] = "empty"
    started = (
        await world.client(
            "ImportTable",
            S3BucketSource={"S3Bucket": "exports", "S3KeyPrefix": "nothing/"},
            InputFormat="CSV",
            TableCreationParameters=creation,
        )
    )["ImportTableDescription"]
    await _exports(world).settle()
    failed = (await world.client("DescribeImport", ImportArn=started["ImportArn"]))[
        "ImportTableDescription"
    ]
    assert failed["ImportStatus"] == "FAILED" and failed["FailureCode"]


async def test_jobs_left_in_progress_by_a_restart_are_failed(world: World) -> None:
    exports = _exports(world)
    job = ExportJob(
        world.tenant_id, "1700000000000-abcdef01", "arn:aws:dynamodb:eu-fr-1:1:table/t", "id",
        0, "b", "", None, "tok", 0,
    )  # fmt: skip
    await exports.store.put_export(job)
    alive = dataclasses.replace(job, export_id="1700000000000-abcdef02", client_token="live")
    await exports.store.put_export(dataclasses.replace(alive, touched=int(time.time() * 1000)))
    assert await exports.recover() == 1  # the one whose gateway went silent past its lease
    held = await exports.store.get_export(world.tenant_id, job.arn)
    assert held is not None and held.status is JobStatus.FAILED
    live = await exports.store.get_export(world.tenant_id, alive.arn)
    assert live is not None and live.status is JobStatus.IN_PROGRESS
    assert await exports.recover() == 0


async def test_buckets_refuse_a_caller_that_is_no_principal(world: World) -> None:
    buckets = _exports(world).buckets
    root = Principal(world.tenant_id, None, None, PrincipalKind.ROOT, "arn")
    assert root is not None
    from andromede.dynamodb.exports import BucketRefused

    with pytest.raises(BucketRefused) as refused:
        await buckets.keys(None, "exports", None, "")
    assert refused.value.code == "S3AccessDenied"
    with pytest.raises(BucketRefused) as refused:
        await buckets.keys(root, "exports", "999999999999", "")
    assert refused.value.code == "S3AccessDenied"
