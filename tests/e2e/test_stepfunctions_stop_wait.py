"""A Wait cut by a stop or by the execution's timeout, end to end (decisions 0393, 0407): a
real ``andromede serve`` driven by boto3.

An execution in a ``Wait`` of 3600 s is stopped: DescribeExecution says ABORTED within
seconds and its history ends as AWS's does (``WaitStateAborted``, ``ExecutionAborted``, no
``WaitStateExited``). A Wait within a Parallel's branch is slept within the runner's step:
stopped, the branch's next state (an SQS send) never runs, and the history's tail is the
step's events then its states' aborted ones; past the machine's ``TimeoutSeconds`` the
execution ends TIMED_OUT then, not at the Wait's end, with the same tail. A branch that fails
cuts its sibling's Wait of 3600 s likewise (decision 0416): the execution fails within
seconds, the sibling's next state never runs, and its ``WaitStateAborted`` comes before the
``ParallelStateFailed``."""

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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sfnstopwait") / "data"
    env = {"ANDROMEDE_WORKERS": "1", "ANDROMEDE_STEPFUNCTIONS_PASS_INTERVAL": "0.2"}
    with running_server(data_dir, extra_env=env) as started:
        yield started


def kinds(states: Any, arn: str) -> list[str]:
    history = states.get_execution_history(executionArn=arn, maxResults=1000)
    events = history["events"]
    # Ids go on from the history's (decision 0407): the aborted events are numbered in turn.
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    return [e["type"] for e in events]


def until(check: Any, wait: float = 30) -> Any:
    """``check()``'s first true answer, asked until ``wait`` seconds passed."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not seen within {wait} s")


def machine(server: ServerProcess, name: str, definition: dict[str, Any]) -> str:
    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                "Action": ["sqs:SendMessage"]}]}))  # fmt: skip
    states = client_for(server, "stepfunctions", *credentials)
    made = states.create_state_machine(name=name, roleArn=role, definition=json.dumps(definition))
    return str(made["stateMachineArn"])


def branch_waiting(seconds: int, url: str) -> dict[str, Any]:
    return {"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "Seconds": seconds, "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": "late"}, "End": True}}}  # fmt: skip


def test_an_hour_long_wait_is_stopped_at_once(server: ServerProcess) -> None:
    states = client_for(server, "stepfunctions", *server.credentials())
    arn = machine(server, "sfn-stop-wait", {"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Succeed"}}})  # fmt: skip
    run = states.start_execution(stateMachineArn=arn)["executionArn"]
    until(lambda: "WaitStateEntered" in kinds(states, run))
    began = time.monotonic()
    states.stop_execution(executionArn=run, error="Manual", cause="no longer needed")
    done = until(lambda: (d := states.describe_execution(executionArn=run))["status"] != "RUNNING"
                 and d)  # fmt: skip
    assert time.monotonic() - began < 10  # an hour's Wait: "at once", with room for load
    assert (done["status"], done["error"], done["cause"]) == (
        "ABORTED", "Manual", "no longer needed")  # fmt: skip
    assert kinds(states, run) == ["ExecutionStarted", "WaitStateEntered", "WaitStateAborted",
                                  "ExecutionAborted"]  # fmt: skip


def test_a_wait_within_a_branch_runs_nothing_after_the_stop(server: ServerProcess) -> None:
    credentials = server.credentials()
    sqs = client_for(server, "sqs", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    url = sqs.create_queue(QueueName="sfn-stop-late")["QueueUrl"]
    arn = machine(server, "sfn-stop-branch", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [branch_waiting(4, url)]}}})  # fmt: skip
    run = states.start_execution(stateMachineArn=arn)["executionArn"]
    time.sleep(1.5)  # the runner (a pass each 0.2 s) is in the branch's Wait by now
    states.stop_execution(executionArn=run)
    assert states.describe_execution(executionArn=run)["status"] == "ABORTED"
    time.sleep(8)  # past the Wait's end: a runner still sleeping in it would send now
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert got.get("Messages", []) == []
    assert kinds(states, run) == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered",
        "WaitStateAborted", "ParallelStateAborted", "ExecutionAborted"]  # fmt: skip


def test_the_timeout_ends_a_wait_within_a_branch(server: ServerProcess) -> None:
    states = client_for(server, "stepfunctions", *server.credentials())
    sqs = client_for(server, "sqs", *server.credentials())
    url = sqs.create_queue(QueueName="sfn-timeout-late")["QueueUrl"]
    arn = machine(server, "sfn-timeout-branch", {"TimeoutSeconds": 2, "StartAt": "Both",
                  "States": {"Both": {"Type": "Parallel", "End": True,
                                      "Branches": [branch_waiting(3600, url)]}}})  # fmt: skip
    run = states.start_execution(stateMachineArn=arn)["executionArn"]
    done = until(lambda: (d := states.describe_execution(executionArn=run))["status"] != "RUNNING"
                 and d)  # fmt: skip
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")
    assert (done["stopDate"] - done["startDate"]).total_seconds() < 20
    assert kinds(states, run) == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered",
        "WaitStateAborted", "ParallelStateAborted", "ExecutionTimedOut"]  # fmt: skip


def test_a_parked_task_stopped_is_aborted_after_its_scheduling(server: ServerProcess) -> None:
    credentials = server.credentials()
    sqs = client_for(server, "sqs", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    url = sqs.create_queue(QueueName="sfn-stop-parked")["QueueUrl"]
    arn = machine(server, "sfn-stop-parked", {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": True}}})  # fmt: skip
    run = states.start_execution(stateMachineArn=arn)["executionArn"]
    until(lambda: "TaskStarted" in kinds(states, run))  # parked: its token sent
    states.stop_execution(executionArn=run)
    assert kinds(states, run) == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskStateAborted", "ExecutionAborted"]  # fmt: skip


def test_a_failed_branch_cuts_its_sibling_s_hour_long_wait(server: ServerProcess) -> None:
    credentials = server.credentials()
    sqs = client_for(server, "sqs", *credentials)
    states = client_for(server, "stepfunctions", *credentials)
    url = sqs.create_queue(QueueName="sfn-cut-late")["QueueUrl"]
    failing = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Broke",
                                                      "Cause": "at once"}}}  # fmt: skip
    arn = machine(server, "sfn-cut-sibling", {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True,
        "Branches": [branch_waiting(3600, url), failing]}}})  # fmt: skip
    run = states.start_execution(stateMachineArn=arn)["executionArn"]
    done = until(lambda: (d := states.describe_execution(executionArn=run))["status"] != "RUNNING"
                 and d)  # fmt: skip
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Broke", "at once")
    assert (done["stopDate"] - done["startDate"]).total_seconds() < 20  # not the hour
    assert kinds(states, run) == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered",
        "WaitStateAborted", "FailStateEntered", "ParallelStateFailed",
        "ExecutionFailed"]  # fmt: skip
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert got.get("Messages", []) == []  # the Task after the cut Wait never ran
