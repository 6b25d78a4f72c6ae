"""CloudWatch Logs' pure rules (decision 0186): the names of groups and streams, the
retention days AWS allows, the ARNs, PutLogEvents' batch rules and the position tokens of
GetLogEvents. No I/O here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from andromede.logs.errors import InvalidParameter

__all__ = [
    "EVENT_OVERHEAD",
    "RETENTION_DAYS",
    "Batch",
    "InputEvent",
    "LogGroup",
    "LogStream",
    "LogsLimits",
    "Position",
    "StoredEvent",
    "check_batch",
    "check_group_name",
    "check_stream_name",
    "check_tags",
    "group_arn",
    "parse_position_token",
    "position_token",
    "stream_arn",
]

# AWS counts each event as its UTF-8 message plus 26 bytes against a batch's 1,048,576.
EVENT_OVERHEAD: Final = 26
RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip
_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_DAY_MS: Final = 86_400_000
_HOUR_MS: Final = 3_600_000


def check_group_name(name: object, parameter: str = "logGroupName") -> str:
    if not isinstance(name, str) or _GROUP_NAME.fullmatch(name) is None:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{parameter}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have "
            "length between 1 and 512"
        )
    return name


def check_stream_name(name: object, parameter: str = "logStreamName") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{parameter}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [^:*]* and have length between "
            "1 and 512"
        )
    return name


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise InvalidParameter(f"Invalid tag key {str(key)[:128]!r}")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidParameter(f"Invalid value for tag {key!r}")
    return dict(tags)


def group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def stream_arn(region: str, account: str, group: str, stream: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"


@dataclass(frozen=True, slots=True)
class LogGroup:
    tenant_id: str
    name: str
    created: int  # milliseconds since the epoch, as AWS answers creationTime
    retention_days: int | None = None
    kms_key_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    stored_bytes: int = 0
    # Its data protection policy document and when it was put (decision 0211).
    data_protection: str | None = None
    data_protection_updated: int | None = None
    # Its class, chosen when it is made, and its deletion protection (decision 0222).
    log_class: str = "STANDARD"
    deletion_protection: bool = False
    # Its field index policy document and when it was put (decision 0232).
    index_policy: str | None = None
    index_policy_updated: int | None = None


@dataclass(frozen=True, slots=True)
class LogStream:
    tenant_id: str
    group: str
    name: str
    created: int
    first_event: int | None = None
    last_event: int | None = None
    last_ingestion: int | None = None
    stored_bytes: int = 0


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where an event lies in its stream: its timestamp, then the order it was stored in."""

    timestamp: int
    seq: int


@dataclass(frozen=True, slots=True)
class InputEvent:
    timestamp: int
    message: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the store keeps it: its message sealed (``size`` is the plaintext's)."""

    stream: str
    timestamp: int
    ingestion: int
    size: int
    sealed: bytes
    seq: int = 0
    masks: str | None = None  # the spans a data protection policy found (decision 0211)

    @property
    def position(self) -> Position:
        return Position(self.timestamp, self.seq)


@dataclass(frozen=True, slots=True)
class Batch:
    """A PutLogEvents batch once its rules are applied: the events to store and the
    ``rejectedLogEventsInfo`` indexes of those AWS would reject."""

    accepted: list[InputEvent]
    too_new_start: int | None = None
    too_old_end: int | None = None
    expired_end: int | None = None
    log_class: str = "STANDARD"  # the group's: its ingestion is metered by class (0222)

    def rejected_info(self) -> dict[str, int]:
        info: dict[str, int] = {}
        if self.too_new_start is not None:
            info["tooNewLogEventStartIndex"] = self.too_new_start
        if self.too_old_end is not None:
            info["tooOldLogEventEndIndex"] = self.too_old_end
        if self.expired_end is not None:
            info["expiredLogEventEndIndex"] = self.expired_end
        return info


def check_batch(
    events: list[InputEvent],
    *,
    now: int,
    retention_days: int | None,
    max_events: int,
    max_bytes: int,
    max_age_ms: int = 14 * _DAY_MS,
    max_ahead_ms: int = 2 * _HOUR_MS,
) -> Batch:
    """AWS's batch rules: refused whole (InvalidParameter) when empty, too many, too large,
    out of chronological order or spanning more than 24 hours; else the events older than
    ``max_age_ms``, than the retention, or more than ``max_ahead_ms`` ahead are rejected by
    index and the rest accepted."""
    if not events:
        raise InvalidParameter("logEvents must hold at least one event")
    if len(events) > max_events:
        raise InvalidParameter(
            f"1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
            f"Member must have length less than or equal to {max_events}"
        )
    size = sum(len(e.message.encode()) + EVENT_OVERHEAD for e in events)
    if size > max_bytes:
        raise InvalidParameter(f"Upload too large: {size} bytes exceeds limit of {max_bytes}")
    if any(not e.message for e in events):
        raise InvalidParameter("Log event messages must not be empty")
    if any(b.timestamp < a.timestamp for a, b in itertools.pairwise(events)):
        raise InvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    if events[-1].timestamp - events[0].timestamp > _DAY_MS:
        raise InvalidParameter(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )
    too_old_end = expired_end = too_new_start = None
    retention_floor = None if retention_days is None else now - retention_days * _DAY_MS
    for index, event in enumerate(events):
        if event.timestamp < now - max_age_ms:
            too_old_end = index
        if retention_floor is not None and event.timestamp < retention_floor:
            expired_end = index
        if too_new_start is None and event.timestamp > now + max_ahead_ms:
            too_new_start = index
    first = max(i for i in (too_old_end, expired_end, -1) if i is not None) + 1
    last = len(events) if too_new_start is None else too_new_start
    return Batch(events[first:last], too_new_start, too_old_end, expired_end)


def position_token(direction: str, position: Position) -> str:
    """GetLogEvents' ``nextForwardToken`` (``f``) or ``nextBackwardToken`` (``b``)."""
    return f"{direction}/{position.timestamp:019d}/{position.seq:019d}"


def parse_position_token(token: str) -> tuple[str, Position]:
    parts = token.split("/")
    if len(parts) != 3 or parts[0] not in ("f", "b") or not all(p.isdigit() for p in parts[1:]):
        raise InvalidParameter("The specified nextToken is invalid.")
    return parts[0], Position(int(parts[1]), int(parts[2]))


@dataclass(frozen=True, slots=True)
class LogsLimits:
    """The service's bounds, each a setting (``settings/logs.py``)."""

    max_groups: int = 1_000_000
    max_events: int = 10_000
    max_batch_bytes: int = 1_048_576
    page: int = 50
    events_page: int = 10_000
    filter_scan: int = 100_000
    max_age_ms: int = 14 * 86_400_000
    max_ahead_ms: int = 2 * 3_600_000
    max_response_bytes: int = 1_048_576
    max_metric_filters: int = 100
    metric_filter_cache_ms: int = 5_000
    metric_tally_keys: int = 100_000
    max_resource_policies: int = 10
