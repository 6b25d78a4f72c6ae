"""Decision 0223's Firehose API through botocore's own model: a Direct PUT stream into S3 made
CREATING then ACTIVE, described, listed, tagged, its destination updated by version, its
records put (one, a batch with per-record answers past the buffer's bound) and delivered as
AWS lays them out; the other sources and destinations refused in AWS's words; the role's
trust and rights deciding; errors in AWS's words with a request id; metrics, billing and
audit as the neighbours."""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from typing import Any

import pytest

from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.wiring.firehose import billed_bytes
from support.batch_world import read
from support.firehoseapp import World, put_policy

KEY = re.compile(
    r"(?P<prefix>.*)(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/(?P<h>\d\d)/"
    r"(?P<name>[\w.-]+)-(?P<version>\d+)-(?P=y)-(?P=m)-(?P=d)-(?P=h)-\d\d-\d\d-"
    r"[0-9a-f-]{36}(?P<ext>\.gz)?"
)


async def stream(world: World, name: str = "clicks", **s3: Any) -> str:
    config = {
        "RoleARN": await world.role(),
        "BucketARN": await world.bucket(),
        "Prefix": "raw/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
    } | s3
    made = await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=config,
        Tags=[{"Key": "team", "Value": "web"}],
    )
    return str(made["DeliveryStreamARN"])


async def keys(world: World, bucket: str = "landing") -> list[str]:
    listing = await world.objects.list_objects(bucket, prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def test_a_stream_is_made_described_and_listed(world: World) -> None:
    arn = await stream(world)
    assert arn == f"arn:aws:firehose:eu-fr-1:{world.tenant_id}:deliverystream/clicks"
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
        "DeliveryStreamDescription"
    ]
    assert described["DeliveryStreamStatus"] == "CREATING"
    await world.fails("PutRecord", "ResourceNotFoundException", DeliveryStreamName="clicks",
                      Record={"Data": b"early"})  # fmt: skip
    await world.deliverer.run_pass()
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
        "DeliveryStreamDescription"
    ]
    assert described["DeliveryStreamStatus"] == "ACTIVE"
    assert described["DeliveryStreamType"] == "DirectPut"
    assert described["VersionId"] == "1"
    assert described["DeliveryStreamEncryptionConfiguration"] == {"Status": "DISABLED"}
    (destination,) = described["Destinations"]
    assert destination["DestinationId"] == "destinationId-000000000001"
    s3 = destination["ExtendedS3DestinationDescription"]
    assert s3["BucketARN"] == "arn:aws:s3:::landing"
    assert s3["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    assert s3["CompressionFormat"] == "UNCOMPRESSED"
    assert s3["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert destination["S3DestinationDescription"]["Prefix"] == "raw/"
    listed = await world.client("ListDeliveryStreams", Limit=10)
    assert listed == {"DeliveryStreamNames": ["clicks"], "HasMoreDeliveryStreams": False}
    tags = await world.client("ListTagsForDeliveryStream", DeliveryStreamName="clicks")
    assert tags == {"Tags": [{"Key": "team", "Value": "web"}], "HasMoreTags": False}
    await world.fails("CreateDeliveryStream", "ResourceInUseException",
                      DeliveryStreamName="clicks",
                      S3DestinationConfiguration={"RoleARN": await world.role("r2"),
                                                  "BucketARN": "arn:aws:s3:::landing"})  # fmt: skip
    other = await world.other_tenant("other")
    await other.fails("DescribeDeliveryStream", "ResourceNotFoundException",
                      DeliveryStreamName="clicks")  # fmt: skip
    assert (await other.client("ListDeliveryStreams"))["DeliveryStreamNames"] == []


async def test_records_are_delivered_as_aws_lays_them_out(world: World) -> None:
    await stream(world, CompressionFormat="GZIP")
    await world.deliverer.run_pass()
    one = await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"a1\n"})
    assert len(one["RecordId"]) >= 32 and one["Encrypted"] is False
    batch = await world.client(
        "PutRecordBatch",
        DeliveryStreamName="clicks",
        Records=[{"Data": b"b2"}, {"Data": b"c3\n"}],
    )
    assert batch["FailedPutCount"] == 0
    assert [len(r["RecordId"]) >= 32 for r in batch["RequestResponses"]] == [True, True]
    assert await world.deliverer.run_pass() == 0  # no hint reached yet
    assert await keys(world) == []
    assert await world.deliverer.run_pass(later(61)) == 1
    (key,) = await keys(world)
    match = KEY.fullmatch(key)
    assert match is not None, key
    assert (match["prefix"], match["name"], match["version"], match["ext"]) == (
        "raw/", "clicks", "1", ".gz",
    )  # fmt: skip
    # Concatenated as they came, no separator added.
    assert gzip.decompress(await read(world.objects, "landing", key)) == b"a1\nb2c3\n"
    assert await world.deliverer.run_pass(later(200)) == 0  # nothing left
    assert world.sink.total("IncomingRecords") == 3
    assert world.sink.total("IncomingBytes") == 8
    assert world.sink.total("DeliveryToS3.Records") == 3
    assert world.sink.total("DeliveryToS3.Success") == 1
    assert {p[1] for p in world.sink.points} == {"AWS/Firehose"}
    # Each record rounded up to 5 KiB, as AWS bills Direct PUT ingestion.
    assert await world.usage("firehose.ingested") == 3 * 5 * 1024
    assert billed_bytes([0, 5120, 5121]) == 5120 + 5120 + 10240


