"""Decision 0328: a sent message keeps the request's ``X-Amzn-Trace-Id`` as its
``AWSTraceHeader`` (the header an AWS SDK sends from inside a Lambda function), unless the
sender names one itself; a message sent without either has none."""

from __future__ import annotations

import json

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from andromede.sqsapi.app import CONTENT_TYPE
from support.asgi import post
from support.sqsapp import REGION, Harness

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:3"


async def _traced(sqs: Harness, action: str, payload: dict[str, object]) -> dict[str, object]:
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9000/",
        data=body,
        headers={
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": f"AmazonSQS.{action}",
            "X-Amzn-Trace-Id": TRACE,
        },
    )
    assert sqs.credentials is not None
    SigV4Auth(sqs.credentials, "sqs", REGION).add_auth(request)
    status, _, answer = await post(sqs.app, dict(request.headers.items()), body, ("127.0.0.1", 1))
    assert status == 200, answer
    return dict(json.loads(answer))


async def test_the_trace_header_is_kept_as_aws_trace_header(sqs: Harness) -> None:
    url = (await sqs.ok("CreateQueue", {"QueueName": "traced"}))["QueueUrl"]
    await _traced(sqs, "SendMessage", {"QueueUrl": url, "MessageBody": "one"})
    named = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-own"}}
    await _traced(sqs, "SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": "a", "MessageBody": "two"},
        {"Id": "b", "MessageBody": "three", "MessageSystemAttributes": named},
    ]})  # fmt: skip
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "four"})
    got = await sqs.ok("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
        "MessageSystemAttributeNames": ["AWSTraceHeader"]})  # fmt: skip
    traces = {m["Body"]: m.get("Attributes", {}).get("AWSTraceHeader") for m in got["Messages"]}
    assert traces == {"one": TRACE, "two": TRACE, "three": "Root=1-own", "four": None}
