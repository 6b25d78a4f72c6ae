"""DynamoDB's secondary indexes (decision 0243): where an item stands in each of its table's
indexes, checked as DynamoDB checks an index key, and what an index projects.

An item is in an index only when it has the index's key attributes (a sparse index); an index
key of another type than the index's definition is refused in DynamoDB's words. The index
hash key is MACed under the table's key with the index's name before it (so equal values
have different MACs in the table and in each index); the index sort key is kept as its
sortable encoding, as the table's own sort key (decision 0237).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import IndexKey, SecondaryIndex, Table
from andromede.dynamodb.values import (
    Item,
    Value,
    canonical_key,
    item_size,
    sort_encoding,
    type_of,
)

__all__ = [
    "index_hash_input",
    "index_keys",
    "index_writes",
    "projected",
]


def index_hash_input(index: str, value: Value) -> bytes:
    """The bytes an index hash key is MACed over: the index's name, then the value."""
    return b"index\x00" + index.encode() + b"\x00" + canonical_key(value)


def _present(index: SecondaryIndex, item: Item) -> bool:
    present = True
    for element in (index.hash_key, index.sort_key):
        if element is None:
            continue
        value = item.get(element.name)
        if value is None:
            present = False
            continue
        if type_of(value) != element.type:
            raise ValidationError(
                "One or more parameter values were invalid: Type mismatch for Index Key "
                f"{element.name} Expected: {element.type} Actual: {type_of(value)} "
                f"IndexName: {index.name}"
            )
        if value[element.type] in ("", b""):
            raise ValidationError(
                "One or more parameter values are not valid. A value specified for a "
                "secondary index key is not supported. The AttributeValue for a key attribute "
                f"cannot contain an empty string value. IndexName: {index.name}, IndexKey: "
                f"{element.name}"
            )
        limit = 2048 if element is index.hash_key else 1024
        if len(sort_encoding(value)) > limit:
            kind = "hashkey" if limit == 2048 else "rangekey"
            raise ValidationError(
                f"One or more parameter values were invalid: Size of {kind} has exceeded the "
                f"maximum size limit of {limit} bytes (IndexName: {index.name})"
            )
    return present


async def index_keys(
    table: Table, item: Item, mac: Callable[[Table, bytes], Awaitable[bytes]]
) -> tuple[IndexKey, ...]:
    """``item``'s place in each index of ``table`` that holds it (``mac``: the sealer's)."""
    keys = []
    for index in table.indexes:
        if not _present(index, item):
            continue
        hash_token = await mac(table, index_hash_input(index.name, item[index.hash_key.name]))
        sort = index.sort_key
        sort_token = b"" if sort is None else sort_encoding(item[sort.name])
        keys.append(IndexKey(index.name, hash_token, sort_token))
    return tuple(keys)


def projected(table: Table, index: SecondaryIndex, item: Item) -> Item:
    """``item`` as the index holds it: only the projected attributes."""
    names = index.projects(table.key_names)
    return item if names is None else {n: v for n, v in item.items() if n in names}


def index_writes(table: Table, old: Item | None, new: Item | None) -> dict[str, float]:
    """The write units a write spends on each of the table's indexes, as AWS bills them: one
    write of the projected item (a unit per KB begun) when the item enters, leaves or changes
    in it, two when its index key changes (a delete and a put); none (and no entry) when what
    the index holds of it did not change."""
    units: dict[str, float] = {}
    for index in table.indexes:
        names = index.key_names
        before = old is not None and all(n in old for n in names)
        after = new is not None and all(n in new for n in names)
        if not before and not after:
            continue
        sizes = [item_size(projected(table, index, i)) for i in (old, new) if i is not None]
        one = float(max(1, -(-max(sizes) // 1024)))
        if before and after:
            assert old is not None and new is not None  # noqa: S101 (both in the index)
            if any(old[n] != new[n] for n in names):
                units[index.name] = 2 * one  # moved within the index: a delete and a put
            elif projected(table, index, old) != projected(table, index, new):
                units[index.name] = one
            continue  # unchanged as the index holds it: no index write, as AWS's
        units[index.name] = one
    return units
