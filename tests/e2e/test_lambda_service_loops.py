"""Lambda's recursive loop detection through EventBridge, Step Functions and Pipes end to end
(decision 0351), on the session's ``andromede serve`` (no server of its own), with boto3: the
caller's ``X-Amzn-Trace-Id`` kept by PutEvents, StartExecution and an SQS message a pipe
reads, and given to the function each invokes (the function tallies the
``_X_AMZN_TRACE_ID`` it ran with into a queue the test reads: the caller's root, the
function's lineage one run further). A function putting the events its own rule sends it
(boto3 inside the bubblewrap sandbox, whose calls carry the invocation's header) runs 16
times; the 17th event goes to its dead-letter queue."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, tallying_function
from support.server import ServerProcess
from support.service_roles import service_role

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

# Tallies each run with the trace it ran with, and puts the next event its rule matches.
PUTTER = """
import json
import os
import boto3

events = boto3.client("events")
sqs = boto3.client("sqs")

def handler(event, context):
    n = event["detail"]["n"]
    sqs.send_message(QueueUrl=os.environ["TALLY"],
                     MessageBody=json.dumps([n, os.environ.get("_X_AMZN_TRACE_ID")]))
    if n < 40:
        events.put_events(Entries=[{"Source": "loop.app", "DetailType": "step",
                                    "Detail": json.dumps({"n": n + 1})}])
"""

# Tallies the trace it ran with, tagged with what its event names.
TALLIER = """
import json
import os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    tag = event[0]["body"] if isinstance(event, list) else event.get("tag")
    sqs.send_message(QueueUrl=os.environ["TALLY"],
                     MessageBody=json.dumps([tag, os.environ.get("_X_AMZN_TRACE_ID")]))
    return {"tag": tag}
"""


def _root() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def traced(client: Any, header: str) -> Any:
    """``client`` sending ``header`` as every call's ``X-Amzn-Trace-Id``."""

    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register_first("before-sign.*.*", add)
    return client


def _received(sqs: Any, url: str, until: int, seconds: float = 90) -> dict[str, Any]:
    """The messages received from ``url`` (deleted) by body, until ``until`` different bodies
    or the time is up (at least once: a body seen twice counts once)."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + seconds
    while len(found) < until and time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["AWSTraceHeader"],
        )
        for message in got.get("Messages", []):
            found.setdefault(message["Body"], message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _tallied(sqs: Any, url: str, until: int, seconds: float = 90) -> dict[str, Any]:
    """The functions' tallies (``[tag, trace]``) by tag; a state's own message (a plain
    body) by its body, with its ``AWSTraceHeader``."""
    tallies: dict[str, Any] = {}
    for body, message in _received(sqs, url, until, seconds).items():
        if body.startswith("["):
            tag, trace = json.loads(body)
        else:
            tag, trace = body, message.get("Attributes", {}).get("AWSTraceHeader")
        tallies[str(tag)] = trace
    return tallies


def _lineage(trace: str) -> list[int]:
    """The counts of a trace header's ``Lineage`` field."""
    fields = dict(part.split("=", 1) for part in trace.split(";"))
    return [int(entry.split(":")[1]) for entry in fields["Lineage"].split(",")]


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def test_a_function_putting_its_rules_events_is_stopped_at_16(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-events-loop")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    tally, _ = _queue(sqs, "tally")
    dead, dead_arn = _queue(sqs, "loop-dead")
    functions: Any = client_for(server, "lambda", *keys)
    arn = tallying_function(
        client_for(server, "iam", *keys),
        functions,
        "putter",
        PUTTER,
        tally=tally,
        actions=["events:PutEvents", "sqs:SendMessage"],
        dead_letter_arn=dead_arn,
    )
    events: Any = client_for(server, "events", *keys)
    rule = events.put_rule(Name="loop", EventPattern=json.dumps({"source": ["loop.app"]}))
    functions.add_permission(FunctionName="putter", StatementId="events",
        Principal="events.amazonaws.com", Action="lambda:InvokeFunction",
        SourceArn=rule["RuleArn"])  # fmt: skip
    events.put_targets(Rule="loop", Targets=[{"Id": "fn", "Arn": arn}])
    root = _root()
    traced(events, root).put_events(
        Entries=[{"Source": "loop.app", "DetailType": "step", "Detail": '{"n": 1}'}]
    )

    ran = _tallied(sqs, tally, 16)
    assert sorted(int(n) for n in ran) == list(range(1, 17))
    assert ran["1"].startswith(root + ";") and _lineage(ran["1"]) == [1]  # the caller's root
    assert ran["16"].startswith(root + ";") and _lineage(ran["16"]) == [16]
    (stopped,) = _received(sqs, dead, 1)
    assert json.loads(stopped)["detail"] == {"n": 17}  # the event, not run
    assert _tallied(sqs, tally, 1, seconds=3).keys() <= ran.keys()  # nothing beyond the 16th


def test_an_execution_gives_its_callers_trace_to_its_tasks(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-states-trace")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    tally, tally_arn = _queue(sqs, "tally")
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    arn = tallying_function(iam, functions, "tallier", TALLIER, tally=tally, resource=tally_arn)
    machine_role = service_role(iam, "machine", "states.amazonaws.com",
        ("lambda:InvokeFunction", arn), ("sqs:SendMessage", tally_arn))  # fmt: skip
    states: Any = client_for(server, "stepfunctions", *keys)
    machine = states.create_state_machine(name="traced", roleArn=machine_role,
        definition=json.dumps({"StartAt": "Invoke", "States": {
            "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Parameters": {"FunctionName": "tallier", "Payload": {"tag": "invoke"}},
                       "ResultPath": None, "Next": "Bare"},
            "Bare": {"Type": "Task", "Resource": arn, "Parameters": {"tag": "bare"},
                     "ResultPath": None, "Next": "Send"},
            "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": tally, "MessageBody": "send"}, "End": True},
        }}))  # fmt: skip
    root = _root()
    run = traced(states, root).start_execution(stateMachineArn=machine["stateMachineArn"])

    seen = _tallied(sqs, tally, 3)
    assert set(seen) == {"invoke", "bare", "send"}, seen
    for tag in ("invoke", "bare"):  # each invocation one run of the function further
        assert seen[tag].startswith(root + ";") and _lineage(seen[tag]) == [1], seen
    assert seen["send"] == root  # the execution's own header, as it was given
    described = states.describe_execution(executionArn=run["executionArn"])
    assert described["status"] in ("RUNNING", "SUCCEEDED")


def test_a_pipe_gives_its_source_messages_trace_to_its_function(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-pipe-trace")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    tally, tally_arn = _queue(sqs, "tally")
    source, source_arn = _queue(sqs, "source")
    iam: Any = client_for(server, "iam", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    arn = tallying_function(iam, functions, "tallier", TALLIER, tally=tally, resource=tally_arn)
    pipe_role = service_role(iam, "pipe", "pipes.amazonaws.com",
        (["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], source_arn),
        ("lambda:InvokeFunction", arn))  # fmt: skip
    pipes: Any = client_for(server, "pipes", *keys)
    pipes.create_pipe(Name="traced", Source=source_arn, Target=arn, RoleArn=pipe_role)
    deadline = time.monotonic() + 30
    while pipes.describe_pipe(Name="traced")["CurrentState"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    root = _root()
    traced(sqs, root).send_message(QueueUrl=source, MessageBody="piped")

    seen = _tallied(sqs, tally, 1)
    assert seen["piped"].startswith(root + ";") and _lineage(seen["piped"]) == [1], seen
