"""The Amazon DynamoDB calls (decision 0237) the console's table pages make (decision 0244), in
process as the signed-in principal through DynamoDB's JSON protocol (``dynamodbapi.app``): its
authorisation (``dynamodb:<Action>`` on the table's ARN), checks, audit, metering and errors
answer them. Each answer is read into the small rows the pages show; items stay DynamoDB JSON
(``{"name": {"S": "…"}}``), as the API gives and takes them. Nothing here decides what
DynamoDB allows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.console.wire_dynamodb_capacity import DynamoCapacityWire
from andromede.console.wire_dynamodb_policies import DynamoPoliciesWire
from andromede.console.wire_dynamodb_recovery import DynamoRecoveryWire
from andromede.console.wire_dynamodb_streams import DynamoStreamsWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "DynamoWire",
    "IndexSummary",
    "Item",
    "ItemsRead",
    "KeyPart",
    "NewIndex",
    "ReadOptions",
    "StatementRun",
    "TableSummary",
    "item_text",
]

Item = dict[str, Any]  # an item in DynamoDB JSON


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _when(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One attribute of the primary key: its name, role (HASH or RANGE) and type (S, N, B)."""

    name: str
    role: str
    type: str


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """A secondary index as DescribeTable tells it."""

    name: str
    local: bool
    key: list[KeyPart]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: list[str]  # INCLUDE's attributes
    status: str  # a global index's IndexStatus ("" for a local one: DynamoDB gives none)
    item_count: int
    size_bytes: int
    read_capacity: int
    write_capacity: int
    # A global index's OnDemandThroughput on an on-demand table (decision 0267; -1: none).
    max_read_requests: int = -1
    max_write_requests: int = -1

    @property
    def partition_key(self) -> KeyPart | None:
        return next((k for k in self.key if k.role == "HASH"), None)

    @property
    def sort_key(self) -> KeyPart | None:
        return next((k for k in self.key if k.role == "RANGE"), None)


@dataclass(frozen=True, slots=True)
class NewIndex:
    """What the console's form makes: a global secondary index (UpdateTable's Create)."""

    name: str
    partition_key: tuple[str, str]  # (attribute, type)
    sort_key: tuple[str, str] | None
    projection: str
    non_key: list[str]
    read_capacity: str  # as typed, sent only for a provisioned table
    write_capacity: str


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What a Scan or Query adds to its table: an index, a filter, a projection, and the
    placeholders the expressions use (values in DynamoDB JSON)."""

    index: str = ""
    filter: str = ""
    projection: str = ""
    names: dict[str, str] = field(default_factory=dict)
    values: Item = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The request's fields for these options; empty ones are not sent (DynamoDB refuses
        an empty expression or placeholder map)."""
        sent: dict[str, Any] = {}
        for name, value in (
            ("IndexName", self.index),
            ("FilterExpression", self.filter),
            ("ProjectionExpression", self.projection),
            ("ExpressionAttributeNames", self.names),
            ("ExpressionAttributeValues", self.values),
        ):
            if value:
                sent[name] = value
        return sent


@dataclass(frozen=True, slots=True)
class TableSummary:
    """A table as DescribeTable tells it."""

    name: str
    arn: str
    status: str
    key: list[KeyPart]
    item_count: int
    size_bytes: int
    billing_mode: str  # PROVISIONED or PAY_PER_REQUEST
    read_capacity: int
    write_capacity: int
    created: str
    table_id: str
    class_: str
    deletion_protection: bool
    indexes: list[IndexSummary]  # global ones first, as DescribeTable lists them
    stream_view: str = ""  # the enabled stream's StreamViewType ("" : no stream enabled)
    stream_arn: str = ""  # LatestStreamArn: the enabled stream's, or the last one's once off
    stream_label: str = ""
    sse_type: str = ""  # SSEDescription's SSEType: KMS, or "" under the AWS-owned key
    kms_key_arn: str = ""  # SSEDescription's KMSMasterKeyArn (a KMS key's table)
    # Decision 0267: OnDemandThroughput's maximums (-1: none) and ProvisionedThroughput's
    # dates (UTC, "" never) and decreases of the day.
    max_read_requests: int = -1
    max_write_requests: int = -1
    last_increase: str = ""
    last_decrease: str = ""
    decreases_today: int = 0
    # Decision 0265 (shown by decision 0279): the replicas in the other regions (region,
    # ReplicaStatus) and GlobalTableVersion ("" : not a global table).
    replicas: tuple[tuple[str, str], ...] = ()
    global_version: str = ""

    @property
    def global_indexes(self) -> list[IndexSummary]:
        return [i for i in self.indexes if not i.local]

    @property
    def partition_key(self) -> KeyPart | None:
        return next((k for k in self.key if k.role == "HASH"), None)

    @property
    def sort_key(self) -> KeyPart | None:
        return next((k for k in self.key if k.role == "RANGE"), None)