async def test_the_size_hint_and_prefix_expressions(world: World) -> None:
    await stream(
        world,
        Prefix="year=!{timestamp:yyyy}/!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900},
        FileExtension=".json",
    )
    await world.deliverer.run_pass()
    await world.client("PutRecordBatch", DeliveryStreamName="clicks",
                       Records=[{"Data": b"x" * 1000}] * 3)  # fmt: skip
    assert await world.deliverer.run_pass() == 0  # 3 KB of 1 MiB, 900 s to wait
    # The world's bound is 4 KiB buffered: the second record of two does not fit.
    refused = await world.client("PutRecordBatch", DeliveryStreamName="clicks",
                                 Records=[{"Data": b"y" * 1000}] * 2)  # fmt: skip
    assert refused["FailedPutCount"] == 1
    assert refused["RequestResponses"][1] == {
        "ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down.",
    }  # fmt: skip
    await world.fails("PutRecord", "ServiceUnavailableException", DeliveryStreamName="clicks",
                      Record={"Data": b"z" * 200})  # fmt: skip
    (key,) = [k async for k in _delivered(world)]
    year = time.strftime("%Y", time.gmtime())
    assert re.fullmatch(rf"year={year}/[0-9a-f]{{11}}/clicks-1-[\d-]{{19}}-[0-9a-f-]{{36}}\.json",
                        key), key  # fmt: skip


async def _delivered(world: World) -> Any:
    assert await world.deliverer.run_pass(later(901)) == 1
    for key in await keys(world):
        yield key


async def test_a_refused_delivery_is_retried_then_written_as_an_error(world: World) -> None:
    await stream(world, ErrorOutputPrefix="failed/")
    await world.deliverer.run_pass()
    await world.identity.delete_role_policy(world.tenant_id, "firehose", "put")
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"kept"})
    assert await world.deliverer.run_pass(later(61)) == 0
    assert world.sink.total("DeliveryToS3.Success") == 0
    assert await keys(world) == []
    assert await world.deliverer.run_pass(later(62)) == 0  # the retry is not due yet
    # The role's right back: the next attempt delivers, nothing was lost.
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", put_policy())
    assert await world.deliverer.run_pass(later(67)) == 1
    (key,) = await keys(world)
    assert await read(world.objects, "landing", key) == b"kept"
    # Past the retry window, the records go under the error output prefix.
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"lost?"})
    await world.identity.put_role_policy(
        world.tenant_id, "firehose", "put", put_policy("arn:aws:s3:::landing/failed/*")
    )
    impatient = FirehoseDeliverer(world.firehose, DeliveryPolicy(retry_duration_ms=0), "gw-2", None)
    assert await impatient.run_pass(later(200)) == 1
    errors = [k for k in await keys(world) if k.startswith("failed/processing-failed/")]
    (line,) = (await read(world.objects, "landing", errors[0])).splitlines()
    assert b'"errorCode":"S3.AccessDenied"' in line
    assert base64.b64encode(b"lost?") in line
    assert (await world.firehose.store.totals(world.tenant_id, "clicks")).records == 0


async def test_a_record_nothing_can_write_is_dropped_loudly(world: World) -> None:
    await stream(world)
    await world.deliverer.run_pass()
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"x"})
    await world.objects.delete_bucket("landing")
    impatient = FirehoseDeliverer(
        world.firehose, DeliveryPolicy(retry_duration_ms=0), "gw-2", None,
        lambda s, n, why: world.dropped.append((s.name, n, why)),
    )  # fmt: skip
    assert await impatient.run_pass(later(61)) == 0
    assert world.dropped == [("clicks", 1, "S3.NoSuchBucket; error output: S3.NoSuchBucket")]


