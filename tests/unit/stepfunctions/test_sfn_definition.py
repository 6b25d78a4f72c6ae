"""Decision 0271's validation of the Amazon States Language: AWS's documented examples pass;
each kind of problem gets AWS's code, words and location (transition targets, reachability,
terminal states, fields per state type, Choice rules, Retry/Catch, Wait, Fail, Map, Parallel,
resources not served)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.stepfunctions.definition import (
    COMPARISONS,
    check_definition,
    definition_error,
    parse_definition,
)


def machine(**states: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def said(definition: dict[str, Any]) -> list[str]:
    return [d.said() for d in check_definition(definition)]


# AWS's documented examples (the Developer Guide's Choice, Parallel, Map, Retry/Catch ones).
CHOICE_EXAMPLE = {
    "StartAt": "ChoiceStateX",
    "States": {
        "ChoiceStateX": {
            "Type": "Choice",
            "Choices": [
                {
                    "Not": {"Variable": "$.type", "StringEquals": "Private"},
                    "Next": "Public",
                },
                {
                    "And": [
                        {"Variable": "$.value", "IsPresent": True},
                        {"Variable": "$.value", "IsNumeric": True},
                        {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                        {"Variable": "$.value", "NumericLessThan": 30},
                    ],
                    "Next": "ValueInTwenties",
                },
                {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold",
                 "Next": "StartAudit"},
                {"Variable": "$.when", "TimestampLessThan": "2016-03-14T01:59:00Z",
                 "Next": "Public"},
            ],
            "Default": "DefaultState",
        },
        "Public": {"Type": "Pass", "Next": "NextState"},
        "ValueInTwenties": {"Type": "Pass", "Next": "NextState"},
        "StartAudit": {"Type": "Pass", "Next": "NextState"},
        "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"},
        "NextState": {"Type": "Wait", "SecondsPath": "$.wait", "End": True},
    },
}  # fmt: skip
PARALLEL_MAP_EXAMPLE = {
    "StartAt": "LookupCustomerInfo",
    "States": {
        "LookupCustomerInfo": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "LookupAddress",
                 "States": {"LookupAddress": {"Type": "Pass", "End": True}}},
                {"StartAt": "LookupPhone",
                 "States": {"LookupPhone": {"Type": "Pass", "End": True}}},
            ],
            "ResultSelector": {"address.$": "$[0]", "count.$": "States.ArrayLength($)"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
                       "MaxAttempts": 2, "BackoffRate": 2.0, "JitterStrategy": "FULL"},
                      {"ErrorEquals": ["States.ALL"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "Recover"}],
            "Next": "Validate-All",
        },
        "Validate-All": {
            "Type": "Map",
            "InputPath": "$.detail",
            "ItemsPath": "$.shipped",
            "MaxConcurrency": 0,
            "ItemSelector": {"ContextIndex.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Validate",
                "States": {"Validate": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "https://q",
                                   "MessageBody": {"t.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 60, "HeartbeatSeconds": 10, "End": True}},
            },
            "ResultPath": "$.detail.shipped",
            "End": True,
        },
        "Recover": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}  # fmt: skip


@pytest.mark.parametrize("example", [CHOICE_EXAMPLE, PARALLEL_MAP_EXAMPLE])
def test_aws_documented_examples_are_valid(example: dict[str, Any]) -> None:
    assert check_definition(example) == []
    assert parse_definition(json.dumps(example)) == (example, [])


def test_every_comparison_operator_of_aws_is_known() -> None:
    assert len(COMPARISONS) == 16 * 2 + 6 + 1
    assert {"StringMatches", "IsTimestamp", "TimestampGreaterThanEqualsPath"} <= COMPARISONS


def test_transition_targets_and_reachability() -> None:
    assert said(machine(A={"Type": "Pass", "Next": "Nope"}, B={"Type": "Succeed"})) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /States/A/Next",
        'MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B',
    ]
    start = {"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}
    assert said(start)[0] == "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /StartAt"
    choice = machine(
        C={"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": True,
                                          "Next": "Gone"}], "Default": "Also"},
    )  # fmt: skip
    assert said(choice)[:2] == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at /States/C/Choices[0]/Next",
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Also at /States/C/Default",
    ]
    caught = machine(
        T={"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]},
        Handler={"Type": "Succeed"},
    )  # fmt: skip
    assert said(caught) == []  # a catcher's target is reached


def test_a_loop_without_a_terminal_state() -> None:
    loop = machine(A={"Type": "Pass", "Next": "B"}, B={"Type": "Pass", "Next": "A"},
                   C={"Type": "Pass", "Next": "A"})  # fmt: skip
    diagnostics = check_definition(loop)
    assert [(d.code, d.message, d.location) for d in diagnostics] == [
        ("MISSING_END_STATE", "Workflow has no terminal state", None)
    ]
    assert definition_error(diagnostics) == (
        "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state'"
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Next": "B"}, "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A"),
        ({"Type": "Sleep", "End": True}, "SCHEMA_VALIDATION_FAILED: The field 'Type' should have "
         "one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at "
         "/States/A/Type"),
        ({"Type": "Pass", "End": True, "TimeoutSeconds": 3},
         "SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported at /States/A"),
        ({"Type": "Pass", "End": True, "Catch": []},
         "SCHEMA_VALIDATION_FAILED: Field 'Catch' is not supported at /States/A"),
        ({"Type": "Pass"}, "SCHEMA_VALIDATION_FAILED: These fields are required: [Next or End] "
         "at /States/A"),
        ({"Type": "Pass", "End": True, "Next": "A"}, "SCHEMA_VALIDATION_FAILED: Only one of "
         "these fields may be given: [Next, End] at /States/A"),
        ({"Type": "Pass", "End": True, "InputPath": "input"}, "SCHEMA_VALIDATION_FAILED: The "
         "value for the field 'InputPath' must be a valid JSONPath at /States/A/InputPath"),
        ({"Type": "Pass", "End": True, "Parameters": {"x.$": "plain"}},
         "SCHEMA_VALIDATION_FAILED: The value for the field 'x.$' must be a valid JSONPath or a "
         "valid intrinsic function call at /States/A/Parameters"),
        ({"Type": "Wait", "End": True}, "SCHEMA_VALIDATION_FAILED: Exactly one of these fields "
         "is required: [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/A"),
        ({"Type": "Wait", "Timestamp": "tomorrow", "End": True}, "SCHEMA_VALIDATION_FAILED: "
         "The field 'Timestamp' must be an ISO-8601 timestamp at /States/A/Timestamp"),
        ({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}, "SCHEMA_VALIDATION_FAILED: Only "
         "one of these fields may be given: [Error, ErrorPath] at /States/A"),
        ({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x",
                                         "NumericEquals": 1, "Next": "A"}]},
         "SCHEMA_VALIDATION_FAILED: A choice rule must have exactly one comparison or one of "
         "[And, Or, Not] at /States/A/Choices[0]"),
        ({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "A"}]},
         "SCHEMA_VALIDATION_FAILED: The value for the field 'NumericEquals' must be a number at "
         "/States/A/Choices[0]/NumericEquals"),
        ({"Type": "Choice", "Choices": [{"Not": {"Variable": "$.a", "IsNull": True,
                                                 "Next": "A"}, "Next": "A"}]},
         "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/A/Choices[0]/Not"),
        ({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
          "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]},
         "SCHEMA_VALIDATION_FAILED: States.ALL must appear alone, in the last rule at "
         "/States/A/Retry[0]/ErrorEquals"),
        ({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
          "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]},
         "SCHEMA_VALIDATION_FAILED: The field 'BackoffRate' must be a number of at least 1.0 at "
         "/States/A/Retry[0]/BackoffRate"),
        ({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
          "TimeoutSeconds": 5, "HeartbeatSeconds": 5},
         "SCHEMA_VALIDATION_FAILED: The field 'HeartbeatSeconds' must be smaller than the field "
         "'TimeoutSeconds' at /States/A/HeartbeatSeconds"),
        ({"Type": "Pass", "End": True, "Assign": {"9x": 1}},
         "SCHEMA_VALIDATION_FAILED: The variable name '9x' is not valid at /States/A/Assign"),
        ({"Type": "Pass", "End": True, "Output": {"x": 1}},
         "SCHEMA_VALIDATION_FAILED: Field 'Output' is only supported in a JSONata state at "
         "/States/A/Output"),
        ({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "InputPath": "$.a"},
         "SCHEMA_VALIDATION_FAILED: Field 'InputPath' is not supported in a JSONata state: use "
         "Arguments and Output at /States/A/InputPath"),
        ({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Output": "{% 1 + %}"},
         "SCHEMA_VALIDATION_FAILED: The JSONata expression is not valid: 1 +: Unexpected end "
         "of expression at /States/A/Output"),
        ({"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Assign": {"states": 1}},
         "SCHEMA_VALIDATION_FAILED: The variable name 'states' is not valid at "
         "/States/A/Assign"),
        ({"Type": "Choice", "QueryLanguage": "JSONata", "Default": "A",
          "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "A"}]},
         "SCHEMA_VALIDATION_FAILED: Field 'Variable' is not supported at /States/A/Choices[0]"),
        ({"Type": "Wait", "QueryLanguage": "JSONata", "SecondsPath": "$.s", "End": True},
         "SCHEMA_VALIDATION_FAILED: Field 'SecondsPath' is not supported in a JSONata state: "
         "use Arguments and Output at /States/A/SecondsPath"),
        ({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
          "QueryLanguage": "JSONata", "TimeoutSeconds": "{% $states.input.t %}",
          "HeartbeatSeconds": "{% ) %}"},
         "SCHEMA_VALIDATION_FAILED: The JSONata expression is not valid: ): The symbol ) "
         "cannot be used as a unary operator at /States/A/HeartbeatSeconds"),
        ({"Type": "Pass", "End": True, "QueryLanguage": "XPath"},
         "SCHEMA_VALIDATION_FAILED: The field 'QueryLanguage' should have one of these values: "
         "[JSONata, JSONPath] at /States/A/QueryLanguage"),
    ],
)  # fmt: skip
def test_schema_problems_are_said_where_they_are(state: dict[str, Any], expected: str) -> None:
    assert said(machine(A=state))[0] == expected


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::lambda:invoke.sync",
        "arn:aws:lambda:eu-fr-1:123456789012:function:f:a:b",
        "arn:aws:states:::ecs:runTask.sync",
        "arn:aws:states:::sns:publish.sync",
    ],
)
def test_resources_not_served_are_refused_by_name(resource: str) -> None:
    found = check_definition(machine(A={"Type": "Task", "Resource": resource, "End": True}))
    assert [(d.code, d.location) for d in found] == [("INVALID_RESOURCE", "/States/A/Resource")]
    assert resource in found[0].message


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:eu-fr-1:123456789012:activity:work",
        "arn:aws:states:::sqs:sendMessage",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::dynamodb:updateItem",
        "arn:aws:states:::events:putEvents",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:lambda:eu-fr-1:123456789012:function:f",
        "arn:aws:lambda:eu-fr-1:123456789012:function:f:live",
    ],
)
def test_served_resources_pass(resource: str) -> None:
    assert check_definition(machine(A={"Type": "Task", "Resource": resource, "End": True})) == []


def test_nested_scopes_are_checked_under_their_own_path() -> None:
    bad_branch = machine(
        P={"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}]},
    )  # fmt: skip
    assert said(bad_branch) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Y at "
        "/States/P/Branches[0]/States/X/Next",
        "MISSING_END_STATE: Workflow has no terminal state",
    ]
    distributed = machine(
        M={"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I",
            "States": {"I": {"Type": "Succeed"}}}},
    )  # fmt: skip
    assert said(distributed) == [
        "SCHEMA_VALIDATION_FAILED: The field 'ExecutionType' should have one of these values: "
        "[STANDARD, EXPRESS] at /States/M/ItemProcessor/ProcessorConfig"
    ]
    legacy = machine(
        M={"Type": "Map", "End": True, "Iterator": {"StartAt": "I",
                                                    "States": {"I": {"Type": "Succeed"}}}},
    )  # fmt: skip
    assert said(legacy) == []


def test_text_that_is_no_definition() -> None:
    assert parse_definition("")[1][0].code == "MISSING_DESCRIPTION"
    assert parse_definition("[1]")[1][0].code == "INVALID_JSON_DESCRIPTION"
    assert parse_definition('{"StartAt": "A"')[1][0].code == "INVALID_JSON_DESCRIPTION"
    assert said({"States": {}}) == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"
    ]
    assert said({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Extra": 1}) == [
        "SCHEMA_VALIDATION_FAILED: Field 'Extra' is not supported at /"
    ]


def test_lambda_invoke_needs_a_function_name() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"Payload.$": "$"}}  # fmt: skip
    assert said(machine(A=task)) == [
        'SCHEMA_VALIDATION_FAILED: The field "FunctionName" is required but was missing at '
        "/States/A/Parameters"
    ]
    task["Parameters"] = {"FunctionName.$": "$.fn"}
    assert said(machine(A=task)) == []