@dataclass(frozen=True, slots=True)
class ItemsRead:
    """A page of Scan or Query: its items (DynamoDB JSON) and where to read on."""

    items: list[Item]
    scanned: int
    last_key: str  # LastEvaluatedKey as JSON text; "" when the read is done


@dataclass(frozen=True, slots=True)
class StatementRun:
    """What ExecuteStatement answered: the items (a SELECT's, or a RETURNING's) and the token
    of the next page ("" : the last)."""

    items: list[Item]
    next_token: str


def _key(schema: Any, types: dict[str, str]) -> list[KeyPart]:
    """A key schema's attributes with their types (AttributeDefinitions')."""
    return [
        KeyPart(str(k.get("AttributeName", "")), str(k.get("KeyType", "")),
                types.get(str(k.get("AttributeName", "")), ""))
        for k in _list(schema)
        if isinstance(k, dict)
    ]  # fmt: skip


def _index(index: dict[str, Any], types: dict[str, str], *, local: bool) -> IndexSummary:
    projection = _mapping(index.get("Projection"))
    throughput = _mapping(index.get("ProvisionedThroughput"))
    maxima = _mapping(index.get("OnDemandThroughput"))
    return IndexSummary(
        name=str(index.get("IndexName", "")),
        local=local,
        key=_key(index.get("KeySchema"), types),
        projection=str(projection.get("ProjectionType", "")),
        non_key=[str(n) for n in _list(projection.get("NonKeyAttributes"))],
        status="" if local else str(index.get("IndexStatus", "")),
        item_count=_number(index.get("ItemCount")),
        size_bytes=_number(index.get("IndexSizeBytes")),
        read_capacity=_number(throughput.get("ReadCapacityUnits")),
        write_capacity=_number(throughput.get("WriteCapacityUnits")),
        max_read_requests=_number(maxima.get("MaxReadRequestUnits"), -1),
        max_write_requests=_number(maxima.get("MaxWriteRequestUnits"), -1),
    )


def _summary(table: dict[str, Any]) -> TableSummary:
    types = {
        str(d.get("AttributeName", "")): str(d.get("AttributeType", ""))
        for d in _list(table.get("AttributeDefinitions"))
        if isinstance(d, dict)
    }
    throughput = _mapping(table.get("ProvisionedThroughput"))
    maxima = _mapping(table.get("OnDemandThroughput"))
    billing = str(_mapping(table.get("BillingModeSummary")).get("BillingMode") or "PROVISIONED")
    stream = _mapping(table.get("StreamSpecification"))
    indexes = [
        _index(i, types, local=local)
        for local, listed in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes"))
        for i in _list(table.get(listed))
        if isinstance(i, dict)
    ]
    return TableSummary(
        name=str(table.get("TableName", "")),
        arn=str(table.get("TableArn", "")),
        status=str(table.get("TableStatus", "")),
        key=_key(table.get("KeySchema"), types),
        item_count=_number(table.get("ItemCount")),
        size_bytes=_number(table.get("TableSizeBytes")),
        billing_mode=billing,
        read_capacity=_number(throughput.get("ReadCapacityUnits")),
        write_capacity=_number(throughput.get("WriteCapacityUnits")),
        created=_when(table.get("CreationDateTime")),
        table_id=str(table.get("TableId", "")),
        class_=str(_mapping(table.get("TableClassSummary")).get("TableClass") or "STANDARD"),
        deletion_protection=table.get("DeletionProtectionEnabled") is True,
        indexes=indexes,
        stream_view=str(stream.get("StreamViewType", "")) if stream.get("StreamEnabled") else "",
        stream_arn=str(table.get("LatestStreamArn", "")),
        stream_label=str(table.get("LatestStreamLabel", "")),
        sse_type=str(_mapping(table.get("SSEDescription")).get("SSEType", "")),
        kms_key_arn=str(_mapping(table.get("SSEDescription")).get("KMSMasterKeyArn", "")),
        max_read_requests=_number(maxima.get("MaxReadRequestUnits"), -1),
        max_write_requests=_number(maxima.get("MaxWriteRequestUnits"), -1),
        last_increase=_when(throughput.get("LastIncreaseDateTime")),
        last_decrease=_when(throughput.get("LastDecreaseDateTime")),
        decreases_today=_number(throughput.get("NumberOfDecreasesToday")),
        replicas=tuple(
            (str(r.get("RegionName", "")), str(r.get("ReplicaStatus", "")))
            for r in _list(table.get("Replicas"))
            if isinstance(r, dict)
        ),
        global_version=str(table.get("GlobalTableVersion", "")),
    )


