"""A group's tags after creation (decision 0159): CreateOrUpdateTags and DeleteTags, each
group's changes one conditional write; the rules of CreateAutoScalingGroup's tags hold
(at most 50, no ``aws:`` key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.model import Group, GroupTag
from andromede.autoscaling.service import AutoScalingService

__all__ = ["delete_tags", "put_tags"]

_MAX_TAGS = 50


def _grouped(tags: Sequence[tuple[str, GroupTag]]) -> dict[str, list[GroupTag]]:
    by_group: dict[str, list[GroupTag]] = {}
    for name, tag in tags:
        by_group.setdefault(name, []).append(tag)
    return by_group


async def put_tags(
    service: AutoScalingService, tenant_id: str, tags: Sequence[tuple[str, GroupTag]]
) -> None:
    """Create or replace each (group name, tag); every group named is checked first."""
    by_group = _grouped(tags)
    for name in by_group:
        await service.group(tenant_id, name)
    if any(t.key.lower().startswith("aws:") for _, t in tags):
        raise ScalingValidationError("Tag keys starting with 'aws:' are reserved")
    for name, added in by_group.items():

        def change(group: Group, added: list[GroupTag] = added) -> Group:
            held = {t.key: t for t in group.tags}
            for tag in added:
                held[tag.key] = tag
            if len(held) > _MAX_TAGS:
                raise ScalingValidationError(f"A group may have at most {_MAX_TAGS} tags")
            return replace(group, tags=tuple(held.values()))

        await service.mutate(tenant_id, name, change)


async def delete_tags(
    service: AutoScalingService, tenant_id: str, tags: Sequence[tuple[str, GroupTag]]
) -> None:
    by_group = _grouped(tags)
    for name in by_group:
        await service.group(tenant_id, name)
    for name, gone in by_group.items():
        keys = {t.key for t in gone}

        def change(group: Group, keys: set[str] = keys) -> Group | None:
            kept = tuple(t for t in group.tags if t.key not in keys)
            return None if kept == group.tags else replace(group, tags=kept)

        await service.mutate(tenant_id, name, change)
