"""A distributed Map run redriven end to end (decisions 0377, 0383): a real ``andromede
serve`` driven by boto3.

The Map reads its items from an S3 JSON array; its EXPRESS children send each item's id to
a queue, item "b" to a queue that does not exist yet, so the run fails and its parent with
it. Between the failure and the redrive the object is rewritten with other items, more of
them. RedriveExecution of the parent redrives THAT run: the child that failed runs again
with ITS input ("b", not the item now at its place), the ones that succeeded are not run
again, no item of the new object runs, and the run counts the items it began with."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.iam_helpers import client_for
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})  # fmt: skip
BUCKET = "sfn-map-redrive"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sfnmapredrive") / "data"
    env = {"ANDROMEDE_WORKERS": "1", "ANDROMEDE_STEPFUNCTIONS_PASS_INTERVAL": "0.2"}
    with running_server(data_dir, extra_env=env) as started:
        yield started


def ended(states: Any, arn: str, wait: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        described: dict[str, Any] = states.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"{arn} still running after {wait} s")


def bodies(sqs: Any, url: str) -> list[str]:
    """Every message in the queue now (received until an empty answer), deleted."""
    found: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return sorted(found)
        for message in messages:
            found.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def definition(sent: str, later: str) -> str:
    return json.dumps({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "Label": "items", "MaxConcurrency": 1,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": BUCKET, "Key": "in/items.json"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Where", "States": {
                "Where": {"Type": "Choice", "Default": "Send", "Choices": [
                    {"Variable": "$.id", "StringEquals": "b", "Next": "Later"}]},
                "Later": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                          "Parameters": {"QueueUrl": later, "MessageBody.$": "$.id"},
                          "ResultSelector": {"id.$": "$.MessageId"}, "End": True},
                "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                         "Parameters": {"QueueUrl": sent, "MessageBody.$": "$.id"},
                         "ResultSelector": {"id.$": "$.MessageId"}, "End": True}}}}}})  # fmt: skip


def items(*ids: str) -> bytes:
    return json.dumps([{"id": i} for i in ids]).encode()


def test_a_redrive_runs_the_failed_child_with_its_input_after_the_source_changed(
    server: ServerProcess,
) -> None:
    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    sqs = client_for(server, "sqs", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/items.json", Body=items("a", "c", "b"))
    sent = sqs.create_queue(QueueName="map-sent")["QueueUrl"]
    later = sent.rsplit("/", 1)[0] + "/map-later"  # made only before the redrive
    role = iam.create_role(RoleName="sfn-map-redrive", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="sfn-map-redrive", PolicyName="work", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetObject", "sqs:SendMessage"]}]}))  # fmt: skip
    machine = states.create_state_machine(name="map-redrive", roleArn=role["Role"]["Arn"],
                                          definition=definition(sent, later))  # fmt: skip
    parent = states.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    failed = ended(states, parent)
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.ExceedToleratedFailureThreshold", failed
    assert bodies(sqs, sent) == ["a", "c"]
    (run,) = states.list_map_runs(executionArn=parent)["mapRuns"]
    run_arn = run["mapRunArn"]
    children = states.list_executions(mapRunArn=run_arn)["executions"]
    assert sorted(c["status"] for c in children) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    b = next(c for c in children if c["status"] == "FAILED")
    described = states.describe_execution(executionArn=b["executionArn"])
    assert json.loads(described["input"]) == {"id": "b"}
    assert described["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"

    # The source changes: other items at every place, and one more.
    s3.put_object(Bucket=BUCKET, Key="in/items.json", Body=items("x", "y", "z", "w"))
    sqs.create_queue(QueueName="map-later")
    states.redrive_execution(executionArn=parent)
    done = ended(states, parent)
    assert done["status"] == "SUCCEEDED", done
    assert bodies(sqs, later) == ["b"]  # the failed child's own input
    assert bodies(sqs, sent) == []  # a and c not run again; x, y, z, w never this run's
    assert len(json.loads(done["output"])) == 3
    assert [r["mapRunArn"] for r in states.list_map_runs(executionArn=parent)["mapRuns"]] == [
        run_arn]  # fmt: skip
    map_run = states.describe_map_run(mapRunArn=run_arn)
    assert (map_run["status"], map_run["redriveCount"]) == ("SUCCEEDED", 1)
    for counts in (map_run["itemCounts"], map_run["executionCounts"]):
        assert (counts["total"], counts["succeeded"]) == (3, 3), counts
        assert (counts["pendingRedrive"], counts["failuresNotRedrivable"]) == (0, 0), counts
    kinds = [e["type"] for e in states.get_execution_history(executionArn=parent)["events"]]
    assert "MapRunRedriven" in kinds
