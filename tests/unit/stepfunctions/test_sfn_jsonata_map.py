"""Decision 0338: a distributed Map in a JSONata state — validated with AWS's JSONata field
names (``Arguments`` for its S3 calls, expressions for ``MaxItems``, ``ItemBatcher``'s
fields, ``MaxConcurrency`` and the thresholds; JSONPath's ``Parameters`` and ``…Path`` fields
refused), run from an S3 object as 0322's tests run it, its ``Output``/``Assign`` over
``$states.result`` — and AWS's check of variable scopes: an inner scope (a Parallel branch, an
inline Map iteration) may not assign a name an outer scope assigns, while a variable read
before it is assigned is accepted at validation and fails as it runs, as AWS's does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.stepfunctions.definition import check_definition, parse_definition
from andromede.stepfunctions.interpreter import Interpreter, StatesError
from unit.stepfunctions.test_sfn_distributed_map import CONTEXT, TASK, Host, Tasks

GET = "arn:aws:states:::s3:getObject"
PUT = "arn:aws:states:::s3:putObject"


def jsonata_map(**fields: Any) -> dict[str, Any]:
    processor = fields.pop("processor", TASK)
    before = fields.pop("before", None)
    machine: dict[str, Any] = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            **processor},
        **fields}}}  # fmt: skip
    if before is not None:
        machine["StartAt"] = "Set"
        machine["States"]["Set"] = {"Type": "Pass", "Assign": before, "Next": "M"}
    return machine


def said(definition: dict[str, Any]) -> list[str]:
    return [d.said() for d in check_definition(definition)]


READER = {"Resource": GET, "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $most %}"},
          "Arguments": {"Bucket": "{% $bucket %}", "Key": "{% $states.input.key %}"}}  # fmt: skip


def test_a_jsonata_distributed_map_of_awss_fields_passes() -> None:
    assert said(jsonata_map(
        ItemReader=READER,
        ItemSelector={"v": "{% $states.context.Map.Item.Value %}"},
        ItemBatcher={"MaxItemsPerBatch": "{% $states.input.per %}",
                     "MaxInputBytesPerBatch": 4096, "BatchInput": "{% {'run': $bucket} %}"},
        ResultWriter={"Resource": PUT, "Arguments": {"Bucket": "out", "Prefix": "{% $bucket %}"}},
        MaxConcurrency="{% $states.input.width %}", ToleratedFailurePercentage="{% 5 %}",
        ToleratedFailureCount=3, Label="lbl", Output={"run": "{% $states.result %}"},
        Assign={"mapped": "{% $count($states.result) %}"},
    )) == []  # fmt: skip
    # The S3 call's Arguments may be an expression as a whole.
    assert said(jsonata_map(ItemReader={
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Arguments": "{% {'Bucket': $states.input.bucket} %}"})) == []  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ItemReader": {**READER, "Arguments": None, "Parameters": {"Bucket": "b", "Key": "k"}}},
         "The QueryLanguage is set to 'JSONata', but field 'Parameters' is only supported for "
         "the 'JSONPath' QueryLanguage at /States/M/ItemReader/Parameters"),
        ({"ItemReader": {**READER, "Arguments": {"Bucket": "b"}}},
         "These fields are required: [Key] at /States/M/ItemReader/Arguments"),
        ({"ItemReader": {**READER, "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.m"}}},
         "field 'MaxItemsPath' is only supported for the 'JSONPath' QueryLanguage at "
         "/States/M/ItemReader/ReaderConfig"),
        ({"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}},
         "field 'MaxItemsPerBatchPath' is only supported for the 'JSONPath' QueryLanguage"),
        ({"ItemBatcher": {"MaxItemsPerBatch": "{% 1 + %}"}},
         "The JSONata expression is not valid"),
        ({"ItemBatcher": {"MaxItemsPerBatch": 0}},
         "The field 'MaxItemsPerBatch' must be a positive integer"),
        ({"ResultWriter": {"Resource": PUT, "Parameters": {"Bucket": "b"}}},
         "field 'Parameters' is only supported for the 'JSONPath' QueryLanguage at "
         "/States/M/ResultWriter/Parameters"),
        ({"ToleratedFailureCountPath": "$.n"},
         "Field 'ToleratedFailureCountPath' is not supported in a JSONata state"),
        ({"ToleratedFailurePercentage": 101},
         "The field 'ToleratedFailurePercentage' must be a number between 0 and 100"),
        ({"ItemReader": {**READER, "Arguments": {"Bucket": "{% $b. %}", "Key": "k"}}},
         "The JSONata expression is not valid"),
    ],
)  # fmt: skip
def test_jsonata_fields_are_checked(fields: dict[str, Any], expected: str) -> None:
    if fields.get("ItemReader", {}).get("Arguments", "") is None:
        del fields["ItemReader"]["Arguments"]
    found = said(jsonata_map(**fields))
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith("SCHEMA_VALIDATION_FAILED: ")


def test_a_jsonpath_distributed_map_refuses_jsonatas_arguments() -> None:
    definition = jsonata_map(ItemReader={"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
                                         "Arguments": {"Bucket": "b", "Key": "k"}})  # fmt: skip
    del definition["QueryLanguage"]
    assert said(definition) == [
        "SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONPath', but field "
        "'Arguments' is only supported for the 'JSONata' QueryLanguage at "
        "/States/M/ItemReader/Arguments"
    ]


async def run(definition: dict[str, Any], data: Any, host: Host) -> tuple[Any, list[Any]]:
    machine = Interpreter(definition, CONTEXT, Tasks(host))
    cursor = machine.start(data)
    events: list[Any] = []
    while True:
        step = await machine.step(cursor)
        events += step.events
        if step.cursor is None:
            return (step.error if step.error is not None else step.output), events
        cursor = step.cursor


async def test_a_jsonata_distributed_map_reads_batches_and_writes_by_expressions() -> None:
    items = [{"n": i, "fail": i == 3} for i in range(7)]
    host = Host({"in/items.json": json.dumps(items)})
    definition = jsonata_map(
        before={"bucket": "in", "most": 6},
        ItemReader=READER,
        ItemSelector={"n": "{% $states.context.Map.Item.Value.n %}",
                      "fail": "{% $states.context.Map.Item.Value.fail %}",
                      "at": "{% $states.context.Map.Item.Index %}"},
        ItemBatcher={"MaxItemsPerBatch": "{% $states.input.per %}",
                     "BatchInput": {"bucket": "{% $bucket %}"}},
        MaxConcurrency="{% $states.input.width %}", ToleratedFailureCount="{% 2 %}",
        ResultWriter={"Resource": PUT,
                      "Arguments": {"Bucket": "out", "Prefix": "{% 'runs/' & $bucket %}"}},
        Assign={"manifest": "{% $states.result.ResultWriterDetails.Key %}"},
        Output={"run": "{% $states.result.MapRunArn %}", "from": "{% $states.input.key %}"},
        processor={"StartAt": "Each", "States": {"Each": {
            "Type": "Choice", "Default": "Done", "Choices": [
                {"Condition": "{% $states.input.Items[fail = true] ? true : false %}",
                 "Next": "Refuse"}]},
            "Refuse": {"Type": "Fail", "Error": "NotOk"},
            "Done": {"Type": "Pass", "End": True, "Output": {
                "ns": "{% $states.input.Items.n %}",
                "bucket": "{% $states.input.BatchInput.bucket %}"}}}},
    )  # fmt: skip
    assert said(definition) == []
    output, events = await run(definition, {"key": "items.json", "per": 2, "width": 2}, host)
    assert output["from"] == "items.json" and ":mapRun:m/" in output["run"]
    run_id = output["run"].rsplit(":", 1)[1]
    manifest = json.loads(host.written[f"out/runs/in/{run_id}/manifest.json"])
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    outputs = [json.loads(r["Output"]) for r in json.loads(host.written[f"out/{succeeded['Key']}"])]
    # Six items (MaxItems) in batches of two; the batch holding item 3 failed: its two items
    # are the two failures tolerated.
    assert sorted(o["ns"][0] for o in outputs) == [0, 4] and outputs[0]["bucket"] == "in"
    (failed,) = json.loads(host.written[f"out/runs/in/{run_id}/FAILED_0.json"])
    assert failed["Error"] == "NotOk" and json.loads(failed["Input"])["Items"][1]["at"] == 3
    final = host.runs[-1]
    assert final.max_concurrency == 2 and final.tolerated_failure_count == 2
    assert final.item_counts["total"] == 6 and final.execution_counts["total"] == 3
    exited = next(e for e in events if e.type == "MapStateExited")
    assert json.loads(exited.details["assignedVariables"]["manifest"]) == (
        f"runs/in/{run_id}/manifest.json")  # fmt: skip


async def test_a_value_of_the_wrong_kind_is_a_query_evaluation_error_catch_catches() -> None:
    definition = jsonata_map(
        Items="{% $states.input.items %}",
        ItemBatcher={"MaxItemsPerBatch": "{% 'two' %}"},
        Catch=[{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught",
                "Output": "{% $states.errorOutput.Error %}"}],
    )  # fmt: skip
    del definition["States"]["M"]["End"]
    definition["States"]["M"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Succeed"}
    assert said(definition) == []
    output, events = await run(definition, {"items": [1, 2]}, Host({}))
    assert output == "States.QueryEvaluationError"
    (evaluation,) = [e for e in events if e.type == "EvaluationFailed"]
    assert evaluation.details["location"] == "ItemBatcher/MaxItemsPerBatch"
    assert "MaxItemsPerBatch must evaluate to a positive integer" in evaluation.details["cause"]
    error, _ = await run(jsonata_map(Items="{% {'not': 'an array'} %}"), {}, Host({}))
    assert isinstance(error, StatesError) and error.error == "States.QueryEvaluationError"


# Variable scopes ---------------------------------------------------------------------------


def branch(*assigned: str, jsonpath: bool = False) -> dict[str, Any]:
    key = "{}.$" if jsonpath else "{}"
    value = "$.v" if jsonpath else 1
    return {"StartAt": "B", "States": {"B": {
        "Type": "Pass", "End": True,
        "Assign": {key.format(name): value for name in assigned}}}}  # fmt: skip


def with_outer(inner: dict[str, Any], **outer: Any) -> dict[str, Any]:
    return {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Assign": outer or {"x": 1}, "Next": "P"}, "P": inner},
    }


def test_an_inner_scope_may_not_assign_an_outer_scopes_variable() -> None:
    parallel = with_outer({"Type": "Parallel", "End": True,
                           "Branches": [branch("y"), branch("x")]})  # fmt: skip
    assert said(parallel) == [
        "SCHEMA_VALIDATION_FAILED: The variable 'x' is assigned in an outer scope: a state in a "
        "Parallel branch or a Map iteration cannot assign it at "
        "/States/P/Branches[1]/States/B/Assign"
    ]
    inline = with_outer({"Type": "Map", "End": True, "ItemProcessor": branch("x", jsonpath=True)})
    (problem,) = said(inline)
    assert "'x' is assigned in an outer scope" in problem
    assert problem.endswith("at /States/P/ItemProcessor/States/B/Assign")
    # The Map state's own Assign is the outer scope's, a Catch's too; deeper scopes see both.
    nested = {"Type": "Parallel", "End": True, "Assign": {"m": 1}, "Branches": [
        {"StartAt": "Q", "States": {"Q": {"Type": "Parallel", "End": True, "Branches": [
            branch("m")]}}}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z", "Assign": {"c": 1}}]}  # fmt: skip
    deep = with_outer(nested)
    deep["States"]["Z"] = {"Type": "Parallel", "End": True, "Branches": [branch("c")]}
    assert [p.rsplit(" at ", 1)[1] for p in said(deep)] == [
        "/States/P/Branches[0]/States/Q/Branches[0]/States/B/Assign",
        "/States/Z/Branches[0]/States/B/Assign"]  # fmt: skip


def test_what_aws_accepts_of_scopes() -> None:
    # Sibling branches each assign the same name: neither is the other's outer scope.
    assert said(with_outer({"Type": "Parallel", "End": True,
                            "Branches": [branch("y"), branch("y")]})) == []  # fmt: skip
    # A distributed Map's child execution sees no outer variable: it may use any name.
    child = with_outer({"Type": "Map", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        **branch("x")}})  # fmt: skip
    assert said(child) == []
    # A variable read before (or without) its assignment is accepted: it fails as it runs.
    unread = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Output": "{% $never %}", "Assign": {"later": 1}, "End": True}
        },
    }
    assert said(unread) == []


async def test_an_unassigned_variable_fails_as_it_runs() -> None:
    unread = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "Output": "{% $never.field %}", "End": True}}}  # fmt: skip
    error, _ = await run(unread, {}, Host({}))
    assert isinstance(error, StatesError) and error.error == "States.QueryEvaluationError"


def test_the_scope_check_is_the_create_and_validate_diagnostic() -> None:
    text = json.dumps(with_outer({"Type": "Parallel", "End": True, "Branches": [branch("x")]}))
    parsed, diagnostics = parse_definition(text)
    assert parsed is not None
    assert [(d.code, d.location) for d in diagnostics] == [
        ("SCHEMA_VALIDATION_FAILED", "/States/P/Branches[0]/States/B/Assign")]  # fmt: skip


def test_a_deeply_nested_definition_is_refused_once_and_not_walked_further() -> None:
    inner: dict[str, Any] = branch("x")
    for _ in range(14):
        parallel = {"Type": "Parallel", "End": True, "Assign": {"x": 1}, "Branches": [inner]}
        inner = {"StartAt": "P", "States": {"P": parallel}}
    found = check_definition(inner)
    assert "TOO_DEEPLY_NESTED" in {d.code for d in found}
    # Each of the 14 inner scopes reassigns x; those past the tenth level are not walked.
    assert len([d for d in found if "outer scope" in d.message]) == 10
