"""Where activities are kept (decision 0271): the :class:`ActivityStore` interface, in
memory and over the metadata database (``stepfunctions.activity_store_sql``), one contract
suite for both. Their tasks are the executions parked on them (``ExecutionStore.take``)."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from andromede.stepfunctions.activities import Activity
from andromede.stepfunctions.errors import ActivityLimitExceeded

__all__ = ["ActivityStore", "MemoryActivityStore"]


class ActivityStore(Protocol):
    async def create(self, activity: Activity, max_activities: int) -> Activity | None:
        """Insert ``activity``; the account's activity of that name when there is one (nothing
        written); ActivityLimitExceeded at ``max_activities`` in the Region."""
        ...

    async def get(self, tenant_id: str, region: str, name: str) -> Activity | None: ...

    async def activities(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[Activity]: ...

    async def delete(self, tenant_id: str, region: str, name: str) -> bool: ...

    async def set_tags(
        self, tenant_id: str, region: str, name: str, tags: tuple[tuple[str, str], ...]
    ) -> bool:
        """False when the activity is gone."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryActivityStore:
    """The in-memory twin (tests, and the contract suite's reference)."""

    def __init__(self) -> None:
        self._activities: dict[tuple[str, str, str], Activity] = {}

    async def create(self, activity: Activity, max_activities: int) -> Activity | None:
        key = (activity.tenant_id, activity.region, activity.name)
        if key in self._activities:
            return self._activities[key]
        if sum(1 for t, r, _ in self._activities if (t, r) == key[:2]) >= max_activities:
            raise ActivityLimitExceeded(f"Activity Limit Exceeded: '{max_activities} activities'")
        self._activities[key] = activity
        return None

    async def get(self, tenant_id: str, region: str, name: str) -> Activity | None:
        return self._activities.get((tenant_id, region, name))

    async def activities(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[Activity]:
        found = [
            a
            for (t, r, n), a in sorted(self._activities.items())
            if (t, r) == (tenant_id, region) and (after is None or n > after)
        ]
        return found[:limit]

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        return self._activities.pop((tenant_id, region, name), None) is not None

    async def set_tags(
        self, tenant_id: str, region: str, name: str, tags: tuple[tuple[str, str], ...]
    ) -> bool:
        found = self._activities.get((tenant_id, region, name))
        if found is None:
            return False
        self._activities[(tenant_id, region, name)] = dataclasses.replace(found, tags=tags)
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._activities if k[0] == tenant_id]
        for key in keys:
            del self._activities[key]
        return len(keys)
