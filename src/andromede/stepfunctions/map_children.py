"""A distributed Map's child executions as executions of their own (decision 0369): what
ListExecutions(``mapRunArn``), DescribeExecution and GetExecutionHistory answer of them, and
the store's port with its memory twin.

Each child is recorded as it begins (RUNNING, its input) and as it ends (its status, output
or error, and — a STANDARD child's — its history). Its ARN is the one its ``$$.Execution.Id``
gave it (``…:execution:<machine>/<label>:<uuid>``; ``…:express:…`` for an EXPRESS child), its
state machine AWS's ``…:stateMachine:<machine>/<label>``. AWS lists and describes a Map
run's EXPRESS children too (ListExecutions' and DescribeExecution's documentation: "unless a
Map Run dispatched them"), but keeps no history of them: neither is one kept here.

A run keeps its first children up to ``stepfunctions_map_run_children_kept`` (in the order
they began): AWS keeps them all, but here their inputs, outputs and histories are rows of the
metadata database; a child beyond the bound runs and is counted in its Map run (and written
by its ResultWriter), not kept."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from andromede.stepfunctions.executions import HistoryEvent
from andromede.stepfunctions.map_runs import ABORTED, REDRIVABLE, MapRunStore, child_machine_arn

if TYPE_CHECKING:
    from andromede.stepfunctions.interpreter import Event

__all__ = [
    "MapChild",
    "MapChildStore",
    "MemoryMapChildStore",
    "abort_running_children",
    "capped_history",
    "child_account",
    "child_history",
    "children_definition",
    "forget_execution_runs",
    "is_child_arn",
]

_KINDS: Final = ("execution", "express")


def is_child_arn(arn: Any) -> bool:
    """Whether ``arn`` has the shape of a Map run's child's (its machine ``<machine>/<label>``)."""
    parts = arn.split(":") if isinstance(arn, str) and len(arn) <= 2000 else []
    return (
        len(parts) == 8
        and parts[:3] == ["arn", "aws", "states"]
        and parts[5] in _KINDS
        and "/" in parts[6]
    )


def child_account(arn: str) -> str:
    return arn.split(":")[4]


@dataclass(frozen=True, slots=True)
class MapChild:
    tenant_id: str
    run_arn: str
    arn: str
    started: int  # ms
    input: str
    item_count: int
    role_arn: str = ""
    status: str = "RUNNING"
    stopped: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    history: tuple[HistoryEvent, ...] = ()
    index: int | None = None  # its first item's (or batch's): what a redrive skips (0377)
    redrive_count: int = 0
    redrive_date: int | None = None  # ms: its last redrive

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    @property
    def express(self) -> bool:
        return self.arn.split(":")[5] == "express"

    @property
    def machine_arn(self) -> str:
        return child_machine_arn(self.run_arn)

    def changed(self, **fields: Any) -> MapChild:
        return dataclasses.replace(self, **fields)

    def document(self) -> dict[str, Any]:
        """What is sealed at rest: the customer's data of the child."""
        return {
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "role_arn": self.role_arn,
            "history": [event.as_json() for event in self.history],
        }

    @classmethod
    def of_document(cls, shell: MapChild, document: dict[str, Any]) -> MapChild:
        return shell.changed(
            input=str(document.get("input") or "{}"),
            output=document.get("output"),
            error=document.get("error"),
            cause=document.get("cause"),
            role_arn=str(document.get("role_arn") or ""),
            history=tuple(HistoryEvent.of_json(e) for e in document.get("history") or []),
        )


def child_history(child: MapChild, events: list[Event]) -> tuple[HistoryEvent, ...]:
    """A STANDARD child's history as GetExecutionHistory gives an execution's: started (its
    input, its role), its states' events, then its end. The states ran within the parent's
    step, so their events are stamped with the child's end, as a step's are with its own."""
    ended = child.stopped if child.stopped is not None else child.started
    found: list[tuple[int, str, str | None, dict[str, Any]]] = [
        (child.started, "ExecutionStarted", "executionStartedEventDetails",
         {"input": child.input, "inputDetails": {"truncated": False},
          "roleArn": child.role_arn}),
        *((ended, e.type, e.details_name, e.details) for e in events),
    ]  # fmt: skip
    if child.status == "SUCCEEDED":
        found.append((ended, "ExecutionSucceeded", "executionSucceededEventDetails",
                      {"output": child.output, "outputDetails": {"truncated": False}}))  # fmt: skip
    elif child.status in ("FAILED", ABORTED):  # ABORTED: stopped (decision 0372)
        told = {k: v for k, v in (("error", child.error), ("cause", child.cause)) if v}
        kind = "Failed" if child.status == "FAILED" else "Aborted"
        found.append((ended, f"Execution{kind}", f"execution{kind}EventDetails", told))
    return tuple(HistoryEvent(i + 1, i, at, kind, name, details)
                 for i, (at, kind, name, details) in enumerate(found))  # fmt: skip


