"""Decision 0329: JSONata states (``Arguments``, ``Output``, ``$states.*``, Choice
``Condition``, Map ``Items``, Wait ``Seconds`` expressions, Catch ``Output``/``Assign``) and
workflow variables (``Assign`` in both languages, ``$name`` in JSONPath, scopes of Parallel
branches, AWS's size limits, kept in the cursor across a restart, ``assignedVariables`` in
the StateExited events), on AWS's documented examples."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from andromede.stepfunctions.interpreter import Cursor, Interpreter, StatesError, Step
from andromede.stepfunctions.jsonata_query import QueryFailure, evaluate, resolve
from andromede.stepfunctions.variables import VariableLimits

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:eu-fr-1:000000000001:execution:m:e", "Name": "e"},
    "StateMachine": {"Name": "m"},
}
LAMBDA = "arn:aws:states:::lambda:invoke"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class Tasks:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Any] = []

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        self.calls.append(parameters)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, StatesError):
            raise outcome
        return outcome


async def run(
    definition: dict[str, Any],
    data: Any,
    tasks: Tasks | None = None,
    limits: VariableLimits | None = None,
    restart: bool = False,
) -> tuple[Step, list[Any]]:
    """The execution stepped to its end (each step's cursor through JSON and a new
    interpreter when ``restart``, as a gateway's restart reads it back): its last step and
    its events."""
    time = FakeTime()
    machine = Interpreter(definition, CONTEXT, tasks, time.clock, time.sleep, limits)
    cursor: Cursor | None = machine.start(data)
    events: list[Any] = []
    step = None
    while cursor is not None:
        step = await machine.step(cursor)
        events += step.events
        if step.waiting:
            assert step.cursor is not None and step.cursor.wait_until is not None
            time.now = step.cursor.wait_until
        cursor = step.cursor
        if restart and cursor is not None:
            cursor = Cursor.of_json(cursor.as_json())
            machine = Interpreter(definition, CONTEXT, tasks, time.clock, time.sleep, limits)
    assert step is not None
    return step, events


def jsonata(states: dict[str, Any], start: str = "A") -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": start, "States": states}


async def test_arguments_output_assign_and_a_condition() -> None:
    definition = jsonata({
        "A": {"Type": "Task", "Resource": LAMBDA,
              "Arguments": {"FunctionName": "f", "Payload": {
                  "title": "{% $states.input.title %}", "static": "Hello",
                  "execution": "{% $states.context.Execution.Name %}"}},
              "Assign": {"total": "{% $states.result.Payload.total %}",
                         "who": "{% $states.input.customer %}"},
              "Output": {"kept": "{% $states.result.Payload.total * 2 %}"},
              "Next": "B"},
        "B": {"Type": "Choice", "Choices": [
                 {"Condition": "{% $total > 100 %}", "Next": "Big",
                  "Assign": {"size": "big"}}],
              "Default": "Small"},
        "Big": {"Type": "Pass", "Output": {"who": "{% $who %}", "size": "{% $size %}",
                                           "input": "{% $states.input %}"}, "End": True},
        "Small": {"Type": "Fail", "Error": "Small", "Cause": "{% 'only ' & $string($total) %}"},
    })  # fmt: skip
    tasks = Tasks({"Payload": {"total": 150}})
    step, events = await run(definition, {"title": "Doctor", "customer": "María"}, tasks)
    assert tasks.calls == [{"FunctionName": "f", "Payload": {
        "title": "Doctor", "static": "Hello", "execution": "e"}}]  # fmt: skip
    assert step.output == {"who": "María", "size": "big", "input": {"kept": 300}}
    exited = next(e.details for e in events if e.type == "TaskStateExited")
    assigned = exited["assignedVariables"]
    assert {name: json.loads(value) for name, value in assigned.items()} == {
        "total": 150, "who": "María"}  # fmt: skip
    assert exited["assignedVariablesDetails"] == {"truncated": False}
    small, _ = await run(definition, {"title": "", "customer": "x"}, Tasks({"Payload": {
        "total": 7}}))  # fmt: skip
    assert small.error is not None and (small.error.error, small.error.cause) == ("Small", "only 7")


async def test_output_and_assign_read_the_variables_as_the_state_began() -> None:
    definition = jsonata({
        "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"n": "{% $n + 1 %}"},
              "Output": {"seen": "{% $n %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Output": {"seen": "{% $n %}", "before": "{% $states.input %}"},
              "End": True},
    })  # fmt: skip
    step, _ = await run(definition, {})
    assert step.output == {"seen": 2, "before": {"seen": 1}}


async def test_jsonpath_assign_and_variables_in_parameters_and_choice() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "f"},
              "ResultSelector": {"total.$": "$.Payload.total"},
              "Assign": {"total.$": "$.total", "customer.$": "$$.Execution.Name",
                         "fixed": {"a": [1, 2]}},
              "ResultPath": "$.result", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [
                 {"Variable": "$total", "NumericGreaterThan": 100, "Next": "C",
                  "Assign": {"branch": "big"}}],
              "Default": "D", "Assign": {"branch": "default"}},
        "C": {"Type": "Pass", "Parameters": {"t.$": "$total", "second.$": "$fixed.a[1]",
                                             "who.$": "$customer", "in.$": "$.result",
                                             "said.$": "States.Format('{} {}', $customer, "
                                                       "$fixed.a[0])", "branch.$": "$branch"},
              "End": True},
        "D": {"Type": "Pass", "Parameters": {"branch.$": "$branch"}, "End": True},
    }}  # fmt: skip
    small, _ = await run(definition, {}, Tasks({"Payload": {"total": 1}}))
    assert small.output == {"branch": "default"}
    step, _ = await run(definition, {}, Tasks({"Payload": {"total": 101}}))
    assert step.output == {"t": 101, "second": 2, "who": "e", "in": {"total": 101},
                           "said": "e 1", "branch": "big"}  # fmt: skip
    unset = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "$nope"},
                                              "End": True}}}  # fmt: skip
    failed, _ = await run(unset, {})
    assert failed.error is not None and failed.error.error == "States.Runtime"


async def test_branches_read_outer_variables_and_keep_their_own() -> None:
    definition = jsonata({
        "A": {"Type": "Pass", "Assign": {"rate": 2, "tag": "outer"}, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [
                 {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"tag": "inner"},
                                                     "Next": "B2"},
                                              "B2": {"Type": "Pass", "Output": "{% $tag %}",
                                                     "End": True}}},
                 {"StartAt": "C1", "States": {"C1": {"Type": "Pass",
                                                     "Output": "{% $rate * 10 %}",
                                                     "End": True}}}],
              "Assign": {"branches": "{% $states.result %}"}, "Next": "M"},
        "M": {"Type": "Map", "Items": "{% [1, 2, 3] %}",
              "ItemSelector": {"v": "{% $states.context.Map.Item.Value * $rate %}",
                               "i": "{% $states.context.Map.Item.Index %}"},
              "ItemProcessor": {"StartAt": "I", "States": {"I": {
                  "Type": "Pass", "Output": "{% $states.input.v + $states.input.i %}",
                  "End": True}}},
              "Output": {"map": "{% $states.result %}", "branches": "{% $branches %}",
                         "tag": "{% $tag %}"},
              "End": True},
    })  # fmt: skip
    step, _ = await run(definition, {}, restart=True)
    assert step.output == {"map": [2, 5, 8], "branches": ["inner", 20], "tag": "outer"}


async def test_catch_output_and_assign_with_the_error_output() -> None:
    definition = jsonata({
        "A": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"FunctionName": "f"},
              "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B",
                         "Assign": {"failure": "{% $states.errorOutput.Error %}"},
                         "Output": {"why": "{% $states.errorOutput.Cause %}",
                                    "had": "{% $states.input %}"}}],
              "End": True},
        "B": {"Type": "Pass", "Output": {"failure": "{% $failure %}",
                                         "was": "{% $states.input %}"}, "End": True},
    })  # fmt: skip
    tasks = Tasks(StatesError("Flaky", "once"), StatesError("Broken", "twice"))
    step, _ = await run(definition, {"k": 1}, tasks)
    assert step.output == {"failure": "Broken", "was": {"why": "twice", "had": {"k": 1}}}


async def test_a_failing_expression_is_a_query_evaluation_error_catch_can_catch() -> None:
    definition = jsonata({
        "A": {"Type": "Pass", "Output": "{% $parse('not json') %}", "Next": "B",
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "B"}]},
        "B": {"Type": "Choice", "Choices": [{"Condition": "{% 'text' %}", "Next": "C"}],
              "Default": "C"},
        "C": {"Type": "Succeed"},
    })  # fmt: skip
    step, events = await run(definition, {})
    assert step.error is not None and step.error.error == "States.QueryEvaluationError"
    assert "Condition" in step.error.cause
    assert [e.type for e in events] == [
        "PassStateEntered", "EvaluationFailed", "PassStateExited", "ChoiceStateEntered",
        "EvaluationFailed"]  # fmt: skip
    failures = [e.details for e in events if e.type == "EvaluationFailed"]
    assert [(f["state"], f["location"], f["error"]) for f in failures] == [
        ("A", "Output", "States.QueryEvaluationError"),
        ("B", "Condition", "States.QueryEvaluationError")]  # fmt: skip
    assert "$parse('not json')" in failures[0]["cause"]


async def test_a_wait_of_an_expression_and_a_timestamp() -> None:
    definition = jsonata({
        "A": {"Type": "Wait", "Seconds": "{% $states.input.delay * 2 %}", "Next": "B",
              "Assign": {"waited": "{% $states.input.delay %}"}},
        "B": {"Type": "Wait", "Timestamp": "{% $states.input.at %}", "Output": "{% $waited %}",
              "End": True},
    })  # fmt: skip
    step, events = await run(definition, {"delay": 5, "at": "2027-01-15T08:00:00Z"})
    assert step.output == 5
    assert [e.type for e in events].count("WaitStateExited") == 2


async def test_variables_survive_a_restart_between_steps() -> None:
    definition = jsonata({
        "A": {"Type": "Pass", "Assign": {"counter": "{% $states.input.start %}"}, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 60, "Next": "B"},
        "B": {"Type": "Pass", "Output": "{% $counter + 1 %}", "End": True},
    })  # fmt: skip
    step, _ = await run(definition, {"start": 41}, restart=True)
    assert step.output == 42
    time = FakeTime()
    machine = Interpreter(definition, CONTEXT, None, time.clock, time.sleep)
    first = await machine.step(machine.start({"start": 1}))
    assert first.cursor is not None and first.cursor.as_json()["variables"] == {"counter": 1}


async def test_variables_over_their_limits_fail_the_state() -> None:
    definition = jsonata({"A": {"Type": "Pass", "Assign": {"big": "{% $states.input %}"},
                                "End": True}})  # fmt: skip
    small = VariableLimits(variable_size=10, assign_size=100, total_size=1000)
    step, _ = await run(definition, "x" * 20, limits=small)
    assert step.error is not None and step.error.error == "States.DataLimitExceeded"
    fits, _ = await run(definition, "x" * 5, limits=small)
    assert fits.error is None
    total = VariableLimits(variable_size=100, assign_size=100, total_size=30)
    twice = jsonata({
        "A": {"Type": "Pass", "Assign": {"a": "{% $states.input %}"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"b": "{% $states.input %}"}, "End": True},
    })  # fmt: skip
    over, _ = await run(twice, "y" * 20, limits=total)
    assert over.error is not None and "over 30 bytes" in over.error.cause


def test_the_functions_step_functions_adds() -> None:
    bindings = {"states": {"input": {"a": [1, 2, 3, 4, 5]}}}
    assert evaluate("$partition($states.input.a, 2)", bindings) == [[1, 2], [3, 4], [5]]
    assert evaluate("$range(0, 10, 2)", bindings) == [0, 2, 4, 6, 8, 10]
    assert evaluate('$hash("abc", "SHA-256")', bindings).startswith("ba7816bf8f01cfea")
    assert evaluate("$random(7)", bindings) == evaluate("$random(7)", bindings)
    assert 0 <= evaluate("$random()", bindings) < 1
    assert len(evaluate("$uuid()", bindings)) == 36
    assert evaluate("$parse('{\"x\": [1]}')", bindings) == {"x": [1]}
    assert resolve({"k": ["{% $sum($states.input.a) %}", "plain"]}, bindings) == {
        "k": [15, "plain"]}  # fmt: skip
    with pytest.raises(QueryFailure, match=r"\$eval"):
        evaluate('$eval("1 + 1")', bindings)


async def test_a_tasks_timeout_and_a_maps_concurrency_of_expressions() -> None:
    task = {"Type": "Task", "Resource": LAMBDA, "Arguments": {"FunctionName": "f"},
            "TimeoutSeconds": "{% $states.input.timeout %}", "End": True}  # fmt: skip
    step, _ = await run(jsonata({"A": task}), {"timeout": 30}, Tasks({"ok": 1}))
    assert step.output == {"ok": 1}
    wrong, _ = await run(jsonata({"A": task}), {"timeout": "soon"}, Tasks({"ok": 1}))
    assert wrong.error is not None and "timeout must be a positive number" in wrong.error.cause
    mapped = jsonata({"M": {
        "Type": "Map", "Items": "{% $states.input.items %}",
        "MaxConcurrency": "{% $states.input.most %}",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {
            "Type": "Pass", "Output": "{% $states.input * 10 %}", "End": True}}},
        "End": True}}, start="M")  # fmt: skip
    done, events = await run(mapped, {"items": [1, 2, 3], "most": 1})
    assert done.output == [10, 20, 30]
    assert [e.type for e in events].count("MapIterationSucceeded") == 3


async def test_iterations_never_see_each_others_variables() -> None:
    definition = jsonata({
        "M": {"Type": "Map", "Items": "{% [1, 2, 3] %}", "MaxConcurrency": 1,
              "ItemProcessor": {"StartAt": "I", "States": {"I": {
                  "Type": "Pass", "Assign": {"mine": "{% $states.input %}"},
                  "Output": {"seen": "{% $exists($mine) %}", "item": "{% $states.input %}"},
                  "Next": "J"},
                  "J": {"Type": "Pass", "Output": "{% $mine %}", "End": True}}},
              "Output": {"items": "{% $states.result %}", "outside": "{% $exists($mine) %}"},
              "End": True}}, start="M")  # fmt: skip
    step, events = await run(definition, {})
    assert step.output == {"items": [1, 2, 3], "outside": False}
    exits = [json.loads(e.details["output"]) for e in events
             if e.type == "PassStateExited" and e.details["name"] == "I"]  # fmt: skip
    assert exits == [{"seen": False, "item": 1}, {"seen": False, "item": 2},
                     {"seen": False, "item": 3}]  # fmt: skip


def test_the_library_leaves_the_process_recursion_limit_as_it_found_it() -> None:
    """jsonata-python raises the process's recursion limit to 10,000 when imported; the serve
    keeps its own (decision 0329's addendum), checked in a fresh interpreter."""
    probe = (
        "import sys; before = sys.getrecursionlimit(); "
        "import andromede.stepfunctions.jsonata_query; "
        "import jsonata; print(before, sys.getrecursionlimit())"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    before, after = ran.stdout.split()
    assert after == before
