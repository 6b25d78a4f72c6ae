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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["DynamoWire", "Item", "ItemsRead", "KeyPart", "TableSummary", "item_text"]

Item = dict[str, Any]  # an item in DynamoDB JSON


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
    indexes: list[str]  # its secondary indexes' names, as DescribeTable lists them

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


def _summary(table: dict[str, Any]) -> TableSummary:
    types = {
        str(d.get("AttributeName", "")): str(d.get("AttributeType", ""))
        for d in _list(table.get("AttributeDefinitions"))
        if isinstance(d, dict)
    }
    key = [
        KeyPart(str(k.get("AttributeName", "")), str(k.get("KeyType", "")),
                types.get(str(k.get("AttributeName", "")), ""))
        for k in _list(table.get("KeySchema"))
        if isinstance(k, dict)
    ]  # fmt: skip
    throughput = _mapping(table.get("ProvisionedThroughput"))
    billing = str(_mapping(table.get("BillingModeSummary")).get("BillingMode") or "PROVISIONED")
    indexes = [
        str(i.get("IndexName", ""))
        for field in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for i in _list(table.get(field))
        if isinstance(i, dict)
    ]
    return TableSummary(
        name=str(table.get("TableName", "")),
        arn=str(table.get("TableArn", "")),
        status=str(table.get("TableStatus", "")),
        key=key,
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
        self, origin: Scope, principal: Principal, name: str, *, limit: int, start: Item | None
    ) -> ItemsRead:
        payload: dict[str, Any] = {"TableName": name, "Limit": limit}
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
    ) -> ItemsRead:
        """Query with the key condition the page wrote (its names and values as placeholders)."""
        payload: dict[str, Any] = {
            "TableName": name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if start:
            payload["ExclusiveStartKey"] = start
        return _read(await self._json(origin, principal, "Query", payload))

    async def put_item(self, origin: Scope, principal: Principal, name: str, item: Item) -> None:
        await self._json(origin, principal, "PutItem", {"TableName": name, "Item": item})

    async def delete_item(self, origin: Scope, principal: Principal, name: str, key: Item) -> None:
        await self._json(origin, principal, "DeleteItem", {"TableName": name, "Key": key})


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
