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


# Decision 0393: a stop seen at once during a sleep, and a child's history cut as it runs.


async def test_a_rung_stop_ends_the_call_at_once_without_asking() -> None:
    asked: list[int] = []

    async def halted() -> bool:
        asked.append(1)
        return False

    signals = halting.StopSignals()
    with signals.watching("arn:e") as watch:
        asyncio.get_running_loop().call_later(0.05, signals.ring, "arn:e")
        began = asyncio.get_running_loop().time()
        with pytest.raises(Stopped):
            await halting.until_halted(asyncio.sleep(3600), halted, Stopped, every=60,
                                       rung=watch.rung)  # fmt: skip
    assert asyncio.get_running_loop().time() - began < 5
    assert asked == []  # told, not asked
    signals.ring("arn:e")  # no one watches any more: nothing to tell


def test_a_ring_reaches_only_the_watchers_of_its_execution() -> None:
    signals = halting.StopSignals()
    with signals.watching("arn:one") as one, signals.watching("arn:two") as two:
        signals.ring("arn:one")
        assert one.rung.is_set() and not two.rung.is_set()


LOOP = {"StartAt": "Pause", "States": {
    "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "After"},
    "After": {"Type": "Pass", "End": True}}}  # fmt: skip


def stopping_after(asks: int) -> Any:
    stops = {"asked": 0}

    async def halted() -> bool:
        stops["asked"] += 1
        return stops["asked"] > asks

    return halted


async def test_a_child_stopped_in_a_wait_ends_at_its_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Wait is slept with the real clock: an hour unless the stop cuts it."""
    monkeypatch.setattr(halting, "POLL_SECONDS", 0.01)
    parent = Interpreter({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {})
    events: list[Event] = []
    child = parent.child(LOOP, {"Execution": {"Id": "arn"}}, stopping_after(1))
    with pytest.raises(ChildStopped):
        await asyncio.wait_for(child.run_states({}, events), 10)
    kinds = [e.type for e in events]
    assert kinds == ["WaitStateEntered"]  # no WaitStateExited, no further state


async def test_a_child_stopped_in_a_retry_interval_makes_no_new_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(halting, "POLL_SECONDS", 0.01)
    failing = {"StartAt": "F", "States": {"F": {
        "Type": "Parallel", "End": True,
        "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Fail", "Error": "Flaky"}}}],
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3600}]}}}  # fmt: skip
    parent = Interpreter({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {})
    events: list[Event] = []
    child = parent.child(failing, {"Execution": {"Id": "arn"}}, stopping_after(2))
    with pytest.raises(ChildStopped):
        await asyncio.wait_for(child.run_states({}, events), 10)
    assert [e.type for e in events].count("ParallelStateStarted") == 1


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        self.calls += 1
        await asyncio.sleep(0)
        return {}


async def test_a_looping_child_ends_as_its_history_crosses_the_limit() -> None:
    looping = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": None,
              "Next": "Again"},
        "Again": {"Type": "Choice", "Default": "T",
                  "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    tasks = Counting()
    parent = Interpreter({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {},
                         tasks)  # fmt: skip
    events: list[Event] = []
    child = parent.child(looping, {"Execution": {"Id": "arn"}}, history_room=20)
    with pytest.raises(halting.HistoryFull):
        await asyncio.wait_for(child.run_states({}, events), 10)
    # Each round leaves 7 events (the Task's 5, the Choice's 2): the third crosses 20, and
    # the child ends there, its Task called no fourth time.
    assert (len(events), tasks.calls) == (21, 3)


# Decision 0407: StopExecution halts the step of this process first and takes its events.


async def test_halting_waits_for_the_step_and_takes_what_it_left() -> None:
    signals = halting.StopSignals()
    left: list[Event] = [Event("WaitStateAborted")]

    async def step() -> None:
        with signals.watching("arn:e") as watch:
            await watch.rung.wait()
            await asyncio.sleep(0.05)  # the step unwinds before it hands over
            watch.flight = left

    stepping = asyncio.create_task(step())
    await asyncio.sleep(0)
    async with signals.halting("arn:e") as flight:
        assert stepping.done() and flight == left
        with signals.watching("arn:e") as late:
            assert late.rung.is_set()  # no step begins while the stop is written
    with signals.watching("arn:e") as after:
        assert not after.rung.is_set()


async def test_halting_with_no_step_running_takes_nothing_at_once() -> None:
    async with halting.StopSignals().halting("arn:e") as flight:
        assert flight == []


async def test_a_step_that_does_not_end_in_time_is_left_behind() -> None:
    signals = halting.StopSignals()
    with signals.watching("arn:e") as stuck:
        stuck.flight = [Event("TaskStateAborted")]
        async with signals.halting("arn:e", within=0.05) as flight:
            assert flight == []  # not handed over: its events are not kept


async def test_an_execution_stopping_itself_does_not_wait_for_its_own_step() -> None:
    """An SDK task of the execution calling its StopExecution: its step cannot end first."""
    signals = halting.StopSignals()
    with signals.watching("arn:e") as own:
        token = halting.STEPPING.set("arn:e")
        try:
            async with signals.halting("arn:e", within=60) as flight:
                assert flight == [] and not own.rung.is_set()
        finally:
            halting.STEPPING.reset(token)


def test_what_a_cursor_at_rest_had_in_flight() -> None:
    from andromede.stepfunctions.branch_steps import aborted_at_rest

    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True},
                                        "P": {"Type": "Pass", "End": True}}}  # fmt: skip
    assert aborted_at_rest(waits, {"state": "W", "data": {}, "wait_until": None}) == []
    assert aborted_at_rest(waits, {"state": "W", "data": {}, "wait_until": 1}) == [
        Event("WaitStateAborted")]  # fmt: skip
    assert aborted_at_rest(waits, None) == []
    parallel = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True,
                                                       "Branches": [waits, waits]}}}  # fmt: skip
    runs = [{"begun": True, "cursor": {"state": "W", "data": {}, "wait_until": 1}},
            {"begun": True, "output": {}}]  # fmt: skip
    cursor = {"state": "Both", "data": {}, "wait_until": 1, "task": {"runs": runs}}
    assert [e.type for e in aborted_at_rest(parallel, cursor)] == [
        "WaitStateAborted",
        "ParallelStateAborted",
    ]  # the branch that ended: nothing


async def test_a_child_s_branches_count_their_events_together_against_its_room() -> None:
    """Decision 0407: a Parallel's branches hold their events apart until it ends; the room
    counts them with the child's history, not each branch against it alone."""
    looping = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": None,
              "Next": "Again"},
        "Again": {"Type": "Choice", "Default": "T",
                  "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    both = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [looping, looping]}}}  # fmt: skip
    tasks = Counting()
    parent = Interpreter({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {},
                         tasks)  # fmt: skip
    child = parent.child(both, {"Execution": {"Id": "arn"}}, history_room=20)
    with pytest.raises(halting.HistoryFull):
        await asyncio.wait_for(child.run_states({}, []), 10)
    # Each branch alone would cross 20 at its third round (six calls in all): together, the
    # Parallel's 2 events and theirs cross it within their second.
    assert tasks.calls <= 4
