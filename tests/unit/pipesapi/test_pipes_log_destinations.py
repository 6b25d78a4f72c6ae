"""Decision 0268's S3 and Firehose log destinations: accepted as botocore's model gives them
(a bucket of the pipe's account, its ``BucketOwner``, ``OutputFormat``, ``Prefix``; a
Firehose stream of the account) and described back; a batch's records written as one gzip'd
object in the format asked, under AWS's vended-log layout, by the service once the pipe's
role may ``s3:PutObject``; into the Firehose stream as JSON lines once it may
``firehose:PutRecordBatch``; a role that may not leaves nothing written and the events sent."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipe_log_destinations import PipeLogBuckets, PipeLogDestinations, PipeLogStreams
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.errors import InvalidPipe
from andromede.pipes.execution_logs import s3_log_body, s3_object_key
from andromede.pipes.memory import MemoryPipeStore
from andromede.pipes.model import Pipe
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.pipes.service import PipesService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.wiring.queues import KeySealer
from support.batch_world import read
from support.firehoseapp import World as FirehoseWorld
from support.firehoseapp import firehose_world
from support.pipesapp import REGION, TRUST, World, allow

QUEUES = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage")


def test_the_formats_and_the_object_key() -> None:
    pipe = Pipe("000000000001", "orders", REGION, "", {}, "", {}, "")
    records: list[dict[str, Any]] = [
        {"resourceArn": "arn:p", "timestamp": 5, "messageType": "ExecutionFailed",
         "error": {"message": "it broke"}},
    ]  # fmt: skip
    assert json.loads(gzip.decompress(s3_log_body(records, "json"))) == records[0]
    plain = gzip.decompress(s3_log_body(records, "plain")).decode()
    assert plain == 'arn:p 5 - ExecutionFailed - {"message":"it broke"} -\n'
    w3c = gzip.decompress(s3_log_body(records, "w3c")).decode().splitlines()
    assert w3c[0] == "#Version: 1.0"
    assert w3c[1].split(" ")[1:] == [
        "resourceArn", "timestamp", "executionId", "messageType", "logLevel", "error", "payload",
    ]  # fmt: skip
    assert w3c[2] == 'arn:p 5 - ExecutionFailed - "{""message"":""it broke""}" -'
    key = s3_object_key(pipe, "logs/", 1_780_000_000_000, "u1")
    assert key == (
        "logs/AWSLogs/000000000001/EventBridgePipes/eu-fr-1/orders/2026/05/28/20/"
        "000000000001_EventBridgePipes_eu-fr-1_orders_20260528T202640Z_u1.log.gz"
    )
    assert s3_object_key(pipe, "", 0, "u").startswith("AWSLogs/000000000001/")


async def test_the_destinations_are_described_back(world: World) -> None:
    source = await world.queue("in")
    role = await world.role()
    config = {
        "Level": "INFO",
        "S3LogDestination": {
            "BucketName": "pipe-logs",
            "BucketOwner": world.tenant_id,
            "OutputFormat": "w3c",
            "Prefix": "p/",
        },
        "FirehoseLogDestination": {
            "DeliveryStreamArn": f"arn:aws:firehose:{REGION}:{world.tenant_id}:deliverystream/l"
        },
        "IncludeExecutionData": ["ALL"],
    }
    await world.client(
        "CreatePipe", Name="p", Source=source, Target=source, RoleArn=role, LogConfiguration=config
    )
    assert (await world.client("DescribePipe", Name="p"))["LogConfiguration"] == config
    base = {"Name": "q", "Source": source, "Target": source, "RoleArn": role}
    foreign = dict(config["S3LogDestination"], BucketOwner="999999999999")  # type: ignore[arg-type]
    refused = await world.fails(
        "CreatePipe", "ValidationException", **base,
        LogConfiguration={"Level": "INFO", "S3LogDestination": foreign},
    )  # fmt: skip
    assert "BucketOwner" in refused.message
    elsewhere = f"arn:aws:firehose:{REGION}:999999999999:deliverystream/l"
    await world.fails(
        "CreatePipe", "ValidationException", **base,
        LogConfiguration={"Level": "INFO",
                          "FirehoseLogDestination": {"DeliveryStreamArn": elsewhere}},
    )  # fmt: skip
    with pytest.raises(InvalidPipe, match="OutputFormat"):
        await world.pipes.create(world.tenant_id, "r", base | {"LogConfiguration": {
            "Level": "INFO", "S3LogDestination": dict(config["S3LogDestination"],  # type: ignore[arg-type]
                                                      OutputFormat="csv")}})  # fmt: skip


async def test_records_go_into_the_bucket_and_the_stream(tmp_path: Path) -> None:
    async for fw in firehose_world(tmp_path):
        await _records_go_into_the_bucket_and_the_stream(fw, tmp_path)


async def _records_go_into_the_bucket_and_the_stream(fw: FirehoseWorld, tmp_path: Path) -> None:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "pipe-keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    pipes = PipesService(MemoryPipeStore(), REGION)
    roles = PipeRoles(fw.identity, REGION)
    await fw.bucket("landing")  # the Firehose stream's
    await fw.bucket("pipe-logs")
    await fw.client(
        "CreateDeliveryStream",
        DeliveryStreamName="logs",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await fw.role(),
            "BucketARN": "arn:aws:s3:::landing",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    await fw.deliverer.run_pass()  # ACTIVE
    for name in ("in", "out"):
        await queues.create_queue(fw.tenant_id, name, {}, {})
    made = await fw.identity.create_role(fw.tenant_id, "pipe", TRUST)
    await fw.identity.put_role_policy(fw.tenant_id, "pipe", "q", allow(*QUEUES))
    stream = f"arn:aws:firehose:{REGION}:{fw.tenant_id}:deliverystream/logs"
    await pipes.create(fw.tenant_id, "p", {
        "Source": f"arn:aws:sqs:{REGION}:{fw.tenant_id}:in",
        "Target": f"arn:aws:sqs:{REGION}:{fw.tenant_id}:out",
        "RoleArn": made.arn,
        "LogConfiguration": {
            "Level": "INFO",
            "S3LogDestination": {"BucketName": "pipe-logs", "BucketOwner": fw.tenant_id,
                                 "Prefix": "pipes"},
            "FirehoseLogDestination": {"DeliveryStreamArn": stream},
        },
    })  # fmt: skip
    runner = PipesRunner(
        pipes,
        PipeSources(roles, queues, lambda: None, REGION),
        PipeTargets(roles, queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(),
        "gw",
        logs=PipeLogDestinations(
            [PipeLogBuckets(roles, fw.objects), PipeLogStreams(roles, lambda: fw.firehose)]
        ),
    )
    await runner.run_pass()  # settled
    queue = await queues.get_queue(fw.tenant_id, fw.tenant_id, "in")

    async def one_event() -> int:
        await queues.send_message(queue, '{"n": 1}', {}, {}, None, fw.tenant_id)
        return await runner.run_pass()

    # The role may neither s3:PutObject nor firehose:PutRecordBatch: the event still goes.
    assert await one_event() == 1
    assert not (await fw.objects.list_objects("pipe-logs")).objects
    await fw.identity.put_role_policy(
        fw.tenant_id, "pipe", "logs", allow("s3:PutObject", "firehose:PutRecordBatch")
    )
    assert await one_event() == 1
    (stored,) = (await fw.objects.list_objects("pipe-logs")).objects
    assert stored.key.startswith(f"pipes/AWSLogs/{fw.tenant_id}/EventBridgePipes/{REGION}/p/")
    lines = gzip.decompress(await read(fw.objects, "pipe-logs", stored.key)).splitlines()
    assert [json.loads(x)["messageType"] for x in lines] == [
        "ExecutionStarted",
        "ExecutionSucceeded",
    ]
    await fw.deliverer.run_pass(int((time.time() + 61) * 1000))
    (delivered,) = (await fw.objects.list_objects("landing")).objects
    body = await read(fw.objects, "landing", delivered.key)
    assert [json.loads(x)["messageType"] for x in body.splitlines()] == [
        "ExecutionStarted",
        "ExecutionSucceeded",
    ]
    keys.close()
