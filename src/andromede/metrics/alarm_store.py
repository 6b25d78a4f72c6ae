"""What CloudWatch alarms keep (decision 0177): the alarms of each account, each written over
its revision (so a PutMetricAlarm, a SetAlarmState and an evaluator never overwrite each
other's change), claimed for an evaluation by moving ``next_evaluation`` on — one gateway
wins each period — and their history. The in-memory twin is here; the SQL store is
``alarm_store_sql``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from andromede.metrics.alarms import Alarm, HistoryItem

__all__ = ["AlarmStore", "MemoryAlarmStore"]


class AlarmStore(Protocol):
    async def put(self, alarm: Alarm) -> None:
        """Create the alarm, or replace the account's alarm of that name whatever its
        revision (PutMetricAlarm); the stored revision goes one up."""
        ...

    async def change(self, alarm: Alarm) -> bool:
        """Write ``alarm`` if the stored revision is still ``alarm.revision`` (then one up)."""
        ...

    async def get(self, tenant_id: str, name: str) -> Alarm | None: ...

    async def alarms(self, tenant_id: str) -> list[Alarm]:
        """The account's alarms by name."""
        ...

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        """Delete the alarms named, and their history; the names deleted."""
        ...

    async def due(self, now: int, limit: int) -> list[Alarm]:
        """Alarms of every account whose ``next_evaluation`` is ``now`` or before, the
        longest due first."""
        ...

    async def claim(self, alarm: Alarm, next_evaluation: int) -> bool:
        """Move the alarm's next evaluation on if it is still at ``alarm.revision`` (the
        revision then goes one up): True for the one gateway that evaluates this period."""
        ...

    async def add_history(self, item: HistoryItem) -> None: ...

    async def history(self, tenant_id: str, name: str | None) -> list[HistoryItem]:
        """Newest first."""
        ...

    async def forget_history(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` items older than ``before``; how many went."""
        ...


class MemoryAlarmStore:
    def __init__(self) -> None:
        self._alarms: dict[tuple[str, str], Alarm] = {}
        self._history: list[HistoryItem] = []
        self._lock = asyncio.Lock()

    async def put(self, alarm: Alarm) -> None:
        async with self._lock:
            held = self._alarms.get((alarm.tenant_id, alarm.name))
            revision = 0 if held is None else held.revision + 1
            self._alarms[(alarm.tenant_id, alarm.name)] = replace(alarm, revision=revision)

    async def change(self, alarm: Alarm) -> bool:
        async with self._lock:
            key = (alarm.tenant_id, alarm.name)
            held = self._alarms.get(key)
            if held is None or held.revision != alarm.revision:
                return False
            self._alarms[key] = replace(alarm, revision=alarm.revision + 1)
            return True

    async def get(self, tenant_id: str, name: str) -> Alarm | None:
        return self._alarms.get((tenant_id, name))

    async def alarms(self, tenant_id: str) -> list[Alarm]:
        return sorted(
            (a for a in self._alarms.values() if a.tenant_id == tenant_id), key=lambda a: a.name
        )

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        async with self._lock:
            gone = [n for n in dict.fromkeys(names) if self._alarms.pop((tenant_id, n), None)]
            self._history = [
                h for h in self._history if h.tenant_id != tenant_id or h.alarm_name not in gone
            ]
            return gone

    async def due(self, now: int, limit: int) -> list[Alarm]:
        found = [a for a in self._alarms.values() if a.next_evaluation <= now]
        return sorted(found, key=lambda a: (a.next_evaluation, a.tenant_id, a.name))[:limit]

    async def claim(self, alarm: Alarm, next_evaluation: int) -> bool:
        return await self.change(replace(alarm, next_evaluation=next_evaluation))

    async def add_history(self, item: HistoryItem) -> None:
        self._history.append(item)

    async def history(self, tenant_id: str, name: str | None) -> list[HistoryItem]:
        found = [
            h for h in self._history if h.tenant_id == tenant_id and name in (None, h.alarm_name)
        ]
        return sorted(found, key=lambda h: h.timestamp, reverse=True)

    async def forget_history(self, before: datetime, limit: int) -> int:
        async with self._lock:
            old = [h for h in self._history if h.timestamp < before][:limit]
            self._history = [h for h in self._history if h not in old]
            return len(old)
