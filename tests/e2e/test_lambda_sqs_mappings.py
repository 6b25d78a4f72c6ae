"""Lambda's SQS event source mappings end to end (decision 0295), on the session's
``andromede serve`` (no server of its own): boto3 connects a queue to a function whose role
may read it, the server's poller gives the queue's messages to the handler in its bubblewrap
sandbox and deletes them; a batch the handler fails stays in the queue."""

from __future__ import annotations

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