def capped_history(
    history: tuple[HistoryEvent, ...], child: MapChild, limit: int
) -> tuple[HistoryEvent, ...]:
    """A history that passed ``limit`` events cut as the runner cuts an execution's: its
    first ``limit - 1`` events, then ``ExecutionFailed`` (``child``'s error and cause)."""
    kept = history[: max(0, limit - 1)]
    at = child.stopped if child.stopped is not None else child.started
    failed = HistoryEvent(len(kept) + 1, len(kept), at, "ExecutionFailed",
                          "executionFailedEventDetails",
                          {"error": child.error, "cause": child.cause})  # fmt: skip
    return (*kept, failed)


def _distributed_maps(states: Any) -> list[dict[str, Any]]:
    """The distributed Map states of ``states`` and of the branches and processors within."""
    found: list[dict[str, Any]] = []
    for state in (states or {}).values() if isinstance(states, dict) else ():
        if not isinstance(state, dict):
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator")
        inner = [b.get("States") for b in state.get("Branches") or [] if isinstance(b, dict)]
        if isinstance(processor, dict):
            config = processor.get("ProcessorConfig") or {}
            if state.get("Type") == "Map" and config.get("Mode") == "DISTRIBUTED":
                found.append(state)
            inner.append(processor.get("States"))
        for nested in inner:
            found.extend(_distributed_maps(nested))
    return found


def children_definition(parent_definition: str, run_arn: str) -> str | None:
    """The state machine a run's children are executions of, as DescribeStateMachineForExecution
    answers it (decision 0372): its Map state's ``ItemProcessor`` as a definition (its
    ``ProcessorConfig``, which no state machine has, left out), the state found by its
    ``Label`` (the run's ARN's ``<machine>/<label>``); a run without a label names the one
    distributed Map without one. None when the parent's definition has no such state."""
    label = run_arn.split(":")[6].partition("/")[2]
    try:
        maps = _distributed_maps(json.loads(parent_definition).get("States"))
    except (ValueError, AttributeError):
        return None
    chosen = [m for m in maps if m.get("Label") == label] or [m for m in maps if "Label" not in m]
    if not chosen:
        return None
    processor = chosen[0].get("ItemProcessor") or chosen[0].get("Iterator") or {}
    shown = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
    return json.dumps(shown, separators=(",", ":"))


