"""Decision 0416 for a distributed Map: once its children's failures pass the tolerated
ones, the run fails and the children still running are stopped, as AWS's (its
``MapRunExecutionCounts.aborted``: "stopped … by Step Functions because the Map Run
failed") — each ABORTED, its history its states' events up to the cut, their ``…Aborted``
events, then ``ExecutionAborted``, counted aborted; no state of theirs runs after. The
Waits last an hour, really slept: without the cut, the run would not end in the bound."""

from __future__ import annotations

import asyncio
from typing import Any

from andromede.stepfunctions.interpreter import StatesError
from unit.stepfunctions.test_sfn_distributed_map import TASK, Host, distributed, run

PROCESSOR = {"StartAt": "Which", "States": {
    "Which": {"Type": "Choice", "Default": "Pause", "Choices": [
        {"Variable": "$.fail", "IsPresent": True, "Next": "Boom"}]},
    "Boom": {"Type": "Fail", "Error": "Broke"},
    "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
    **TASK["States"]}}  # fmt: skip


async def test_children_running_past_the_tolerated_failures_are_stopped() -> None:
    host = Host({})
    definition = distributed(processor=PROCESSOR, ItemsPath="$.items", ToleratedFailureCount=1)
    items: list[dict[str, Any]] = [{"n": 0}, {"n": 1, "fail": 1}, {"n": 2}, {"n": 3, "fail": 1}]
    error, kinds = await asyncio.wait_for(run(definition, {"items": items}, host), 10)
    assert isinstance(error, StatesError)
    assert error.error == "States.ExceedToleratedFailureThreshold"
    assert kinds[-2:] == ["MapRunFailed", "MapStateFailed"]
    assert host.contexts == []  # no Task after a cut Wait was called
    by_item = {c.index: c for c in host.children.values()}
    assert {i: c.status for i, c in by_item.items()} == {
        0: "ABORTED", 1: "FAILED", 2: "ABORTED", 3: "FAILED"}  # fmt: skip
    assert [e.type for e in by_item[0].history] == [
        "ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "WaitStateEntered",
        "WaitStateAborted", "ExecutionAborted"]  # fmt: skip
    final = host.runs[-1]
    assert final.status == "FAILED"
    assert (final.execution_counts["aborted"], final.execution_counts["failed"]) == (2, 2)
    assert final.execution_counts["running"] == 0


async def test_children_within_the_tolerance_run_to_their_end() -> None:
    host = Host({})
    quick = {**PROCESSOR, "States": {**PROCESSOR["States"], "Pause": {
        "Type": "Wait", "Seconds": 0, "Next": "T"}}}  # fmt: skip
    definition = distributed(processor=quick, ItemsPath="$.items", ToleratedFailureCount=1)
    output, _ = await asyncio.wait_for(run(definition, {"items": [{"n": 0}, {"fail": 1}]},
                                           host), 10)  # fmt: skip
    assert output[0] == {"done": 0} and output[1]["Error"] == "Broke"
    assert sorted(c.status for c in host.children.values()) == ["FAILED", "SUCCEEDED"]
