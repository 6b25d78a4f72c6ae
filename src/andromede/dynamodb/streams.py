"""DynamoDB Streams' core (decision 0246): a table's stream (its label, view type, key schema,
its shard layout (decision 0275: partitions and shard lifetime), the table's wrapped key its
images stay sealed under), the change records written with each item change, their sequence
numbers, and what a record says on the wire.

Sequence numbers carry their record's time (decision 0275): a record's number is at least its
creation (ms) times :data:`SEQUENCE_BASE`, plus one, and above every earlier number of its
stream, so a number tells the shard generation its record belongs to.

A change record is kept as the store keeps items: its images are the items' own sealed
bytes (the old row's and the new row's, under the table's key, bound to the item's tokens),
so writing a record costs no encryption and reading one opens it as an item is opened. A
record keeps the images its view type shows, or one for the keys when it shows none (a
time-to-live deletion, made inside the store, keeps the old image whatever the view).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from andromede.dynamodb.model import BillingMode, KeyElement, StoredItem, Table
from andromede.dynamodb.values import Item, values_equal

__all__ = [
    "ChangeRecord",
    "ShardLayout",
    "Stream",
    "StreamLimits",
    "StreamRecord",
    "StreamViewType",
    "change_record",
    "event_id",
    "event_name",
    "format_sequence",
    "next_sequence",
    "parse_stream_arn",
    "stream_label",
]

# A stream's sequence numbers start at its creation (ms) times this: a table's later stream
# numbers its records above its earlier one's, and every number has 21 digits, as AWS's.
SEQUENCE_BASE: Final = 1_000_000
_DIGITS: Final = 21
# The most partitions a stream's layout derives from its table's throughput (decision 0275;
# ``dynamodb_stream_shards`` has the same bound).
MAX_PARTITIONS: Final = 100
# AWS rolls a stream's shards about every four hours (decision 0275).
SHARD_LIFETIME_MS: Final = 4 * 3600 * 1000


class StreamViewType(StrEnum):
    KEYS_ONLY = "KEYS_ONLY"
    NEW_IMAGE = "NEW_IMAGE"
    OLD_IMAGE = "OLD_IMAGE"
    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"

    @property
    def new(self) -> bool:
        return self in (StreamViewType.NEW_IMAGE, StreamViewType.NEW_AND_OLD_IMAGES)

    @property
    def old(self) -> bool:
        return self in (StreamViewType.OLD_IMAGE, StreamViewType.NEW_AND_OLD_IMAGES)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    retention_ms: int = 24 * 3600 * 1000
    iterator_lifetime_ms: int = 15 * 60 * 1000
    max_records: int = 1000
    page_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ShardLayout:
    """How a new stream is split (decision 0275): at least ``partitions`` shards open at once
    (more when the table's provisioned throughput needs AWS's partitions), each closed and
    followed by a child after ``lifetime_ms`` (AWS: about four hours)."""

    partitions: int = 1
    lifetime_ms: int = SHARD_LIFETIME_MS

    def partitions_for(self, table: Table) -> int:
        """AWS's partitions of a provisioned table: 1,000 write or 3,000 read units each."""
        if table.billing_mode is not BillingMode.PROVISIONED:
            return self.partitions
        by_writes = -(-table.write_capacity // 1000)
        by_reads = -(-table.read_capacity // 3000)
        # Bounded as the setting is: a deployment raising the table capacity limits far
        # beyond AWS's 40,000 units must not list thousands of shards a generation.
        return max(self.partitions, min(MAX_PARTITIONS, max(by_writes, by_reads)))


def next_sequence(counter: int, created: int) -> int:
    """The number a record made at ``created`` (ms) gets when its stream's counter is at
    ``counter``: numbers grow, and never fall below the record's time (decision 0275)."""
    return max(counter, created * SEQUENCE_BASE + 1)


def stream_label(ms: int) -> str:
    """AWS's label: the stream's creation time, ISO 8601 to the millisecond, no zone."""
    at = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}"


def format_sequence(number: int) -> str:
    return f"{number:0{_DIGITS}d}"


def parse_stream_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(region, account, table, label) of a stream ARN; None when it is not one."""
    head, sep, label = arn.rpartition("/stream/")
    parts = head.split(":", 5)
    if not sep or len(parts) != 6 or parts[0] != "arn" or parts[2] != "dynamodb":
        return None
    if not parts[5].startswith("table/") or not label:
        return None
    return parts[3], parts[4], parts[5].removeprefix("table/"), label


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream of a table. ``disabled`` (ms) is 0 while it takes records; once disabled
    (or its table deleted) it stays readable for the retention, its shard closed.
    ``next_sequence`` and ``trimmed_to`` are the row's counters when it was read: the next
    number a record gets, and the first number the upkeep has not removed."""

    tenant_id: str
    table_name: str
    label: str
    region: str
    created: int  # ms
    view_type: StreamViewType
    hash_key: KeyElement
    sort_key: KeyElement | None
    table_created: int  # ms: with the table's ARN, what its sealed items are bound to
    wrapped_key: bytes
    iterator_key: bytes
    disabled: int = 0
    next_sequence: int = 0
    trimmed_to: int = 0
    # Decision 0275: fixed for the stream's life, so an item's shard lineage never changes.
    partitions: int = 1
    shard_lifetime_ms: int = SHARD_LIFETIME_MS

    @property
    def arn(self) -> str:
        table = f"arn:aws:dynamodb:{self.region}:{self.tenant_id}:table/{self.table_name}"
        return f"{table}/stream/{self.label}"

    @property
    def first_sequence(self) -> int:
        return self.created * SEQUENCE_BASE + 1

    @property
    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.sort_key is not None:
            schema.append({"AttributeName": self.sort_key.name, "KeyType": "RANGE"})
        return schema

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key.name,) + (() if self.sort_key is None else (self.sort_key.name,))

    def sealing_table(self) -> Table:
        """The table as its sealed items are bound to it (its ARN, creation and key): what
        opens the stream's images, the table itself deleted or not."""
        return Table(
            tenant_id=self.tenant_id,
            name=self.table_name,
            region=self.region,
            created=self.table_created,
            hash_key=self.hash_key,
            sort_key=self.sort_key,
            attributes=(),
            billing_mode=BillingMode.PAY_PER_REQUEST,
            read_capacity=0,
            write_capacity=0,
            wrapped_key=self.wrapped_key,
        )

    def describe_listed(self) -> dict[str, Any]:
        return {"StreamArn": self.arn, "TableName": self.table_name, "StreamLabel": self.label}


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """An item's change as written with it: INSERT, MODIFY or REMOVE, the item's tokens, the
    old and new rows' sealed bytes (None where the change has none), their sizes and whether
    DynamoDB itself made it (a time-to-live deletion)."""

    event: str
    hash_token: bytes
    sort_token: bytes
    old_sealed: bytes | None
    new_sealed: bytes | None
    size: int
    created: int  # ms
    by_service: bool = False
    # Point-in-time recovery (decision 0253): kept in the table's history too, the item's new
    # sealed row (None: removed), whatever the stream's view.
    versioned: bool = False
    version: bytes | None = None
    version_size: int = 0
    # Kinesis streaming destinations (decision 0262): queued for them too, with both of the
    # item's sealed rows (the new one is ``version``), whatever the stream's view.
    forwarded: bool = False
    forward_old: bytes | None = None
    forward_old_size: int = 0


