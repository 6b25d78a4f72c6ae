"""Export tasks, GetLogRecord and GetLogGroupFields on the wire (decision 0186, session-49
addendum), signed as botocore signs them: CreateExportTask's answer and its refusals in Logs'
words with a request id (the bucket policy's, the time range, the one active task),
DescribeExportTasks' shapes, CancelExportTask's InvalidOperationException and
ResourceNotFoundException; GetLogRecord over an Insights ``@ptr``; GetLogGroupFields; an IAM
user without a policy refused each on its resource; the control calls audited, GetLogRecord
(a data event) not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.log_export_delivery import BucketExportDestination
from andromede.logs.export_tasks import ExportService
from andromede.logs.exports import MemoryExportStore
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.batch_world import LIMITS
from support.keys import cipher_in
from support.kmskit import REGION
from support.logsapp import NOW, Harness, harness_over, logs_world
from support.schema import migrated_sqlite

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::exports", "arn:aws:s3:::exports/*"],
            }
        ],
    }
)


@dataclass
class Wire:
    logs: Harness
    objects: ObjectService


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Wire]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    blobs = RegionalBlobs({REGION: LocalBlobStore(tmp_path / "objects", fsync=False)}, REGION)
    objects = ObjectService(SqlMetadataStore(db), blobs, LIMITS, cipher_in(tmp_path / "keys"))
    try:
        for world in logs_world(tmp_path / "w"):
            exports = ExportService(
                world.service,
                MemoryExportStore(),
                BucketExportDestination(objects, REGION),
                clock=world.clock,
            )
            harness = await harness_over(world, tmp_path, exports)
            await objects.create_bucket(
                "exports", tenant_id=harness.tenant_id, owner_id="o1", region=REGION
            )
            try:
                yield Wire(harness, objects)
            finally:
                assert harness.insights is not None
                await harness.insights.close()
                await harness.audit.close()
                await harness.billing.close()
    finally:
        await db.close()


def task(**given: object) -> dict[str, object]:
    return {
        "logGroupName": "/app",
        "from": NOW - 60_000,
        "to": NOW,
        "destination": "exports",
        **given,
    }


async def test_export_tasks_in_aws_shapes(wire: Wire) -> None:
    logs = wire.logs
    await logs.ok("CreateLogGroup", {"logGroupName": "/app"})
    refused = await logs.call("CreateExportTask", task())
    fields = refused.error_fields()
    assert fields["__type"] == "InvalidParameterException"
    assert fields["message"].startswith("GetBucketAcl call on the given bucket failed.")
    assert refused.headers["x-amzn-requestid"]
    await wire.objects.set_bucket_policy("exports", POLICY)
    reply = await logs.call("CreateExportTask", task(**{"from": 5, "to": 4}))
    assert reply.error_fields()["__type"] == "InvalidParameterException"
    reply = await logs.call("CreateExportTask", task(logGroupName="/nope"))
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"
    task_id = (await logs.ok("CreateExportTask", task(taskName="t")))["taskId"]
    reply = await logs.call("CreateExportTask", task())
    assert reply.error_fields()["__type"] == "LimitExceededException"
    [shape] = (await logs.ok("DescribeExportTasks", {"taskId": task_id}))["exportTasks"]
    assert shape == {
        "taskId": task_id,
        "taskName": "t",
        "logGroupName": "/app",
        "from": NOW - 60_000,
        "to": NOW,
        "destination": "exports",
        "destinationPrefix": "exportedlogs",
        "status": {"code": "PENDING", "message": "Pending"},
        "executionInfo": {"creationTime": NOW},
    }
    await logs.ok("CancelExportTask", {"taskId": task_id})
    listed = await logs.ok("DescribeExportTasks", {"statusCode": "CANCELLED", "limit": 1})
    assert [t["status"]["code"] for t in listed["exportTasks"]] == ["CANCELLED"]
    assert listed["exportTasks"][0]["executionInfo"]["completionTime"] == NOW
    reply = await logs.call("CancelExportTask", {"taskId": task_id})
    assert reply.error_fields()["__type"] == "InvalidOperationException"
    reply = await logs.call("CancelExportTask", {"taskId": "nope"})
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"
    reply = await logs.call("DescribeExportTasks", {"limit": 51})
    assert reply.error_fields()["__type"] == "InvalidParameterException"


async def test_records_fields_authorisation_and_audit(wire: Wire) -> None:
    logs = wire.logs
    await logs.ok("CreateLogGroup", {"logGroupName": "/app"})
    await logs.ok("CreateLogStream", {"logGroupName": "/app", "logStreamName": "s"})
    message = json.dumps({"user": "ana", "ms": 12})
    await logs.ok(
        "PutLogEvents",
        {
            "logGroupName": "/app",
            "logStreamName": "s",
            "logEvents": [{"timestamp": NOW - 1000, "message": message}],
        },
    )
    started = await logs.ok(
        "StartQuery",
        {
            "logGroupName": "/app",
            "startTime": NOW // 1000 - 60,
            "endTime": NOW // 1000,
            "queryString": "fields user",
        },
    )
    for _ in range(300):
        answer = await logs.ok("GetQueryResults", {"queryId": started["queryId"]})
        if answer["status"] == "Complete":
            break
        await asyncio.sleep(0.01)
    pointer = dict((f["field"], f["value"]) for f in answer["results"][0])["@ptr"]
    record = (await logs.ok("GetLogRecord", {"logRecordPointer": pointer}))["logRecord"]
    assert record["@message"] == message and record["user"] == "ana" and record["ms"] == "12"
    assert record["@timestamp"] == str(NOW - 1000)
    reply = await logs.call("GetLogRecord", {"logRecordPointer": "bad"})
    assert reply.error_fields()["__type"] == "InvalidParameterException"
    fields = await logs.ok("GetLogGroupFields", {"logGroupName": "/app", "time": NOW // 1000})
    assert {"name": "user", "percent": 100} in fields["logGroupFields"]
    user = await logs.iam_user("dev")
    group = f"arn:aws:logs:{REGION}:{logs.tenant_id}:log-group:/app"
    for operation, params, resource in (
        ("GetLogRecord", {"logRecordPointer": pointer}, group),
        ("GetLogGroupFields", {"logGroupName": "/app"}, group),
        ("CreateExportTask", task(), group),
        ("DescribeExportTasks", {}, "*"),
        ("CancelExportTask", {"taskId": "x"}, "*"),
    ):
        fields = (await user.call(operation, params)).error_fields()
        assert fields["__type"] == "AccessDeniedException"
        assert f"logs:{operation} on resource: {resource} " in fields["message"]
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    actions = {(e.action, e.outcome.value) for e in events}
    assert ("logs:GetLogGroupFields", "success") in actions
    assert ("logs:GetLogRecord", "success") not in actions  # a data event
    assert ("logs:GetLogRecord", "failure") in actions  # but refused: audited
    assert ("logs:CreateExportTask", "failure") in actions
