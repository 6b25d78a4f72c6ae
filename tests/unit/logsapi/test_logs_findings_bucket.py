"""Data protection's S3 findings destinations (decision 0211, session-51 addendum) through
Logs' JSON protocol in process, over a real object service: the findings reports of one
PutLogEvents call written as one object (a report a line) under AWS's vended-log layout,
sealed as every object; the account's own bucket taken as it is, another account's only when
its policy lets Logs' delivery principal in for this account; a bucket refusing later drops
the reports without failing the ingestion; Firehose refused where none is served
(``test_logs_subscriptions`` serves it)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.log_export_delivery import FindingsBucketDestination
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.batch_world import LIMITS, read
from support.keys import cipher_in
from support.kmskit import REGION
from support.logsapp import NOW, Harness, harness_over, logs_world
from support.schema import migrated_sqlite

EMAIL = "jane.doe@example.fr"
ARN = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
OTHER = "999999999999"


def policy(destination: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Name": "protect",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "DataIdentifier": [ARN],
                    "Operation": {"Audit": {"FindingsDestination": destination}},
                },
                {"DataIdentifier": [ARN], "Operation": {"Deidentify": {"MaskConfig": {}}}},
            ],
        }
    )


@dataclass
class Wire:
    logs: Harness
    objects: ObjectService
    blobs: Path


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Wire]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    blobs = RegionalBlobs({REGION: LocalBlobStore(tmp_path / "objects", fsync=False)}, REGION)
    objects = ObjectService(SqlMetadataStore(db), blobs, LIMITS, cipher_in(tmp_path / "keys"))
    try:
        for world in logs_world(tmp_path / "w"):
            world.service.protection.buckets = FindingsBucketDestination(objects, REGION)
            harness = await harness_over(world, tmp_path)
            world.clock.now = NOW
            await harness.ok("CreateLogGroup", {"logGroupName": "/app/web"})
            await harness.ok("CreateLogStream", {"logGroupName": "/app/web", "logStreamName": "s"})
            await objects.create_bucket(
                "own-findings", tenant_id=harness.tenant_id, owner_id="o1", region=REGION
            )
            await objects.create_bucket(
                "their-findings", tenant_id=OTHER, owner_id="o2", region=REGION
            )
            try:
                yield Wire(harness, objects, tmp_path / "objects")
            finally:
                assert harness.insights is not None
                await harness.insights.close()
                await harness.audit.close()
                await harness.billing.close()
    finally:
        await db.close()


async def put(logs: Harness, *messages: str) -> None:
    events = [{"timestamp": NOW + i, "message": m} for i, m in enumerate(messages)]
    await logs.ok(
        "PutLogEvents", {"logGroupName": "/app/web", "logStreamName": "s", "logEvents": events}
    )
    logs.world.clock.now += 1000


async def keys(objects: ObjectService, bucket: str) -> list[str]:
    listing = await objects.list_objects(bucket, prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


async def test_one_object_per_call_in_the_accounts_own_bucket(wire: Wire) -> None:
    logs = wire.logs
    document = policy({"S3": {"Bucket": "own-findings"}})
    await logs.ok(
        "PutDataProtectionPolicy", {"logGroupIdentifier": "/app/web", "policyDocument": document}
    )
    await put(logs, f"to {EMAIL}", "nothing here", f"{EMAIL} and {EMAIL}")
    [key] = await keys(wire.objects, "own-findings")
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(NOW / 1000))
    prefix = f"AWSLogs/{logs.tenant_id}/DataProtection/{REGION}/app/web/{hour}/"
    assert key.startswith(prefix) and key.endswith(".json")
    body = (await read(wire.objects, "own-findings", key)).decode()
    reports = [json.loads(line) for line in body.splitlines()]
    group = f"arn:aws:logs:{REGION}:{logs.tenant_id}:log-group:/app/web:*"
    assert [r["resourceArn"] for r in reports] == [group, group]
    assert [
        [(d["name"], d["count"], d["detections"]) for d in r["dataIdentifiers"]] for r in reports
    ] == [
        [("EmailAddress", 1, [{"start": 3, "end": 22}])],
        [("EmailAddress", 2, [{"start": 0, "end": 19}, {"start": 24, "end": 43}])],
    ]
    assert EMAIL not in body
    # Sealed at rest as every object: the report's words are in no stored file.
    stored = [p.read_bytes() for p in wire.blobs.rglob("*") if p.is_file()]
    assert stored and not any(b"dataIdentifiers" in data for data in stored)
    await put(logs, f"again {EMAIL}")
    await put(logs, "no finding, no object")
    assert len(await keys(wire.objects, "own-findings")) == 2


async def test_another_accounts_bucket_only_by_its_policy(wire: Wire) -> None:
    logs = wire.logs
    document = policy({"S3": {"Bucket": "their-findings"}})
    params = {"logGroupIdentifier": "/app/web", "policyDocument": document}
    refused = (await logs.call("PutDataProtectionPolicy", params)).error_fields()
    assert refused["__type"] == "InvalidParameterException"
    assert "delivery.logs.amazonaws.com" in refused["message"]
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::their-findings/AWSLogs/{logs.tenant_id}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": logs.tenant_id}},
            }
        ],
    }
    await wire.objects.set_bucket_policy("their-findings", json.dumps(grant))
    await logs.ok("PutDataProtectionPolicy", params)
    await put(logs, f"to {EMAIL}")
    [key] = await keys(wire.objects, "their-findings")
    assert key.startswith(f"AWSLogs/{logs.tenant_id}/DataProtection/")
    # The grant withdrawn: the reports dropped, the events still taken and masked.
    await wire.objects.set_bucket_policy("their-findings", json.dumps({**grant, "Statement": []}))
    await put(logs, f"to {EMAIL} again")
    assert len(await keys(wire.objects, "their-findings")) == 1
    read_back = await logs.ok(
        "GetLogEvents", {"logGroupName": "/app/web", "logStreamName": "s", "startFromHead": True}
    )
    assert [EMAIL in e["message"] for e in read_back["events"]] == [False, False]


async def test_bad_destinations_refused_in_aws_words(wire: Wire) -> None:
    logs = wire.logs
    for destination, words in [
        ({"S3": {"Bucket": "no-such-bucket"}}, "The specified bucket does not exist."),
        ({"S3": {}}, "an S3 findings destination names its Bucket"),
        ({"S3": {"Bucket": "Not_A_Bucket"}}, "an S3 findings destination names its Bucket"),
        ({"Firehose": {"DeliveryStream": "x"}}, "Firehose findings destinations are not served"),
    ]:
        params = {"logGroupIdentifier": "/app/web", "policyDocument": policy(destination)}
        fields = (await logs.call("PutDataProtectionPolicy", params)).error_fields()
        assert fields["__type"] == "InvalidParameterException", destination
        assert words in fields["message"], fields
    # The account's policy too, its findings of every group into the account's bucket.
    await logs.ok(
        "PutAccountPolicy",
        {
            "policyName": "all",
            "policyType": "DATA_PROTECTION_POLICY",
            "policyDocument": policy({"S3": {"Bucket": "own-findings"}}),
        },
    )
    refused = await logs.call(
        "PutAccountPolicy",
        {
            "policyName": "all",
            "policyType": "DATA_PROTECTION_POLICY",
            "policyDocument": policy({"S3": {"Bucket": "their-findings"}}),
        },
    )
    assert refused.error_fields()["__type"] == "InvalidParameterException"
    logs.world.clock.now += 10_000  # past the account cache
    await put(logs, f"to {EMAIL}")
    assert len(await keys(wire.objects, "own-findings")) == 1
