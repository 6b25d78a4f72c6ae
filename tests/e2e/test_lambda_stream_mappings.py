"""Lambda's stream event source mappings end to end (decision 0301), on the session's
``andromede serve`` (the fixture of ``test_lambda_sqs_mappings``, no server of its own):
boto3 connects a Kinesis stream and a DynamoDB table's stream to a function whose role may
read them; the records put reach the handler in its bubblewrap sandbox in Lambda's shapes,
read back from the function's CloudWatch Logs group. A batch a function fails is given up
into an S3 bucket as its OnFailure record (decision 0311), read back with boto3. A function
summing a Kinesis stream over a tumbling window gets its state back and a final invocation
with the total (decision 0319)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, execution_role, python_function
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = """
import base64

def handler(event, context):
    for record in event["Records"]:
        if record["eventSource"] == "aws:kinesis":
            print("kinesis", base64.b64decode(record["kinesis"]["data"]).decode())
        else:
            image = record["dynamodb"].get("NewImage", {})
            print("dynamodb", record["eventName"], image.get("id", {}).get("S"))
    return {}
"""
# What AWSLambdaKinesisExecutionRole and AWSLambdaDynamoDBExecutionRole grant.
READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
                "kinesis:ListStreams",
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": "*",
        }
    ],
}


def _printed(logs: Any, wanted: set[str], group: str = "/aws/lambda/streamer") -> set[str]:
    """The lines ``wanted`` the function printed, once all are (or after ~20 s)."""
    found: set[str] = set()
    for _ in range(80):
        events: list[dict[str, Any]] = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
                events += page["events"]
        except logs.exceptions.ResourceNotFoundException:
            pass
        lines = {line.strip() for e in events for line in e["message"].splitlines()}
        found = lines & wanted
        if found == wanted:
            break
        time.sleep(0.25)
    return found


def _kinesis_stream(kinesis: Any, name: str) -> str:
    """The ARN of a new one-shard stream ``name``, once it exists."""
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    )


def test_kinesis_and_dynamodb_streams_trigger_a_function(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-streams-e2e")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "streamer", {"read": READ})
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "streamer", role, SOURCE)
    kinesis: Any = client_for(server, "kinesis", *keys)
    stream = _kinesis_stream(kinesis, "clicks")
    kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"early")
    dynamodb: Any = client_for(server, "dynamodb", *keys)
    table = dynamodb.create_table(
        TableName="things", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    changes = table["TableDescription"]["LatestStreamArn"]
    from_kinesis = functions.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="streamer", StartingPosition="TRIM_HORIZON",
        BatchSize=10, MaximumRetryAttempts=2,
    )  # fmt: skip
    assert from_kinesis["State"] == "Creating"
    assert from_kinesis["StartingPosition"] == "TRIM_HORIZON"
    from_dynamodb = functions.create_event_source_mapping(
        EventSourceArn=changes, FunctionName="streamer", StartingPosition="LATEST"
    )
    kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"later")
    dynamodb.put_item(TableName="things", Item={"id": {"S": "item-1"}})
    wanted = {"kinesis early", "kinesis later", "dynamodb INSERT item-1"}
    printed = _printed(client_for(server, "logs", *keys), wanted)
    got = functions.get_event_source_mapping(UUID=from_kinesis["UUID"])
    assert printed == wanted, (got["State"], got["LastProcessingResult"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    for made in (from_kinesis, from_dynamodb):
        functions.delete_event_source_mapping(UUID=made["UUID"])


FAILING = """
def handler(event, context):
    raise ValueError("no")
"""


def test_a_failed_batch_recorded_in_a_bucket(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-streams-s3")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    s3.create_bucket(Bucket="batch-failures")
    write = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"], "Resource": "*"}
    policy = READ | {"Statement": [*READ["Statement"], write]}
    role = execution_role(client_for(server, "iam", *keys), "refuser", {"rw": policy})
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "refuser", role, FAILING)
    kinesis: Any = client_for(server, "kinesis", *keys)
    stream = _kinesis_stream(kinesis, "orders")
    kinesis.put_record(StreamName="orders", PartitionKey="p", Data=b"doomed")
    made = functions.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="refuser", StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::batch-failures"}},
    )  # fmt: skip
    assert made["DestinationConfig"]["OnFailure"]["Destination"] == "arn:aws:s3:::batch-failures"
    prefix = f"aws/lambda/{made['UUID']}/shardId-000000000000/"
    listed: list[dict[str, Any]] = []
    for _ in range(80):
        listed = s3.list_objects_v2(Bucket="batch-failures", Prefix=prefix).get("Contents", [])
        if listed:
            break
        time.sleep(0.5)
    got = functions.get_event_source_mapping(UUID=made["UUID"])
    assert listed, (got["State"], got["LastProcessingResult"])
    body = s3.get_object(Bucket="batch-failures", Key=listed[0]["Key"])["Body"].read()
    record = json.loads(body)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["streamArn"] == stream
    (event,) = json.loads(record["payload"])["Records"]
    assert event["kinesis"]["partitionKey"] == "p"
    functions.delete_event_source_mapping(UUID=made["UUID"])


SUMMING = """
import base64

def handler(event, context):
    total = event["state"].get("sum", 0)
    for record in event["Records"]:
        total += int(base64.b64decode(record["kinesis"]["data"]))
    if event["isFinalInvokeForWindow"]:
        window = event["window"]
        print("final", total, len(event["Records"]), window["end"] > window["start"])
    else:
        print("state", event["state"].get("sum", 0))
    return {"state": {"sum": total}}
"""


def test_a_tumbling_window_sums_then_ends(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-streams-windows")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    role = execution_role(client_for(server, "iam", *keys), "summer", {"read": READ})
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "summer", role, SUMMING)
    kinesis: Any = client_for(server, "kinesis", *keys)
    stream = _kinesis_stream(kinesis, "numbers")
    made = functions.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="summer",
        StartingPosition="TRIM_HORIZON", BatchSize=1, TumblingWindowInSeconds=2,
    )  # fmt: skip
    assert made["TumblingWindowInSeconds"] == 2
    kinesis.put_records(  # one arrival: one window
        StreamName="numbers",
        Records=[{"PartitionKey": "k", "Data": str(n).encode()} for n in (1, 2, 3)],
    )
    wanted = {"state 0", "state 1", "state 3", "final 6 0 True"}
    printed = _printed(client_for(server, "logs", *keys), wanted, "/aws/lambda/summer")
    got = functions.get_event_source_mapping(UUID=made["UUID"])
    assert printed == wanted, (got["State"], got["LastProcessingResult"])
    functions.delete_event_source_mapping(UUID=made["UUID"])
