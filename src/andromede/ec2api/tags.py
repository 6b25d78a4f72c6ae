"""EC2 tag actions: CreateTags, DeleteTags, DescribeTags."""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.service_core import TagEntry
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.protocol import Action, Call
from andromede.ec2api.xml import write_return

__all__ = ["TAG_ACTIONS"]

# -- tags ------------------------------------------------------------------------------------


def _resource_ids(call: Call) -> list[str]:
    ids = call.params.values("ResourceId")
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ResourceId")
    return ids


async def create_tags(call: Call) -> None:
    await call.compute.create_tags(call.tenant_id, _resource_ids(call), call.params.tags())
    write_return(call.result)


async def delete_tags(call: Call) -> None:
    keys: dict[str, str | None] = {
        t.required("Key"): t.get("Value") for t in call.params.structs("Tag")
    }
    await call.compute.delete_tags(call.tenant_id, _resource_ids(call), keys)
    write_return(call.result)


_TAG_FILTERS: dict[str, Callable[[TagEntry], list[str]]] = {
    "key": lambda e: [e.key],
    "value": lambda e: [e.value],
    "resource-id": lambda e: [e.resource_id],
    "resource-type": lambda e: [e.resource_type],
}


async def describe_tags(call: Call) -> None:
    filters = Filters(call.params.filters(), _TAG_FILTERS.get)
    max_results = call.params.integer("MaxResults", minimum=5, maximum=1000)
    entries = [e for e in await call.compute.describe_tags(call.tenant_id) if matches(filters, e)]
    entries.sort(key=lambda e: (e.resource_id, e.key))
    start = call.params.integer("NextToken", default=0, minimum=0) or 0
    end = len(entries) if max_results is None else start + max_results
    xml = call.result
    xml.open("tagSet")
    for entry in entries[start:end]:
        xml.open("item")
        xml.element("resourceId", entry.resource_id)
        xml.element("resourceType", entry.resource_type)
        xml.element("key", entry.key)
        xml.element("value", entry.value)
        xml.close("item")
    xml.close("tagSet")
    xml.element("nextToken", str(end) if end < len(entries) else None)


TAG_ACTIONS: dict[str, Action] = {
    "CreateTags": Action(create_tags, mutating=True),
    "DeleteTags": Action(delete_tags, mutating=True),
    "DescribeTags": Action(describe_tags, mutating=False),
}
