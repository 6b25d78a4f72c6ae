"""Tumbling windows of Lambda's Kinesis and DynamoDB stream mappings (decision 0319): which
window a record falls in, the event a windowed invocation gets, the state a function returns,
and each shard's open window kept sealed beside its checkpoint.

- **Windows.** ``TumblingWindowInSeconds`` long, aligned on the epoch and placed by each
  record's arrival in the stream (AWS: "based on the time when records were inserted into the
  stream"), one open window a shard.
- **Events.** ``{"Records": […], "window": {"start", "end"}, "state", "shardId",
  "eventSourceARN", "isFinalInvokeForWindow", "isWindowTerminatedEarly"}``: ``state`` is the
  function's last returned state in that window (``{}`` at its start); the final invocation
  of a window has no records. A final invocation that keeps failing is given up as a batch
  is (decision 0328): :func:`final_failure_record` is what its OnFailure destination gets.
- **Answers.** A windowed invocation's answer must hold a ``state`` object, else it failed (as
  AWS: "If the response does not contain a state property, Lambda considers this a failed
  invocation").
- **Kept.** The state is customer data: sealed under the account's keys (the functions'
  sealer) on the shard's checkpoint row, so the gateway taking the mapping's lease over
  continues the window.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.functions.mappings import EventSourceMapping, MappingStore, ShardWindow
from andromede.pipes.runner import SourceEvent

__all__ = [
    "STATE_LIMIT",
    "OpenWindow",
    "StateSealer",
    "WindowStates",
    "final_failure_record",
    "first_window",
    "returned_state",
    "state_size",
    "window_payload",
    "window_start",
]

# AWS: "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
# terminates the window early." AWS's fixed quota, not a deployment's choice.
STATE_LIMIT: Final = 1_048_576


class StateSealer(Protocol):
    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A shard's open window as the poller works with it: its ``start`` (ms), the state the
    function last returned, and the checkpoint the window's records are done up to."""

    start: int
    state: dict[str, Any]
    sequence: str


def window_start(arrived_ms: int, seconds: int) -> int:
    """The start (ms) of the window of ``seconds`` a record that arrived at ``arrived_ms``
    falls in."""
    length = seconds * 1000
    return arrived_ms - arrived_ms % length


def first_window(events: Sequence[SourceEvent], seconds: int) -> tuple[int, list[SourceEvent]]:
    """The window of a shard batch's first record, and the records of the batch in it (those
    of a later window wait for the next invocation)."""
    start = window_start(events[0].arrived, seconds)
    inside = itertools.takewhile(lambda e: window_start(e.arrived, seconds) == start, events)
    return start, list(inside)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_payload(
    records: list[dict[str, Any]],
    mapping: EventSourceMapping,
    shard: str,
    start: int,
    state: dict[str, Any],
    *,
    final: bool = False,
    early: bool = False,
) -> bytes:
    """The event of a windowed invocation, in AWS's ``KinesisTimeWindowEvent`` /
    ``DynamodbTimeWindowEvent`` shape."""
    end = start + mapping.tumbling_seconds * 1000
    return json.dumps(
        {
            "Records": records,
            "window": {"start": _iso(start), "end": _iso(end)},
            "state": state,
            "shardId": shard,
            "eventSourceARN": mapping.source_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }
    ).encode()


def final_failure_record(
    mapping: EventSourceMapping,
    shard: str,
    start: int,
    condition: str,
    tries: int,
    executed: str | None,
    now: str,
) -> dict[str, Any]:
    """The OnFailure record of a final invocation given up (decision 0328): AWS's stream
    record without a batch (the final invocation has no records), the window named instead;
    the final invocation's own event (its state) goes where the destination keeps payloads."""
    end = start + mapping.tumbling_seconds * 1000
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping.function_arn,
            "condition": condition,
            "approximateInvokeCount": tries,
        },
        "version": "1.0",
        "timestamp": now,
        "window": {"start": _iso(start), "end": _iso(end)},
        "shardId": shard,
        "eventSourceARN": mapping.source_arn,
        "isFinalInvokeForWindow": True,
    }
    if executed is not None:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": executed,
            "functionError": "Unhandled",
        }
    return record


def returned_state(answer: bytes) -> dict[str, Any] | None:
    """The ``state`` a windowed invocation answered; None when it holds none (a failure)."""
    try:
        document = json.loads(answer)
    except ValueError:
        return None
    state = document.get("state") if isinstance(document, dict) else None
    return state if isinstance(state, dict) else None


def state_size(state: dict[str, Any]) -> int:
    return len(json.dumps(state, separators=(",", ":")).encode())


def _context(mapping: EventSourceMapping, shard: str) -> bytes:
    return f"lambda-window:{mapping.tenant_id}:{mapping.uuid}:{shard}".encode()


class WindowStates:
    """The shards' open windows of a mapping, their states sealed in the mapping store."""

    def __init__(self, store: MappingStore, sealer: StateSealer) -> None:
        self._store = store
        self._sealer = sealer

    async def opened(
        self, mapping: EventSourceMapping, points: dict[str, str]
    ) -> dict[str, OpenWindow]:
        """The mapping's open windows by shard (``points``: its checkpoints)."""
        found = {}
        for shard, kept in (await self._store.windows(mapping.uuid)).items():
            opened = await self._sealer.open(
                mapping.tenant_id, kept.sealed_state, _context(mapping, shard)
            )
            state = json.loads(opened)
            found[shard] = OpenWindow(kept.start, state, points.get(shard, ""))
        return found

    async def sealed(
        self, mapping: EventSourceMapping, shard: str, start: int, state: dict[str, Any]
    ) -> ShardWindow:
        """A window to keep: its state sealed under the account's keys."""
        plain = json.dumps(state, separators=(",", ":")).encode()
        sealed = await self._sealer.seal(mapping.tenant_id, plain, _context(mapping, shard))
        return ShardWindow(start, sealed)