class MapChildStore(Protocol):
    async def save(self, child: MapChild) -> bool:
        """``child`` written: inserted, or over the one of its ARN — but an ABORTED child
        stays as it was (its parent ended while it ran: ``abort_running_children``, or it was
        stopped: decision 0372); whether it was written. The run
        bounds how many it keeps (``distributed_map``: it knows how many it began, a count
        the store would have to take again at each insert)."""
        ...

    async def get(self, tenant_id: str, arn: str) -> MapChild | None: ...

    async def status(self, tenant_id: str, arn: str) -> str | None:
        """The child's status alone, nothing unsealed: what its run asks before each of its
        states, to stop a child StopExecution aborted (decision 0374). None: unknown."""
        ...

    async def list_for_run(
        self, tenant_id: str, run_arn: str, status: str | None,
        after: tuple[int, str] | None, limit: int, redriven: bool | None = None,
    ) -> list[MapChild]:  # fmt: skip
        """Up to ``limit`` of the run's children of ``status`` (any: None), the newest first
        (by start, then ARN), after the ``(started, arn)`` given; without their data (input,
        output, error, cause, history: what ListExecutions does not show). ``redriven``:
        only those redriven at least once (True) or never (False) — ``redriveFilter``."""
        ...

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapChild | None:
        """The child RUNNING again as its Map run is redriven (decision 0377): only one that
        did not succeed (``REDRIVABLE``), its ``redrive_count`` one more, ``redrive_date``
        ``now``, its stop, output, error and cause cleared — the one write that moves an
        ABORTED child back (``save`` refuses it). The child as it is now; None: unknown, or
        not redrivable."""
        ...

    async def forget_for_run(self, tenant_id: str, run_arn: str, limit: int) -> int:
        """Up to ``limit`` of the run's children deleted (their parent execution is purged:
        decision 0372); how many."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


async def abort_running_children(
    store: MapChildStore, tenant_id: str, run_arn: str, now: int
) -> int:
    """The run's children still RUNNING marked ABORTED once its execution ended or was
    stopped (ones a gateway's restart left behind, or ones a stop cut short): how many. They
    stay so, as their Map run does (decision 0322)."""
    aborted, changed = 0, True
    while changed:  # a pass that changed nothing ends it: nothing left, or nothing to do
        changed = False
        for listed in await store.list_for_run(tenant_id, run_arn, "RUNNING", None, 100):
            found = await store.get(tenant_id, listed.arn)
            if found is not None and found.status == "RUNNING":
                await store.save(found.changed(status=ABORTED, stopped=now))
                aborted, changed = aborted + 1, True
    return aborted


async def forget_execution_runs(
    runs: MapRunStore, children: MapChildStore | None, tenant_id: str, execution_arn: str,
    batch: int,
) -> int:  # fmt: skip
    """An execution's Map runs and their children deleted as it is purged (decision 0372):
    AWS keeps them as long as their parent's history. The children go ``batch`` at a time
    (each a transaction of its own, never one unbounded) before their run, so that a stop
    in between leaves the run, and the execution, to the next pass. How many runs."""
    gone = 0
    for run in await runs.list_for_execution(tenant_id, execution_arn):
        if children is not None:
            while await children.forget_for_run(tenant_id, run.arn, batch):
                pass
        gone += await runs.forget(tenant_id, run.arn)
    return gone


def _order(child: MapChild) -> tuple[int, str]:
    return (-child.started, child.arn)


def _listed(child: MapChild) -> MapChild:
    return child.changed(input="", output=None, error=None, cause=None, role_arn="", history=())


class MemoryMapChildStore:
    """The in-memory twin (tests, and the contract suite's reference)."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str], MapChild] = {}

    async def save(self, child: MapChild) -> bool:
        key = (child.tenant_id, child.arn)
        stored = self._children.get(key)
        if stored is not None and stored.status == ABORTED:
            return False
        if stored is not None:  # its redrives are the store's, as over SQL
            child = child.changed(redrive_count=stored.redrive_count,
                                  redrive_date=stored.redrive_date)  # fmt: skip
        self._children[key] = child
        return True

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapChild | None:
        stored = self._children.get((tenant_id, arn))
        if stored is None or stored.status not in REDRIVABLE:
            return None
        redriven = stored.changed(status="RUNNING", stopped=None, output=None, error=None,
                                  cause=None, redrive_count=stored.redrive_count + 1,
                                  redrive_date=now)  # fmt: skip
        self._children[(tenant_id, arn)] = redriven
        return redriven

    async def get(self, tenant_id: str, arn: str) -> MapChild | None:
        return self._children.get((tenant_id, arn))

    async def status(self, tenant_id: str, arn: str) -> str | None:
        found = self._children.get((tenant_id, arn))
        return None if found is None else found.status

    async def list_for_run(
        self, tenant_id: str, run_arn: str, status: str | None,
        after: tuple[int, str] | None, limit: int, redriven: bool | None = None,
    ) -> list[MapChild]:  # fmt: skip
        found = sorted(
            (c for (t, _), c in self._children.items()
             if t == tenant_id and c.run_arn == run_arn and status in (None, c.status)
             and redriven in (None, c.redrive_count > 0)),
            key=_order,
        )  # fmt: skip
        if after is not None:
            found = [c for c in found if _order(c) > (-after[0], after[1])]
        return [_listed(c) for c in found[:limit]]

    async def forget_for_run(self, tenant_id: str, run_arn: str, limit: int) -> int:
        keys = [k for k, c in self._children.items()
                if k[0] == tenant_id and c.run_arn == run_arn][:limit]  # fmt: skip
        for key in keys:
            del self._children[key]
        return len(keys)

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._children if k[0] == tenant_id]
        for key in keys:
            del self._children[key]
        return len(keys)
