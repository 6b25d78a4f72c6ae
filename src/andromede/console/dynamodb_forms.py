"""What a DynamoDB table page's forms ask (decisions 0244 and 0251), read into DynamoDB's
requests: the items form's key condition on the table or one of its indexes, its filter and
projection with their placeholders, an index to create, an item's key. Each reading is only
the form's: what the typed expressions, names and values mean, DynamoDB decides and answers in
its words. A form the page cannot read at all (a JSON object that is none, a placeholder that
is the page's own) is a ``FormFault`` in the reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from andromede.console.handlers import Form, FormFault
from andromede.console.wire_dynamodb import (
    IndexSummary,
    Item,
    KeyPart,
    NewIndex,
    ReadOptions,
    TableSummary,
)

__all__ = [
    "KEY_PLACEHOLDERS",
    "PROJECTIONS",
    "SORT_CONDITIONS",
    "Words",
    "json_object",
    "key_condition",
    "key_of",
    "new_index",
    "partition_of",
    "read_options",
    "string_map",
]

Words = Callable[[str], str]  # the reader's gettext

# The sort key conditions Query takes, as the form names them.
SORT_CONDITIONS: Final = ("=", "<", "<=", ">", ">=", "begins_with", "between")
PROJECTIONS: Final = ("ALL", "KEYS_ONLY", "INCLUDE")  # an index's projection types
# The placeholders the page's key condition uses: the user's own filter takes others.
KEY_PLACEHOLDERS: Final = frozenset({"#pk", "#sk", ":pk", ":sk", ":sk2"})


def json_object(typed: str, what: str) -> Item:
    """A JSON object typed in a form (DynamoDB checks what is inside); ``what`` the fault."""
    try:
        parsed = json.loads(typed) if typed.strip() else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise FormFault(what)
    return parsed


def string_map(typed: str, what: str) -> dict[str, str]:
    """Placeholders for attribute names (``{"#n": "name"}``), empty when nothing is typed."""
    if not typed.strip():
        return {}
    parsed = json_object(typed, what)
    if not all(isinstance(v, str) for v in parsed.values()):
        raise FormFault(what)
    return {str(k): str(v) for k, v in parsed.items()}


def _values(typed: str, _: Words) -> Item:
    """Placeholders for values in DynamoDB JSON (``{":v": {"S": "x"}}``), empty when none."""
    if not typed.strip():
        return {}
    return json_object(typed, _("Give the values as a JSON object in DynamoDB JSON."))


def _target(table: TableSummary, index: str, _: Words) -> TableSummary | IndexSummary:
    """The table, or the index of it a read names."""
    if not index:
        return table
    found = next((i for i in table.indexes if i.name == index), None)
    if found is None:
        raise FormFault(_("Choose an index of the table."))
    return found


def read_options(table: TableSummary, fields: Form, _: Words) -> ReadOptions:
    """The items form's index, filter, projection and placeholders."""
    index = fields.get("index", "")
    _target(table, index, _)  # an index of the table, or none
    names = string_map(
        fields.get("filter_names", ""),
        _("Give the attribute names as a JSON object whose values are names."),
    )
    values = _values(fields.get("filter_values", ""), _)
    if KEY_PLACEHOLDERS & (set(names) | set(values)):
        reserved = _("#pk, #sk, :pk, :sk and :sk2 are the key condition's: name yours otherwise.")
        raise FormFault(reserved)
    return ReadOptions(
        index=index,
        filter=fields.get("filter", "").strip(),
        projection=fields.get("projection", "").strip(),
        names=names,
        values=values,
    )


def _key_value(kind: str, typed: str) -> dict[str, str]:
    """A key value as DynamoDB JSON: the key's type (S, N or B — base64) and the text typed."""
    return {kind or "S": typed}


def key_condition(table: TableSummary, fields: Form, _: Words) -> tuple[str, dict[str, str], Item]:
    """Query's key condition, names and values from the form: the partition key of the table
    or of the index chosen equal to the value typed, and its sort key's condition when one is
    chosen and it has a sort key. The values are typed as the keys' attribute types; DynamoDB
    checks them."""
    target = _target(table, fields.get("index", ""), _)
    partition, sort = target.partition_key, target.sort_key
    if partition is None:
        raise FormFault(_("The table's key schema could not be read."))
    condition = "#pk = :pk"
    names = {"#pk": partition.name}
    values: Item = {":pk": _key_value(partition.type, fields.get("partition_value", ""))}
    operator = fields.get("sort_condition", "")
    if sort is not None and operator:
        if operator not in SORT_CONDITIONS:
            raise FormFault(_("Choose a sort key condition."))
        names["#sk"] = sort.name
        values[":sk"] = _key_value(sort.type, fields.get("sort_value", ""))
        if operator == "begins_with":
            condition += " AND begins_with(#sk, :sk)"
        elif operator == "between":
            values[":sk2"] = _key_value(sort.type, fields.get("sort_value_2", ""))
            condition += " AND #sk BETWEEN :sk AND :sk2"
        else:
            condition += f" AND #sk {operator} :sk"
    return condition, names, values


def key_of(table: TableSummary | None, item: Item) -> str:
    """An item's primary key as JSON (the table's key attributes of it), or "" when the item
    read lacks one of them (a projection left it out): such an item offers no edit."""
    names = [k.name for k in table.key] if table else []
    if not names or any(n not in item for n in names):
        return ""
    return json.dumps({n: item[n] for n in names}, sort_keys=True)


def _key_part(fields: Form, prefix: str) -> tuple[str, str] | None:
    name = fields.get(f"{prefix}_key", "").strip()
    return (name, fields.get(f"{prefix}_type", "") or "S") if name else None


def new_index(fields: Form, _: Words) -> NewIndex:
    """The index form's global secondary index: name, keys and types, projection (INCLUDE's
    attributes separated by commas or spaces), capacities as typed."""
    projection = fields.get("projection_type", "")
    if projection not in PROJECTIONS:
        raise FormFault(_("Choose the attributes the index projects."))
    attributes = fields.get("non_key_attributes", "").replace(",", " ").split()
    return NewIndex(
        name=fields.get("index_name", "").strip(),
        partition_key=_key_part(fields, "index_partition") or ("", "S"),
        sort_key=_key_part(fields, "index_sort"),
        projection=projection,
        non_key=attributes,
        read_capacity=fields.get("index_read_capacity", ""),
        write_capacity=fields.get("index_write_capacity", ""),
    )


def partition_of(table: TableSummary, _: Words) -> KeyPart:
    """The table's partition key (every table has one: a description without is a fault)."""
    if table.partition_key is None:
        raise FormFault(_("The table's key schema could not be read."))
    return table.partition_key
