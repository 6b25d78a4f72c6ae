"""What the VPC responders' data asks of Route 53's health checks (decision 0284): the
``HealthLookup`` protocol — each health check id's status, ``healthy`` when unknown — which
the health checks (decision 0285) implement from their status store, and ``EveryCheckHealthy``,
used until they are wired. A status that flips is told back with
``Route53Service.health_changed``, which pushes again the VPCs of the zones naming it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

__all__ = ["EveryCheckHealthy", "HealthLookup"]


class HealthLookup(Protocol):
    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        """The status of the account's health checks named; an id left out of the answer
        (unknown, deleted, not yet checked) is healthy, as Route 53 treats a record whose
        health check it does not know."""


class EveryCheckHealthy:
    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        return {}
