"""Contributor Insights' store (decision 0272): the ``Protocol`` of the rules of each account
and of their minutes' stored parts, its in-memory twin, and the sealing the service asks of
the wiring. The SQL store is ``insight_store_sql``.

A minute's part is stored sealed: its contributors are the values of log fields (addresses,
user names, paths), customer data, so they are sealed under the account's keys as the log
events they come from are; the store sees bytes only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from andromede.metrics.insight_rules import ENABLED, InsightRule

__all__ = [
    "ContributionSealer",
    "InsightRuleStore",
    "MemoryInsightRuleStore",
    "StoredMinute",
    "minute_context",
]


def minute_context(tenant_id: str, rule: str, minute: int, part_id: str) -> bytes:
    """The AAD of a sealed part: it cannot be moved to another account, rule or minute."""
    return f"cloudwatch-insight\n{tenant_id}\n{rule}\n{minute}\n{part_id}".encode()


@dataclass(frozen=True, slots=True)
class StoredMinute:
    tenant_id: str
    rule: str
    minute: int  # minutes since the epoch
    part_id: str  # random: a gateway's flush of that minute
    sealed: bytes

    def context(self) -> bytes:
        return minute_context(self.tenant_id, self.rule, self.minute, self.part_id)


class ContributionSealer(Protocol):
    async def seal(self, tenant_id: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Each (plaintext, context) sealed under the account's keys."""
        ...

    async def open(self, tenant_id: str, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Each (sealed, context) opened."""
        ...


class InsightRuleStore(Protocol):
    async def put(self, rule: InsightRule, max_rules: int) -> bool:
        """Create the rule or replace the account's rule of that name (its minutes kept);
        False, nothing written, when creating it would pass ``max_rules``."""
        ...

    async def get(self, tenant_id: str, name: str) -> InsightRule | None: ...

    async def page(self, tenant_id: str, after: str, limit: int) -> list[InsightRule]:
        """Up to ``limit`` of the account's rules, by name, after ``after``."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool:
        """The rule and its minutes; whether it was there."""
        ...

    async def set_state(self, tenant_id: str, name: str, state: str) -> bool: ...

    async def set_tags(
        self, tenant_id: str, name: str, tags: tuple[tuple[str, str], ...]
    ) -> bool: ...

    async def enabled(self, tenant_id: str) -> list[InsightRule]:
        """The account's enabled rules."""
        ...

    async def enabled_counts(self) -> dict[str, int]:
        """Each account's enabled rules, counted (what is billed by the month)."""
        ...

    async def add_minutes(self, parts: Sequence[StoredMinute]) -> None: ...

    async def minutes(self, tenant_id: str, rule: str, first: int, last: int) -> list[StoredMinute]:
        """The parts of the rule's minutes ``first`` to ``last`` (excluded)."""
        ...

    async def expire(self, before: int) -> int:
        """Delete the parts of minutes before ``before``; how many."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete a closed account's rules and minutes; how many rules."""
        ...


class MemoryInsightRuleStore:
    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], InsightRule] = {}
        self._minutes: list[StoredMinute] = []
        self._lock = asyncio.Lock()

    async def put(self, rule: InsightRule, max_rules: int) -> bool:
        async with self._lock:
            if (rule.tenant_id, rule.name) not in self._rules:
                held = sum(1 for tenant, _ in self._rules if tenant == rule.tenant_id)
                if held >= max_rules:
                    return False
            self._rules[rule.tenant_id, rule.name] = replace(rule, compiled=None)
            return True

    async def get(self, tenant_id: str, name: str) -> InsightRule | None:
        return self._rules.get((tenant_id, name))

    async def page(self, tenant_id: str, after: str, limit: int) -> list[InsightRule]:
        found = sorted(
            (r for (t, n), r in self._rules.items() if t == tenant_id and n > after),
            key=lambda r: r.name.encode(),
        )
        return found[:limit]

    async def delete(self, tenant_id: str, name: str) -> bool:
        async with self._lock:
            self._minutes = [m for m in self._minutes if (m.tenant_id, m.rule) != (tenant_id, name)]
            return self._rules.pop((tenant_id, name), None) is not None

    async def set_state(self, tenant_id: str, name: str, state: str) -> bool:
        held = self._rules.get((tenant_id, name))
        if held is None:
            return False
        self._rules[tenant_id, name] = replace(held, state=state)
        return True

    async def set_tags(self, tenant_id: str, name: str, tags: tuple[tuple[str, str], ...]) -> bool:
        held = self._rules.get((tenant_id, name))
        if held is None:
            return False
        self._rules[tenant_id, name] = replace(held, tags=tags)
        return True

    async def enabled(self, tenant_id: str) -> list[InsightRule]:
        return [r for (t, _), r in self._rules.items() if t == tenant_id and r.state == ENABLED]

    async def enabled_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (tenant, _), rule in self._rules.items():
            if rule.state == ENABLED:
                counts[tenant] = counts.get(tenant, 0) + 1
        return counts

    async def add_minutes(self, parts: Sequence[StoredMinute]) -> None:
        self._minutes += parts

    async def minutes(self, tenant_id: str, rule: str, first: int, last: int) -> list[StoredMinute]:
        return [
            m
            for m in self._minutes
            if m.tenant_id == tenant_id and m.rule == rule and first <= m.minute < last
        ]

    async def expire(self, before: int) -> int:
        async with self._lock:
            kept = [m for m in self._minutes if m.minute >= before]
            gone = len(self._minutes) - len(kept)
            self._minutes = kept
            return gone

    async def forget_tenant(self, tenant_id: str) -> int:
        async with self._lock:
            self._minutes = [m for m in self._minutes if m.tenant_id != tenant_id]
            names = [key for key in self._rules if key[0] == tenant_id]
            for key in names:
                del self._rules[key]
            return len(names)
