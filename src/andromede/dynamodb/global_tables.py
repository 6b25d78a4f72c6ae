"""DynamoDB global tables' rules (decision 0265), version 2019.11.21: a table of one name
in several regions of the deployment, each a replica of the others, managed by UpdateTable's
``ReplicaUpdates`` and shown by DescribeTable's ``Replicas`` and ``GlobalTableVersion``.

This module holds what does not depend on storage: the replica statuses, one replica
update as read from the call, AWS's refusals in its words, DescribeTable's fields (a
replica being made ``CREATING`` with its progress, its table ``UPDATING``: decision 0291) and
the digests the replicator recognises rows by. ``dynamodb.global_tables_service`` makes and
removes replicas and replicates their writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from andromede.dynamodb.errors import TableInUse, ValidationError
from andromede.dynamodb.model import Table
from andromede.dynamodb.streams import ChangeRecord

__all__ = [
    "GLOBAL_TABLE_VERSION",
    "ReplicaStatus",
    "ReplicaUpdate",
    "change_digest",
    "check_not_in_progress",
    "global_description",
    "replica_table_status",
    "row_digest",
]

GLOBAL_TABLE_VERSION: Final = "2019.11.21"
REQUIRED_VIEW: Final = "NEW_AND_OLD_IMAGES"


class ReplicaStatus(StrEnum):
    CREATING = "CREATING"
    CREATION_FAILED = "CREATION_FAILED"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    ACTIVE = "ACTIVE"
    REGION_DISABLED = "REGION_DISABLED"
    INACCESSIBLE_ENCRYPTION_CREDENTIALS = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"


@dataclass(frozen=True, slots=True)
class ReplicaUpdate:
    """One of ``ReplicaUpdates``: ``Create``, ``Update`` or ``Delete`` of ``region``; a
    creation's provisioned read capacity override and per-index ones (read units)."""

    action: str  # Create | Update | Delete
    region: str
    kms_key: str | None = None
    read_capacity: int | None = None
    index_read_capacity: tuple[tuple[str, int], ...] = ()
    table_class: str | None = None


def check_update(table: Table, update: ReplicaUpdate, declared: frozenset[str]) -> None:
    """AWS's refusals of one replica update of ``table`` (in its own region)."""
    if update.region == table.region:
        raise ValidationError(
            "Cannot add, delete, or update the local region through ReplicaUpdates. Use "
            "CreateTable, DeleteTable, or UpdateTable as required."
        )
    if update.region not in declared:
        # AWS's own wording for a region it does not know (a region the deployment does not
        # declare is one this platform does not know).
        raise ValidationError(f"1 validation error detected: Invalid AWS region: {update.region}")
    replicas = dict(table.replicas)
    if update.action == "Create":
        if update.region in replicas:
            raise ValidationError(
                f"Failed to create a the new replica of table with name: '{table.name}' "
                "because one or more replicas already existed as tables."
            )
        if update.table_class not in (None, "STANDARD"):
            raise ValidationError(
                f"TableClassOverride {update.table_class} is not served by this platform "
                "(decision 0265): every table is STANDARD"
            )
        if update.kms_key is not None or table.kms_key_arn is not None:
            raise ValidationError(
                "KMSMasterKeyId is not served for replicas by this platform (decision 0265): a "
                "replica is sealed under the account's key ring, so a table under a customer "
                "managed key cannot be replicated"
            )
        names = {i.name for i in table.indexes if not i.local}
        for index, _ in update.index_read_capacity:
            if index not in names:
                raise ValidationError(
                    "One or more parameter values were invalid: Requested resource not found: "
                    f"Index: {index} not found in table: {table.name}"
                )
        if table.stream_view not in (None, REQUIRED_VIEW):
            raise ValidationError(
                "One or more parameter values were invalid: Table must have DynamoDB Streams "
                f"enabled with StreamViewType set to {REQUIRED_VIEW} to add replicas"
            )
        return
    if update.region not in replicas:
        raise ValidationError(
            "Replica specified in the Replica Update or Replica Delete action of the request "
            "was not found."
        )
    if update.action == "Update" and update.kms_key is not None:
        raise ValidationError(
            "One or more parameter values were invalid: KMSMasterKeyId cannot be updated "
            "for an existing replica"
        )


def global_description(table: Table) -> dict[str, Any]:
    """DescribeTable's fields of a global table (none for a table alone): the version and
    the other regions' replicas, as AWS lists them from any one region; a replica whose
    initial copy runs ``CREATING`` with its ``ReplicaStatusPercentProgress`` (decision
    0291)."""
    if not table.replicas:
        return {}
    progress = dict(table.replica_progress)
    replicas: list[dict[str, Any]] = []
    for region, status in table.replicas:
        replica: dict[str, Any] = {"RegionName": region, "ReplicaStatus": status}
        if status == ReplicaStatus.CREATING and region in progress:
            replica["ReplicaStatusDescription"] = (
                f"Replica is being created: its initial copy of the table's items from "
                f"{table.region} is {progress[region]}% done"
            )
            replica["ReplicaStatusPercentProgress"] = str(progress[region])
        replica["ReplicaTableClassSummary"] = {"TableClass": "STANDARD"}
        replicas.append(replica)
    return {"GlobalTableVersion": GLOBAL_TABLE_VERSION, "Replicas": replicas}


def replica_table_status(table: Table) -> str | None:
    """The ``TableStatus`` a replica's creation gives (decision 0291): ``CREATING`` for the
    new replica until its copy is done, ``UPDATING`` for the table it is made from; None
    when none is being made."""
    regions = {region for region, _ in table.replica_progress}
    if table.region in regions:
        return "CREATING"
    return "UPDATING" if regions else None


def check_not_in_progress(table: Table) -> None:
    """AWS's ``ResourceInUseException`` for a change of a table whose replica is being
    made (the source ``UPDATING``, the new replica ``CREATING``)."""
    status = replica_table_status(table)
    if status is not None:
        being = "created" if status == "CREATING" else "updated"
        raise TableInUse(
            f"Attempt to change a resource which is still in use: Table is being {being}: "
            f"{table.name}"
        )


def row_digest(sealed: bytes | None) -> bytes:
    """What an item clock holds of the row a write left (b"": the item deleted)."""
    return b"" if sealed is None else hashlib.sha256(sealed).digest()


def change_digest(change: ChangeRecord) -> bytes:
    """How a stream record is recognised as the replicator's own write: the digest of the
    row it wrote, or of the row it removed (sealed rows never repeat: each has its nonce)."""
    if change.new_sealed is not None:
        return hashlib.sha256(change.new_sealed).digest()
    return b"del:" + hashlib.sha256(change.old_sealed or b"").digest()
