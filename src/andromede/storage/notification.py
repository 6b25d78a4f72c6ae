"""A bucket's event notification configuration and the events it queues (decision 0132).

The configuration is S3's ``TopicConfiguration`` list: each rule names a topic (an SNS-style
ARN of the bucket owner's, kept by ``andromede.notifications``), the event types it wants and
an optional key filter (one prefix, one suffix). It is stored among the bucket's documents
(kind ``notification``, JSON with a format version) and read with the bucket, as replication
is, so a write to a bucket without one pays nothing.

A write that a rule selects carries an :class:`EventBatch` to the metadata store, which turns
it into rows of ``notification_events`` in the transaction that commits the version or the
delete: the event's message is S3's event JSON (eventVersion 2.1), complete but for the
version id the commit gives it. The delivery worker (``andromede.notifications``) pushes them.

Increment 2 adds the tagging, ACL and lifecycle expiration families (eventVersion 2.3, as S3
sends them); a lifecycle expiry's source is S3 itself (:func:`lifecycle_source`).

Increment 3 adds Ceph RGW's ``S3Metadata`` and ``S3Tags`` filters: a rule selects an object only
when each of its metadata pairs is among the object's user metadata and each of its tag pairs
among its tags. They are matched against the object the write holds; a removal holds none
without another read, so a rule with them may not name removal events
(:func:`attribute_filtered_removals`).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote_plus

from andromede.db.notification_events import EVENTBRIDGE_DESTINATION, EventSealer, seal_message

__all__ = [
    "ACL_EVENTS",
    "CREATED_EVENTS",
    "EMITTED_EVENTS",
    "EVENT_FORMAT_VERSION",
    "LIFECYCLE_EVENTS",
    "LIFECYCLE_PRINCIPAL",
    "METADATA_PREFIX",
    "NOTIFICATION_DOCUMENT",
    "REMOVED_EVENTS",
    "SUPPORTED_EVENTS",
    "TAGGING_EVENTS",
    "EventBatch",
    "EventSource",
    "NotificationConfiguration",
    "PendingEvent",
    "TopicRule",
    "attribute_filtered_removals",
    "event_time",
    "eventbridge_rule",
    "lifecycle_source",
    "overlapping",
]

NOTIFICATION_DOCUMENT: Final = "notification"
# 2: rules may carry metadata and tag filters (increment 3). A document without them is still
# written as 1, so a gateway of an earlier release reads it; one with them is refused there
# rather than read as a rule that would select every object.
_FORMAT_VERSION: Final = 2
_FORMATS_READ: Final = frozenset({1, 2})
# The prefix RGW's S3Metadata rules name user metadata by, as the HTTP headers carry it.
METADATA_PREFIX: Final = "x-amz-meta-"
# The version of a queued event's stored form (``notification_events.format_version``).
EVENT_FORMAT_VERSION: Final = 1

# The events this platform emits, without S3's "s3:" prefix (as eventName carries them).
CREATED_EVENTS: Final = (
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
)
REMOVED_EVENTS: Final = ("ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated")
# Increment 2: PutObjectTagging/DeleteObjectTagging, PutObjectAcl and the lifecycle's expiries.
TAGGING_EVENTS: Final = ("ObjectTagging:Put", "ObjectTagging:Delete")
ACL_EVENTS: Final = ("ObjectAcl:Put",)
LIFECYCLE_EVENTS: Final = ("LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated")
EMITTED_EVENTS: Final = (
    *CREATED_EVENTS,
    *REMOVED_EVENTS,
    *TAGGING_EVENTS,
    *ACL_EVENTS,
    *LIFECYCLE_EVENTS,
)
# What a configuration may name: each event and its family's wildcard (S3 has none for
# ObjectAcl). The types of what this platform never does (restores, transitions, Intelligent-
# Tiering, replication metrics, reduced redundancy) are refused: a rule for them would
# promise events that cannot come (decision 0132, increment 2).
SUPPORTED_EVENTS: Final = frozenset(
    {f"s3:{name}" for name in EMITTED_EVENTS}
    | {
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
        "s3:ObjectTagging:*",
        "s3:LifecycleExpiration:*",
    }
)
# Who an expiry's event says made it: S3's own name there, which consumers written for AWS
# test to tell the lifecycle's removals from a client's.
LIFECYCLE_PRINCIPAL: Final = "s3.amazonaws.com"
# The families S3 sends as eventVersion 2.3 (they carry their own operation's data there);
# the others stay 2.1, as the first increment sends them.
_VERSION_2_3: Final = ("ObjectTagging:", "ObjectAcl:", "LifecycleExpiration:")


def _covers(configured: str, event_name: str) -> bool:
    """Whether the configured ``s3:…`` event type takes the emitted ``event_name``."""
    name = configured.removeprefix("s3:")
    if name.endswith(":*"):
        return event_name.startswith(name[:-1])
    return name == event_name


# The removals: queued before the store's delete reads the row it removes, and with sealed
# headers it could not open in its transaction anyway, so no object metadata or tags are at
# hand when their events are built (decision 0132, increment 3).
_REMOVALS: Final = frozenset({*REMOVED_EVENTS, *LIFECYCLE_EVENTS})


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One ``TopicConfiguration``: its id, the topic's ARN, its event types as written
    (``s3:ObjectCreated:*``), its key filter (None: no such rule) and RGW's metadata and tag
    filters (pairs as given; metadata names ``x-amz-meta-*``, matched without their case)."""

    id: str
    topic_arn: str
    events: tuple[str, ...]
    prefix: str | None = None
    suffix: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def selects(
        self,
        event_name: str,
        key: str,
        user_metadata: Mapping[str, str] | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Whether the event of ``key`` is this rule's. ``user_metadata`` (names lower-case,
        without ``x-amz-meta-``, as ``ContentHeaders`` keeps them) and ``tags``: the
        object's; every pair of the rule must be among them, other entries do not matter
        (RGW's semantics)."""
        metadata = user_metadata or {}
        return (
            any(_covers(e, event_name) for e in self.events)
            and (self.prefix is None or key.startswith(self.prefix))
            and (self.suffix is None or key.endswith(self.suffix))
            and all(metadata.get(_metadata_name(name)) == value for name, value in self.metadata)
            and all(pair in tags for pair in self.tags)
        )


def eventbridge_rule() -> TopicRule:
    """A bucket's ``EventBridgeConfiguration`` (decision 0192's session 48 addendum): every
    event the bucket emits, unfiltered, to its owner's default bus, kept as one more rule."""
    families = ("ObjectCreated", "ObjectRemoved", "ObjectTagging", "LifecycleExpiration")
    return TopicRule(
        "EventBridgeConfiguration",
        EVENTBRIDGE_DESTINATION,
        (*(f"s3:{family}:*" for family in families), *(f"s3:{e}" for e in ACL_EVENTS)),
    )


def _metadata_name(name: str) -> str:
    """A filter's ``x-amz-meta-Color`` as ``ContentHeaders.user_metadata`` keys it."""
    return name.lower().removeprefix(METADATA_PREFIX)


def attribute_filtered_removals(rule: TopicRule) -> list[str]:
    """The removal events (``ObjectRemoved``, ``LifecycleExpiration``) a rule with metadata
    or tag filters names: they can never be selected, the object's attributes being unknown
    when a removal is queued, so the configuration refuses them."""
    if not rule.metadata and not rule.tags:
        return []
    return sorted(_families(rule.events) & _REMOVALS)


def _families(events: Sequence[str]) -> set[str]:
    """The emitted event names a rule's types cover, to tell whether two rules share one."""
    return {e for e in EMITTED_EVENTS if any(_covers(c, e) for c in events)}


def _overlap(first: str | None, second: str | None, *, suffixes: bool) -> bool:
    """Whether some key can match both filters: a missing one matches every key, two
    prefixes overlap when one begins the other, two suffixes when one ends the other."""
    if not first or not second:
        return True
    if suffixes:
        return first.endswith(second) or second.endswith(first)
    return first.startswith(second) or second.startswith(first)


def _compatible(
    first: Sequence[tuple[str, str]], second: Sequence[tuple[str, str]], *, fold: bool
) -> bool:
    """Whether one object can match both pair filters: not when they ask one name (of
    metadata, ``fold``: without its case) for two values, as an object has one per name."""
    wanted = {(name.lower() if fold else name): value for name, value in first}
    return all(wanted.get(name.lower() if fold else name, value) == value for name, value in second)


def overlapping(rules: Sequence[TopicRule]) -> bool:
    """Whether two rules share an event type and some object matches both filters, which S3
    refuses ("Configuration is ambiguously defined…"): it could not say which rule an event
    belongs to. Two rules of one event type and one topic are refused likewise. Metadata and
    tag filters set two rules apart only when they ask one name for different values."""
    for index, first in enumerate(rules):
        for second in rules[index + 1 :]:
            if not _families(first.events) & _families(second.events):
                continue
            if (
                _overlap(first.prefix, second.prefix, suffixes=False)
                and _overlap(first.suffix, second.suffix, suffixes=True)
                and _compatible(first.metadata, second.metadata, fold=True)
                and _compatible(first.tags, second.tags, fold=False)
            ):
                return True
    return False


@dataclass(frozen=True, slots=True)
class NotificationConfiguration:
    rules: tuple[TopicRule, ...]

    def rules_for(
        self,
        event_name: str,
        key: str,
        user_metadata: Mapping[str, str] | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> list[TopicRule]:
        return [r for r in self.rules if r.selects(event_name, key, user_metadata, tags)]

    def to_text(self) -> str:
        topics: list[dict[str, Any]] = []
        for r in self.rules:
            topic: dict[str, Any] = {
                "id": r.id,
                "topic": r.topic_arn,
                "events": list(r.events),
                "prefix": r.prefix,
                "suffix": r.suffix,
            }
            if r.metadata:
                topic["metadata"] = [list(pair) for pair in r.metadata]
            if r.tags:
                topic["tags"] = [list(pair) for pair in r.tags]
            topics.append(topic)
        filtered = any(r.metadata or r.tags for r in self.rules)
        return json.dumps(
            {"format_version": _FORMAT_VERSION if filtered else 1, "topics": topics},
            separators=(",", ":"),
        )

    @classmethod
    def from_text(cls, text: str) -> NotificationConfiguration:
        data = json.loads(text)
        if data.get("format_version") not in _FORMATS_READ:
            raise ValueError(f"unknown notification format {data.get('format_version')!r}")
        return cls(
            tuple(
                TopicRule(
                    str(r["id"]),
                    str(r["topic"]),
                    tuple(str(e) for e in r["events"]),
                    r.get("prefix"),
                    r.get("suffix"),
                    tuple((str(n), str(v)) for n, v in r.get("metadata", ())),
                    tuple((str(n), str(v)) for n, v in r.get("tags", ())),
                )
                for r in data["topics"]
            )
        )


@dataclass(frozen=True, slots=True)
class EventSource:
    """What the request tells of an event: its name (``ObjectCreated:Put``), who made it and
    from where; ``trace`` its ``X-Amzn-Trace-Id``, the Lambda lineage the event carries on
    (decision 0336)."""

    event_name: str
    principal_id: str
    source_ip: str
    request_id: str
    trace: str | None = None


def lifecycle_source(event_name: str) -> EventSource:
    """An expiry's event, as S3 tells of its lifecycle's: by S3 itself, from S3, with a
    request id of its own (no client's request made it)."""
    return EventSource(
        event_name, LIFECYCLE_PRINCIPAL, LIFECYCLE_PRINCIPAL, secrets.token_hex(8).upper()
    )


def event_time(moment: datetime) -> str:
    """S3's eventTime: ``2026-12-04T21:50:44.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event for one rule's topic: the S3 event record, without the version id the
    commit gives it."""

    tenant_id: str
    topic_arn: str
    record: Mapping[str, Any]
    # The message sealed under the tenant's key, before the write's transaction (decision
    # 0163's addendum); None: queued in clear (a store given no sealer: the memory one).
    sealed: str | None = None

    def message(self, version_id: str | None) -> str:
        """The message pushed: ``{"Records": [record]}`` with the committed version's id."""
        record = dict(self.record)
        s3 = dict(record["s3"])
        obj = dict(s3["object"])
        if version_id is not None:
            obj["versionId"] = version_id
        s3["object"] = obj
        record["s3"] = s3
        return json.dumps({"Records": [record]}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class EventBatch:
    """The events a write queues in its own transaction (at least one). ``bound``: the most
    events a tenant may have waiting; beyond it new ones are dropped (and logged), never the
    write refused. ``made_at``: the write's time, when its events become due: the store
    queues them at it, not at its own clock, so the events' time is the one they carry.
    ``trace``: the write's trace header, kept with each event (decision 0336)."""

    events: tuple[PendingEvent, ...]
    bound: int
    made_at: datetime
    trace: str | None = None

    async def sealed_by(self, sealer: EventSealer) -> EventBatch:
        """The batch with each message sealed under its tenant's key: done before the write's
        transaction begins, so that no key provider is called while it holds the database."""
        events = []
        for event in self.events:
            if event.sealed is None:
                sealed = await seal_message(
                    sealer, event.tenant_id, event.topic_arn, event.message(None)
                )
                event = dataclasses.replace(event, sealed=sealed)
            events.append(event)
        return dataclasses.replace(self, events=tuple(events))

    @classmethod
    def of(
        cls,
        config: NotificationConfiguration | None,
        source: EventSource | None,
        *,
        tenant_id: str,
        bucket: str,
        owner_id: str,
        region: str,
        key: str,
        now: datetime,
        bound: int,
        size: int | None = None,
        etag: str | None = None,
        user_metadata: Mapping[str, str] | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> EventBatch | None:
        """The batch for an event of ``key`` in ``bucket``, None when no rule selects it (or
        the bucket has no configuration, or the write was not a client's). ``user_metadata``
        and ``tags``: the object's, for the rules' metadata and tag filters."""
        if config is None or source is None:
            return None
        rules = config.rules_for(source.event_name, key, user_metadata, tags)
        if not rules:
            return None
        obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
        if size is not None:
            obj["size"] = size
        if etag is not None:
            obj["eTag"] = etag
        # Hex, growing with time for one key, as S3's: a consumer orders a key's events by it.
        obj["sequencer"] = f"{time.time_ns():016X}"
        events = []
        for rule in rules:
            record = {
                "eventVersion": "2.3" if source.event_name.startswith(_VERSION_2_3) else "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time(now),
                "eventName": source.event_name,
                "userIdentity": {"principalId": source.principal_id},
                "requestParameters": {"sourceIPAddress": source.source_ip},
                "responseElements": {"x-amz-request-id": source.request_id},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": rule.id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": owner_id},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
            events.append(PendingEvent(tenant_id, rule.topic_arn, record))
        return cls(tuple(events), bound, now, source.trace)
