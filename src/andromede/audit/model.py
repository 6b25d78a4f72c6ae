"""Pure audit types: the event, the log it belongs to, and its entry in that log.

An event's *entry* is its canonical serialisation, the bytes the Merkle tree hashes as a leaf
and the trail download carries: JSON with sorted keys, no spaces, ASCII only (``\\u`` escapes
for the rest, so the text is the bytes), the time in UTC to the microsecond, and a format
version ``v``. Any change to it is a new ``v``: entries already in a log never change.

Each tenant has its own log (its id is the tenant's account id), and events of no tenant
(authentication failures before anyone was identified, the platform's own actions) go to the
platform log, ``platform`` (decision 0105).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ENTRY_FORMAT",
    "PLATFORM_LOG",
    "AuditEvent",
    "Outcome",
    "TreeHead",
    "entry_text",
    "log_of",
    "parse_entry",
]

ENTRY_FORMAT = 1
PLATFORM_LOG = "platform"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    occurred_at: datetime
    request_id: str
    tenant_id: str | None
    principal: str | None  # ARN of who acted
    action: str  # IAM action name, e.g. "s3:PutObject"
    resource: str  # ARN of what was acted on
    outcome: Outcome
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A log's Merkle tree at one size: what a checkpoint signs."""

    size: int
    root_hash: bytes


def log_of(tenant_id: str | None) -> str:
    """The log an event of ``tenant_id`` is appended to."""
    return PLATFORM_LOG if tenant_id is None else tenant_id


# One encoder for every entry: ``json.dumps`` with options builds a new one per call, which
# was a third of a 1000-event flush.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_text(event: AuditEvent) -> str:
    # isoformat (C) rather than strftime: the same text, several times faster.
    occurred = event.occurred_at.astimezone(UTC).replace(tzinfo=None)
    return _ENCODER.encode(
        {
            "v": ENTRY_FORMAT,
            "occurred_at": occurred.isoformat(timespec="microseconds") + "Z",
            "request_id": event.request_id,
            "tenant_id": event.tenant_id,
            "principal": event.principal,
            "action": event.action,
            "resource": event.resource,
            "outcome": event.outcome.value,
            "details": dict(event.details),
        }
    )


def parse_entry(text: str) -> AuditEvent:
    """The event of an entry; ``ValueError`` when it is not one of a format known here."""
    try:
        raw: Any = json.loads(text)
        if not isinstance(raw, dict) or raw.get("v") != ENTRY_FORMAT:
            raise ValueError("not an audit entry of format 1")
        details = raw["details"]
        if not isinstance(details, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in details.items()
        ):
            raise ValueError("an audit entry's details map text to text")
        return AuditEvent(
            occurred_at=datetime.strptime(raw["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=UTC
            ),
            request_id=_text(raw["request_id"]),
            tenant_id=_optional_text(raw["tenant_id"]),
            principal=_optional_text(raw["principal"]),
            action=_text(raw["action"]),
            resource=_text(raw["resource"]),
            outcome=Outcome(raw["outcome"]),
            details=details,
        )
    except (KeyError, TypeError) as exc:
        raise ValueError("not an audit entry") from exc


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("an audit entry field is not text")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)
