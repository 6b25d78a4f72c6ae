"""Decision 0301's stream event source mappings through botocore's ``lambda`` model in
process: a Kinesis stream's mapping made, answered with every stream parameter (AWS's
defaults), changed and deleted; AWS's refusals (the parameters, the role as
``AWSLambdaKinesisExecutionRole`` grants, the OnFailure destination's permission); then the
poller giving a stream's records to the function in the real ``bwrap`` sandbox."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.mappings import check_mapping_parameters
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry, KinesisService
from support.kinesisapp import kinesis_world
from support.lambda_mappings import MappingWorld, mapping_world
from support.lambdaapp import REGION, handler_zip
from support.pipesapp import allow

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)
READER = allow(
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:DescribeStream",
    "kinesis:ListShards",
    "kinesis:ListStreams",
    "sqs:SendMessage",
)
SOURCE = """
import base64

def handler(event, context):
    for record in event["Records"]:
        print("got", base64.b64decode(record["kinesis"]["data"]).decode(), record["eventSource"])
    return {}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[MappingWorld, KinesisService]]:
    async for streams in kinesis_world(tmp_path):
        async for made in mapping_world(tmp_path, kinesis=streams.kinesis):
            yield made, streams.kinesis


async def _stream(world: MappingWorld, kinesis: KinesisService) -> str:
    made = await kinesis.create(world.lam.tenant_id, "clicks", 1, StreamMode.PROVISIONED)
    return made.arn


