"""What Auto Scaling keeps: its groups (written only over the revision read, so that two
gateways' changes never overwrite each other) and their scaling activities; the in-memory
store beside the protocol (the SQL one is ``store_sql``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Protocol

from andromede.autoscaling.model import Activity, Group

__all__ = ["GroupStore", "MemoryGroupStore"]


class GroupStore(Protocol):
    async def insert(self, group: Group) -> bool:
        """Store a new group; False when the account has one of that name."""
        ...

    async def get(self, tenant_id: str, name: str) -> Group | None: ...

    async def groups(self, tenant_id: str | None) -> list[Group]:
        """One account's groups by name (every account's with None)."""
        ...

    async def change(self, group: Group) -> bool:
        """Write ``group`` over the stored one if its revision is still ``group.revision``
        (the stored revision then goes one up); False otherwise."""
        ...

    async def delete(self, group: Group) -> bool:
        """Delete the group, at ``group.revision``, and its activities."""
        ...

    async def add_activity(self, activity: Activity) -> None: ...

    async def activities(self, tenant_id: str, group_name: str | None) -> list[Activity]:
        """Newest first."""
        ...


class MemoryGroupStore:
    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], Group] = {}
        self._activities: list[Activity] = []
        self._lock = asyncio.Lock()

    async def insert(self, group: Group) -> bool:
        async with self._lock:
            key = (group.tenant_id, group.name)
            if key in self._groups:
                return False
            self._groups[key] = replace(group, revision=0)
            return True

    async def get(self, tenant_id: str, name: str) -> Group | None:
        return self._groups.get((tenant_id, name))

    async def groups(self, tenant_id: str | None) -> list[Group]:
        found = [g for g in self._groups.values() if tenant_id in (None, g.tenant_id)]
        return sorted(found, key=lambda g: (g.tenant_id, g.name))

    async def change(self, group: Group) -> bool:
        async with self._lock:
            key = (group.tenant_id, group.name)
            held = self._groups.get(key)
            if held is None or held.revision != group.revision:
                return False
            self._groups[key] = replace(group, revision=group.revision + 1)
            return True

    async def delete(self, group: Group) -> bool:
        async with self._lock:
            key = (group.tenant_id, group.name)
            held = self._groups.get(key)
            if held is None or held.revision != group.revision:
                return False
            del self._groups[key]
            self._activities = [a for a in self._activities if (a.tenant_id, a.group_name) != key]
            return True

    async def add_activity(self, activity: Activity) -> None:
        self._activities.append(activity)

    async def activities(self, tenant_id: str, group_name: str | None) -> list[Activity]:
        found = [
            a
            for a in self._activities
            if a.tenant_id == tenant_id and group_name in (None, a.group_name)
        ]
        return sorted(found, key=lambda a: (a.start_time, a.activity_id), reverse=True)
