"""Auto Scaling's tag calls on the wire (decision 0159): CreateOrUpdateTags, DeleteTags,
DescribeTags (filters ``auto-scaling-group``, ``key``, ``value``, ``propagate-at-launch``),
in AWS's shapes; Terraform's ``aws_autoscaling_group`` changes its ``tag`` blocks with the
first two."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.autoscaling.model import GroupTag
from andromede.autoscaling.service import AutoScalingService
from andromede.autoscaling.tags import delete_tags, put_tags
from andromede.iamapi.autoscaling_wire import guarded, page
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = ["handlers"]

_FILTERS = ("auto-scaling-group", "key", "value", "propagate-at-launch")
_MAX_TAGS_A_CALL = 50


def _tags(call: Call) -> list[tuple[str, GroupTag]]:
    found = []
    index = 1
    while (key := call.get(f"Tags.member.{index}.Key")) is not None:
        prefix = f"Tags.member.{index}."
        kind = call.get(prefix + "ResourceType") or "auto-scaling-group"
        if kind != "auto-scaling-group":
            raise QueryError("ValidationError", f"Tag ResourceType {kind[:64]!r} is invalid")
        group = call.required(prefix + "ResourceId")
        if not 1 <= len(key) <= 128:
            raise QueryError("ValidationError", "Tag key must be 1 to 128 characters")
        value = call.get(prefix + "Value") or ""
        if len(value) > 256:
            raise QueryError("ValidationError", "Tag value must be at most 256 characters")
        propagate = (call.get(prefix + "PropagateAtLaunch") or "false").lower() == "true"
        found.append((group, GroupTag(key, value, propagate)))
        index += 1
    if not 1 <= len(found) <= _MAX_TAGS_A_CALL:
        raise QueryError("ValidationError", f"Tags holds 1 to {_MAX_TAGS_A_CALL} tags")
    return found


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    del region  # tags are named by their group

    async def create_or_update(call: Call) -> None:
        await guarded(put_tags(service, call.tenant_id, _tags(call)))

    async def delete(call: Call) -> None:
        await guarded(delete_tags(service, call.tenant_id, _tags(call)))

    async def describe(call: Call) -> None:
        filters: list[tuple[str, set[str]]] = []
        index = 1
        while (name := call.get(f"Filters.member.{index}.Name")) is not None:
            if name not in _FILTERS:
                raise QueryError("ValidationError", f"Filter name {name[:64]!r} is not supported")
            filters.append((name, set(call.members(f"Filters.member.{index}.Values"))))
            index += 1
        rows = [
            (g.name, t)
            for g in await service.store.groups(call.tenant_id)
            if not g.deleting
            for t in g.tags
        ]

        def kept(row: tuple[str, GroupTag]) -> bool:
            group, tag = row
            seen = {
                "auto-scaling-group": group,
                "key": tag.key,
                "value": tag.value,
                "propagate-at-launch": "true" if tag.propagate_at_launch else "false",
            }
            return all(seen[name] in values for name, values in filters)

        chosen = sorted((r for r in rows if kept(r)), key=lambda r: (r[0], r[1].key))
        shown, token = page(call, chosen, lambda r: f"{r[0]}\n{r[1].key}")
        xml = call.result
        xml.open("Tags")
        for group, tag in shown:
            xml.open("member")
            xml.element("ResourceId", group)
            xml.element("ResourceType", "auto-scaling-group")
            xml.element("Key", tag.key)
            xml.element("Value", tag.value)
            xml.element("PropagateAtLaunch", "true" if tag.propagate_at_launch else "false")
            xml.close("member")
        xml.close("Tags")
        if token is not None:
            xml.element("NextToken", token)

    return {
        "CreateOrUpdateTags": (create_or_update, True, False),
        "DeleteTags": (delete, True, False),
        "DescribeTags": (describe, False, True),
    }
