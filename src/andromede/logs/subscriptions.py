"""CloudWatch Logs subscription filters (decision 0225): what a filter is, how its parameters
are checked, the records AWS delivers (its subscription payload, gzip-compressed), the outbox
entries that carry them from PutLogEvents to the destination, and the store's ``Protocol``
with its in-memory twin. Pure but for the twin: no I/O here.

A group has at most two filters (AWS's quota). Amazon Data Firehose streams, Kinesis data
streams (decision 0235) and Lambda functions (decision 0304: unqualified, or a version or an
alias) of the group's own account and Region are served as destinations; OpenSearch domains
and cross-account destinations are refused in words that say so. A Kinesis record's partition
key is the log stream's name (``ByLogStream``) or random (``Random``), chosen when the record
is made and kept with it in the outbox. A Lambda function is invoked by CloudWatch Logs as
itself, allowed by the function's resource-based policy: no role is needed (one given is kept
as given, never used), and its records are split smaller, so that each fits, base64-encoded,
an Event invocation's payload (the deployment's ``lambda_max_event_payload_bytes``, AWS's 1 MB;
``max_lambda_record`` of the service's limits).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.logs.errors import InvalidParameter, LimitExceeded
from andromede.logs.filter import compile_pattern
from andromede.logs.metric_filters import MAX_PATTERN, check_filter_name
from andromede.logs.model import InputEvent, LogGroup

__all__ = [
    "DISTRIBUTIONS",
    "KINESIS",
    "LAMBDA",
    "MAX_RECORD",
    "GroupSubscriber",
    "MemorySubscriptionStore",
    "OutboxEntry",
    "SubscriptionFilter",
    "SubscriptionStore",
    "check_delivery",
    "control_message",
    "data_messages",
    "is_kinesis",
    "is_lambda",
    "max_record",
    "partition_key",
    "subscription_filter",
]

DISTRIBUTIONS: Final = ("ByLogStream", "Random")
# Firehose's bound on one record (1,000 KiB), below Kinesis' (1 MiB): a payload past it is split.
MAX_RECORD: Final = 1000 * 1024
KINESIS: Final = "kinesis"
LAMBDA: Final = "lambda"
CONTROL_TEXT: Final = "CWL CONTROL MESSAGE: Checking health of destination Firehose."
KINESIS_CONTROL_TEXT: Final = "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
_RESOURCES: Final = {"firehose": "deliverystream/", KINESIS: "stream/"}
# A function's ARN, unqualified or qualified by a version or an alias (Lambda's own pattern).
_FUNCTION: Final = re.compile(r"function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?")
_SERVICES_NOT_SERVED: Final = {
    "es": "OpenSearch Service domains",
    "logs": "CloudWatch Logs destinations (cross-account)",
}


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    tenant_id: str
    group: str
    name: str
    pattern: str
    destination_arn: str
    role_arn: str
    distribution: str
    created: int

    def shape(self) -> dict[str, Any]:
        """As DescribeSubscriptionFilters answers it (no ``roleArn`` when none was given: a
        Lambda function's)."""
        shaped: dict[str, Any] = {
            "filterName": self.name,
            "logGroupName": self.group,
            "filterPattern": self.pattern,
            "destinationArn": self.destination_arn,
            "distribution": self.distribution,
            "applyOnTransformedLogs": False,
            "creationTime": self.created,
        }
        if self.role_arn:
            shaped["roleArn"] = self.role_arn
        return shaped


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One record waiting for its destination, sealed under the account's keys; ``entry_id``
    (random) binds the sealed bytes to the row, with the account and group."""

    entry_id: str
    tenant_id: str
    group: str
    filter_name: str
    destination_arn: str
    role_arn: str
    arrived: int  # ms
    size: int
    sealed: bytes
    events: int = 1  # the log events the record carries (AWS/Logs ForwardedLogEvents)
    attempts: int = 0
    next_attempt: int = 0
    lease_owner: str | None = None
    lease_until: int = 0
    partition_key: str = ""  # a Kinesis destination's (decision 0235); unused by Firehose

    def context(self) -> bytes:
        """The AAD of its sealed record."""
        parts = ("logs-subscription", self.tenant_id, self.group, self.entry_id)
        return "\x00".join(parts).encode()


def _invalid(name: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"1 validation error detected: Value at '{name}' failed to satisfy constraint: {why}"
    )


def subscription_filter(
    tenant_id: str,
    region: str,
    group: str,
    params: dict[str, Any],
    created: int,
) -> SubscriptionFilter:
    """PutSubscriptionFilter's parameters checked as AWS checks them."""
    name = check_filter_name(params.get("filterName"))
    pattern = params.get("filterPattern")
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise _invalid(
            "filterPattern", f"Member must have length less than or equal to {MAX_PATTERN}"
        )
    compile_pattern(pattern)
    destination, role, distribution = check_delivery(
        tenant_id,
        region,
        params.get("destinationArn"),
        params.get("roleArn"),
        params.get("distribution"),
        ("destinationArn", "roleArn", "distribution"),
    )
    if params.get("applyOnTransformedLogs") not in (None, False):
        raise InvalidParameter("applyOnTransformedLogs: log transformers are not served here")
    return SubscriptionFilter(
        tenant_id, group, name, pattern, destination, role, distribution, created
    )


def check_delivery(
    tenant_id: str,
    region: str,
    destination: object,
    role: object,
    distribution: object,
    fields: tuple[str, str, str],
) -> tuple[str, str, str]:
    """A subscription's destination, role and distribution checked as AWS checks them (a
    filter's parameters or an account policy's document, whose ``fields`` name them)."""
    destination_field, role_field, distribution_field = fields
    if not isinstance(destination, str) or not 1 <= len(destination) <= 2048:
        raise _invalid(destination_field, "Member must have length between 1 and 2048")
    parts = destination.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise InvalidParameter(f"Invalid {destination_field} {destination[:256]!r}")
    service = parts[2]
    if service in _SERVICES_NOT_SERVED:
        raise InvalidParameter(
            f"{_SERVICES_NOT_SERVED[service]} are not served here as subscription "
            "destinations: use an Amazon Data Firehose stream, a Kinesis data stream or a Lambda "
            "function (decisions 0225, 0235, 0304)"
        )
    if service == LAMBDA:
        return _lambda_delivery(tenant_id, region, destination, parts, role, distribution, fields)
    resource = _RESOURCES.get(service)
    if resource is None or not parts[5].startswith(resource) or parts[5] == resource:
        raise InvalidParameter(f"Invalid {destination_field} {destination[:256]!r}")
    kind = "Kinesis" if service == KINESIS else "Firehose"
    if parts[3] != region or parts[4] != tenant_id:
        raise InvalidParameter(
            f"A {kind} destination must be a stream of the log group's own account and "
            "Region: cross-account and cross-Region delivery is not served (decision 0225)"
        )
    if not isinstance(role, str) or not role.startswith("arn:aws:iam::"):
        raise InvalidParameter(
            f"A {role_field} is required for a {kind} destination: the role CloudWatch "
            "Logs assumes to put records into the stream"
        )
    distribution = distribution or "ByLogStream"
    if distribution not in DISTRIBUTIONS:
        raise _invalid(
            distribution_field, "Member must satisfy enum value set: [Random, ByLogStream]"
        )
    return destination, role, str(distribution)


def _lambda_delivery(
    tenant_id: str,
    region: str,
    destination: str,
    parts: list[str],
    role: object,
    distribution: object,
    fields: tuple[str, str, str],
) -> tuple[str, str, str]:
    """A Lambda function of the group's account and Region; a role is not asked (Logs invokes
    the function as itself), one given must still be a role's ARN."""
    destination_field, role_field, distribution_field = fields
    if _FUNCTION.fullmatch(parts[5]) is None:
        raise InvalidParameter(f"Invalid {destination_field} {destination[:256]!r}")
    if parts[3] != region or parts[4] != tenant_id:
        raise InvalidParameter(
            "A Lambda destination must be a function of the log group's own account and "
            "Region: cross-account and cross-Region delivery is not served (decision 0304)"
        )
    if role not in (None, "") and (
        not isinstance(role, str) or not role.startswith("arn:aws:iam::")
    ):
        raise InvalidParameter(f"Invalid {role_field} {str(role)[:256]!r}")
    distribution = distribution or "ByLogStream"
    if distribution not in DISTRIBUTIONS:
        raise _invalid(
            distribution_field, "Member must satisfy enum value set: [Random, ByLogStream]"
        )
    return destination, role or "", str(distribution)


def _gzip(message: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(message, separators=(",", ":")).encode(), mtime=0)


def is_kinesis(destination_arn: str) -> bool:
    return destination_arn.split(":", 3)[2:3] == [KINESIS]


def is_lambda(destination_arn: str) -> bool:
    return destination_arn.split(":", 3)[2:3] == [LAMBDA]


def max_record(destination_arn: str, lambda_bound: int) -> int:
    """The bound of one record for the destination: a Firehose record's, or ``lambda_bound``
    for a Lambda function when less (its base64 form must fit an Event invocation)."""
    return min(lambda_bound, MAX_RECORD) if is_lambda(destination_arn) else MAX_RECORD


def partition_key(destination_arn: str, distribution: str, log_stream: str) -> str:
    """A record's Kinesis partition key: its log stream's name (``ByLogStream``: a stream's
    records in one shard, in order) or random (``Random``: spread evenly); none for
    Firehose."""
    if not is_kinesis(destination_arn):
        return ""
    # AWS's partition keys are at most 256 characters, a log stream's name 512.
    return log_stream[:256] if distribution == "ByLogStream" else secrets.token_hex(16)


def control_message(now: int, destination_arn: str = "") -> bytes:
    """The record AWS puts into the destination when a filter is put (a health check)."""
    text = KINESIS_CONTROL_TEXT if is_kinesis(destination_arn) else CONTROL_TEXT
    return _gzip(
        {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": now, "message": text}],
        }
    )


def event_id(timestamp: int, sequence: int) -> str:
    """An event's ``id`` as AWS's look (a 56-digit decimal string), unique in the batch."""
    return f"{timestamp:020d}{sequence:036d}"


def data_messages(
    owner: str,
    group: str,
    stream: str,
    filter_name: str,
    events: Sequence[tuple[str, int, str]],
    limit: int = MAX_RECORD,
) -> list[tuple[bytes, int]]:
    """The ``(id, timestamp, message)`` events of one stream as AWS's DATA_MESSAGE records,
    gzip-compressed, split until each fits ``limit`` bytes (a Firehose record; less for a
    Lambda function's: :func:`max_record`); each with its events' count."""
    message = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": i, "timestamp": t, "message": m} for i, t, m in events],
    }
    record = _gzip(message)
    if len(record) <= limit or len(events) == 1:
        return [(record, len(events))]  # a single event is at most 256 KiB: it always fits
    half = len(events) // 2
    return data_messages(owner, group, stream, filter_name, events[:half], limit) + (
        data_messages(owner, group, stream, filter_name, events[half:], limit)
    )


