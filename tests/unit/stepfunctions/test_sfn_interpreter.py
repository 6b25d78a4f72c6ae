"""Decision 0271's interpreter on the ASL examples of AWS's documentation: Pass with Result,
ResultPath and OutputPath; Parameters with paths, the context object and intrinsic functions;
Choice; Wait (the execution only waits, then goes on); Parallel; Map with ItemsPath,
ItemSelector and MaxConcurrency; Retry (attempts, backoff) and Catch; Fail's paths; AWS's
error names; the history events each state leaves."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.stepfunctions.interpreter import Cursor, Interpreter, StatesError, Step

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:eu-fr-1:000000000001:execution:m:e", "Name": "e"},
    "StateMachine": {"Name": "m"},
}


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000
        self.slept: list[float] = []

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += int(seconds * 1000)


class Tasks:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, Any]] = []

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        self.calls.append((resource, parameters))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, StatesError):
            raise outcome
        return outcome


async def run(
    definition: dict[str, Any], data: Any, tasks: Tasks | None = None, time: FakeTime | None = None
) -> tuple[Step, list[str]]:
    time = time or FakeTime()
    machine = Interpreter(definition, CONTEXT, tasks, time.clock, time.sleep)
    cursor: Cursor | None = machine.start(data)
    kinds: list[str] = []
    step = None
    while cursor is not None:
        step = await machine.step(cursor)
        kinds += [e.type for e in step.events]
        if step.waiting:
            assert step.cursor is not None and step.cursor.wait_until is not None
            time.now = step.cursor.wait_until
        cursor = step.cursor
    assert step is not None
    return step, kinds


async def test_pass_result_result_path_and_output_path() -> None:
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
        "ResultPath": "$.coords", "OutputPath": "$", "End": True}}}  # fmt: skip
    step, kinds = await run(definition, {"georefOf": "Home"})
    assert step.output == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }
    assert kinds == ["PassStateEntered", "PassStateExited"]
    discarded = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1,
                                                  "ResultPath": None, "End": True}}}  # fmt: skip
    assert (await run(discarded, {"a": 1}))[0].output == {"a": 1}


async def test_parameters_paths_context_and_intrinsics() -> None:
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "InputPath": "$.order",
        "Parameters": {
            "id.$": "$.id", "execution.$": "$$.Execution.Id",
            "greeting.$": "States.Format('Hello, {}', $.customer)",
            "count.$": "States.ArrayLength($.items)",
            "nested": {"first.$": "$.items[0]", "static": True},
        },
        "ResultPath": "$.shaped", "OutputPath": "$.shaped", "End": True}}}  # fmt: skip
    order = {"id": 7, "customer": "Ana", "items": ["a", "b"]}
    step, _ = await run(definition, {"order": order})
    assert step.output == {
        "id": 7,
        "execution": CONTEXT["Execution"]["Id"],
        "greeting": "Hello, Ana",
        "count": 2,
        "nested": {"first": "a", "static": True},
    }
    missing = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$.nope"},
                                                "End": True}}}  # fmt: skip
    failed, _ = await run(missing, {})
    assert failed.error is not None and failed.error.error == "States.Runtime"
    bad_call = {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"},
        "End": True}}}  # fmt: skip
    failed, _ = await run(bad_call, {"a": [1]})
    assert failed.error is not None and failed.error.error == "States.IntrinsicFailure"


CHOICE = {
    "StartAt": "ChoiceStateX",
    "States": {
        "ChoiceStateX": {
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"And": [{"Variable": "$.value", "IsPresent": True},
                         {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                         {"Variable": "$.value", "NumericLessThan": 30}],
                 "Next": "ValueInTwenties"},
                {"Variable": "$.when", "TimestampLessThanPath": "$.deadline", "Next": "Early"},
                {"Variable": "$.file", "StringMatches": "log-*.txt", "Next": "Log"},
            ],
            "Default": "DefaultState",
        },
        "Public": {"Type": "Succeed"},
        "ValueInTwenties": {"Type": "Succeed"},
        "Early": {"Type": "Succeed"},
        "Log": {"Type": "Succeed"},
        "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "ended_in"),
    [
        ({"type": "Public"}, "Public"),
        ({"type": "Private", "value": 25}, "ValueInTwenties"),
        ({"type": "Private", "value": 35, "when": "2026-01-01T00:00:00Z",
          "deadline": "2026-02-01T00:00:00+01:00"}, "Early"),
        ({"type": "Private", "when": "2026-03-01T00:00:00Z", "deadline": "2026-02-01T00:00:00Z",
          "file": "log-2026.txt"}, "Log"),
    ],
)  # fmt: skip
async def test_choice_rules(data: dict[str, Any], ended_in: str) -> None:
    step, kinds = await run(CHOICE, data)
    assert step.error is None and step.output == data
    assert kinds == ["ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered",
                     "SucceedStateExited"]  # fmt: skip


async def test_choice_default_fail_and_no_match() -> None:
    step, kinds = await run(CHOICE, {"type": "Private", "value": 1, "when": "x",
                                     "deadline": "y", "file": "z"})  # fmt: skip
    assert step.error is not None
    assert (step.error.error, step.error.cause) == ("DefaultStateError", "No Matches!")
    assert kinds[-1] == "FailStateEntered"
    no_default = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "D"}]},
        "D": {"Type": "Succeed"}}}  # fmt: skip
    step, _ = await run(no_default, {"a": 1})
    assert step.error is not None and step.error.error == "States.NoChoiceMatched"
    step, _ = await run(no_default, {})
    assert step.error is not None and step.error.error == "States.Runtime"


async def test_a_wait_only_waits_then_goes_on() -> None:
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "T"},
        "T": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:00Z", "End": True}}}  # fmt: skip
    time = FakeTime()
    machine = Interpreter(definition, CONTEXT, None, time.clock, time.sleep)
    first = await machine.step(machine.start({"delay": 10}))
    assert first.waiting and first.cursor is not None
    assert first.cursor.wait_until == time.now + 10_000
    assert [e.type for e in first.events] == ["WaitStateEntered"]
    again = await machine.step(Cursor.of_json(first.cursor.as_json()))  # as after a restart
    assert again.waiting and again.events == []
    time.now += 10_000
    went_on = await machine.step(again.cursor)  # type: ignore[arg-type]
    assert [e.type for e in went_on.events] == ["WaitStateExited"]
    assert went_on.cursor == Cursor("T", {"delay": 10})
    step, _ = await run(definition, {"delay": 1}, time=time)
    assert step.output == {"delay": 1} and time.now == 1_893_456_000_000


async def test_parallel_branches_and_result_selector() -> None:
    definition = {"StartAt": "P", "States": {"P": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "address", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.phone",
                                              "End": True}}},
        ],
        "ResultSelector": {"address.$": "$[0]", "phone.$": "$[1]"},
        "ResultPath": "$.found", "End": True}}}  # fmt: skip
    step, kinds = await run(definition, {"phone": "+33"})
    assert step.output == {"phone": "+33", "found": {"address": "address", "phone": "+33"}}
    assert kinds[:2] == ["ParallelStateEntered", "ParallelStateStarted"]
    assert kinds[-2:] == ["ParallelStateSucceeded", "ParallelStateExited"]


async def test_map_items_selector_and_concurrency() -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "InputPath": "$.detail", "ItemsPath": "$.shipped", "MaxConcurrency": 1,
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value",
                         "customer.$": "$.customer"},
        "ItemProcessor": {"StartAt": "V", "States": {"V": {
            "Type": "Pass", "Parameters": {"line.$": "States.Format('{}#{}', $.customer, "
                                                    "$.index)", "prod.$": "$.item.prod"},
            "End": True}}},
        "ResultPath": "$.detail.validated", "End": True}}}  # fmt: skip
    data = {"detail": {"customer": "c1", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}}
    step, kinds = await run(definition, data)
    assert step.output["detail"]["validated"] == [
        {"line": "c1#0", "prod": "R31"},
        {"line": "c1#1", "prod": "S39"},
    ]
    assert kinds.count("MapIterationStarted") == 2
    assert kinds.count("MapIterationSucceeded") == 2
    assert {"MapStateStarted", "MapStateSucceeded"} <= set(kinds)
    not_a_list = await run(definition, {"detail": {"customer": "c", "shipped": 3}})
    assert not_a_list[0].error is not None and not_a_list[0].error.error == "States.Runtime"


async def test_retry_with_backoff_then_catch() -> None:
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "CustomError",
                                                "Cause": "boom"}}}  # fmt: skip
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [failing],
              "Retry": [{"ErrorEquals": ["Other"]},
                        {"ErrorEquals": ["CustomError"], "IntervalSeconds": 2, "MaxAttempts": 3,
                         "BackoffRate": 3.0, "MaxDelaySeconds": 10}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                         "Next": "Recover"}],
              "Next": "Done"},
        "Recover": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    time = FakeTime()
    step, kinds = await run(definition, {"in": 1}, time=time)
    assert time.slept == [2.0, 6.0, 10.0]  # 2, 2x3, capped at 10
    assert kinds.count("FailStateEntered") == 4
    assert step.output == {"in": 1, "error": {"Error": "CustomError", "Cause": "boom"}}


async def test_tasks_results_timeouts_and_terminal_errors() -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
              "Parameters": {"Message.$": "$.m"}, "ResultSelector": {"id.$": "$.MessageId"},
              "ResultPath": "$.sent",
              "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}  # fmt: skip
    tasks = Tasks(StatesError("SNS.Throttled", "slow"), {"MessageId": "m-1"})
    step, kinds = await run(definition, {"m": "hi"}, tasks)
    assert step.output == {"m": "hi", "sent": {"id": "m-1"}}
    assert tasks.calls == [("arn:aws:states:::sns:publish", {"Message": "hi"})] * 2
    assert kinds == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
    ]  # fmt: skip
    # No runner: States.Runtime, which States.ALL does not catch.
    step, _ = await run(definition, {"m": "hi"})
    assert step.error is not None and step.error.error == "States.Runtime"


async def test_fail_error_and_cause_paths() -> None:
    definition = {"StartAt": "F", "States": {"F": {
        "Type": "Fail", "ErrorPath": "$.e",
        "CausePath": "States.Format('code {}', $.c)"}}}  # fmt: skip
    step, _ = await run(definition, {"e": "Bad", "c": 42})
    assert step.error is not None and (step.error.error, step.error.cause) == ("Bad", "code 42")


async def test_a_value_of_the_wrong_kind_fails_the_execution() -> None:
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "TimeoutSecondsPath": "$.timeout", "End": True}}}  # fmt: skip
    step, _ = await run(definition, {"timeout": "soon"}, Tasks({"MessageId": "m"}))
    assert step.error is not None and step.error.error == "States.Runtime"
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.at",
                                              "End": True}}}  # fmt: skip
    step, _ = await run(waits, {"at": ["not", "a", "time"]})
    assert step.error is not None and step.error.error == "States.Runtime"
    beats = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "HeartbeatSecondsPath": "$.beat", "End": True}}}  # fmt: skip
    step, _ = await run(beats, {"beat": "often"}, Tasks({}))
    assert step.error is not None and "ValueError in state T" in step.error.cause
