"""A distributed Map's Map run (decision 0322): what DescribeMapRun and ListMapRuns answer,
and the store's port.

A Map run belongs to the execution whose Map state began it; its ARN is AWS's
``arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`` (the ``Label``, else a
short id), its child executions ``…:execution:<machine>/<label>:<uuid>``. Its counts are
AWS's ``itemCounts`` and ``executionCounts`` (they differ once items are batched). The
settings UpdateMapRun changes (``maxConcurrency``, ``toleratedFailure…``) are the store's: the
run reads them back each time it records its counts, so an update applies while it runs."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

__all__ = [
    "ABORTED",
    "COUNTERS",
    "REDRIVABLE",
    "MapRun",
    "MapRunStore",
    "MemoryMapRunStore",
    "abort_running",
    "child_execution_arn",
    "child_machine_arn",
    "map_run_account",
    "map_run_arn",
]

ABORTED: Final = "ABORTED"
# What a redrive runs again (decision 0377): a run or a child that did not succeed.
REDRIVABLE: Final = ("FAILED", ABORTED, "TIMED_OUT")
COUNTERS: Final = (
    "pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten",
)  # fmt: skip


def map_run_arn(execution_arn: str, label: str | None) -> str:
    """A new Map run's ARN, of the execution ``arn:aws:states:<region>:<account>:execution:
    <machine>:<name>``."""
    parts = execution_arn.split(":")
    region, account, machine = parts[3], parts[4], parts[6]
    return f"arn:aws:states:{region}:{account}:mapRun:{machine}/{label or uuid.uuid4().hex[:8]}:" \
        f"{uuid.uuid4()}"  # fmt: skip


def child_execution_arn(run_arn: str, express: bool) -> str:
    """A child execution's ARN: the run's machine and label, a fresh id."""
    parts = run_arn.split(":")
    kind = "express" if express else "execution"
    return f"arn:aws:states:{parts[3]}:{parts[4]}:{kind}:{parts[6]}:{uuid.uuid4()}"


def child_machine_arn(run_arn: str) -> str:
    """The state machine a run's children are executions of, as AWS names it
    (``…:stateMachine:<machine>/<label>``)."""
    parts = run_arn.split(":")
    return f"arn:aws:states:{parts[3]}:{parts[4]}:stateMachine:{parts[6]}"


def map_run_account(run_arn: str) -> str | None:
    """The account of a Map run's ARN, None when it is no Map run's ARN."""
    parts = run_arn.split(":")
    if len(parts) != 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "mapRun":
        return None
    return parts[4]


def _epoch(ms: int) -> float:
    """The API's dates: epoch seconds."""
    return round(ms / 1000, 3)


@dataclass(frozen=True, slots=True)
class MapRun:
    tenant_id: str
    arn: str
    execution_arn: str
    started: int  # ms
    max_concurrency: int
    tolerated_failure_percentage: float
    tolerated_failure_count: int
    status: str = "RUNNING"
    stopped: int | None = None
    item_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    execution_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    redrive_count: int = 0  # RedriveExecution of its parent re-ran it (decision 0377)
    redrive_date: int | None = None  # ms: its last redrive

    def changed(self, **fields: Any) -> MapRun:
        return dataclasses.replace(self, **fields)

    def described(self) -> dict[str, Any]:
        """DescribeMapRun's answer."""
        answer: dict[str, Any] = {
            "mapRunArn": self.arn,
            "executionArn": self.execution_arn,
            "status": self.status,
            "startDate": _epoch(self.started),
            "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": self.tolerated_failure_percentage,
            "toleratedFailureCount": self.tolerated_failure_count,
            "itemCounts": _counts(self.item_counts),
            "executionCounts": _counts(self.execution_counts),
            "redriveCount": self.redrive_count,
        }
        if self.redrive_date is not None:
            answer["redriveDate"] = _epoch(self.redrive_date)
        if self.stopped is not None:
            answer["stopDate"] = _epoch(self.stopped)
        return answer

    def listed(self) -> dict[str, Any]:
        """ListMapRuns' entry."""
        entry = {
            "executionArn": self.execution_arn,
            "mapRunArn": self.arn,
            "stateMachineArn": child_machine_arn(self.arn),
            "startDate": _epoch(self.started),
        }
        if self.stopped is not None:
            entry["stopDate"] = _epoch(self.stopped)
        return entry


