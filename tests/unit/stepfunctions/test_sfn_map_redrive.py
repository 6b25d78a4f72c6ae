"""Decision 0377's choice of the run a redriven Map state redrives when no failure named it
(``stopped_run``), and how a run's kept children are sorted for the redrive (0383: which
cannot be redriven, which start anew, and each with its own input)."""

from __future__ import annotations

import json

import pytest

from andromede.stepfunctions.distributed_map import _redriven_inputs
from andromede.stepfunctions.executions import HistoryEvent
from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_redrive import (
    child_not_redrivable,
    run_to_redrive,
    sorted_children,
    stopped_run,
)
from andromede.stepfunctions.map_runs import MapRun

T0 = 1_800_000_000_000
EXECUTION = "arn:aws:states:eu-fr-1:000000000001:execution:m:e"


def run(
    label: str, status: str = "ABORTED", stopped: int = T0, redrive_date: int | None = None
) -> MapRun:
    return MapRun("000000000001", f"arn:aws:states:eu-fr-1:000000000001:mapRun:m/{label}:"
                  f"{label}-{status}-{stopped}", EXECUTION, T0 - 10, 0, 0.0, 0, status=status,
                  stopped=stopped, redrive_date=redrive_date)  # fmt: skip


def test_the_one_unsucceeded_run_of_the_label_before_the_redrive_is_chosen() -> None:
    wanted = run("orders")
    runs = [run("orders", "SUCCEEDED"), wanted, run("other")]
    assert stopped_run(runs, "orders", T0 + 5) == wanted.arn
    assert stopped_run(runs, "orders", None) is None  # not a redrive: a new run
    assert stopped_run(runs, "orders", T0 - 1) is None  # ended after the redrive
    assert stopped_run([run("orders", redrive_date=T0 + 5)], "orders", T0 + 5) is None
    assert stopped_run([run("orders", redrive_date=T0 + 1)], "orders", T0 + 5) is not None
    # Two such runs cannot be told apart: a new run rather than the wrong one.
    assert stopped_run([wanted, run("orders", "FAILED", T0 + 1)], "orders", T0 + 5) is None
    # Without a Label: any label, but only one such run.
    assert stopped_run([run("a1b2c3d4", "FAILED")], None, T0 + 5) is not None
    assert stopped_run(runs, None, T0 + 5) is None


WINDOW = 14 * 86_400_000


def child(
    name: str, status: str, index: int | None, kind: str = "execution", **fields: object
) -> MapChild:
    found = MapChild("000000000001", "r", f"arn:aws:states:eu-fr-1:000000000001:{kind}:"
                     f"m/l:{name}", T0, json.dumps({"id": name}), 1, status=status, index=index,
                     stopped=T0 + 1)  # fmt: skip
    return found.changed(**fields)


def begun(n: int, status: str = "FAILED") -> MapRun:
    return run("l", status).changed(execution_counts={"total": n, "succeeded": 1, "failed": n - 1})


def test_children_are_sorted_by_outcome_index_and_kind() -> None:
    """Decision 0383: succeeded ones skipped, STANDARD ones again under their ARN, EXPRESS
    ones anew, ones that cannot be redriven left as they ended."""
    events = tuple(HistoryEvent(i + 1, i, T0, "PassStateEntered", None, {}) for i in range(9))
    sorted_ = sorted_children(begun(7), [
        child("a", "SUCCEEDED", 0), child("b", "FAILED", 1), child("c", "TIMED_OUT", 2),
        child("d", "ABORTED", 3), child("e", "FAILED", 4, "express"),
        child("f", "FAILED", 5, history=events), child("g", "FAILED", 6, stopped=T0 - WINDOW)],
        T0 + 5, WINDOW, 10)  # fmt: skip
    assert sorted_ is not None
    assert sorted(sorted_.succeeded) == [0]
    assert sorted(sorted_.again) == [1, 2, 3]
    assert sorted(sorted_.anew) == [4]
    assert sorted(sorted_.not_redrivable) == [5, 6]  # its history full; ended too long ago
    assert sorted_.total == 7 and sorted_.unbegun() == []
    assert run_to_redrive({"MapRunArn": "arn"}) == "arn"
    assert run_to_redrive({"0": {"out": 1}}) is None and run_to_redrive(None) is None


def test_a_run_whose_record_is_not_whole_is_not_redriven() -> None:
    """A child kept before migration 0154 (no index), or fewer kept than the run began
    (beyond the bound): which item each place ran is not known — None, a new run."""
    assert sorted_children(begun(2), [child("a", "SUCCEEDED", 0), child("b", "FAILED", None)],
                           T0, WINDOW, 100) is None  # fmt: skip
    assert sorted_children(begun(3), [child("a", "SUCCEEDED", 0), child("b", "FAILED", 1)],
                           T0, WINDOW, 100) is None  # fmt: skip
    # The run stopped before its last place began: that place is read again, by index.
    whole = sorted_children(begun(2).changed(execution_counts={"total": 3, "failed": 2}),
                            [child("a", "SUCCEEDED", 0), child("b", "FAILED", 1)],
                            T0, WINDOW, 100)  # fmt: skip
    assert whole is not None and whole.unbegun() == [2]


def test_an_index_run_anew_is_its_latest_child_s() -> None:
    old = child("old", "FAILED", 0, "express")
    new = child("new", "SUCCEEDED", 0, "express", started=T0 + 10)
    sorted_ = sorted_children(begun(1), [new, old], T0 + 20, WINDOW, 100)
    assert sorted_ is not None and sorted_.succeeded == {0: new} and not sorted_.anew


def test_why_a_child_is_not_redrivable() -> None:
    assert child_not_redrivable(child("a", "FAILED", 0), T0 + 5, WINDOW, 100) is None
    assert child_not_redrivable(child("a", "SUCCEEDED", 0), T0, WINDOW, 100) == (
        "Execution is SUCCEEDED and cannot be redriven.")  # fmt: skip
    late = child("a", "ABORTED", 0)
    assert child_not_redrivable(late, T0 + 2 + WINDOW, WINDOW, 100) == (
        "Execution redrivable period exceeded.")  # fmt: skip
    full = child("a", "FAILED", 0, history=(HistoryEvent(1, 0, T0, "ExecutionStarted", None, {}),))
    assert child_not_redrivable(full, T0, WINDOW, 3) == "Execution history event limit exceeded."
    # An EXPRESS child keeps no history: AWS starts it anew.
    assert child_not_redrivable(full.changed(arn=full.arn.replace(":execution:", ":express:")),
                                T0, WINDOW, 3) is None  # fmt: skip


def test_a_redrive_runs_each_child_with_its_own_input_and_reads_only_the_unbegun() -> None:
    """The source changed: its items no longer match the places; each child's kept input
    is used, and only a place no child began takes the item read again."""
    redrive = sorted_children(begun(3).changed(execution_counts={"total": 3, "failed": 2}),
                              [child("a", "SUCCEEDED", 0), child("b", "FAILED", 1)],
                              T0, WINDOW, 100)  # fmt: skip
    assert redrive is not None
    read = [({"id": "x"}, 1), ({"id": "y"}, 1), ({"id": "z"}, 1), ({"id": "w"}, 1)]
    assert _redriven_inputs(redrive, read) == [({"id": "a"}, 1), ({"id": "b"}, 1),
                                               ({"id": "z"}, 1)]  # fmt: skip
    with pytest.raises(StatesError) as refused:
        _redriven_inputs(redrive, read[:2])
    assert refused.value.error == "States.ItemReaderFailed"
