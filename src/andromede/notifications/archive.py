"""SNS FIFO topics' message archive and replay (decision 0175): the rules of the topic's
``ArchivePolicy`` and of a subscription's ``ReplayPolicy``, and the archived record's
format. Pure: no I/O.

- **ArchivePolicy** ``{"MessageRetentionPeriod": N}`` (N days, 1 to 365, a number or its
  digits as SNS takes both): every message published to the FIFO topic is kept that long.
  ``{}`` (or an empty value) ends the archive, as SNS's "inactive" policy: the messages kept
  are deleted by the archive's upkeep. ``BeginningArchiveTime`` is the earliest point a
  replay can start from: the time the policy was set, or the retention period back from now
  once the archive is older than it.
- **ReplayPolicy** ``{"PointType": "Timestamp", "StartingPoint": "<ISO 8601>",
  "EndingPoint": "<ISO 8601>"}`` (the end optional): the subscription receives again, in
  publish order, the archived messages published in that window; ``ReplayStatus`` follows
  it as SNS words it (Pending, In progress, Completed, Failed).
- **The record** kept for one message is everything its fan-out needs again (message id,
  sequence number, group and deduplication ids, subject, attributes, structure, timestamp);
  the stores seal it under the topic's tenant's key as they seal queued events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from andromede.notifications.errors import InvalidTopic

__all__ = [
    "ARCHIVE_POLICY",
    "BEGINNING_ARCHIVE_TIME",
    "RECORD_FORMAT",
    "REPLAY_COMPLETED",
    "REPLAY_FAILED",
    "REPLAY_PENDING",
    "REPLAY_POLICY",
    "REPLAY_RUNNING",
    "Archived",
    "ArchivedMessage",
    "Replay",
    "ReplayWindow",
    "beginning_archive_time",
    "check_archive_policy",
    "check_replay_policy",
    "format_time",
    "retention_days",
]

ARCHIVE_POLICY: Final = "ArchivePolicy"
BEGINNING_ARCHIVE_TIME: Final = "BeginningArchiveTime"
REPLAY_POLICY: Final = "ReplayPolicy"
RECORD_FORMAT: Final = 1
# ReplayStatus as SNS shows it.
REPLAY_PENDING: Final = "Pending"
REPLAY_RUNNING: Final = "In progress"
REPLAY_COMPLETED: Final = "Completed"
REPLAY_FAILED: Final = "Failed"
_MIN_DAYS, _MAX_DAYS = 1, 365


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as SNS shows times (``2024-01-01T00:00:00.000Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_time(text: object, name: str) -> datetime:
    if not isinstance(text, str):
        raise InvalidTopic(f"Invalid parameter: ReplayPolicy: {name} must be a timestamp")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidTopic(
            f"Invalid parameter: ReplayPolicy: {name} must be an ISO 8601 timestamp"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _object(text: str, attribute: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidTopic(f"Invalid parameter: {attribute}: must be a JSON object")
    return data


def check_archive_policy(text: str) -> str:
    """The policy as kept: ``{}`` (no archive) or the retention in days, 1 to 365;
    InvalidTopic (InvalidParameter) otherwise."""
    if not text.strip():
        return "{}"
    data = _object(text, ARCHIVE_POLICY)
    if not data:
        return "{}"
    days = data.get("MessageRetentionPeriod")
    if set(data) != {"MessageRetentionPeriod"} or isinstance(days, bool):
        raise InvalidTopic("Invalid parameter: ArchivePolicy: only MessageRetentionPeriod is taken")
    count = int(days) if isinstance(days, str) and days.isdigit() else days
    if not isinstance(count, int) or not _MIN_DAYS <= count <= _MAX_DAYS:
        raise InvalidTopic(
            "Invalid parameter: ArchivePolicy: MessageRetentionPeriod must be a number of "
            f"days from {_MIN_DAYS} to {_MAX_DAYS}"
        )
    # Kept as given (a number, or its digits as AWS's examples write it), so that a tool
    # comparing the policy it set with the one shown finds no change.
    return json.dumps({"MessageRetentionPeriod": days}, separators=(",", ":"))


def retention_days(policy: str | None) -> int | None:
    """The retention of a policy as kept; None for no archive."""
    if not policy:
        return None
    days = json.loads(policy).get("MessageRetentionPeriod")
    return int(days) if days is not None else None


def beginning_archive_time(started: str, days: int, now: datetime) -> str:
    """When a replay may start from: the policy's start, or ``days`` back from ``now``."""
    since = _parse_time(started, BEGINNING_ARCHIVE_TIME)
    return format_time(max(since, now - timedelta(days=days)))


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    start: datetime
    end: datetime | None