@dataclass(frozen=True, slots=True)
class StreamRecord:
    sequence: int
    change: ChangeRecord


def event_name(old: Item | None, new: Item | None) -> str | None:
    """The change's event, or None when nothing changed (AWS writes no record for a put of
    the item it replaces, nor for a delete of an absent item)."""
    if old is None:
        return None if new is None else "INSERT"
    if new is None:
        return "REMOVE"
    same = old.keys() == new.keys() and all(values_equal(old[n], new[n]) for n in old)
    return None if same else "MODIFY"


def event_id(stream: Stream, sequence: int) -> str:
    return hashlib.sha256(f"{stream.arn}#{sequence}".encode()).hexdigest()[:32]


def change_record(
    table: Table,
    old_row: StoredItem | None,
    new_row: StoredItem | None,
    old: Item | None,
    new: Item | None,
    now: int,
) -> ChangeRecord | None:
    """The record of an item's write from ``old_row`` to ``new_row`` (``old`` and ``new``
    opened), when the table's stream is enabled (or its point-in-time recovery, decision
    0253) and the item changed. It keeps the images its
    view type shows, and when it shows none of those the change has, one image still, for the
    keys: a KEYS_ONLY record keeps one, not two."""
    versioned = table.pitr is not None  # decision 0253: its history kept too
    forwarded = table.forwarding  # decision 0262: queued for its Kinesis destinations
    wanted = table.stream_view is not None or versioned or forwarded
    event = event_name(old, new) if wanted else None
    row = new_row or old_row
    if event is None or row is None:
        return None
    view = StreamViewType(table.stream_view or StreamViewType.KEYS_ONLY.value)
    kept_old = old_row if view.old or new_row is None else None
    kept_new = new_row if view.new or kept_old is None else None
    return ChangeRecord(
        event,
        row.hash_token,
        row.sort_token,
        None if kept_old is None else kept_old.sealed,
        None if kept_new is None else kept_new.sealed,
        (0 if kept_old is None else kept_old.size) + (0 if kept_new is None else kept_new.size),
        now,
        versioned=versioned,
        version=None if new_row is None else new_row.sealed,
        version_size=0 if new_row is None else new_row.size,
        forwarded=forwarded,
        forward_old=None if old_row is None else old_row.sealed,
        forward_old_size=0 if old_row is None else old_row.size,
    )
