"""DynamoDB's write transactions (decision 0237): up to 100 puts, updates, deletes and
condition checks over distinct items, of one account's tables, applied all or none.

Every item is read and every condition decided first; if one fails, nothing is written and
the call is cancelled with a reason per item (``ConditionalCheckFailed``, with the item when
asked, or ``None``). Then the writes go to the store in one database transaction, each
guarded by the revision read: if another write came between, none applies and the whole is
decided again, a few times, then ``TransactionConflictException``, as DynamoDB answers a
transaction that met another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from andromede.dynamodb import capacity
from andromede.dynamodb.errors import TransactionCanceled, TransactionConflict, ValidationError
from andromede.dynamodb.evaluate import matches
from andromede.dynamodb.expressions import Condition, Update
from andromede.dynamodb.indexes import index_writes
from andromede.dynamodb.keys import check_key, key_of
from andromede.dynamodb.model import Table
from andromede.dynamodb.service import DynamoService, partition_text, updated, write_units
from andromede.dynamodb.store import ABSENT, TransactWrite
from andromede.dynamodb.streams import change_record
from andromede.dynamodb.throttling import cancellation_reasons
from andromede.dynamodb.values import Item

__all__ = ["MAX_ACTIONS", "TransactOp", "transact_write"]

MAX_ACTIONS: Final = 100
_ATTEMPTS: Final = 8


@dataclass(frozen=True, slots=True)
class TransactOp:
    """One action: ``Put`` (``item``), ``Update`` (``update``), ``Delete`` or
    ``ConditionCheck``, on ``key`` of ``table``."""

    kind: str
    table: Table
    key: Item
    condition: Condition | None = None
    item: Item | None = None
    update: Update | None = None
    old_on_failure: bool = False


def _checked(ops: Sequence[TransactOp]) -> list[TransactOp]:
    if not 1 <= len(ops) <= MAX_ACTIONS:
        raise ValidationError(
            f"Member must have length less than or equal to {MAX_ACTIONS} and greater than or "
            "equal to 1"
        )
    seen: set[str] = set()
    checked = []
    for op in ops:
        key = (
            key_of(op.table, op.item)
            if op.kind == "Put" and op.item
            else check_key(op.table, op.key)
        )
        name = json.dumps([op.table.name, key], sort_keys=True)
        if name in seen:
            raise ValidationError(
                "Transaction request cannot include multiple operations on one item"
            )
        seen.add(name)
        checked.append(TransactOp(op.kind, op.table, key, op.condition, op.item, op.update,
                                  op.old_on_failure))  # fmt: skip
    return checked


def _doubled(units: dict[str, float]) -> dict[str, float]:
    return {name: 2 * spent for name, spent in units.items()}


async def transact_write(dynamodb: DynamoService, ops: Sequence[TransactOp]) -> None:
    checked = _checked(ops)
    tenant_id = checked[0].table.tenant_id
    # Decision 0267: a write transaction throttled is cancelled, ThrottlingError per action.
    # Decision 0291: each item's partition key too.
    partitions = [partition_text(op.table, op.key) for op in checked]
    throttled = cancellation_reasons(
        dynamodb.throttle, [(op.table, True) for op in checked], partitions
    )
    for op in checked:  # Contributor Insights (decision 0278), each item as a write's
        await dynamodb.tell_insights(op.table, op.key, throttled is not None)
    if throttled is not None:
        raise TransactionCanceled(throttled)
    for _ in range(_ATTEMPTS):
        writes: list[TransactWrite] = []
        reasons: list[dict[str, Any]] = []
        units: list[tuple[Table, float, dict[str, float], str]] = []
        now = int(time.time() * 1000)
        for op in checked:
            hash_token, sort_token, stored = await dynamodb.held(op.table, op.key)
            old = None if stored is None else await dynamodb.open_item(op.table, stored)
            if op.condition is not None and not matches(old or {}, op.condition):
                reason: dict[str, Any] = {
                    "Code": "ConditionalCheckFailed",
                    "Message": "The conditional request failed",
                }
                if op.old_on_failure and old is not None:
                    reason["Item"] = old
                reasons.append(reason)
                continue
            reasons.append({"Code": "None"})
            expected = ABSENT if stored is None else stored.revision
            write = TransactWrite(op.table.name, hash_token, sort_token, expected)
            if op.kind in ("Put", "Update"):
                new = (
                    op.item
                    if op.kind == "Put" and op.item
                    else updated(op.table, op.key, old, op.update)
                )
                size = dynamodb.check_size(new)
                row = await dynamodb.row(op.table, hash_token, sort_token, new, size, stored)
                record = change_record(op.table, stored, row, old, new, now)
                write = TransactWrite(op.table.name, hash_token, sort_token, expected, row,
                                      record=record)  # fmt: skip
                spent = write_units(max(size, stored.size if stored else 0))
                units.append((op.table, 2 * spent, _doubled(index_writes(op.table, old, new)),
                              partition_text(op.table, op.key)))  # fmt: skip
            elif op.kind == "Delete":
                record = change_record(op.table, stored, None, old, None, now)
                write = TransactWrite(op.table.name, hash_token, sort_token, expected,
                                      delete=True, record=record)  # fmt: skip
                spent = write_units(stored.size if stored else 0)
                units.append((op.table, 2 * spent, _doubled(index_writes(op.table, old, None)),
                              partition_text(op.table, op.key)))  # fmt: skip
            writes.append(write)
        if any(r["Code"] != "None" for r in reasons):
            raise TransactionCanceled(reasons)
        if await dynamodb.store.transact(tenant_id, writes):
            for table, consumed, by_index, partition in units:  # a write costs double
                capacity.entered(None, partition)  # paid by its partition key too (0291)
                dynamodb.consumed(table, 0, consumed, by_index)
            return
    raise TransactionConflict("Transaction is ongoing for the item")
