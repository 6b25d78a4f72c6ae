"""A distributed Map run redriven with its parent (decisions 0377, 0383): RedriveExecution
of a parent whose Map state failed with its Map run redrives THAT run, as AWS does, rather
than starting a new one. The run is found from the parent's failure: the Map state's error
carries its run's ARN into the redrive's cursor (``done``, where a Parallel's or an inline
Map's succeeded branches go).

The run's kept children are its record, as AWS's own record of a Map run is: each one's
place (its item or batch index) and the input it ran with. Those that succeeded are not run
again, their outputs kept in the results; kept STANDARD ones that did not (FAILED, ABORTED,
TIMED_OUT) run again under their own ARN, their ``redriveCount`` one more; EXPRESS ones are
started anew (AWS reruns them with StartExecution) — each with the input it had, never an
item read again, so a changed item source cannot pair an item with another's child. One
that cannot be redriven (AWS's ``NOT_REDRIVABLE``: its history is at the event limit, or it
ended before the redrivable period) is not run: it stays as it ended and is counted in
``failuresNotRedrivable``. Only the places no child began (pending when the run failed) are
read from the source again.

A run whose record is not whole — a child kept before migration 0154 (no index), or a
child beyond ``stepfunctions_map_run_children_kept`` (not kept) — cannot be redriven
faithfully: the Map state starts a new run over its items instead, as AWS starts a new Map
run where it does not redrive the old one.

Bounded as AWS bounds it: a run redriven 1,000 times is not redriven again (its Map state
fails with ``States.Runtime``); the 14-day window is the parent's own (RedriveExecution
checks it), and each child's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.stepfunctions.executions import HistoryEvent
from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_runs import REDRIVABLE, MapRun

__all__ = [
    "MAX_MAP_RUN_REDRIVES",
    "RUN_KEY",
    "Redrive",
    "child_not_redrivable",
    "kept_record",
    "redriven_history",
    "run_to_redrive",
    "sorted_children",
    "stopped_run",
]

RUN_KEY: Final = "MapRunArn"  # in a failed Map state's ``done``: its run, for a redrive
MAX_MAP_RUN_REDRIVES: Final = 1000  # AWS's bound on one Map run's redrives
_BEGUN: Final = ("succeeded", "failed", "aborted", "timedOut", "running")


@dataclass(frozen=True, slots=True)
class Redrive:
    """The run RUNNING again and its kept children by their item (or batch) index: those
    that succeeded (not run again), the STANDARD ones run again under their ARN, the
    EXPRESS ones started anew, and those not redrivable (left as they ended)."""

    run: MapRun
    succeeded: dict[int, MapChild]
    again: dict[int, MapChild]
    anew: dict[int, MapChild] = field(default_factory=dict)
    not_redrivable: dict[int, MapChild] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The run's children (places) as it counted them when it began."""
        return int(self.run.execution_counts.get("total", 0))

    def begun(self) -> dict[int, MapChild]:
        return {**self.succeeded, **self.again, **self.anew, **self.not_redrivable}

    def unbegun(self) -> list[int]:
        """The places no child began (pending when the run failed): read again."""
        begun = self.begun()
        return [i for i in range(self.total) if i not in begun]


def child_not_redrivable(child: MapChild, now: int, window_ms: int, max_events: int) -> str | None:
    """AWS's reason its Map run's redrive would not run ``child`` again, None when it would
    (decision 0383): one that did not fail, whose history is at the execution event limit
    (AWS counts such a child failed and does not redrive it), or that ended before the
    redrivable period (``stepfunctions_redrive_days``)."""
    if child.status not in REDRIVABLE:
        return f"Execution is {child.status} and cannot be redriven."
    if not child.express and len(child.history) + 2 >= max_events:
        return "Execution history event limit exceeded."
    if child.stopped is None or now - child.stopped > window_ms:
        return "Execution redrivable period exceeded."
    return None


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


def sorted_children(
    run: MapRun, kept: list[MapChild], now: int, window_ms: int, max_events: int
) -> Redrive | None:
    """``kept`` (the run's children, their data) sorted by what the redrive does with each;
    None when they are not the run's whole record — a child without an index (kept before
    migration 0154), or fewer kept than the run began (beyond the bound) — so that the
    redrive cannot tell which item each place ran: a new run then. An index run twice (an
    EXPRESS child started anew) is its latest child's."""
    began = sum(int(run.execution_counts.get(k, 0)) for k in _BEGUN)
    if any(child.index is None for child in kept) or len({c.index for c in kept}) < began:
        return None
    latest: dict[int, MapChild] = {}
    for child in sorted(kept, key=lambda c: (c.started, c.redrive_date or 0)):
        latest[child.index or 0] = child
    sorted_ = Redrive(run, {}, {})
    for index, child in latest.items():
        if child.status == "SUCCEEDED":
            sorted_.succeeded[index] = child
        elif child.status not in REDRIVABLE:
            continue  # RUNNING: its parent's end aborts it first (``abort_running_children``)
        elif child_not_redrivable(child, now, window_ms, max_events) is not None:
            sorted_.not_redrivable[index] = child
        elif child.express:
            sorted_.anew[index] = child
        else:
            sorted_.again[index] = child
    return sorted_


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def kept_record(child: MapChild) -> dict[str, Any]:
    """A child the redrive does not run (it succeeded, or cannot be redriven), as
    ``ResultWriter`` writes it."""
    record: dict[str, Any] = {
        "ExecutionArn": child.arn, "Input": child.input, "InputDetails": {"Included": True},
        "Name": child.name, "RedriveCount": child.redrive_count,
        "StartDate": _iso(child.started), "StateMachineArn": child.machine_arn,
        "Status": child.status,
    }  # fmt: skip
    if child.status == "SUCCEEDED":
        record.update(Output=child.output, OutputDetails={"Included": True})
    else:
        record.update({k: v for k, v in (("Error", child.error), ("Cause", child.cause)) if v})
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
