"""The changes a DynamoDB table page makes beyond its items' reads (decision 0251): a global
secondary index created or deleted (UpdateTable's ``GlobalSecondaryIndexUpdates``), the
billing mode and the table's and its global indexes' capacities or on-demand maximums
changed (decision 0276), deletion protection turned on or off (UpdateTable), a replica added
in another region or deleted (UpdateTable's ``ReplicaUpdates``, decision 0279), an item
updated with an update expression (UpdateItem) or its DynamoDB JSON replaced (PutItem on the
condition that it is still there). Each is DynamoDB's own call as the signed-in principal
(``wire_dynamodb.DynamoWire``); each answers the page's anchor to go back to, with its notice.

An item's key travels in a form's hidden field, never a URL; a replacement must keep it (a
changed key would make another item: "Create or replace an item" does that).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Final

from andromede.console.dynamodb_forms import (
    Words,
    json_object,
    new_index,
    partition_of,
    string_map,
)
from andromede.console.handlers import Form, FormFault
from andromede.console.wire_dynamodb import DynamoWire, Item
from andromede.console.wire_dynamodb_capacity import CapacityChange
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["EDITS", "ITEM_EDITS", "Edit", "item_key"]

# An edit: the call made with the form's fields, answering the page's query and anchor.
Edit = Callable[[DynamoWire, Scope, Principal, str, Form, Words], Awaitable[str]]


def _confirmed(fields: Form, _: Words) -> None:
    if fields.get("confirm") != "yes":
        raise FormFault(_("Tick the box to confirm the deletion."))


def item_key(fields: Form, _: Words) -> Item:
    """The edited item's primary key (JSON in the form's hidden field)."""
    return json_object(fields.get("key", ""), _("The item's key is not a JSON object."))


async def _create_index(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    index = new_index(fields, _)
    table = await wire.describe(origin, principal, name)
    provisioned = table.billing_mode == "PROVISIONED"
    await wire.create_index(origin, principal, name, index, provisioned=provisioned)
    return "?saved=indexes#indexes"


async def _delete_index(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    _confirmed(fields, _)
    await wire.delete_index(origin, principal, name, fields.get("delete_index", ""))
    return "?saved=indexes#indexes"


def _typed(fields: Form, name: str) -> str:
    return fields.get(name, "").strip()


async def _capacity(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    """UpdateTable's billing mode with the table's and its global indexes' units: provisioned
    capacity, or on-demand maximums (decision 0267). An index's units are sent when typed
    otherwise than DynamoDB describes them, or with a change of billing mode (which needs
    them all when it turns provisioned)."""
    table = await wire.describe(origin, principal, name)
    on_demand = fields.get("billing") != "PROVISIONED"
    switched = on_demand != (table.billing_mode != "PROVISIONED")
    kinds = ("max_read", "max_write") if on_demand else ("read", "write")
    indexes: dict[str, tuple[str, str]] = {}
    for index in table.global_indexes:
        typed = (
            _typed(fields, f"index_{kinds[0]}:{index.name}"),
            _typed(fields, f"index_{kinds[1]}:{index.name}"),
        )
        held = (
            (str(index.max_read_requests), str(index.max_write_requests))
            if on_demand
            else (str(index.read_capacity), str(index.write_capacity))
        )
        if typed != held and (any(typed) or switched):
            indexes[index.name] = typed
    units = (
        (_typed(fields, "max_read"), _typed(fields, "max_write"))
        if on_demand
        else (_typed(fields, "read_capacity"), _typed(fields, "write_capacity"))
    )
    change = CapacityChange(on_demand=on_demand, table=units, indexes=indexes)
    await wire.capacity().update(origin, principal, name, change)
    return "?saved=capacity#capacity"


async def _deletion_protection(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    enabled = fields.get("enabled") == "yes"
    await wire.set_deletion_protection(origin, principal, name, enabled=enabled)
    return "?saved=capacity#capacity"


async def _update_item(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    key = item_key(fields, _)
    names = string_map(
        fields.get("update_names", ""),
        _("Give the attribute names as a JSON object whose values are names."),
    )
    typed_values = fields.get("update_values", "")
    values = (
        json_object(typed_values, _("Give the values as a JSON object in DynamoDB JSON."))
        if typed_values.strip()
        else {}
    )
    await wire.update_item(
        origin, principal, name, key,
        update=fields.get("update_expression", "").strip(),
        condition=fields.get("condition_expression", "").strip(),
        names=names, values=values,
    )  # fmt: skip
    return "?saved=item#items"


async def _replace_item(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    key = item_key(fields, _)
    item = json_object(
        fields.get("replacement", ""), _("Give the item as a JSON object in DynamoDB JSON.")
    )
    if any(
        json.dumps(item.get(k), sort_keys=True) != json.dumps(v, sort_keys=True)
        for k, v in key.items()
    ):
        raise FormFault(_("An edit keeps the item's key: put the other item as a new one."))
    table = await wire.describe(origin, principal, name)
    partition = partition_of(table, _).name
    await wire.replace_item(origin, principal, name, item, key_name=partition)
    return "?saved=item#items"


async def _stream(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    """UpdateTable's StreamSpecification: on with the view type chosen, or off."""
    view_type = fields.get("view_type", "") if fields.get("enabled") == "yes" else ""
    if fields.get("enabled") == "yes" and not view_type:
        raise FormFault(_("Choose what the stream's records show."))
    await wire.set_stream(origin, principal, name, view_type=view_type)
    return "?saved=stream#stream"


async def _add_replica(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    """ReplicaUpdates' Create in the region chosen (decision 0265): DynamoDB copies the
    table there and keeps both in step."""
    region = fields.get("region", "").strip()
    if not region:
        raise FormFault(_("Choose a region."))
    await wire.update_replica(origin, principal, name, region=region, create=True)
    return "?saved=replicas#replicas"


async def _delete_replica(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    _confirmed(fields, _)
    region = fields.get("region", "").strip()
    await wire.update_replica(origin, principal, name, region=region, create=False)
    return "?saved=replicas#replicas"


EDITS: Final[dict[str, Edit]] = {
    "create-index": _create_index,
    "delete-index": _delete_index,
    "capacity": _capacity,
    "deletion-protection": _deletion_protection,
    "update-item": _update_item,
    "replace-item": _replace_item,
    "stream": _stream,
    "add-replica": _add_replica,
    "delete-replica": _delete_replica,
}
# The edits of one item: refused, the page shows the item's edit forms again as typed.
ITEM_EDITS: Final = frozenset({"update-item", "replace-item"})
