"""DynamoDB global tables on the wire (decision 0265): UpdateTable's ``ReplicaUpdates``
(version 2019.11.21, in botocore's ``ReplicationGroupUpdate`` shape: ``Create`` with
``RegionName``, ``KMSMasterKeyId``, ``ProvisionedThroughputOverride``,
``GlobalSecondaryIndexes``, ``TableClassOverride``; ``Update``; ``Delete``), what
DescribeTable adds, and the calls of the legacy version 2017.11.29.

**IAM** as AWS's: creating a replica needs ``dynamodb:CreateTableReplica`` on the table and,
in the replica's region, ``dynamodb:CreateTable``, ``dynamodb:PutItem`` (the copy) and
``dynamodb:Scan`` of the source; deleting one ``dynamodb:DeleteTableReplica`` on the table
and ``dynamodb:DeleteTable`` on the replica; updating one ``dynamodb:UpdateTable`` on both.

**Legacy global tables.** No table is ever a version 2017.11.29 global table here, as for an
account AWS opened after it stopped offering that version: DescribeGlobalTable and
DescribeGlobalTableSettings answer ``GlobalTableNotFoundException`` (how tools tell a table
is not a legacy replica), ListGlobalTables an empty list, CreateGlobalTable,
UpdateGlobalTable and UpdateGlobalTableSettings ``ValidationException`` pointing at
UpdateTable.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.global_tables import ReplicaUpdate, check_update
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.model import Table, table_arn
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["LEGACY_GLOBAL_ACTIONS", "apply_replica_updates", "check_stream_kept"]

_ACTIONS: Final = ("Create", "Update", "Delete")
_LEGACY_REFUSAL: Final = (
    "Global tables version 2017.11.29 (Legacy) are not offered: use UpdateTable's "
    "ReplicaUpdates (version 2019.11.21) to add replicas (decision 0265)"
)


def _service(call: DynamoCall, table: Table, updates: list[ReplicaUpdate]) -> GlobalTables:
    if call.global_tables is None:  # a deployment of one region: no other region is known
        for update in updates:
            check_update(table, update, frozenset({table.region}))
        raise ValidationError("ReplicaUpdates is not served by this gateway (decision 0265)")
    return call.global_tables


def read_updates(call: DynamoCall) -> list[ReplicaUpdate]:
    listed = call.listing("ReplicaUpdates") or []
    if not listed:
        raise invalid("ReplicaUpdates", "Member must have length greater than or equal to 1")
    updates: list[ReplicaUpdate] = []
    for entry in listed:
        given = [a for a in _ACTIONS if isinstance(entry, dict) and entry.get(a) is not None]
        if len(given) != 1:
            raise ValidationError(
                "One or more parameter values were invalid: Exactly one of Create, Update "
                "or Delete must be specified in each ReplicaUpdate"
            )
        action = given[0]
        body = call.mapping(action, entry) or {}
        region = call.string("RegionName", required=True, min_length=1, source=body)
        assert region is not None  # noqa: S101 (required)
        throughput = call.mapping("ProvisionedThroughputOverride", body) or {}
        read = call.integer("ReadCapacityUnits", minimum=1, maximum=40_000, source=throughput)
        indexes: list[tuple[str, int]] = []
        for index in call.listing("GlobalSecondaryIndexes", body) or []:
            name = call.string("IndexName", required=True, min_length=3, source=index)
            override = call.mapping("ProvisionedThroughputOverride", index) or {}
            units = call.integer("ReadCapacityUnits", minimum=1, maximum=40_000, source=override)
            if name is not None and units is not None:
                indexes.append((name, units))
        updates.append(
            ReplicaUpdate(
                action=action,
                region=region,
                kms_key=call.string("KMSMasterKeyId", source=body),
                read_capacity=read,
                index_read_capacity=tuple(indexes),
                table_class=call.string("TableClassOverride", source=body),
            )
        )
    return updates


async def apply_replica_updates(call: DynamoCall, table: Table) -> Table:
    """UpdateTable's ``ReplicaUpdates`` applied (nothing when the call has none)."""
    if not call.params.get("ReplicaUpdates"):
        return table
    updates = read_updates(call)
    service = _service(call, table, updates)
    for update in updates:
        replica_arn = table_arn(update.region, call.tenant_id, table.name)
        if update.action == "Create":
            await call.authorise("dynamodb:CreateTableReplica", table.arn)
            await call.authorise("dynamodb:Scan", table.arn)
            await call.authorise("dynamodb:CreateTable", replica_arn)
            await call.authorise("dynamodb:PutItem", replica_arn)
        elif update.action == "Delete":
            await call.authorise("dynamodb:DeleteTableReplica", table.arn)
            await call.authorise("dynamodb:DeleteTable", replica_arn)
        else:
            await call.authorise("dynamodb:UpdateTable", replica_arn)
        call.resources.append(replica_arn)
    return await service.apply(table, updates)


def check_stream_kept(call: DynamoCall, table: Table) -> None:
    """A global table's stream carries its replication: it cannot be turned off."""
    given = call.mapping("StreamSpecification")
    if table.replicas and given is not None and given.get("StreamEnabled") is False:
        raise ValidationError(
            "One or more parameter values were invalid: Stream cannot be disabled for a "
            "table with replicas"
        )


async def table_deleted(call: DynamoCall, table: Table) -> None:
    """DeleteTable of one replica: the others carry on without it, as AWS's."""
    if call.global_tables is not None:
        await call.global_tables.left(table)


def _not_found(name: str) -> DynamoWireError:
    return DynamoWireError(
        "GlobalTableNotFoundException",
        f"Global table not found: Global table with name: {name} does not exist.",
    )


def _global_arn(call: DynamoCall, name: str) -> str:
    return f"arn:aws:dynamodb::{call.tenant_id}:global-table/{name}"


async def _describe_legacy(call: DynamoCall, action: str) -> dict[str, Any]:
    name = call.string("GlobalTableName", required=True, min_length=3, max_length=255)
    assert name is not None  # noqa: S101 (required)
    await call.authorise(f"dynamodb:{action}", _global_arn(call, name))
    raise _not_found(name)


async def describe_global_table(call: DynamoCall) -> dict[str, Any]:
    return await _describe_legacy(call, "DescribeGlobalTable")


async def describe_global_table_settings(call: DynamoCall) -> dict[str, Any]:
    return await _describe_legacy(call, "DescribeGlobalTableSettings")


async def list_global_tables(call: DynamoCall) -> dict[str, Any]:
    await call.authorise("dynamodb:ListGlobalTables", "*")
    return {"GlobalTables": []}


async def _refused_legacy(call: DynamoCall) -> dict[str, Any]:
    raise ValidationError(_LEGACY_REFUSAL)


LEGACY_GLOBAL_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeGlobalTable": describe_global_table,
    "DescribeGlobalTableSettings": describe_global_table_settings,
    "ListGlobalTables": list_global_tables,
    "CreateGlobalTable": _refused_legacy,
    "UpdateGlobalTable": _refused_legacy,
    "UpdateGlobalTableSettings": _refused_legacy,
}