async def test_update_destination_by_version(world: World) -> None:
    await stream(world)
    await world.fails("UpdateDestination", "ResourceInUseException", DeliveryStreamName="clicks",
                      CurrentDeliveryStreamVersionId="1",
                      DestinationId="destinationId-000000000001",
                      ExtendedS3DestinationUpdate={"Prefix": "new/"})  # fmt: skip
    await world.deliverer.run_pass()
    await world.fails("UpdateDestination", "ConcurrentModificationException",
                      DeliveryStreamName="clicks", CurrentDeliveryStreamVersionId="7",
                      DestinationId="destinationId-000000000001",
                      ExtendedS3DestinationUpdate={"Prefix": "new/"})  # fmt: skip
    await world.client("UpdateDestination", DeliveryStreamName="clicks",
                       CurrentDeliveryStreamVersionId="1",
                       DestinationId="destinationId-000000000001",
                       ExtendedS3DestinationUpdate={"Prefix": "new/",
                                                    "CompressionFormat": "GZIP"})  # fmt: skip
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
        "DeliveryStreamDescription"
    ]
    assert described["VersionId"] == "2"
    s3 = described["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert (s3["Prefix"], s3["CompressionFormat"], s3["BufferingHints"]["SizeInMBs"]) == (
        "new/", "GZIP", 1,
    )  # fmt: skip
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"v2"})
    assert await world.deliverer.run_pass(later(61)) == 1
    (key,) = await keys(world)
    assert key.startswith("new/") and "/clicks-2-" in key and key.endswith(".gz")


async def test_tags_encryption_and_deletion(world: World) -> None:
    await stream(world)
    await world.deliverer.run_pass()
    await world.client("TagDeliveryStream", DeliveryStreamName="clicks",
                       Tags=[{"Key": "env", "Value": "prod"}])  # fmt: skip
    await world.client("UntagDeliveryStream", DeliveryStreamName="clicks", TagKeys=["team"])
    tags = await world.client("ListTagsForDeliveryStream", DeliveryStreamName="clicks")
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]
    await world.client(
        "StartDeliveryStreamEncryption",
        DeliveryStreamName="clicks",
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
    )
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
        "DeliveryStreamDescription"
    ]
    # Asynchronous, as AWS: ENABLING until the deliverer's next pass.
    assert described["DeliveryStreamEncryptionConfiguration"] == {
        "Status": "ENABLING", "KeyType": "AWS_OWNED_CMK",
    }  # fmt: skip
    await world.deliverer.run_pass()
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
        "DeliveryStreamDescription"
    ]
    assert described["DeliveryStreamEncryptionConfiguration"] == {
        "Status": "ENABLED", "KeyType": "AWS_OWNED_CMK",
    }  # fmt: skip
    put = await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"s"})
    assert put["Encrypted"] is True
    await world.client("StopDeliveryStreamEncryption", DeliveryStreamName="clicks")
    await world.client("DeleteDeliveryStream", DeliveryStreamName="clicks")
    await world.fails("DeleteDeliveryStream", "ResourceNotFoundException",
                      DeliveryStreamName="clicks")  # fmt: skip
    assert (await world.firehose.store.totals(world.tenant_id, "clicks")).records == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"DeliveryStreamType": "KinesisStreamAsSource"}, "InvalidArgumentException"),
        ({"HttpEndpointDestinationConfiguration": {
            "EndpointConfiguration": {"Url": "https://x.example"},
            "S3Configuration": {"RoleARN": "arn:aws:iam::000000000001:role/r",
                                "BucketARN": "arn:aws:s3:::b"}}}, "InvalidArgumentException"),
        ({"ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000001:role/r", "BucketARN": "arn:aws:s3:::b",
            "ProcessingConfiguration": {"Enabled": True}}}, "InvalidArgumentException"),
        ({"ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000001:role/r", "BucketARN": "arn:aws:s3:::b",
            "CompressionFormat": "Snappy"}}, "InvalidArgumentException"),
        ({"ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000001:role/r", "BucketARN": "arn:aws:s3:::b",
            "Prefix": "!{timestamp:yyyy}/"}}, "InvalidArgumentException"),
        ({"ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000001:role/r", "BucketARN": "arn:aws:s3:::bkt",
            "BufferingHints": {"SizeInMBs": 129}}}, "ValidationException"),
        ({}, "InvalidArgumentException"),
    ],
)  # fmt: skip
async def test_what_is_not_offered_is_refused(
    world: World, params: dict[str, Any], code: str
) -> None:
    payload = {"DeliveryStreamName": "s"} | params
    reply = await world.raw("CreateDeliveryStream", payload)
    assert reply.status == 400, reply.body
    assert reply.error_fields()["__type"] == code
    assert reply.headers["x-amzn-requestid"]
    assert await world.firehose.store.names(world.tenant_id, None, 10) == []