def check_replay_policy(text: str, now: datetime) -> ReplayWindow | None:
    """The replay window asked for; None for ``{}`` or an empty value (no replay, or the
    running one stopped). InvalidTopic (InvalidParameter) for what SNS refuses."""
    if not text.strip():
        return None
    data = _object(text, REPLAY_POLICY)
    if not data:
        return None
    if not set(data) <= {"PointType", "StartingPoint", "EndingPoint"}:
        raise InvalidTopic(
            "Invalid parameter: ReplayPolicy: only PointType, StartingPoint and EndingPoint "
            "are taken"
        )
    if data.get("PointType") != "Timestamp":
        raise InvalidTopic("Invalid parameter: ReplayPolicy: PointType must be Timestamp")
    if "StartingPoint" not in data:
        raise InvalidTopic("Invalid parameter: ReplayPolicy: StartingPoint is required")
    start = _parse_time(data["StartingPoint"], "StartingPoint")
    end = None if "EndingPoint" not in data else _parse_time(data["EndingPoint"], "EndingPoint")
    if start > now:
        raise InvalidTopic("Invalid parameter: ReplayPolicy: StartingPoint is in the future")
    if end is not None and end <= start:
        raise InvalidTopic(
            "Invalid parameter: ReplayPolicy: EndingPoint must be later than StartingPoint"
        )
    return ReplayWindow(start, end)


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """What a message's fan-out needs again at its replay."""

    message_id: str
    sequence_number: str
    group_id: str
    dedup_id: str
    message: str
    subject: str | None
    attributes: Mapping[str, tuple[str, str]]
    structure: str | None
    timestamp: datetime

    def record(self) -> str:
        return json.dumps(
            {
                "format_version": RECORD_FORMAT,
                "message_id": self.message_id,
                "sequence": self.sequence_number,
                "group": self.group_id,
                "dedup": self.dedup_id,
                "message": self.message,
                "subject": self.subject,
                "attributes": {n: list(pair) for n, pair in self.attributes.items()},
                "structure": self.structure,
                "timestamp": self.timestamp.isoformat(),
            },
            separators=(",", ":"),
        )

    @staticmethod
    def of_record(text: str) -> ArchivedMessage:
        data = json.loads(text)
        if data.get("format_version") != RECORD_FORMAT:
            raise ValueError(f"unknown archive record format {data.get('format_version')!r}")
        subject, structure = data.get("subject"), data.get("structure")
        return ArchivedMessage(
            message_id=str(data["message_id"]),
            sequence_number=str(data["sequence"]),
            group_id=str(data["group"]),
            dedup_id=str(data["dedup"]),
            message=str(data["message"]),
            subject=None if subject is None else str(subject),
            attributes={
                str(n): (str(k), str(v)) for n, (k, v) in data.get("attributes", {}).items()
            },
            structure=None if structure is None else str(structure),
            timestamp=datetime.fromisoformat(str(data["timestamp"])),
        )


@dataclass(frozen=True, slots=True)
class Archived:
    """One archived message as the store hands it back (its record opened)."""

    archive_id: int
    published_at: datetime
    record: str


@dataclass(frozen=True, slots=True)
class Replay:
    """A subscription's replay: its window, how far it went (the last archive id queued)
    and its status."""

    subscription_arn: str
    topic_arn: str
    tenant_id: str
    start: datetime
    end: datetime | None
    cursor: int
    status: str
