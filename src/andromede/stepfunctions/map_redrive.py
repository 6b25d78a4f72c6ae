"""A distributed Map run redriven with its parent (decision 0377): RedriveExecution of a
parent whose Map state failed with its Map run redrives THAT run, as AWS does, rather than
starting a new one. The run is found from the parent's failure: the Map state's error
carries its run's ARN into the redrive's cursor (``done``, where a Parallel's or an inline
Map's succeeded branches go). Its children that succeeded (by the item or batch index each
one ran) are not run again, their outputs kept in the results; its kept STANDARD children
that did not (FAILED, ABORTED, TIMED_OUT) run again under their own ARN, their
``redriveCount`` one more; the others (EXPRESS ones, as AWS starts them anew, and ones not
kept, whose outcome is not known) run as new children.

Bounded as AWS bounds it: a run redriven 1,000 times is not redriven again (its Map state
fails with ``States.Runtime``); the 14-day window is the parent's own (RedriveExecution
checks it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.executions import HistoryEvent
from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_runs import REDRIVABLE, MapRun

__all__ = [
    "MAX_MAP_RUN_REDRIVES",
    "RUN_KEY",
    "Redrive",
    "redriven_history",
    "run_to_redrive",
    "sorted_children",
    "stopped_run",
    "succeeded_record",
]

RUN_KEY: Final = "MapRunArn"  # in a failed Map state's ``done``: its run, for a redrive
MAX_MAP_RUN_REDRIVES: Final = 1000  # AWS's bound on one Map run's redrives


@dataclass(frozen=True, slots=True)
class Redrive:
    """The run RUNNING again; its children that succeeded (not run again) and its kept
    STANDARD ones that did not (run again under their ARN), each by its item index."""

    run: MapRun
    succeeded: dict[int, MapChild]
    again: dict[int, MapChild]


def run_to_redrive(done: dict[str, Any] | None) -> str | None:
    """The run a redriven Map state's ``done`` names, None for a fresh start."""
    found = (done or {}).get(RUN_KEY)
    return found if isinstance(found, str) else None


def stopped_run(runs: list[MapRun], label: Any, redriven: int | None) -> str | None:
    """The run a Map state redrives when no failure of it named one (``done``): its parent
    was stopped while the run went on, or the Map is within a Parallel's branch (whose
    ``done`` are the branches'). The parent's run of the state's ``Label`` (any, for a Map
    without one: its label is generated) that did not succeed, ended before the parent's
    redrive and was not redriven since (a Map state visited again after the redrive starts
    a new run) — only when it is the one such run: several (a Map within an inline Map's
    iterations, or visited in a loop whose failures were caught) cannot be told apart, and
    a new run starts rather than the wrong one be redriven."""
    if redriven is None:
        return None
    found = [r for r in runs
             if r.status in REDRIVABLE and r.stopped is not None and r.stopped <= redriven
             and (r.redrive_date is None or r.redrive_date < redriven)
             and (not isinstance(label, str)
                  or r.arn.split(":")[6].partition("/")[2] == label)]  # fmt: skip
    return found[0].arn if len(found) == 1 else None


def sorted_children(run: MapRun, kept: list[MapChild]) -> Redrive:
    """``kept`` (the run's children, their data) sorted into what the redrive skips and what
    it redrives; an EXPRESS child, or one whose index is unknown, is neither: run anew."""
    succeeded: dict[int, MapChild] = {}
    again: dict[int, MapChild] = {}
    for child in kept:
        if child.index is None:
            continue
        if child.status == "SUCCEEDED":
            succeeded[child.index] = child
        elif child.status in REDRIVABLE and not child.express:
            again[child.index] = child
    return Redrive(run, succeeded, again)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def succeeded_record(child: MapChild) -> dict[str, Any]:
    """A child that succeeded before the redrive, as ``ResultWriter`` writes it."""
    record: dict[str, Any] = {
        "ExecutionArn": child.arn, "Input": child.input, "InputDetails": {"Included": True},
        "Name": child.name, "Output": child.output, "OutputDetails": {"Included": True},
        "RedriveCount": child.redrive_count, "StartDate": _iso(child.started),
        "StateMachineArn": child.machine_arn, "Status": "SUCCEEDED",
    }  # fmt: skip
    if child.redrive_date is not None:
        record["RedriveDate"] = _iso(child.redrive_date)
    if child.stopped is not None:
        record["StopDate"] = _iso(child.stopped)
    return record


def redriven_history(
    before: tuple[HistoryEvent, ...], child: MapChild, now: tuple[HistoryEvent, ...]
) -> tuple[HistoryEvent, ...]:
    """A redriven child's history as AWS keeps a redriven execution's: the one it had (its
    end left out), ``ExecutionRedriven``, then this run's events (``now``, as
    ``child_history`` made them: its own ``ExecutionStarted`` left out)."""
    kept = [e for e in before if not e.type.startswith("Execution") or e.type in
            ("ExecutionStarted", "ExecutionRedriven")]  # fmt: skip
    at = child.redrive_date if child.redrive_date is not None else child.started
    found = [(e.timestamp, e.type, e.details_name, e.details) for e in kept]
    found.append((at, "ExecutionRedriven", "executionRedrivenEventDetails",
                  {"redriveCount": child.redrive_count}))  # fmt: skip
    found.extend((e.timestamp, e.type, e.details_name, e.details) for e in now[1:])
    return tuple(HistoryEvent(i + 1, i, stamp, kind, name, details)
                 for i, (stamp, kind, name, details) in enumerate(found))  # fmt: skip