def item_text(item: Item) -> str:
    """An item as the page shows it: DynamoDB JSON, its keys sorted, indented."""
    return json.dumps(item, indent=2, sort_keys=True, ensure_ascii=False)


class DynamoWire(JsonWire):
    """The table and item calls the console makes (``DynamoDB_20120810`` JSON 1.0)."""

    target_prefix = "DynamoDB_20120810."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServerError"

    async def names(
        self, origin: Scope, principal: Principal, *, after: str | None, limit: int
    ) -> tuple[list[str], str]:
        """One page of ListTables after the name ``after``; the last name when more follow."""
        payload: dict[str, Any] = {"Limit": min(limit, 100)}  # ListTables' bound
        if after:
            payload["ExclusiveStartTableName"] = after
        answer = await self._json(origin, principal, "ListTables", payload)
        names = [str(n) for n in _list(answer.get("TableNames"))]
        return names, str(answer.get("LastEvaluatedTableName") or "")

    async def describe(self, origin: Scope, principal: Principal, name: str) -> TableSummary:
        answer = await self._json(origin, principal, "DescribeTable", {"TableName": name})
        return _summary(_mapping(answer.get("Table")))

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        partition_key: tuple[str, str],
        sort_key: tuple[str, str] | None,
        on_demand: bool,
        read_capacity: str,
        write_capacity: str,
        tags: Sequence[tuple[str, str]] = (),
    ) -> None:
        """CreateTable: the key's names and types as typed; on demand, or provisioned with the
        capacities as typed (one that is no number is sent as typed: DynamoDB refuses it)."""
        keys = [(partition_key, "HASH"), *([(sort_key, "RANGE")] if sort_key else [])]
        payload: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for (n, t), _ in keys
            ],
            "KeySchema": [{"AttributeName": n, "KeyType": role} for (n, _), role in keys],
            "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
        }
        if not on_demand:
            payload["ProvisionedThroughput"] = {
                "ReadCapacityUnits": _typed_number(read_capacity),
                "WriteCapacityUnits": _typed_number(write_capacity),
            }
        if tags:
            payload["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
        await self._json(origin, principal, "CreateTable", payload)

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteTable", {"TableName": name})

    async def time_to_live(self, origin: Scope, principal: Principal, name: str) -> tuple[str, str]:
        """DescribeTimeToLive: the status (ENABLED, DISABLED…) and the attribute."""
        answer = await self._json(origin, principal, "DescribeTimeToLive", {"TableName": name})
        ttl = _mapping(answer.get("TimeToLiveDescription"))
        return str(ttl.get("TimeToLiveStatus", "")), str(ttl.get("AttributeName", ""))

    async def set_time_to_live(
        self, origin: Scope, principal: Principal, name: str, attribute: str, *, enabled: bool
    ) -> None:
        payload = {
            "TableName": name,
            "TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute},
        }
        await self._json(origin, principal, "UpdateTimeToLive", payload)

    async def tags(self, origin: Scope, principal: Principal, arn: str) -> list[tuple[str, str]]:
        """ListTagsOfResource's first page."""
        answer = await self._json(origin, principal, "ListTagsOfResource", {"ResourceArn": arn})
        return [
            (str(t.get("Key", "")), str(t.get("Value", "")))
            for t in _list(answer.get("Tags"))
            if isinstance(t, dict)
        ]

    async def tag(
        self, origin: Scope, principal: Principal, arn: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {"ResourceArn": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags]}
        await self._json(origin, principal, "TagResource", payload)

    async def untag(self, origin: Scope, principal: Principal, arn: str, key: str) -> None:
        payload = {"ResourceArn": arn, "TagKeys": [key]}
        await self._json(origin, principal, "UntagResource", payload)

    async def scan(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        limit: int,
        start: Item | None,
        options: ReadOptions | None = None,
    ) -> ItemsRead:
        payload: dict[str, Any] = {
            "TableName": name,
            "Limit": limit,
            **(options or ReadOptions()).payload(),
        }
        if start:
            payload["ExclusiveStartKey"] = start
        return _read(await self._json(origin, principal, "Scan", payload))

    async def query(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        condition: str,
        names: dict[str, str],
        values: Item,
        limit: int,
        start: Item | None,
        options: ReadOptions | None = None,
    ) -> ItemsRead:
        """Query with the key condition the page wrote (its names and values as placeholders,
        beside the options' own)."""
        options = options or ReadOptions()
        payload: dict[str, Any] = {
            "TableName": name,
            **options.payload(),
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {**options.names, **names},
            "ExpressionAttributeValues": {**options.values, **values},
            "Limit": limit,
        }
        if start:
            payload["ExclusiveStartKey"] = start
        return _read(await self._json(origin, principal, "Query", payload))

    async def put_item(self, origin: Scope, principal: Principal, name: str, item: Item) -> None:
        await self._json(origin, principal, "PutItem", {"TableName": name, "Item": item})

    async def replace_item(
        self, origin: Scope, principal: Principal, name: str, item: Item, *, key_name: str
    ) -> None:
        """PutItem of an item that must still be there (its partition key attribute exists):
        an edit never brings back an item deleted meanwhile."""
        payload = {
            "TableName": name,
            "Item": item,
            "ConditionExpression": "attribute_exists(#key)",
            "ExpressionAttributeNames": {"#key": key_name},
        }
        await self._json(origin, principal, "PutItem", payload)

    async def get_item(
        self, origin: Scope, principal: Principal, name: str, key: Item
    ) -> Item | None:
        """GetItem, read consistently (the item as an edit starts from); None when absent."""
        answer = await self._json(
            origin, principal, "GetItem", {"TableName": name, "Key": key, "ConsistentRead": True}
        )
        item = answer.get("Item")
        return item if isinstance(item, dict) else None

    async def update_item(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        key: Item,
        *,
        update: str,
        condition: str,
        names: dict[str, str],
        values: Item,
    ) -> None:
        """UpdateItem with the expressions as typed; empty ones and maps are not sent."""
        payload: dict[str, Any] = {"TableName": name, "Key": key, "UpdateExpression": update}
        if condition:
            payload["ConditionExpression"] = condition
        if names:
            payload["ExpressionAttributeNames"] = names
        if values:
            payload["ExpressionAttributeValues"] = values
        await self._json(origin, principal, "UpdateItem", payload)

    async def set_deletion_protection(
        self, origin: Scope, principal: Principal, name: str, *, enabled: bool
    ) -> None:
        payload = {"TableName": name, "DeletionProtectionEnabled": enabled}
        await self._json(origin, principal, "UpdateTable", payload)

    async def create_index(
        self, origin: Scope, principal: Principal, name: str, index: NewIndex, *,
        provisioned: bool,
    ) -> None:  # fmt: skip
        """UpdateTable's ``GlobalSecondaryIndexUpdates`` Create, the index's key attributes
        defined as typed; its capacities sent for a provisioned table only."""
        keys = [(index.partition_key, "HASH"),
                *([(index.sort_key, "RANGE")] if index.sort_key else [])]  # fmt: skip
        projection: dict[str, Any] = {"ProjectionType": index.projection}
        if index.non_key:
            projection["NonKeyAttributes"] = index.non_key
        create: dict[str, Any] = {
            "IndexName": index.name,
            "KeySchema": [{"AttributeName": n, "KeyType": role} for (n, _), role in keys],
            "Projection": projection,
        }
        if provisioned:
            create["ProvisionedThroughput"] = {
                "ReadCapacityUnits": _typed_number(index.read_capacity),
                "WriteCapacityUnits": _typed_number(index.write_capacity),
            }
        payload = {
            "TableName": name,
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for (n, t), _ in keys
            ],
            "GlobalSecondaryIndexUpdates": [{"Create": create}],
        }
        await self._json(origin, principal, "UpdateTable", payload)

    async def delete_index(
        self, origin: Scope, principal: Principal, name: str, index: str
    ) -> None:
        payload = {
            "TableName": name,
            "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": index}}],
        }
        await self._json(origin, principal, "UpdateTable", payload)

    async def delete_item(self, origin: Scope, principal: Principal, name: str, key: Item) -> None:
        await self._json(origin, principal, "DeleteItem", {"TableName": name, "Key": key})

    async def set_stream(
        self, origin: Scope, principal: Principal, name: str, *, view_type: str
    ) -> None:
        """UpdateTable's ``StreamSpecification``: enabled with ``view_type``, or disabled when
        it is "" (DynamoDB refuses a view type with a disable)."""
        specification: dict[str, Any] = {"StreamEnabled": bool(view_type)}
        if view_type:
            specification["StreamViewType"] = view_type
        payload = {"TableName": name, "StreamSpecification": specification}
        await self._json(origin, principal, "UpdateTable", payload)

    async def update_replica(
        self, origin: Scope, principal: Principal, name: str, *, region: str, create: bool
    ) -> None:
        """UpdateTable's ``ReplicaUpdates``: one replica of the table created in ``region``,
        or deleted (decision 0265; DynamoDB checks the region and the table)."""
        update = {"Create" if create else "Delete": {"RegionName": region}}
        payload = {"TableName": name, "ReplicaUpdates": [update]}
        await self._json(origin, principal, "UpdateTable", payload)

    def streams(self) -> DynamoStreamsWire:
        """The Streams API the same app serves (its calls told apart by their target)."""
        return DynamoStreamsWire(self._app)

    def recovery(self) -> DynamoRecoveryWire:
        """Backups, point-in-time recovery and the table's key, by the same app."""
        return DynamoRecoveryWire(self._app)

    def policies(self) -> DynamoPoliciesWire:
        """The table's and its stream's resource policies (decision 0266), by the same app."""
        return DynamoPoliciesWire(self._app)

    def capacity(self) -> DynamoCapacityWire:
        """Capacity changes and the account's limits (decision 0267), by the same app."""
        return DynamoCapacityWire(self._app)

    async def execute_statement(
        self, origin: Scope, principal: Principal, statement: str, *,
        parameters: list[Any], next_token: str, limit: int,
    ) -> StatementRun:  # fmt: skip
        """ExecuteStatement (PartiQL) as typed, at most ``limit`` items a page; the parameters
        (DynamoDB JSON values) and the token sent only when there are some."""
        payload: dict[str, Any] = {"Statement": statement, "Limit": limit}
        if parameters:
            payload["Parameters"] = parameters
        if next_token:
            payload["NextToken"] = next_token
        answer = await self._json(origin, principal, "ExecuteStatement", payload)
        return StatementRun(
            items=[i for i in _list(answer.get("Items")) if isinstance(i, dict)],
            next_token=str(answer.get("NextToken") or ""),
        )


def _typed_number(typed: str) -> int | str:
    typed = typed.strip()
    return int(typed) if typed.isdigit() else typed


def _read(answer: dict[str, Any]) -> ItemsRead:
    last = answer.get("LastEvaluatedKey")
    return ItemsRead(
        items=[i for i in _list(answer.get("Items")) if isinstance(i, dict)],
        scanned=_number(answer.get("ScannedCount")),
        last_key=json.dumps(last, sort_keys=True) if isinstance(last, dict) and last else "",
    )