def _counts(counts: dict[str, int]) -> dict[str, int]:
    # ``failuresNotRedrivable`` / ``pendingRedrive``: AWS's, of a redriven run (decision 0377).
    named = (*COUNTERS, "failuresNotRedrivable", "pendingRedrive")
    return {name: int(counts.get(name, 0)) for name in named}


class MapRunStore(Protocol):
    async def save(self, run: MapRun) -> MapRun:
        """``run`` written (created, or its status, stop and counts changed); answers the run
        as stored, with the settings UpdateMapRun may have changed. An ABORTED run stays as
        it was (its execution ended or was stopped while it ran)."""
        ...

    async def get(self, tenant_id: str, arn: str) -> MapRun | None: ...

    async def list_for_execution(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        """The execution's Map runs, oldest first."""
        ...

    async def update(
        self, tenant_id: str, arn: str, max_concurrency: int | None,
        tolerated_failure_percentage: float | None, tolerated_failure_count: int | None,
    ) -> MapRun | None:  # fmt: skip
        """The run with these settings changed (None given: kept); None if it is unknown."""
        ...

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapRun | None:
        """The run RUNNING again as its parent is redriven (decision 0377): only a run that
        did not succeed (``REDRIVABLE``), its ``redrive_count`` one more, ``redrive_date``
        ``now``, its stop cleared — the one write that moves an ABORTED run back (``save``
        refuses it). None: unknown, or not redrivable."""
        ...

    async def forget(self, tenant_id: str, arn: str) -> bool:
        """The run deleted (its parent execution is purged: decision 0372); whether it was."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


async def abort_running(store: MapRunStore, tenant_id: str, execution_arn: str, now: int) -> int:
    """The execution's runs still RUNNING marked ABORTED (its end, a stop, or a run its step
    left when a gateway restarted and ran the Map state again): how many."""
    aborted = 0
    for run in await store.list_for_execution(tenant_id, execution_arn):
        if run.status == "RUNNING":
            await store.save(run.changed(status=ABORTED, stopped=now))
            aborted += 1
    return aborted


class MemoryMapRunStore:
    """The in-memory twin (tests, and the contract suite's reference)."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], MapRun] = {}

    async def save(self, run: MapRun) -> MapRun:
        key = (run.tenant_id, run.arn)
        stored = self._runs.get(key)
        if stored is not None and stored.status == ABORTED:
            return stored
        if stored is not None:
            run = run.changed(
                redrive_count=stored.redrive_count,
                redrive_date=stored.redrive_date,
                max_concurrency=stored.max_concurrency,
                tolerated_failure_percentage=stored.tolerated_failure_percentage,
                tolerated_failure_count=stored.tolerated_failure_count,
            )
        self._runs[key] = run
        return run

    async def get(self, tenant_id: str, arn: str) -> MapRun | None:
        return self._runs.get((tenant_id, arn))

    async def list_for_execution(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        found = [r for (t, _), r in self._runs.items()
                 if t == tenant_id and r.execution_arn == execution_arn]  # fmt: skip
        return sorted(found, key=lambda r: (r.started, r.arn))

    async def update(
        self, tenant_id: str, arn: str, max_concurrency: int | None,
        tolerated_failure_percentage: float | None, tolerated_failure_count: int | None,
    ) -> MapRun | None:  # fmt: skip
        stored = self._runs.get((tenant_id, arn))
        if stored is None:
            return None
        changed = stored.changed(
            max_concurrency=_given(max_concurrency, stored.max_concurrency),
            tolerated_failure_percentage=_given(
                tolerated_failure_percentage, stored.tolerated_failure_percentage
            ),
            tolerated_failure_count=_given(tolerated_failure_count, stored.tolerated_failure_count),
        )
        self._runs[(tenant_id, arn)] = changed
        return changed

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapRun | None:
        stored = self._runs.get((tenant_id, arn))
        if stored is None or stored.status not in REDRIVABLE:
            return None
        redriven = stored.changed(status="RUNNING", stopped=None, redrive_date=now,
                                  redrive_count=stored.redrive_count + 1)  # fmt: skip
        self._runs[(tenant_id, arn)] = redriven
        return redriven

    async def forget(self, tenant_id: str, arn: str) -> bool:
        return self._runs.pop((tenant_id, arn), None) is not None

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._runs if k[0] == tenant_id]
        for key in keys:
            del self._runs[key]
        return len(keys)


_Kept = TypeVar("_Kept", int, float)


def _given(value: _Kept | None, kept: _Kept) -> _Kept:
    return kept if value is None else value
