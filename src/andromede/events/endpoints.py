"""EventBridge's global endpoints (decision 0355): CreateEndpoint, DescribeEndpoint,
ListEndpoints, UpdateEndpoint and DeleteEndpoint over an :class:`EndpointStore`, the
replication's managed rules on the endpoint's two buses, and where a PutEvents naming an
endpoint goes.

The failover follows the endpoint's Route 53 health check as Route 53 answers it (decision
0285's statuses: a disabled check healthy, an inverted one reversed, one not checked yet or
gone healthy), read when each PutEvents arrives: healthy, the primary's bus; unhealthy, the
secondary's. An endpoint is ACTIVE at once: what AWS does while CREATING (its DNS name,
its managed rules) is done here before CreateEndpoint answers.

With replication ENABLED, each bus has a managed rule (ManagedBy ``events.amazonaws.com``,
decision 0332) whose one target is the other Region's bus as the endpoint's role, so every
custom event reaching either bus is sent to the other by decision 0349's deliveries: the
role judged there, at least once, one hop (an event that came from the other bus is not
sent back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from andromede.events.endpoint_model import (
    ENDPOINT_MANAGER,
    REPLICATION_PATTERN,
    REPLICATION_TARGET_ID,
    Endpoint,
    EndpointSettings,
    ReplicationState,
    check_endpoint_name,
    endpoint_settings,
    health_check_id,
    new_endpoint_id,
    replication_rule_name,
)
from andromede.events.endpoint_store import EndpointStore, endpoint_missing
from andromede.events.errors import ResourceNotFound, ValidationError
from andromede.events.service import EventsService
from andromede.events.targets import check_target

__all__ = ["EndpointService", "HealthLookup", "Routed"]


class HealthLookup(Protocol):
    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        """Each check's status as Route 53 answers it; a check left out is healthy."""
        ...


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a PutEvents through ``endpoint`` goes: the bus ``bus_name`` of ``region``."""

    endpoint: Endpoint
    region: str
    bus_name: str
    failed_over: bool


class EndpointService:
    def __init__(
        self,
        store: EndpointStore,
        regions: Mapping[str, EventsService],
        *,
        max_endpoints: int,
        health: HealthLookup | None = None,
        url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._regions = regions
        # EndpointUrl: this gateway's, the URL a client gives boto3 (AWS's is a DNS name).
        self.url = url
        self._max = max_endpoints
        self.health = health
        self._clock = clock

    def _settings(
        self,
        tenant_id: str,
        region: str,
        params: Mapping[str, Any],
        held: EndpointSettings | None = None,
    ) -> EndpointSettings:
        return endpoint_settings(
            params, tenant_id=tenant_id, region=region, declared=self._regions, held=held
        )

    def _now(self) -> float:
        # To the millisecond, as the store keeps the creation time.
        return round(self._clock(), 3)

    async def _check_buses(self, tenant_id: str, settings: EndpointSettings) -> None:
        for arn in settings.bus_arns:
            region = arn.split(":")[3]
            try:
                await self._regions[region].describe_bus(tenant_id, settings.bus_name)
            except ResourceNotFound as exc:
                raise ValidationError(f"Event bus {arn} does not exist.") from exc

    async def create(
        self, tenant_id: str, region: str, name: Any, params: Mapping[str, Any]
    ) -> Endpoint:
        name = check_endpoint_name(name)
        settings = self._settings(tenant_id, region, params)
        await self._check_buses(tenant_id, settings)
        now = self._now()
        endpoint = Endpoint(tenant_id, region, name, new_endpoint_id(), settings, now, now)
        await self.store.create(endpoint, limit=self._max)
        try:
            await self._replicate(endpoint)
        except Exception:
            await self._unreplicate(endpoint)
            await self.store.delete(tenant_id, region, name)
            raise
        return endpoint

    async def describe(self, tenant_id: str, region: str, name: Any) -> Endpoint:
        found = await self.store.get(tenant_id, region, check_endpoint_name(name))
        if found is None:
            raise endpoint_missing(name)
        return found

    async def list_page(
        self, tenant_id: str, region: str, prefix: str, after: str, limit: int
    ) -> list[Endpoint]:
        return await self.store.list_page(tenant_id, region, prefix, after, limit)

    async def update(
        self, tenant_id: str, region: str, name: Any, params: Mapping[str, Any]
    ) -> Endpoint:
        held = await self.describe(tenant_id, region, name)
        settings = self._settings(tenant_id, region, params, held.settings)
        await self._check_buses(tenant_id, settings)
        changed = await self.store.change(
            tenant_id,
            region,
            held.name,
            lambda e: e.replaced(settings=settings, modified=self._now()),
        )
        if changed.settings != held.settings:
            # The former rules go first: the buses, the Regions or the role may differ.
            await self._unreplicate(held)
            await self._replicate(changed)
        return changed

    async def delete(self, tenant_id: str, region: str, name: Any) -> Endpoint:
        gone = await self.store.delete(tenant_id, region, check_endpoint_name(name))
        await self._unreplicate(gone)
        return gone

    async def forget_tenant(self, tenant_id: str) -> int:
        # The buses' rules go with the account's buses (EventBridge's own forgetting).
        return await self.store.forget_tenant(tenant_id)

    async def route(self, tenant_id: str, endpoint_id: str) -> Routed:
        """Where a PutEvents naming ``endpoint_id`` goes now; ResourceNotFound when the
        account has no such endpoint."""
        endpoint = await self.store.by_id(tenant_id, endpoint_id)
        if endpoint is None:
            raise ResourceNotFound(f"Endpoint {endpoint_id[:64]} does not exist.")
        check = health_check_id(endpoint.settings.health_check)
        healthy = True
        if self.health is not None:
            healthy = (await self.health.healthy(tenant_id, [check])).get(check, True)
        region = endpoint.region if healthy else endpoint.settings.secondary
        return Routed(endpoint, region, endpoint.settings.bus_name, not healthy)

    @property
    def regions(self) -> Collection[str]:
        return self._regions.keys()

    def events_in(self, region: str) -> EventsService:
        return self._regions[region]

    # -- replication's managed rules

    def _pairs(self, endpoint: Endpoint) -> list[tuple[str, str]]:
        """(Region of a bus, ARN of the other bus) for both buses."""
        home, secondary = endpoint.region, endpoint.settings.secondary
        return [
            (home, endpoint.bus_arn_in(secondary)),
            (secondary, endpoint.bus_arn_in(home)),
        ]

    async def _replicate(self, endpoint: Endpoint) -> None:
        settings = endpoint.settings
        if settings.replication is not ReplicationState.ENABLED or settings.role_arn is None:
            return
        name = replication_rule_name(endpoint.endpoint_id)
        for region, other in self._pairs(endpoint):
            events = self._regions[region]
            rule = await events.put_rule(
                endpoint.tenant_id,
                name,
                settings.bus_name,
                event_pattern=REPLICATION_PATTERN,
                description=f"Replication of global endpoint {endpoint.name}",
                managed_by=ENDPOINT_MANAGER,
            )
            spec = {"Id": REPLICATION_TARGET_ID, "Arn": other, "RoleArn": settings.role_arn}
            target = check_target(
                spec,
                tenant_id=endpoint.tenant_id,
                region=region,
                bus_regions=events.bus_regions,
            )
            await events.put_managed_targets(rule, [target])

    async def _unreplicate(self, endpoint: Endpoint) -> None:
        name = replication_rule_name(endpoint.endpoint_id)
        bus = endpoint.settings.bus_name
        for region, _ in self._pairs(endpoint):
            events = self._regions.get(region)
            if events is None:
                continue
            try:
                await events.remove_targets(
                    endpoint.tenant_id, name, bus, [REPLICATION_TARGET_ID], force=True
                )
                await events.delete_rule(endpoint.tenant_id, name, bus, force=True)
            except ResourceNotFound:
                continue  # the rule, or its bus, is gone already
