"""EventBridge's archives and replays as values (decision 0196): an archive of a bus (the
events PutEvents and the platform put on it, matching its optional pattern, kept sealed for
``RetentionDays``, 0 forever), a replay of an archive's time window back onto that bus, and
their names', ARNs' and states' rules. Pure: no I/O.

A replay's states go as AWS's: STARTING → RUNNING → COMPLETED, or CANCELLING → CANCELLED
(CancelReplay), or FAILED (its archive gone). :data:`REPLAY_TRANSITIONS` is the table the
service and the runner follow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from andromede.events.errors import ValidationError
from andromede.events.event_keys import KeyScope

__all__ = [
    "REPLAY_NAME_HEADER",
    "REPLAY_TRANSITIONS",
    "Archive",
    "ArchiveState",
    "ArchivedEvent",
    "Replay",
    "ReplayState",
    "archive_arn",
    "check_archive_name",
    "check_replay_name",
    "from_micros",
    "micros",
    "replay_arn",
]

# The member AWS adds to a replayed event; rules match it, archives leave such events out.
REPLAY_NAME_HEADER: Final = "replay-name"
_ARCHIVE_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,48}")
_REPLAY_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,64}")


class ArchiveState:
    ENABLED: Final = "ENABLED"
    # Decision 0332: its managed rule deleted by a user (with Force): it archives nothing.
    DISABLED: Final = "DISABLED"
    # AWS's others (CREATING, UPDATING, CREATE_FAILED, UPDATE_FAILED) are the moments of its
    # asynchronous managed rule; here the rule is made within the call, so none is seen.
    ALL: Final = frozenset(
        {"ENABLED", "DISABLED", "CREATING", "UPDATING", "CREATE_FAILED", "UPDATE_FAILED"}
    )


class ReplayState:
    STARTING: Final = "STARTING"
    RUNNING: Final = "RUNNING"
    CANCELLING: Final = "CANCELLING"
    COMPLETED: Final = "COMPLETED"
    CANCELLED: Final = "CANCELLED"
    FAILED: Final = "FAILED"
    ALL: Final = frozenset({STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED, FAILED})
    # Those a runner still has work in (a claim takes them).
    ACTIVE: Final = frozenset({STARTING, RUNNING, CANCELLING})


REPLAY_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    ReplayState.STARTING: frozenset(
        {ReplayState.RUNNING, ReplayState.CANCELLING, ReplayState.FAILED, ReplayState.COMPLETED}
    ),
    ReplayState.RUNNING: frozenset(
        {ReplayState.RUNNING, ReplayState.CANCELLING, ReplayState.COMPLETED, ReplayState.FAILED}
    ),
    ReplayState.CANCELLING: frozenset({ReplayState.CANCELLED}),
    ReplayState.COMPLETED: frozenset(),
    ReplayState.CANCELLED: frozenset(),
    ReplayState.FAILED: frozenset(),
}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: how the tables keep times (exact, sortable)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def archive_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{tenant_id}:archive/{name}"


def replay_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{tenant_id}:replay/{name}"


def check_archive_name(name: str) -> str:
    if not _ARCHIVE_NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name[:300]}' at 'archiveName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\.\\-_A-Za-z0-9]+ and have length between 1 and 48"
        )
    return name


def check_replay_name(name: str) -> str:
    if not _REPLAY_NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name[:300]}' at 'replayName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[\\.\\-_A-Za-z0-9]+ and have length between 1 and 64"
        )
    return name


@dataclass(frozen=True, slots=True)
class Archive:
    """An archive; ``event_count`` and ``size_bytes`` are what the store holds when read."""

    tenant_id: str
    region: str
    name: str
    bus_name: str
    source_arn: str
    event_pattern: str | None = None
    description: str | None = None
    retention_days: int = 0
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = ArchiveState.ENABLED
    event_count: int = 0
    size_bytes: int = 0
    kms_key: str | None = None  # KmsKeyIdentifier, as given (decision 0204)

    @property
    def arn(self) -> str:
        return archive_arn(self.region, self.tenant_id, self.name)

    @property
    def key_scope(self) -> KeyScope:
        """Its events' use of its KMS key (decision 0204)."""
        return KeyScope(self.tenant_id, self.kms_key, self.source_arn, self.arn)

    def document(self) -> str:
        return json.dumps(
            {
                "EventPattern": self.event_pattern,
                "Description": self.description,
                "State": self.state,
                "KmsKeyIdentifier": self.kms_key,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_row(region: str, m: Any) -> Archive:
        doc = json.loads(m["document"])
        return Archive(
            str(m["tenant_id"]),
            region,
            str(m["archive_name"]),
            str(m["bus_name"]),
            str(m["source_arn"]),
            event_pattern=doc.get("EventPattern"),
            description=doc.get("Description"),
            retention_days=int(m["retention_days"]),
            created=from_micros(int(m["created"])),
            state=doc.get("State", ArchiveState.ENABLED),
            kms_key=doc.get("KmsKeyIdentifier"),
        )


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """One archived event: ``event_id`` its place in the archive (ascending with arrival),
    ``time`` the event's own ``time``, ``event`` its JSON ("" when it never opens again: its
    tenant's key destroyed)."""

    event_id: int
    time: datetime
    event: str


@dataclass(frozen=True, slots=True)
class Replay:
    """A replay; ``cursor`` is the (event time, archived id) of the last event it handed on,
    so that a runner resuming after a restart goes on from there."""

    tenant_id: str
    region: str
    name: str
    archive_name: str
    source_arn: str
    start: datetime
    end: datetime
    destination: str
    filter_arns: tuple[str, ...] = ()
    description: str | None = None
    state: str = ReplayState.STARTING
    state_reason: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    last_replayed: datetime | None = None
    cursor: tuple[int, int] = (0, 0)

    @property
    def arn(self) -> str:
        return replay_arn(self.region, self.tenant_id, self.name)

    def moved(self, state: str, at: datetime, reason: str | None = None) -> Replay:
        """The replay in ``state`` from ``at``, as :data:`REPLAY_TRANSITIONS` allows."""
        if state not in REPLAY_TRANSITIONS[self.state]:
            raise ValidationError(f"Replay {self.name} cannot go from {self.state} to {state}.")
        ended = self.ended
        if state in (ReplayState.COMPLETED, ReplayState.CANCELLED, ReplayState.FAILED):
            ended = ended or at
        return replace(self, state=state, state_reason=reason, ended=ended)

    def document(self) -> str:
        return json.dumps(
            {
                "Start": micros(self.start),
                "End": micros(self.end),
                "Destination": self.destination,
                "FilterArns": list(self.filter_arns),
                "Description": self.description,
                "SourceArn": self.source_arn,
                "Created": micros(self.created),
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_row(region: str, m: Any) -> Replay:
        doc = json.loads(m["document"])
        ended, last = m["ended"], m["last_replayed"]
        return Replay(
            str(m["tenant_id"]),
            region,
            str(m["replay_name"]),
            str(m["archive_name"]),
            str(doc["SourceArn"]),
            from_micros(int(doc["Start"])),
            from_micros(int(doc["End"])),
            str(doc["Destination"]),
            tuple(doc.get("FilterArns") or ()),
            doc.get("Description"),
            str(m["state"]),
            m["state_reason"],
            from_micros(int(doc["Created"])),
            None if ended is None else from_micros(int(ended)),
            None if last is None else from_micros(int(last)),
            (int(m["cursor_time"]), int(m["cursor_id"])),
        )