class GroupSubscriber(Protocol):
    """What ``LogsService`` tells of its groups: the events PutLogEvents accepted (masked),
    and a group's deletion."""

    async def ingested(
        self, group: LogGroup, stream: str, events: Sequence[InputEvent], now: int
    ) -> None: ...

    async def group_deleted(self, tenant_id: str, group_name: str) -> None: ...


class SubscriptionStore(Protocol):
    async def put_filter(self, found: SubscriptionFilter, max_filters: int) -> None:
        """Create or replace (by name); LimitExceeded past ``max_filters`` for the group."""
        ...

    async def list_filters(
        self, tenant_id: str, group: str, prefix: str, after: str, limit: int
    ) -> list[SubscriptionFilter]:
        """By name, after ``after``."""
        ...

    async def delete_filter(self, tenant_id: str, group: str, name: str) -> bool: ...

    async def delete_group(self, tenant_id: str, group: str) -> int:
        """The group's filters and waiting records, with the group."""
        ...

    async def enqueue(self, entries: Sequence[OutboxEntry], max_bytes: int) -> bool:
        """All or none: False when the account's waiting records would pass ``max_bytes``."""
        ...

    async def claim(self, owner: str, now: int, lease_until: int, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` due entries no live lease holds, now leased to ``owner``."""
        ...

    async def remove(self, entry_id: str, owner: str) -> bool:
        """Delivered (or given up): removed if ``owner`` still holds it."""
        ...

    async def retry(self, entry_id: str, owner: str, next_attempt: int) -> bool:
        """Failed: one more attempt counted, due again at ``next_attempt``, lease released."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemorySubscriptionStore:
    """The in-memory twin of :class:`SubscriptionStore`."""

    def __init__(self) -> None:
        self._filters: dict[tuple[str, str, str], SubscriptionFilter] = {}
        self._outbox: dict[str, OutboxEntry] = {}

    async def put_filter(self, found: SubscriptionFilter, max_filters: int) -> None:
        key = (found.tenant_id, found.group, found.name)
        if key not in self._filters:
            held = [k for k in self._filters if k[:2] == key[:2]]
            if len(held) >= max_filters:
                raise LimitExceeded("Resource limit exceeded.")
        else:
            found = dataclasses.replace(found, created=self._filters[key].created)
        self._filters[key] = found

    async def list_filters(
        self, tenant_id: str, group: str, prefix: str, after: str, limit: int
    ) -> list[SubscriptionFilter]:
        found = sorted(
            (f for k, f in self._filters.items() if k[:2] == (tenant_id, group)),
            key=lambda f: f.name,
        )
        return [f for f in found if f.name.startswith(prefix) and f.name > after][:limit]

    async def delete_filter(self, tenant_id: str, group: str, name: str) -> bool:
        return self._filters.pop((tenant_id, group, name), None) is not None

    async def delete_group(self, tenant_id: str, group: str) -> int:
        gone = [k for k in self._filters if k[:2] == (tenant_id, group)]
        for key in gone:
            del self._filters[key]
        for entry_id in [
            e.entry_id
            for e in self._outbox.values()
            if (e.tenant_id, e.group) == (tenant_id, group)
        ]:
            del self._outbox[entry_id]
        return len(gone)

    async def enqueue(self, entries: Sequence[OutboxEntry], max_bytes: int) -> bool:
        for tenant_id in {e.tenant_id for e in entries}:
            held = sum(e.size for e in self._outbox.values() if e.tenant_id == tenant_id)
            new = sum(e.size for e in entries if e.tenant_id == tenant_id)
            if held + new > max_bytes:
                return False
        for entry in entries:
            self._outbox[entry.entry_id] = entry
        return True

    async def claim(self, owner: str, now: int, lease_until: int, limit: int) -> list[OutboxEntry]:
        due = sorted(
            (e for e in self._outbox.values() if e.next_attempt <= now and e.lease_until < now),
            key=lambda e: (e.next_attempt, e.arrived, e.entry_id),
        )[:limit]
        taken = []
        for entry in due:
            held = dataclasses.replace(entry, lease_owner=owner, lease_until=lease_until)
            self._outbox[entry.entry_id] = held
            taken.append(held)
        return taken

    def _held(self, entry_id: str, owner: str) -> OutboxEntry | None:
        entry = self._outbox.get(entry_id)
        return entry if entry is not None and entry.lease_owner == owner else None

    async def remove(self, entry_id: str, owner: str) -> bool:
        if self._held(entry_id, owner) is None:
            return False
        del self._outbox[entry_id]
        return True

    async def retry(self, entry_id: str, owner: str, next_attempt: int) -> bool:
        entry = self._held(entry_id, owner)
        if entry is None:
            return False
        self._outbox[entry_id] = dataclasses.replace(
            entry,
            attempts=entry.attempts + 1,
            next_attempt=next_attempt,
            lease_owner=None,
            lease_until=0,
        )
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._filters if k[0] == tenant_id]
        for key in gone:
            del self._filters[key]
        for entry_id in [e.entry_id for e in self._outbox.values() if e.tenant_id == tenant_id]:
            del self._outbox[entry_id]
        return len(gone)
