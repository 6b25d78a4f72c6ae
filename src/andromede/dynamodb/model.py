"""DynamoDB's tables (decision 0237): a table's key schema, attribute definitions, billing mode
and provisioned throughput, tags, time to live, secondary indexes (decision 0243) and the
wrapped data key its items are sealed under; its ARN and DescribeTable's description.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from andromede.dynamodb.kinesis_destinations import KinesisDestination

__all__ = [
    "BillingMode",
    "IndexKey",
    "KeyElement",
    "SecondaryIndex",
    "StoredItem",
    "Table",
    "TableLimits",
    "table_arn",
]

NAME_PATTERN: Final = r"[a-zA-Z0-9_.-]{3,255}"


class BillingMode(StrEnum):
    PROVISIONED = "PROVISIONED"
    PAY_PER_REQUEST = "PAY_PER_REQUEST"


def table_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{tenant_id}:table/{name}"


def on_demand_throughput(max_read: int, max_write: int) -> dict[str, Any]:
    """DescribeTable's ``OnDemandThroughput`` of a table or index on demand (decision 0267):
    absent without a maximum (-1 both), as AWS describes it; Terraform's
    ``on_demand_throughput``, not computed, took the -1s for a block the configuration lacks
    (decision 0274)."""
    if max_read == -1 and max_write == -1:
        return {}
    return {
        "OnDemandThroughput": {"MaxReadRequestUnits": max_read, "MaxWriteRequestUnits": max_write}
    }


@dataclass(frozen=True, slots=True)
class KeyElement:
    name: str
    type: str  # S, N or B


@dataclass(frozen=True, slots=True)
class SecondaryIndex:
    """A global (``local`` False) or local secondary index (decision 0243): its key schema,
    its projection (``ALL``, ``KEYS_ONLY`` or ``INCLUDE`` of ``non_key``) and, for a global
    one, its provisioned throughput (enforced with the table's, decision 0267)."""

    name: str
    local: bool
    hash_key: KeyElement
    sort_key: KeyElement | None
    projection: str = "ALL"
    non_key: tuple[str, ...] = ()
    read_capacity: int = 0
    write_capacity: int = 0
    # Added by UpdateTable and not yet filled from the table's items (decision 0254): CREATING.
    backfilling: bool = False
    # A global index's OnDemandThroughput on an on-demand table (decision 0267; -1: none).
    max_read_requests: int = -1
    max_write_requests: int = -1

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key.name,) + (() if self.sort_key is None else (self.sort_key.name,))

    def projects(self, table_keys: tuple[str, ...]) -> frozenset[str] | None:
        """The attributes the index holds (None: all of them)."""
        if self.projection == "ALL":
            return None
        return frozenset(table_keys + self.key_names + self.non_key)

    def describe(self, table: Table, item_count: int, size: int) -> dict[str, Any]:
        schema = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.sort_key is not None:
            schema.append({"AttributeName": self.sort_key.name, "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": self.projection}
        if self.non_key:
            projection["NonKeyAttributes"] = list(self.non_key)
        described: dict[str, Any] = {
            "IndexName": self.name,
            "KeySchema": schema,
            "Projection": projection,
            "IndexSizeBytes": size,
            "ItemCount": item_count,
            "IndexArn": f"{table.arn}/index/{self.name}",
        }
        if not self.local:
            described["IndexStatus"] = "CREATING" if self.backfilling else "ACTIVE"
            described["Backfilling"] = self.backfilling
            described["ProvisionedThroughput"] = {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            }
            if table.billing_mode is BillingMode.PAY_PER_REQUEST:  # decision 0267
                described.update(
                    on_demand_throughput(self.max_read_requests, self.max_write_requests)
                )
        return described


@dataclass(frozen=True, slots=True)
class IndexKey:
    """An item's place in one secondary index: the index hash key's MAC and its sort key's
    sortable encoding (empty without one)."""

    index: str
    hash_token: bytes
    sort_token: bytes


@dataclass(frozen=True, slots=True)
class TableLimits:
    max_tables: int = 2500
    max_item_size: int = 400 * 1024
    page_size: int = 1024 * 1024
    max_global_indexes: int = 20
    max_local_indexes: int = 5
    max_projected_attributes: int = 100


@dataclass(frozen=True, slots=True)
class Table:
    tenant_id: str
    name: str
    region: str
    created: int  # ms
    hash_key: KeyElement
    sort_key: KeyElement | None
    attributes: tuple[KeyElement, ...]
    billing_mode: BillingMode
    read_capacity: int
    write_capacity: int
    wrapped_key: bytes
    tags: tuple[tuple[str, str], ...] = ()
    ttl_attribute: str | None = None
    sse_kms: bool = False
    revision: int = 1
    billing_changed: int = 0  # ms, when the billing mode last changed
    throughput_changed: int = 0
    indexes: tuple[SecondaryIndex, ...] = ()
    # Its stream (decision 0246): the view type while enabled, the latest stream's label (kept
    # once disabled, as DescribeTable's LatestStreamArn is).
    stream_view: str | None = None
    stream_label: str | None = None
    # Decision 0253: DeleteTable refused while set; what the table was restored from (the
    # backup's ARN, or None from a point in time; the source table's ARN; when, ms).
    deletion_protection: bool = False
    restored_from: tuple[str | None, str, int] | None = None
    # Point-in-time recovery while on: (RecoveryPeriodInDays, since when its history is kept, ms).
    pitr: tuple[int, int] | None = None
    # Its KMS key (decision 0254): the ARN of the AWS-managed or customer-managed key its data
    # key is wrapped under (None: the account's key ring, AWS's "AWS owned key"), and the
    # table key sealed under that data key (empty: the data key is the table key itself).
    kms_key_arn: str | None = None
    table_key: bytes = b""
    # Its Kinesis streaming destinations (decision 0262), whatever their status.
    kinesis: tuple[KinesisDestination, ...] = ()
    # Decision 0267: OnDemandThroughput's maxima (-1: none), the throughput decreases of the
    # UTC day of the last one (ms; 0: never decreased).
    max_read_requests: int = -1
    max_write_requests: int = -1
    decreases_today: int = 0
    last_decrease: int = 0
    # A global table's other replicas (decision 0265): (region, ReplicaStatus) of each.
    replicas: tuple[tuple[str, str], ...] = ()
    # Decision 0291: the regions whose replica's initial copy runs, with its percent done —
    # on the source table each replica being made, on the new replica its own region.
    replica_progress: tuple[tuple[str, int], ...] = ()

    @property
    def forwarding(self) -> bool:
        """Whether its item changes are queued for a Kinesis streaming destination."""
        return any(d.status.capturing for d in self.kinesis)

    def index(self, name: str) -> SecondaryIndex | None:
        return next((i for i in self.indexes if i.name == name), None)

    @property
    def arn(self) -> str:
        return table_arn(self.region, self.tenant_id, self.name)

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key.name,) + (() if self.sort_key is None else (self.sort_key.name,))

    def describe(
        self,
        item_count: int,
        size: int,
        index_usage: dict[str, tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        schema = [{"AttributeName": self.hash_key.name, "KeyType": "HASH"}]
        if self.sort_key is not None:
            schema.append({"AttributeName": self.sort_key.name, "KeyType": "RANGE"})
        throughput: dict[str, Any] = {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": self.read_capacity,
            "WriteCapacityUnits": self.write_capacity,
        }
        if self.throughput_changed:
            throughput["LastIncreaseDateTime"] = self.throughput_changed / 1000
        if self.last_decrease:
            throughput["LastDecreaseDateTime"] = self.last_decrease / 1000
        described: dict[str, Any] = {
            "TableName": self.name,
            "TableStatus": "ACTIVE",
            "TableArn": self.arn,
            "TableId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.arn}#{self.created}")),
            "CreationDateTime": self.created / 1000,
            "KeySchema": schema,
            "AttributeDefinitions": [
                {"AttributeName": a.name, "AttributeType": a.type} for a in self.attributes
            ],
            "ProvisionedThroughput": throughput,
            "ItemCount": item_count,
            "TableSizeBytes": size,
            "BillingModeSummary": {
                "BillingMode": self.billing_mode.value,
                "LastUpdateToPayPerRequestDateTime": (self.billing_changed or self.created) / 1000,
            },
            "DeletionProtectionEnabled": self.deletion_protection,
            "TableClassSummary": {"TableClass": "STANDARD"},
        }
        if self.billing_mode is BillingMode.PAY_PER_REQUEST:  # decision 0267
            described.update(on_demand_throughput(self.max_read_requests, self.max_write_requests))
        if self.kms_key_arn is not None:
            described["SSEDescription"] = {
                "Status": "ENABLED",
                "SSEType": "KMS",
                "KMSMasterKeyArn": self.kms_key_arn,
            }
        elif self.sse_kms:
            # Asked for KMS, sealed as every table is, under the account's key ring: said as
            # such, never a KMS key that does not seal it (decision 0237).
            described["SSEDescription"] = {"Status": "ENABLED", "SSEType": "AES256"}
        if self.stream_label is not None:
            described["LatestStreamLabel"] = self.stream_label
            described["LatestStreamArn"] = f"{self.arn}/stream/{self.stream_label}"
        if self.stream_view is not None:
            described["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view,
            }
        if self.restored_from is not None:
            backup, source, when = self.restored_from
            described["RestoreSummary"] = {
                **({} if backup is None else {"SourceBackupArn": backup}),
                "SourceTableArn": source,
                "RestoreDateTime": when / 1000,
                "RestoreInProgress": False,
            }
        usage = index_usage or {}
        for local, field in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes")):
            listed = [
                i.describe(self, *usage.get(i.name, (0, 0)))
                for i in self.indexes
                if i.local is local
            ]
            if listed:
                described[field] = listed
        return described


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One item as the store holds it: its hash key's MAC, its sort key's sortable encoding
    (empty without a sort key), the item sealed, its size as AWS counts it, its revision (for
    compare-and-set writes) and, when the table has a time to live, its expiry (s)."""

    hash_token: bytes
    sort_token: bytes
    sealed: bytes
    size: int
    revision: int = 1
    expires: int | None = None
    # Where the item stands in each secondary index (decision 0243): written with the item,
    # not read back (a store answers an item without them).
    index_keys: tuple[IndexKey, ...] = ()

    @property
    def segment_point(self) -> int:
        """Where the item falls in a parallel scan's segments: its MAC's first 4 bytes."""
        return int.from_bytes(self.hash_token[:4], "big")
