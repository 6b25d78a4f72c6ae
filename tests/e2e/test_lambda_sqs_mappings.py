"""Lambda's SQS event source mappings end to end (decision 0295), on the session's
``andromede serve`` (no server of its own): boto3 connects a queue to a function whose role
may read it, the server's poller gives the queue's messages to the handler in its bubblewrap
sandbox and deletes them; a batch the handler fails stays in the queue. Decision 0328: a
function that sends each message it gets back to its own queue (boto3 inside the sandbox,
whose calls carry the invocation's ``X-Amzn-Trace-Id``) runs 16 times, then the loop's next
message goes to the queue's dead-letter queue; with ``RecursiveLoop`` ``Allow`` it goes on."""

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
    for record in event["Records"]:
        print("got", record["body"], record["eventSource"])
        if record["body"] == "boom":
            raise ValueError("asked to fail")
    return {}
"""
# Sends each message's next number to its own queue, and tallies each run.
LOOPING = """
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        n = json.loads(record["body"])["n"]
        sqs.send_message(QueueUrl=os.environ["TALLY"], MessageBody=str(n))
        if n < int(os.environ["LAST"]):
            sqs.send_message(QueueUrl=os.environ["LOOP"], MessageBody=json.dumps({"n": n + 1}))
    return {}
"""
READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        }
    ],
}


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(got["ApproximateNumberOfMessages"]), int(
        got["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_queue_triggers_a_function(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-esm-e2e")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    python_function(functions, "consumer", execution_role(iam, "consumer", {"read": READ}), SOURCE)
    sqs: Any = client_for(server, "sqs", *keys)
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    python_function(functions, "weak", execution_role(iam, "weak"), SOURCE)
    with pytest.raises(functions.exceptions.InvalidParameterValueException, match="ReceiveMessage"):
        functions.create_event_source_mapping(EventSourceArn=arn, FunctionName="weak")
    made = functions.create_event_source_mapping(EventSourceArn=arn, FunctionName="consumer")
    assert made["State"] == "Creating"
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    logs: Any = client_for(server, "logs", *keys)
    found: list[dict[str, Any]] = []
    for _ in range(60):
        try:
            found = logs.filter_log_events(logGroupName="/aws/lambda/consumer")["events"]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if any("got hello aws:sqs" in e["message"] for e in found):
            break
        time.sleep(0.25)
    assert any("got hello aws:sqs" in e["message"] for e in found)
    for _ in range(40):
        if _counts(sqs, url) == (0, 0):
            break
        time.sleep(0.25)
    assert _counts(sqs, url) == (0, 0)  # deleted once handled
    got = functions.get_event_source_mapping(UUID=made["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    sqs.send_message(QueueUrl=url, MessageBody="boom")
    for _ in range(60):
        got = functions.get_event_source_mapping(UUID=made["UUID"])
        if got["LastProcessingResult"] != "OK":
            break
        time.sleep(0.25)
    assert got["LastProcessingResult"] == "PROBLEM: Function call failed"
    assert sum(_counts(sqs, url)) == 1  # the failed message stays
    functions.delete_event_source_mapping(UUID=made["UUID"])
    for _ in range(40):
        if not functions.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]:
            break
        time.sleep(0.25)
    assert functions.list_event_source_mappings()["EventSourceMappings"] == []


def _drain(sqs: Any, url: str, until: int, seconds: float = 90) -> list[str]:
    """The bodies received from ``url`` (deleted) until ``until`` of them, or the time is up."""
    bodies: list[str] = []
    deadline = time.monotonic() + seconds
    while len(bodies) < until and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_queue_to_function_to_queue_loop_is_stopped_at_16(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-loop-e2e")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    sqs: Any = client_for(server, "sqs", *keys)
    dead = sqs.create_queue(QueueName="loop-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]  # fmt: skip
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5})
    loop = sqs.create_queue(QueueName="loop", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    tally = sqs.create_queue(QueueName="tally")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=loop, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
    ]
    policy = {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}  # fmt: skip
    role = execution_role(iam, "looper", {"rw": policy})
    functions: Any = client_for(server, "lambda", *keys)
    python_function(
        functions, "looper", role, LOOPING, Timeout=30,
        Environment={"Variables": {"LOOP": loop, "TALLY": tally, "LAST": "40"}},
    )  # fmt: skip
    assert functions.get_function_recursion_config(FunctionName="looper")["RecursiveLoop"] == (
        "Terminate"
    )
    made = functions.create_event_source_mapping(EventSourceArn=arn, FunctionName="looper")
    sqs.send_message(QueueUrl=loop, MessageBody=json.dumps({"n": 1}))
    ran = _drain(sqs, tally, 16)
    assert sorted(int(n) for n in ran) == list(range(1, 17))
    # The 17th message of the chain is not given to the function: the dead-letter queue has it.
    stopped = _drain(sqs, dead, 1, seconds=30)
    assert [json.loads(b)["n"] for b in stopped] == [17]
    assert _drain(sqs, tally, 1, seconds=3) == []  # the loop is over
    assert _counts(sqs, loop) == (0, 0)
    # Allowed, the same loop runs past 16 (to the handler's own end, its LAST).
    allowed = functions.put_function_recursion_config(FunctionName="looper", RecursiveLoop="Allow")
    assert allowed["RecursiveLoop"] == "Allow"
    functions.update_function_configuration(
        FunctionName="looper",
        Environment={"Variables": {"LOOP": loop, "TALLY": tally, "LAST": "18"}},
    )
    time.sleep(1)  # the new configuration in place
    sqs.send_message(QueueUrl=loop, MessageBody=json.dumps({"n": 1}))
    ran = _drain(sqs, tally, 18)
    assert sorted(int(n) for n in ran) == list(range(1, 19))
    assert _drain(sqs, dead, 1, seconds=2) == []
    functions.delete_event_source_mapping(UUID=made["UUID"])
