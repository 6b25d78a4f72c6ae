"""DynamoDB's secondary index definitions on the wire (decision 0243): CreateTable's
``GlobalSecondaryIndexes`` and ``LocalSecondaryIndexes`` and UpdateTable's
``GlobalSecondaryIndexUpdates`` (Create, Update of throughput, Delete), read and checked
against AWS's limits and in AWS's words."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import (
    BillingMode,
    KeyElement,
    SecondaryIndex,
    Table,
    TableLimits,
)
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, invalid
from andromede.dynamodbapi.throughput import UNBOUNDED, check_capacity, on_demand

__all__ = ["check_indexes", "read_index", "updated_indexes"]

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_PROJECTIONS: Final = ("ALL", "KEYS_ONLY", "INCLUDE")


def _bad(reason: str) -> ValidationError:
    return ValidationError(f"One or more parameter values were invalid: {reason}")


def _schema(
    call: DynamoCall, spec: dict[str, Any], definitions: dict[str, str], index: str
) -> tuple[KeyElement, KeyElement | None]:
    schema = call.listing("KeySchema", source=spec)
    if not schema or len(schema) > 2:
        raise invalid("KeySchema", "Member must have length less than or equal to 2")
    keys: list[KeyElement] = []
    for position, element in enumerate(schema):
        name = call.string(
            "AttributeName", required=True, min_length=1, max_length=255, source=element
        )
        wanted = "HASH" if position == 0 else "RANGE"
        if call.string("KeyType", required=True, source=element) != wanted:
            raise _bad(
                f"Invalid KeySchema for index {index}: the first element must be HASH, "
                "the second RANGE"
            )
        assert name is not None  # noqa: S101 (required)
        if name not in definitions:
            raise _bad(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: "
                f"[{name}], AttributeDefinitions: [{', '.join(definitions)}]"
            )
        keys.append(KeyElement(name, definitions[name]))
    return keys[0], keys[1] if len(keys) > 1 else None


def _projection(call: DynamoCall, spec: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    projection = call.mapping("Projection", source=spec)
    if projection is None:
        raise invalid("Projection", "Member must not be null")
    kind = projection.get("ProjectionType") or "ALL"
    if kind not in _PROJECTIONS:
        raise invalid(
            "Projection.projectionType",
            "Member must satisfy enum value set: [ALL, KEYS_ONLY, INCLUDE]",
            kind,
        )
    non_key = [str(n) for n in call.listing("NonKeyAttributes", source=projection) or []]
    if kind != "INCLUDE" and non_key:
        raise _bad(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    if kind == "INCLUDE" and not non_key:
        raise _bad("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    if len(set(non_key)) != len(non_key):
        raise _bad("Duplicate attribute names in NonKeyAttributes")
    return kind, tuple(non_key)


def _throughput(
    call: DynamoCall, spec: dict[str, Any], mode: BillingMode, name: str
) -> tuple[int, int]:
    given = call.mapping("ProvisionedThroughput", source=spec)
    if mode is BillingMode.PAY_PER_REQUEST:
        if given is not None and (
            given.get("ReadCapacityUnits") or given.get("WriteCapacityUnits")
        ):
            raise _bad(
                "ProvisionedThroughput should not be specified for index: "
                f"{name} when BillingMode is PAY_PER_REQUEST"
            )
        return 0, 0
    if given is None:
        raise _bad(f"ProvisionedThroughput must be specified for index: {name}")
    read = call.integer("ReadCapacityUnits", minimum=1, maximum=UNBOUNDED, source=given)
    write = call.integer("WriteCapacityUnits", minimum=1, maximum=UNBOUNDED, source=given)
    if read is None or write is None:
        raise invalid("ProvisionedThroughput", "Member must not be null")
    check_capacity(call, read, write)  # the settings' maximums (decision 0267)
    return read, write


def read_index(
    call: DynamoCall,
    spec: object,
    definitions: dict[str, str],
    mode: BillingMode,
    *,
    local: bool,
) -> SecondaryIndex:
    """One index definition (a member of ``GlobalSecondaryIndexes`` or
    ``LocalSecondaryIndexes``, or a GSI update's ``Create``)."""
    if not isinstance(spec, dict):
        raise invalid("SecondaryIndexes", "Member must be a structure")
    name = call.string("IndexName", required=True, min_length=3, max_length=255, source=spec)
    assert name is not None  # noqa: S101 (required)
    if not _NAME.fullmatch(name):
        raise invalid(
            "IndexName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name
        )
    hash_key, sort_key = _schema(call, spec, definitions, name)
    kind, non_key = _projection(call, spec)
    read, write = (0, 0) if local else _throughput(call, spec, mode, name)
    maxima = (-1, -1) if local else on_demand(call, mode, source=spec)  # decision 0267
    return SecondaryIndex(name, local, hash_key, sort_key, kind, non_key, read, write,
                          max_read_requests=maxima[0], max_write_requests=maxima[1])  # fmt: skip


def check_indexes(
    limits: TableLimits,
    table_hash: KeyElement,
    table_sort: KeyElement | None,
    indexes: list[SecondaryIndex],
) -> None:
    """The table's indexes together: distinct names, AWS's counts, local indexes on the
    table's hash key with a sort key."""
    names = [i.name for i in indexes]
    for name in names:
        if names.count(name) > 1:
            raise _bad(f"Duplicate index name: {name}")
    if sum(1 for i in indexes if not i.local) > limits.max_global_indexes:
        raise DynamoWireError(
            "LimitExceededException",
            f"One or more parameter values were invalid: GlobalSecondaryIndex count exceeds "
            f"the per-table limit of {limits.max_global_indexes}",
        )
    if sum(1 for i in indexes if i.local) > limits.max_local_indexes:
        raise _bad(
            f"Number of LocalSecondaryIndexes exceeds per-table limit of {limits.max_local_indexes}"
        )
    projected = {n for i in indexes for n in i.non_key}
    if len(projected) > limits.max_projected_attributes:
        raise _bad(
            "Number of projected attributes in all indexes exceeds limit of "
            f"{limits.max_projected_attributes}, number of projected attributes: {len(projected)}"
        )
    for index in indexes:
        if not index.local:
            continue
        if table_sort is None:
            raise _bad(
                "Table KeySchema does not have a range key, which is required when "
                "specifying a LocalSecondaryIndex"
            )
        if index.hash_key != table_hash:
            raise _bad(
                f"Index KeySchema does not have the same leading hash key as table "
                f"KeySchema for index: {index.name}. index hash key: "
                f"{index.hash_key.name}, table hash key: {table_hash.name}"
            )
        if index.sort_key is None:
            raise _bad(f"Index KeySchema does not have a range key for index: {index.name}")


def updated_indexes(
    call: DynamoCall, table: Table, definitions: dict[str, str]
) -> list[tuple[str, SecondaryIndex | str]]:
    """UpdateTable's ``GlobalSecondaryIndexUpdates`` read: (``Create``, the index),
    (``Update``, the index with its new throughput) or (``Delete``, its name)."""
    updates = call.listing("GlobalSecondaryIndexUpdates") or []
    if len(updates) > 1 and any("Create" in u or "Delete" in u for u in updates):
        raise ValidationError(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted "
            "simultaneously per table"
        )
    read: list[tuple[str, SecondaryIndex | str]] = []
    for update in updates:
        if not isinstance(update, dict) or len(update) != 1:
            raise _bad("One of Create, Update or Delete must be given per update")
        action, spec = next(iter(update.items()))
        if action == "Create":
            read.append(
                ("Create", read_index(call, spec, definitions, table.billing_mode, local=False))
            )
            continue
        name = call.string("IndexName", required=True, source=spec)
        index = None if name is None else table.index(name)
        if index is None or index.local:
            raise DynamoWireError(
                "ResourceNotFoundException",
                f"Requested resource not found: Index: {name} not found",
            )
        if action == "Delete":
            read.append(("Delete", index.name))
        elif action == "Update":
            read_, write = _throughput(call, spec, table.billing_mode, index.name)
            held = (index.max_read_requests, index.max_write_requests)
            maxima = on_demand(call, table.billing_mode, held, spec)
            changed = dataclasses.replace(
                index,
                read_capacity=read_,
                write_capacity=write,
                max_read_requests=maxima[0],
                max_write_requests=maxima[1],
            )
            read.append(("Update", changed))
        else:
            raise _bad(f"Unknown index update {action}")
    return read
