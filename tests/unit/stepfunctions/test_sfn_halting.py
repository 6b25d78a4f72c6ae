"""Decision 0383: a Map run's child stopped while one of its tasks runs ends at its stop —
the task's call raced against the child's status, cancelled (and awaited to its end) once
the child says it was stopped; a call that ends first is answered as it is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from andromede.stepfunctions import halting
from andromede.stepfunctions.interpreter import ChildStopped, Event, Interpreter


class Stopped(Exception):
    pass


async def test_a_call_that_ends_first_is_answered_without_asking() -> None:
    asked: list[int] = []

    async def halted() -> bool:
        asked.append(1)
        return True

    async def quick() -> str:
        return "done"

    assert await halting.until_halted(quick(), halted, Stopped, every=5) == "done"
    assert asked == []  # within the first interval: no status read


async def test_a_stop_cancels_the_call_and_leaves_nothing_running() -> None:
    answers = iter([False, True])
    ended: list[str] = []

    async def halted() -> bool:
        return next(answers)

    async def slow() -> str:
        try:
            await asyncio.sleep(60)
        finally:
            ended.append("cancelled")
        return "late"

    with pytest.raises(Stopped):
        await halting.until_halted(slow(), halted, Stopped, every=0.01)
    assert ended == ["cancelled"]  # the call saw its cancellation before the raise returned


class Blocking:
    """A task runner whose task never answers."""

    def __init__(self) -> None:
        self.cancelled = False

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return {}


async def test_a_child_stopped_during_its_task_stops_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the interpreter: no ``Catch`` of the child's sees the stop, its next state
    never runs, and the task's call is cancelled."""
    monkeypatch.setattr(halting, "POLL_SECONDS", 0.01)
    stops = {"asked": 0}

    async def halted() -> bool:
        stops["asked"] += 1
        return stops["asked"] > 2  # before its first state: no; during the task: yes

    tasks = Blocking()
    processor = {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": "q", "MessageBody": "x"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}], "Next": "After"},
        "After": {"Type": "Pass", "End": True}}}  # fmt: skip
    parent = Interpreter({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                         {}, tasks)  # fmt: skip
    events: list[Event] = []
    child = parent.child(processor, {"Execution": {"Id": "arn"}}, halted)
    with pytest.raises(ChildStopped):
        await asyncio.wait_for(child.run_states({}, events), 10)
    assert tasks.cancelled
    assert "PassStateEntered" not in [e.type for e in events]
