"""Step Functions' JSONata and workflow variables end to end (decision 0329): a real
``andromede serve`` driven by boto3's ``stepfunctions`` client.

A STANDARD machine in JSONata assigns variables from its input (``$sum``, ``$count``), waits
for a number of seconds an expression gives, chooses on a JSONata ``Condition`` over a
variable and builds its output from variables and AWS's ``$hash``. The gateway is stopped
while the execution waits and started again over the same data: the variables assigned
before the restart are read back from the execution's stored cursor. GetExecutionHistory
shows each state's ``assignedVariables``; the other branch fails with a cause built by an
expression. A JSONPath machine reads a variable in ``Parameters`` (``"x.$": "$name"``) and
on a Choice's ``Variable``. A JSONata state holding ``Parameters`` is refused as AWS refuses
it, by CreateStateMachine and ValidateStateMachineDefinition alike. An expression that fails
fails the execution ``States.QueryEvaluationError`` with AWS's ``EvaluationFailed`` event.
The distributed Map's readers are here too: decision 0338's JSONata fields, 0345's manifests,
Parquet and ``WriterConfig``, 0352's ``LOAD_AND_FLATTEN``, ``ItemsPointer`` and each item's
``Source``, 0358's ZSTD inputs, ``VersionId`` and ``ExpectedBucketOwner``."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})  # fmt: skip

ORDER = {
    "QueryLanguage": "JSONata",
    "StartAt": "Total",
    "States": {
        "Total": {"Type": "Pass",
                  "Assign": {"total": "{% $sum($states.input.items.price) %}",
                             "customer": "{% $states.input.customer %}"},
                  "Output": {"count": "{% $count($states.input.items) %}"},
                  "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": "{% $states.input.count + 1 %}", "Next": "Size"},
        "Size": {"Type": "Choice",
                 "Choices": [{"Condition": "{% $total > 100 %}", "Next": "Big",
                              "Assign": {"size": "big"}}],
                 "Default": "Small"},
        "Big": {"Type": "Pass", "End": True,
                "Output": {"customer": "{% $customer %}", "total": "{% $total %}",
                           "size": "{% $size %}", "tag": "{% $hash($customer, 'MD5') %}"}},
        "Small": {"Type": "Fail", "Error": "TooSmall",
                  "Cause": "{% 'total ' & $string($total) %}"},
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sfnjsonata") / "data"
    env = {"ANDROMEDE_WORKERS": "1", "ANDROMEDE_STEPFUNCTIONS_PASS_INTERVAL": "0.2"}
    with running_server(data_dir, extra_env=env) as started:
        yield started


def states_client(server: ServerProcess) -> Any:
    return client_for(server, "stepfunctions", *server.credentials())


def role(server: ServerProcess, name: str) -> str:
    iam = client_for(server, "iam", *server.credentials())
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    return arn


def ended(states: Any, arn: str, wait: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        described: dict[str, Any] = states.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"{arn} still running after {wait} s")


def history(states: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = states.get_execution_history(executionArn=arn)["events"]
    return events


def test_variables_survive_a_restart_and_a_jsonata_condition_chooses(
    server: ServerProcess,
) -> None:
    states = states_client(server)
    machine = states.create_state_machine(
        name="orders", roleArn=role(server, "sfn-orders"), definition=json.dumps(ORDER)
    )["stateMachineArn"]
    big = states.start_execution(stateMachineArn=machine, input=json.dumps(
        {"customer": "Ana", "items": [{"price": 100}, {"price": 50}]}))["executionArn"]  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(e["type"] == "WaitStateEntered" for e in history(states, big)):
        assert time.monotonic() < deadline, "the execution never reached its Wait"
        time.sleep(0.1)
    # The gateway goes while the execution waits (3 s); the one started again over the same
    # data goes on from the stored cursor, its variables with it.
    server.stop()
    server.start()
    states = states_client(server)
    described = ended(states, big)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "customer": "Ana", "total": 150, "size": "big",
        "tag": hashlib.md5(b"Ana").hexdigest(),  # noqa: S324 - AWS's $hash, not a secret
    }  # fmt: skip
    events = history(states, big)
    exits = {e["stateExitedEventDetails"]["name"]: e["stateExitedEventDetails"] for e in events
             if "stateExitedEventDetails" in e}  # fmt: skip
    assigned = exits["Total"]["assignedVariables"]
    assert {name: json.loads(value) for name, value in assigned.items()} == {
        "total": 150, "customer": "Ana"}  # fmt: skip
    assert exits["Total"]["assignedVariablesDetails"] == {"truncated": False}
    assert json.loads(exits["Size"]["assignedVariables"]["size"]) == "big"
    assert "assignedVariables" not in exits["Pause"]

    small = states.start_execution(stateMachineArn=machine, input=json.dumps(
        {"customer": "Bo", "items": [{"price": 20}]}))["executionArn"]  # fmt: skip
    failed = ended(states, small)
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "TooSmall",
        "total 20",
    )


def test_jsonpath_variables_and_jsonata_fields_refused(server: ServerProcess) -> None:
    states = states_client(server)
    arn = role(server, "sfn-jsonpath")
    jsonpath = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"limit.$": "$.limit", "who": "fixed"}, "Next": "B"},
        "B": {"Type": "Choice", "Choices": [
            {"Variable": "$limit", "NumericGreaterThan": 5, "Next": "C"}], "Default": "D"},
        "C": {"Type": "Pass", "Parameters": {"l.$": "$limit", "w.$": "$who"}, "End": True},
        "D": {"Type": "Succeed"},
    }}  # fmt: skip
    machine = states.create_state_machine(
        name="jsonpath-variables", roleArn=arn, definition=json.dumps(jsonpath)
    )["stateMachineArn"]
    execution = states.start_execution(stateMachineArn=machine, input='{"limit": 9}')
    described = ended(states, execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"l": 9, "w": "fixed"}

    refused = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"x": 1}, "End": True}}}  # fmt: skip
    with pytest.raises(ClientError) as caught:
        states.create_state_machine(name="refused", roleArn=arn, definition=json.dumps(refused))
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Parameters" in caught.value.response["Error"]["Message"]
    checked = states.validate_state_machine_definition(definition=json.dumps(refused))
    assert checked["result"] == "FAIL"
    assert checked["diagnostics"][0]["location"] == "/States/A/Parameters"
    good = states.validate_state_machine_definition(definition=json.dumps(ORDER))
    assert good["result"] == "OK", good

    parse = {"Type": "Pass", "Output": "{% $parse($states.input.text) %}", "End": True}
    broken = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": parse}}
    machine = states.create_state_machine(
        name="broken-expression", roleArn=arn, definition=json.dumps(broken)
    )["stateMachineArn"]
    execution = states.start_execution(stateMachineArn=machine, input='{"text": "not json"}')
    described = ended(states, execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "States.QueryEvaluationError")
    failed = [e for e in history(states, execution["executionArn"])
              if e["type"] == "EvaluationFailed"]  # fmt: skip
    assert len(failed) == 1
    details = failed[0]["evaluationFailedEventDetails"]
    assert (details["state"], details["location"]) == ("A", "Output")


def test_a_jsonata_distributed_map_over_an_s3_json_array_writes_its_results(
    server: ServerProcess,
) -> None:
    """Decision 0338: the JSONata variant of 0322's e2e. The distributed Map's S3 calls take
    ``Arguments`` whose expressions read a variable and the input; its concurrency and failure
    budget are expressions; each child's own JSONata states run; ``Output`` and ``Assign``
    read the run's result. Read back with boto3: the manifest, the results, the Map run."""
    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    states = states_client(server)
    s3.create_bucket(Bucket="sfn-jsonata-map")
    items = [{"id": i, "ok": i != 2} for i in range(5)]
    s3.put_object(Bucket="sfn-jsonata-map", Key="in/items.json", Body=json.dumps(items).encode())
    arn = role(server, "sfn-jsonata-map")
    iam.put_role_policy(RoleName="sfn-jsonata-map", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]}]}))  # fmt: skip
    definition = {"QueryLanguage": "JSONata", "StartAt": "Where", "States": {
        "Where": {"Type": "Pass", "Assign": {"bucket": "{% $states.input.bucket %}"},
                  "Next": "Each"},
        "Each": {
            "Type": "Map", "End": True, "Label": "items",
            "MaxConcurrency": "{% $states.input.width %}", "ToleratedFailureCount": "{% 1 %}",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSON"},
                           "Arguments": {"Bucket": "{% $bucket %}",
                                         "Key": "{% 'in/' & $states.input.name %}"}},
            "ItemSelector": {"id": "{% $states.context.Map.Item.Value.id %}",
                             "ok": "{% $states.context.Map.Item.Value.ok %}"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Check", "States": {
                    "Check": {"Type": "Choice", "Default": "Done", "Choices": [
                        {"Condition": "{% $not($states.input.ok) %}", "Next": "Refuse"}]},
                    "Refuse": {"Type": "Fail", "Error": "NotOk", "Cause": "item refused"},
                    "Done": {"Type": "Pass", "End": True,
                             "Output": {"seen": "{% $states.input.id %}"}}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Arguments": {"Bucket": "{% $bucket %}", "Prefix": "out"}},
            "Assign": {"manifest": "{% $states.result.ResultWriterDetails.Key %}"},
            "Output": {"run": "{% $states.result.MapRunArn %}",
                       "manifest": "{% $states.result.ResultWriterDetails.Key %}"}}}}  # fmt: skip
    machine = states.create_state_machine(
        name="jsonata-map", roleArn=arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    run = states.start_execution(stateMachineArn=machine, input=json.dumps(
        {"bucket": "sfn-jsonata-map", "name": "items.json", "width": 2}))  # fmt: skip
    described = ended(states, run["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    manifest = json.loads(
        s3.get_object(Bucket="sfn-jsonata-map", Key=output["manifest"])["Body"].read()
    )
    assert manifest["MapRunArn"] == output["run"]
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    records = json.loads(
        s3.get_object(Bucket="sfn-jsonata-map", Key=succeeded["Key"])["Body"].read()
    )
    assert sorted(json.loads(r["Output"])["seen"] for r in records) == [0, 1, 3, 4]
    (failed,) = manifest["ResultFiles"]["FAILED"]
    (refused,) = json.loads(s3.get_object(Bucket="sfn-jsonata-map",
                                          Key=failed["Key"])["Body"].read())  # fmt: skip
    assert refused["Error"] == "NotOk" and json.loads(refused["Input"])["id"] == 2
    map_run = states.describe_map_run(mapRunArn=output["run"])
    assert map_run["status"] == "SUCCEEDED" and map_run["maxConcurrency"] == 2
    assert map_run["itemCounts"]["total"] == 5 and map_run["itemCounts"]["failed"] == 1
    assert map_run["toleratedFailureCount"] == 1
    exits = [e["stateExitedEventDetails"] for e in history(states, run["executionArn"])
             if e["type"] == "MapStateExited"]  # fmt: skip
    assert json.loads(exits[0]["assignedVariables"]["manifest"]) == output["manifest"]


def test_variable_scopes_checked_as_aws_checks_them(server: ServerProcess) -> None:
    """Decision 0338: CreateStateMachine and ValidateStateMachineDefinition refuse a Parallel
    branch assigning the outer scope's variable; a variable read before it is assigned is
    accepted, and the execution fails as it reads it, in AWS's words."""
    states = states_client(server)
    arn = role(server, "sfn-scopes")
    shadowing = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"total": 1}, "Next": "P"},
        "P": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "B", "States": {
            "B": {"Type": "Pass", "Assign": {"total": 2}, "End": True}}}]}}}  # fmt: skip
    with pytest.raises(ClientError) as caught:
        states.create_state_machine(name="shadow", roleArn=arn, definition=json.dumps(shadowing))
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "'total' is assigned in an outer scope" in caught.value.response["Error"]["Message"]
    checked = states.validate_state_machine_definition(definition=json.dumps(shadowing))
    assert checked["result"] == "FAIL"
    assert checked["diagnostics"][0]["location"] == "/States/P/Branches[0]/States/B/Assign"

    early = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"v": "{% $later %}"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"later": 1}, "End": True}}}  # fmt: skip
    assert states.validate_state_machine_definition(definition=json.dumps(early))["result"] == "OK"
    machine = states.create_state_machine(
        name="read-early", roleArn=arn, definition=json.dumps(early)
    )["stateMachineArn"]
    execution = states.start_execution(stateMachineArn=machine, input="{}")
    described = ended(states, execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert "specified for the field 'Output/v' returned nothing (undefined)" in (
        described["cause"])  # fmt: skip


def test_an_inventory_manifest_and_a_parquet_object_mapped_with_writer_config(
    server: ServerProcess,
) -> None:
    """Decision 0345 over a real serve: a distributed Map reads an S3 Inventory manifest (a
    hand-written one in S3 Inventory's layout: its gzip CSV data file, the ``fileSchema``
    naming the columns) with ``MaxItems``, its results written as JSON lines of the children's
    outputs (``WriterConfig`` COMPACT / JSONL); a second reads a Parquet object (written with
    pyarrow, read by ranges) and gives its children's array outputs flattened as the state's
    output (``WriterConfig`` alone: nothing written)."""
    import gzip
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    states = states_client(server)
    s3.create_bucket(Bucket="sfn-readers")
    rows = "".join(f'"photos","day/{i}.jpg","{i * 10}"\n' for i in range(4))
    s3.put_object(Bucket="sfn-readers", Key="inv/data/a.csv.gz",
                  Body=gzip.compress(rows.encode()))  # fmt: skip
    s3.put_object(Bucket="sfn-readers", Key="inv/manifest.json", Body=json.dumps({
        "sourceBucket": "photos", "destinationBucket": "arn:aws:s3:::sfn-readers",
        "version": "2016-11-30", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/a.csv.gz", "size": 1, "MD5checksum": "0"}],
    }).encode())  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"n": i, "pair": [i, -i]} for i in range(3)]), sink)
    s3.put_object(Bucket="sfn-readers", Key="lake/p.parquet", Body=sink.getvalue())
    arn = role(server, "sfn-readers")
    iam.put_role_policy(RoleName="sfn-readers", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetObject", "s3:PutObject"]}]}))  # fmt: skip
    pass_key = {"StartAt": "Key", "States": {"Key": {
        "Type": "Pass", "End": True, "Output": "{% $states.input.Key %}"}}}  # fmt: skip
    pass_pair = {"StartAt": "Pair", "States": {"Pair": {
        "Type": "Pass", "End": True, "Output": "{% $states.input.pair %}"}}}  # fmt: skip
    distributed = {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    definition = {"QueryLanguage": "JSONata", "StartAt": "Inventory", "States": {
        "Inventory": {
            "Type": "Map", "Next": "Lake",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "MANIFEST", "MaxItems": 3},
                           "Arguments": {"Bucket": "sfn-readers", "Key": "inv/manifest.json"}},
            "ItemProcessor": {"ProcessorConfig": distributed, **pass_key},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Arguments": {"Bucket": "sfn-readers", "Prefix": "out"},
                             "WriterConfig": {"Transformation": "COMPACT",
                                              "OutputType": "JSONL"}},
            "Assign": {"manifest": "{% $states.result.ResultWriterDetails.Key %}"}},
        "Lake": {
            "Type": "Map", "End": True,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "PARQUET"},
                           "Arguments": {"Bucket": "sfn-readers", "Key": "lake/p.parquet"}},
            "ItemProcessor": {"ProcessorConfig": distributed, **pass_pair},
            "ResultWriter": {"WriterConfig": {"Transformation": "FLATTEN",
                                              "OutputType": "JSON"}},
            "Output": {"pairs": "{% $states.result %}",
                       "manifest": "{% $manifest %}"}}}}  # fmt: skip
    machine = states.create_state_machine(
        name="readers", roleArn=arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    run = states.start_execution(stateMachineArn=machine)
    described = ended(states, run["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["pairs"] == [0, 0, 1, -1, 2, -2]
    manifest = json.loads(
        s3.get_object(Bucket="sfn-readers", Key=output["manifest"])["Body"].read()
    )
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert succeeded["Key"].endswith(".jsonl")
    body = s3.get_object(Bucket="sfn-readers", Key=succeeded["Key"])["Body"].read().decode()
    assert sorted(json.loads(line) for line in body.splitlines()) == [
        "day/0.jpg", "day/1.jpg", "day/2.jpg"]  # fmt: skip
    refused = states.validate_state_machine_definition(definition=json.dumps({
        **definition, "States": {**definition["States"], "Lake": {
            **definition["States"]["Lake"],
            "ResultWriter": {"WriterConfig": {"Transformation": "SQUASH"}}}}}))  # fmt: skip
    assert refused["result"] == "FAIL"
    assert refused["diagnostics"][0]["location"] == (
        "/States/Lake/ResultWriter/WriterConfig/Transformation"
    )


def test_listed_objects_flattened_a_json_pointer_and_each_items_source(
    server: ServerProcess,
) -> None:
    """Decision 0352 over a real serve, in JSONPath: a distributed Map lists a prefix and,
    under ``LOAD_AND_FLATTEN``, reads each listed JSONL object (one gzip) as the machine's
    role, its items flattened, each given its ``$$.Map.Item.Source``; a second reads a JSON
    object's nested array by ``ItemsPointer``. A prefix whose objects the role may list but
    not read fails ``States.ItemReaderFailed`` with S3's ``AccessDenied``, and an object named
    ``.zst`` that is no ZSTD stream fails in words (decision 0358)."""
    import gzip

    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    states = states_client(server)
    s3.create_bucket(Bucket="sfn-flatten")
    s3.put_object(Bucket="sfn-flatten", Key="logs/a.jsonl", Body=b'{"n": 1}\n{"n": 2}\n')
    s3.put_object(Bucket="sfn-flatten", Key="logs/b.jsonl.gz",
                  Body=gzip.compress(b'{"n": 3}\n\n{"n": 4}\n'))  # fmt: skip
    s3.put_object(Bucket="sfn-flatten", Key="locked/c.jsonl", Body=b'{"n": 5}\n')
    s3.put_object(Bucket="sfn-flatten", Key="zst/d.jsonl.zst", Body=b"(zstd frames)")
    s3.put_object(
        Bucket="sfn-flatten",
        Key="doc.json",
        Body=json.dumps(
            {"meta": {"count": 2}, "data": {"items": [{"id": "x"}, {"id": "y"}]}}
        ).encode(),
    )
    arn = role(server, "sfn-flatten")
    iam.put_role_policy(RoleName="sfn-flatten", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::sfn-flatten"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [
                "arn:aws:s3:::sfn-flatten/logs/*", "arn:aws:s3:::sfn-flatten/zst/*",
                "arn:aws:s3:::sfn-flatten/doc.json"]}]}))  # fmt: skip
    distributed = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    echo = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    with_source = {"v.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Source"}
    definition = {"StartAt": "Flat", "States": {
        "Flat": {
            "Type": "Map", "Next": "Pointer", "ResultPath": "$.flat",
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                           "ReaderConfig": {"InputType": "JSONL",
                                            "Transformation": "LOAD_AND_FLATTEN"},
                           "Parameters": {"Bucket": "sfn-flatten", "Prefix.$": "$.prefix"}},
            "ItemSelector": with_source,
            "ItemProcessor": {"ProcessorConfig": distributed, **echo}},
        "Pointer": {
            "Type": "Map", "End": True, "ResultPath": "$.pointed",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/data/items"},
                           "Parameters": {"Bucket": "sfn-flatten", "Key": "doc.json"}},
            "ItemSelector": with_source,
            "ItemProcessor": {"ProcessorConfig": distributed, **echo}}}}  # fmt: skip
    machine = states.create_state_machine(
        name="flatten", roleArn=arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    run = states.start_execution(stateMachineArn=machine, input=json.dumps({"prefix": "logs/"}))
    described = ended(states, run["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["flat"] == [
        {"v": {"n": 1}, "at": "s3://sfn-flatten/logs/a.jsonl#line=1"},
        {"v": {"n": 2}, "at": "s3://sfn-flatten/logs/a.jsonl#line=2"},
        {"v": {"n": 3}, "at": "s3://sfn-flatten/logs/b.jsonl.gz#line=1"},
        {"v": {"n": 4}, "at": "s3://sfn-flatten/logs/b.jsonl.gz#line=3"},
    ]
    assert output["pointed"] == [
        {"v": {"id": "x"}, "at": "s3://sfn-flatten/doc.json#index=0"},
        {"v": {"id": "y"}, "at": "s3://sfn-flatten/doc.json#index=1"},
    ]
    for prefix, cause in (("locked/", "AccessDenied"), ("zst/", "is not valid ZSTD")):
        run = states.start_execution(stateMachineArn=machine,
                                     input=json.dumps({"prefix": prefix}))  # fmt: skip
        described = ended(states, run["executionArn"])
        assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")
        assert cause in described["cause"], described
    refused = states.validate_state_machine_definition(definition=json.dumps({
        **definition, "States": {**definition["States"], "Pointer": {
            **definition["States"]["Pointer"], "ItemReader": {
                **definition["States"]["Pointer"]["ItemReader"],
                "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "data"}}}}}))  # fmt: skip
    assert refused["result"] == "FAIL"
    assert refused["diagnostics"][0]["location"] == (
        "/States/Pointer/ItemReader/ReaderConfig/ItemsPointer"
    )


def test_a_zstd_object_read_at_a_version_under_its_expected_owner(server: ServerProcess) -> None:
    """Decision 0358 over a real serve: a ZSTD JSONL object in a versioned bucket, written
    twice, is read at the ``VersionId`` the input names (the older one) as the machine's role
    (``s3:GetObjectVersion``); the same read with another account as ``ExpectedBucketOwner``
    is refused with S3's ``AccessDenied``, one naming a version that is not there with
    ``NoSuchVersion``, a malformed one with ``InvalidArgument``."""
    import pyarrow as pa

    credentials = server.credentials()
    iam = client_for(server, "iam", *credentials)
    s3 = client_for(server, "s3", *credentials)
    account = client_for(server, "sts", *credentials).get_caller_identity()["Account"]
    states = states_client(server)
    s3.create_bucket(Bucket="sfn-zstd")
    s3.put_bucket_versioning(Bucket="sfn-zstd", VersioningConfiguration={"Status": "Enabled"})
    versions = []
    for lines in ([b'{"n": 1}', b'{"n": 2}'], [b'{"n": 3}']):
        body = pa.compress(b"\n".join(lines) + b"\n", codec="zstd", asbytes=True)
        put = s3.put_object(Bucket="sfn-zstd", Key="in/items.jsonl.zst", Body=bytes(body))
        versions.append(put["VersionId"])
    arn = role(server, "sfn-zstd")
    iam.put_role_policy(RoleName="sfn-zstd", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": "arn:aws:s3:::sfn-zstd/*"}]}))  # fmt: skip
    definition = {"StartAt": "Read", "States": {"Read": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": "sfn-zstd", "Key": "in/items.jsonl.zst",
                                      "VersionId.$": "$.version",
                                      "ExpectedBucketOwner.$": "$.owner"}},
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Source"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}},
    }}}  # fmt: skip
    machine = states.create_state_machine(
        name="zstd-versions", roleArn=arn, definition=json.dumps(definition)
    )["stateMachineArn"]

    def started(version: str, owner: str) -> dict[str, Any]:
        given = json.dumps({"version": version, "owner": owner})
        run = states.start_execution(stateMachineArn=machine, input=given)
        return ended(states, run["executionArn"])

    described = started(versions[0], account)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"v": {"n": 1}, "at": "s3://sfn-zstd/in/items.jsonl.zst#line=1"},
        {"v": {"n": 2}, "at": "s3://sfn-zstd/in/items.jsonl.zst#line=2"},
    ]
    other = "999999999999" if account != "999999999999" else "111111111111"
    missing = versions[0][:-22] + "A" * 22  # well formed, not there
    for version, owner, cause in ((versions[1], other, "AccessDenied"),
                                  (missing, account, "NoSuchVersion"),
                                  ("not a version", account, "InvalidArgument")):  # fmt: skip
        described = started(version, owner)
        assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")
        assert cause in described["cause"], described