async def test_created_answered_changed_and_deleted(
    world: tuple[MappingWorld, KinesisService],
) -> None:
    mw, kinesis = world
    arn = await _stream(mw, kinesis)
    await mw.lam.function("consumer", Role=await mw.reader_role("reader", READER))
    await mw.queue("failed")
    made = await mw.lam.client(
        "CreateEventSourceMapping", EventSourceArn=arn, FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
    )  # fmt: skip
    assert made["State"] == "Creating" and made["EventSourceArn"] == arn
    assert (made["BatchSize"], made["StartingPosition"]) == (100, "TRIM_HORIZON")
    assert (made["ParallelizationFactor"], made["MaximumRetryAttempts"]) == (1, -1)
    assert (made["MaximumRecordAgeInSeconds"], made["BisectBatchOnFunctionError"]) == (-1, False)
    assert made["TumblingWindowInSeconds"] == 0
    assert made["DestinationConfig"] == {"OnFailure": {}}
    await mw.poller.run_pass()
    got = await mw.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert got["State"] == "Enabled"
    queue = f"arn:aws:sqs:{REGION}:{mw.lam.tenant_id}:failed"
    changed = await mw.lam.client(
        "UpdateEventSourceMapping", UUID=made["UUID"], BatchSize=500, MaximumRetryAttempts=3,
        MaximumRecordAgeInSeconds=3600, BisectBatchOnFunctionError=True, ParallelizationFactor=4,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": queue}}, TumblingWindowInSeconds=120,
    )  # fmt: skip
    assert changed["State"] == "Updating" and changed["BatchSize"] == 500
    assert changed["TumblingWindowInSeconds"] == 120  # decision 0319
    assert (changed["MaximumRetryAttempts"], changed["ParallelizationFactor"]) == (3, 4)
    assert changed["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    assert changed["StartingPosition"] == "TRIM_HORIZON"
    again = await mw.lam.fails(
        "CreateEventSourceMapping", "ResourceConflictException",
        EventSourceArn=arn, FunctionName="consumer", StartingPosition="LATEST",
    )  # fmt: skip
    assert made["UUID"] in again.message
    listed = await mw.lam.client("ListEventSourceMappings", EventSourceArn=arn)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [made["UUID"]]
    assert listed["EventSourceMappings"][0]["TumblingWindowInSeconds"] == 120
    await mw.lam.client("DeleteEventSourceMapping", UUID=made["UUID"])
    await mw.poller.run_pass()
    assert (await mw.lam.client("ListEventSourceMappings"))["EventSourceMappings"] == []


async def test_refused_as_aws_refuses(world: tuple[MappingWorld, KinesisService]) -> None:
    mw, kinesis = world
    arn = await _stream(mw, kinesis)
    await mw.lam.function("consumer", Role=await mw.reader_role("reader", READER))
    mine = mw.lam.tenant_id
    dynamodb = f"arn:aws:dynamodb:{REGION}:{mine}:table/things/stream/2026-12-06T00:00:00.000"

    async def refused(code: str = "InvalidParameterValueException", **params: object) -> str:
        params.setdefault("EventSourceArn", arn)
        params.setdefault("FunctionName", "consumer")
        params.setdefault("StartingPosition", "LATEST")
        if params["StartingPosition"] is None:
            del params["StartingPosition"]
        return (await mw.lam.fails("CreateEventSourceMapping", code, **params)).message

    assert "startingPosition" in await refused(StartingPosition=None)
    assert await refused(StartingPosition="AT_TIMESTAMP") == "Need to specify a timestamp"
    assert "AT_TIMESTAMP" in await refused(EventSourceArn=dynamodb,
        StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1_700_000_000)  # fmt: skip
    assert "parallelizationFactor" in await refused(ParallelizationFactor=11)
    assert "maximumRetryAttempts" in await refused(MaximumRetryAttempts=10_001)
    assert "between 60 and 604800" in await refused(MaximumRecordAgeInSeconds=30)
    await refused(MaximumRecordAgeInSeconds=604_801)
    assert "tumblingWindowInSeconds" in await refused(TumblingWindowInSeconds=901)
    assert "ScalingConfig" in await refused(ScalingConfig={"MaximumConcurrency": 2})
    await refused(BatchSize=10_001)
    assert "S3" in await refused(
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::bucket"}}
    )
    await refused(DestinationConfig={"OnFailure": {
        "Destination": f"arn:aws:sqs:{REGION}:999999999999:theirs"}})  # fmt: skip
    await refused(EventSourceArn=f"arn:aws:kinesis:{REGION}:999999999999:stream/theirs")
    assert await refused(EventSourceArn=f"arn:aws:kinesis:{REGION}:{mine}:stream/none") == (
        f"Stream not found: arn:aws:kinesis:{REGION}:{mine}:stream/none"
    )
    # A role lacking one of AWSLambdaKinesisExecutionRole's actions: AWS's words.
    partial = allow("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream")
    await mw.lam.function("weak", Role=await mw.reader_role("weak", partial))
    assert await refused(FunctionName="weak") == (
        f"Cannot access stream {arn}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, ListShards, and ListStreams Actions on your stream "
        "in IAM."
    )
    # The OnFailure destination must be one the role may send to.
    reads = allow(*json.loads(READER)["Statement"][0]["Action"][:5])
    await mw.lam.function("mute", Role=await mw.reader_role("mute", reads))
    topic = f"arn:aws:sns:{REGION}:{mine}:alerts"
    assert await refused(FunctionName="mute",
        DestinationConfig={"OnFailure": {"Destination": topic}}) == (
        "The provided execution role does not have permissions to call Publish on SNS"
    )  # fmt: skip
    made = await mw.lam.client("CreateEventSourceMapping", EventSourceArn=arn,
        FunctionName="consumer", StartingPosition="LATEST")  # fmt: skip
    failed = await mw.lam.fails("UpdateEventSourceMapping", "InvalidParameterValueException",
        UUID=made["UUID"], ParallelizationFactor=11)  # fmt: skip
    assert "parallelizationFactor" in failed.message


def test_the_starting_position_is_fixed_once_made() -> None:
    """UpdateEventSourceMapping has no StartingPosition (botocore refuses it before sending);
    a request carrying one anyway is refused."""
    kept = check_mapping_parameters({"StartingPosition": "LATEST"}, "kinesis")
    assert kept["StartingPosition"] == "LATEST" and kept["BatchSize"] == 100
    with pytest.raises(InvalidParameterValue, match="cannot be changed"):
        check_mapping_parameters({"StartingPosition": "TRIM_HORIZON"}, "kinesis", kept)
    assert check_mapping_parameters({"BatchSize": 7}, "kinesis", kept)["BatchSize"] == 7


@needs_bwrap
async def test_records_given_to_the_function(world: tuple[MappingWorld, KinesisService]) -> None:
    mw, kinesis = world
    arn = await _stream(mw, kinesis)
    role = await mw.reader_role("reader", READER)
    await mw.lam.function("consumer", Role=role, Code={"ZipFile": handler_zip(SOURCE)})
    await kinesis.put(mw.lam.tenant_id, "clicks", [Entry("k", b"first"), Entry("k", b"second")])
    made = await mw.lam.client("CreateEventSourceMapping", EventSourceArn=arn,
        FunctionName="consumer", StartingPosition="TRIM_HORIZON", BatchSize=1)  # fmt: skip
    assert await mw.poller.run_pass() == 1
    assert await mw.poller.run_pass() == 1
    printed = [m for *_, m in mw.lam.logs.written if m.startswith("got")]
    assert [p.strip() for p in printed] == ["got first aws:kinesis", "got second aws:kinesis"]
    got = await mw.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert got["LastProcessingResult"] == "OK"
