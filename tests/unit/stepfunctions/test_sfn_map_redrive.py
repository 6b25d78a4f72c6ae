"""Decision 0377's choice of the run a redriven Map state redrives when no failure named it
(``stopped_run``), and how a run's kept children are sorted for the redrive."""

from __future__ import annotations

from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_redrive import run_to_redrive, sorted_children, stopped_run
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


def test_children_are_sorted_by_outcome_and_index() -> None:
    def child(name: str, status: str, index: int | None, kind: str = "execution") -> MapChild:
        return MapChild("000000000001", "r", f"arn:aws:states:eu-fr-1:000000000001:{kind}:"
                        f"m/l:{name}", T0, "{}", 1, status=status, index=index)  # fmt: skip

    sorted_ = sorted_children(run("l"), [
        child("a", "SUCCEEDED", 0), child("b", "FAILED", 1), child("c", "TIMED_OUT", 2),
        child("d", "ABORTED", 3), child("e", "FAILED", 4, "express"), child("f", "FAILED", None),
        child("g", "RUNNING", 5)])  # fmt: skip
    assert sorted(sorted_.succeeded) == [0]
    assert sorted(sorted_.again) == [1, 2, 3]  # EXPRESS and unknown ones: run anew
    assert run_to_redrive({"MapRunArn": "arn"}) == "arn"
    assert run_to_redrive({"0": {"out": 1}}) is None and run_to_redrive(None) is None
