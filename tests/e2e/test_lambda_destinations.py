"""Lambda's asynchronous invocation destinations end to end (decision 0300), on the
session's ``andromede serve`` (no server of its own): boto3 configures a function's
``OnSuccess`` and ``OnFailure`` SQS destinations (``MaximumRetryAttempts`` 0) and a dead-letter
queue; an Event invocation that succeeds lands AWS's record in the success queue, one that
fails in the failure queue and its event in the dead-letter queue — each sent as the
function's execution role, read back with boto3's SQS client."""

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
def handler(event, context):
    if event.get("fail"):
        raise ValueError("refused " + str(event["n"]))
    return {"twice": event["n"] * 2}
"""


def _one_message(sqs: Any, url: str) -> dict[str, Any]:
    for _ in range(80):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if got:
            return dict(got[0])
    raise AssertionError(f"nothing arrived in {url}")


def test_event_invocations_reach_their_destinations(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-destinations")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    urls, arns = {}, {}
    for name in ("succeeded", "failed", "dead"):
        urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        arns[name] = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    iam: Any = client_for(server, "iam", *keys)
    role = execution_role(iam, "sender", {"send": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
    }})  # fmt: skip
    functions: Any = client_for(server, "lambda", *keys)
    made = python_function(
        functions, "doubler", role, SOURCE, DeadLetterConfig={"TargetArn": arns["dead"]}
    )
    assert made["DeadLetterConfig"]["TargetArn"] == arns["dead"]
    config = functions.put_function_event_invoke_config(
        FunctionName="doubler", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arns["succeeded"]},
                           "OnFailure": {"Destination": arns["failed"]}},
    )  # fmt: skip
    assert config["FunctionArn"].endswith(":function:doubler:$LATEST")
    listed = functions.list_function_event_invoke_configs(FunctionName="doubler")
    assert len(listed["FunctionEventInvokeConfigs"]) == 1
    functions.invoke(FunctionName="doubler", InvocationType="Event", Payload=b'{"n": 21}')
    record = json.loads(_one_message(sqs, urls["succeeded"])["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 21} and record["responsePayload"] == {"twice": 42}
    started = time.monotonic()
    functions.invoke(
        FunctionName="doubler", InvocationType="Event", Payload=b'{"n": 5, "fail": true}'
    )
    failed = json.loads(_one_message(sqs, urls["failed"])["Body"])
    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 1
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["responsePayload"]["errorMessage"] == "refused 5"
    letter = _one_message(sqs, urls["dead"])
    assert json.loads(letter["Body"]) == {"n": 5, "fail": True}
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["ErrorMessage"] == "refused 5" and attributes["ErrorCode"] == "200"
    assert attributes["RequestID"] == failed["requestContext"]["requestId"]
    assert time.monotonic() - started < 60  # no retry waited for: MaximumRetryAttempts 0
    functions.delete_function_event_invoke_config(FunctionName="doubler")
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.get_function_event_invoke_config(FunctionName="doubler")


def _one_object(s3: Any, bucket: str, prefix: str) -> tuple[str, dict[str, Any]]:
    for _ in range(80):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if listed:
            key = listed[0]["Key"]
            return key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        time.sleep(0.5)
    raise AssertionError(f"nothing arrived in s3://{bucket}/{prefix}")


def test_a_failed_event_recorded_in_a_bucket(server: ServerProcess) -> None:
    """Decision 0311: an S3 bucket as the OnFailure destination, the record an object under
    AWS's key, written as the role (which must be allowed s3:PutObject and s3:ListBucket)."""
    tenant = new_tenant(server, "lambda-bucket-failures")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    s3.create_bucket(Bucket="lambda-failures")
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    destination = {"OnFailure": {"Destination": "arn:aws:s3:::lambda-failures"}}
    # A role's policies are cached per worker: the refused role is not the one allowed later.
    for name, actions in (("mute", []), ("recorder", ["s3:PutObject", "s3:ListBucket"])):
        write = {"write": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": [
                "arn:aws:s3:::lambda-failures", "arn:aws:s3:::lambda-failures/*"]}],
        }}  # fmt: skip
        role = execution_role(iam, name, write if actions else None)
        python_function(functions, f"{name}-failing", role, SOURCE)
    with pytest.raises(functions.exceptions.InvalidParameterValueException) as refused:
        functions.put_function_event_invoke_config(
            FunctionName="mute-failing", MaximumRetryAttempts=0, DestinationConfig=destination
        )
    assert "does not have permissions to call" in str(refused.value)
    functions.put_function_event_invoke_config(
        FunctionName="recorder-failing", MaximumRetryAttempts=0, DestinationConfig=destination
    )
    functions.invoke(
        FunctionName="recorder-failing", InvocationType="Event",
        Payload=b'{"n": 7, "fail": true}',
    )  # fmt: skip
    prefix = "aws/lambda/async/recorder-failing/"
    key, record = _one_object(s3, "lambda-failures", prefix)
    day = time.strftime("%Y/%m/%d", time.gmtime())
    assert key.startswith(f"{prefix}{day}/"), key
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": 7, "fail": True}
    assert record["responsePayload"]["errorMessage"] == "refused 7"