async def test_the_role_must_trust_firehose_and_be_the_accounts(world: World) -> None:
    untrusted = await world.role("plain", trust=TRUST_EC2)
    message = await world.fails(
        "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="s",
        S3DestinationConfiguration={"RoleARN": untrusted, "BucketARN": await world.bucket()},
    )  # fmt: skip
    assert (
        message == f"Firehose is unable to assume role {untrusted}. Please check the role provided."
    )
    other = await world.other_tenant("other")
    theirs = await other.role()
    await world.fails("CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="s",
                      S3DestinationConfiguration={"RoleARN": theirs,
                                                  "BucketARN": "arn:aws:s3:::landing"})  # fmt: skip


async def test_iam_decides_and_is_audited(world: World) -> None:
    await stream(world)
    await world.deliverer.run_pass()
    user = await world.iam_user("dev")
    message = await user.fails(
        "DescribeDeliveryStream", "AccessDeniedException", DeliveryStreamName="clicks"
    )
    assert message == (  # AWS's words (awsjson.authorise)
        f"User: arn:aws:iam::{world.tenant_id}:user/dev is not authorized to perform: "
        f"firehose:DescribeDeliveryStream on resource: arn:aws:firehose:eu-fr-1:{world.tenant_id}:"
        "deliverystream/clicks because no identity-based policy allows the "
        "firehose:DescribeDeliveryStream action"
    )
    await user.fails("PutRecord", "AccessDeniedException", DeliveryStreamName="clicks",
                     Record={"Data": b"x"})  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "dev", "fh", POLICY_PUT_ONLY)
    await user.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"x"})
    await user.fails("DeleteDeliveryStream", "AccessDeniedException", DeliveryStreamName="clicks")
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=500)]
    actions = [(e.action, e.outcome.value) for e in events]
    assert ("firehose:CreateDeliveryStream", "success") in actions
    assert ("firehose:DescribeDeliveryStream", "failure") in actions
    assert ("firehose:PutRecord", "failure") in actions  # a refused data event
    assert actions.count(("firehose:PutRecord", "success")) == 0  # data events: not audited
    assert ("firehose:DeleteDeliveryStream", "failure") in actions
    anonymous = await world.anonymous().raw("ListDeliveryStreams", {})
    assert anonymous.status == 400
    assert anonymous.error_fields()["__type"] == "MissingAuthenticationTokenException"


async def test_bad_input_gets_firehose_errors(world: World) -> None:
    await stream(world)
    await world.deliverer.run_pass()
    reply = await world.raw("PutRecord", {"DeliveryStreamName": "clicks",
                                          "Record": {"Data": "not base64!"}})  # fmt: skip
    assert reply.error_fields()["__type"] == "SerializationException"
    reply = await world.raw("PutRecordBatch", {"DeliveryStreamName": "clicks", "Records": []})
    assert reply.error_fields()["__type"] == "ValidationException"
    big = base64.b64encode(b"x" * 1_024_001).decode()
    reply = await world.raw("PutRecord", {"DeliveryStreamName": "clicks", "Record": {"Data": big}})
    assert reply.error_fields()["__type"] == "ValidationException"
    reply = await world.raw("PutRecord", {"DeliveryStreamName": "no such!", "Record": {}})
    assert reply.error_fields()["__type"] == "ValidationException"
    reply = await world.raw("DescribeDeliveryStream", {"DeliveryStreamName": 7})
    assert reply.error_fields()["__type"] == "SerializationException"
    reply = await world.raw("CreateFirehose", {})
    assert reply.error_fields()["__type"] == "UnknownOperationException"


TRUST_EC2 = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
    '"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)
POLICY_PUT_ONLY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"firehose:PutRecord",'
    '"Resource":"arn:aws:firehose:*:*:deliverystream/clicks"}]}'
)


def source_trust(account: str, **condition: dict[str, str]) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "firehose.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}} | condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_a_confused_deputy_trust_policy_names_the_stream(world: World) -> None:
    # Decision 0321: Firehose gives the stream as aws:SourceArn, its account as
    # aws:SourceAccount and sts:ExternalId, as AWS's documented trust policies expect.
    account = world.tenant_id
    streams = f"arn:aws:firehose:*:{account}:deliverystream/click*"
    fenced = await world.role(
        "fenced",
        trust=source_trust(account, ArnLike={"aws:SourceArn": streams}),
        policy=put_policy(),
    )
    bucket = await world.bucket()
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="clicks",
        S3DestinationConfiguration={"RoleARN": fenced, "BucketARN": bucket},
    )
    message = await world.fails(
        "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="orders",
        S3DestinationConfiguration={"RoleARN": fenced, "BucketARN": bucket},
    )  # fmt: skip
    assert message == f"Firehose is unable to assume role {fenced}. Please check the role provided."
    by_id = await world.role(
        "by-id",
        trust=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "firehose.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": account}},
                    }
                ],
            }
        ),
        policy=put_policy(),
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        S3DestinationConfiguration={"RoleARN": by_id, "BucketARN": bucket},
    )
