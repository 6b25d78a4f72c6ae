"""The Spot market of the compute service (decision 0202), a mixin under
:class:`~andromede.compute.launching.LaunchingMixin`: the Spot prices and their history, a
Spot launch's admission (the tenant's quota of requests, its maximum price against the Spot
price), the capacity an on-demand launch takes back from Spot Instances, and the marking of
an instance for interruption (its notice).

Two ports come from the composition root: :attr:`SpotMarketMixin.on_demand_prices` (the
operator's price card, per instance type, EUR per hour) and
:attr:`SpotMarketMixin.spot_warning` (EC2's "EC2 Spot Instance Interruption Warning" into the
account's default event bus). Without a price card every on-demand price is 0, so every Spot
price is 0 too.

Capacity taken back: an on-demand launch that finds no room counts the Spot Instances as
free, places its instances, and marks as many Spot Instances of the chosen hosts as it needs
for interruption. They run on through their notice (EC2's two minutes), during which the host
holds both: the overcommitment is bounded by the notice and by what the launch displaced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from andromede.compute.driver import HostCapacity
from andromede.compute.errors import Duplicate, MaxSpotInstanceCountExceeded, SpotMaxPriceTooLow
from andromede.compute.launch_request import RunRequest
from andromede.compute.model import (
    ON_HOST,
    Instance,
    InstanceState,
    InstanceType,
    SpotInterruption,
)
from andromede.compute.scheduler import free_room, place
from andromede.compute.service_core import ServiceCore
from andromede.compute.spot import (
    LIVE_STATES,
    SpotInstanceRequest,
    SpotPrice,
    spot_price,
    spot_ratio,
    used_fraction,
    with_status,
)

__all__ = ["OnDemandPrices", "SpotMarketMixin", "SpotWarning"]

log = logging.getLogger(__name__)

# The operator's on-demand price per instance type (EUR per hour); a type absent costs 0.
OnDemandPrices = Callable[[], Awaitable[Mapping[str, Decimal]]]
# An interruption's warning: the instance, and when it will be interrupted.
SpotWarning = Callable[[Instance, datetime], Awaitable[None]]
# Attempts at a conditional write another call changed meanwhile.
_ATTEMPTS = 16


class SpotMarketMixin(ServiceCore):
    """Spot prices, admission, capacity taken back and interruption notices."""

    on_demand_prices: OnDemandPrices | None = None
    spot_warning: SpotWarning | None = None
    # When this gateway last read the prices, and the latest of each type then.
    _spot_cache: tuple[datetime, dict[str, SpotPrice]] | None = None

    # -- prices --------------------------------------------------------------------------------

    async def on_demand_price(self, instance_type: str) -> Decimal:
        card = await self.on_demand_prices() if self.on_demand_prices is not None else {}
        return card.get(instance_type, Decimal(0))

    async def spot_prices(self) -> dict[str, Decimal]:
        """The current Spot price of every instance type in the zone: the last recorded, and
        a new one recorded when it is older than ``spot_price_interval`` and the model now
        gives another (so a price changes at most that often). This gateway reads the history
        and runs the model at most once an interval (every launch and upkeep round asks)."""
        zone = self.limits.availability_zone
        now = self.clock()
        interval = timedelta(seconds=self.limits.spot_price_interval)
        cached = self._spot_cache
        if cached is not None and now - cached[0] < interval:
            return {name: point.price for name, point in cached[1].items()}
        latest: dict[str, SpotPrice] = {}
        for point in await self.store.list(SpotPrice, None):
            if point.availability_zone == zone:
                latest[point.instance_type] = point  # in time order: the last stays
        if any(
            t.name not in latest or now - latest[t.name].at >= interval
            for t in self.limits.instance_types
        ):
            for name, price in (await self._modelled_prices()).items():
                last = latest.get(name)
                if last is not None and (now - last.at < interval or last.price == price):
                    continue
                point = SpotPrice(zone, name, price, now)
                try:
                    await self.store.insert(point)
                except Duplicate:  # another gateway recorded this instant's price
                    pass
                latest[name] = point
            await self.prune_spot_prices()
        self._spot_cache = (now, latest)
        return {name: point.price for name, point in latest.items()}

    async def room_by_type(self) -> dict[str, int]:
        """How many more instances of each type the answering hosts have room for now (an
        Auto Scaling group's capacity-optimized choices, decision 0209)."""
        capacities = await self._answering_capacities()
        live = [i for i in await self.store.list(Instance, None) if i.state in ON_HOST]
        most = self.limits.max_instances_per_tenant
        return {
            t.name: len(place(free_room(capacities, live), t.vcpus, t.memory_mib, most))
            for t in self.limits.instance_types
        }

    async def _modelled_prices(self) -> dict[str, Decimal]:
        """What the price model gives now, from the hosts' fill and the price card."""
        capacities = await self._answering_capacities()
        live = [i for i in await self.store.list(Instance, None) if i.state in ON_HOST]
        used = used_fraction(capacities, live)
        card = await self.on_demand_prices() if self.on_demand_prices is not None else {}
        prices = {}
        for itype in self.limits.instance_types:
            fits = bool(place(free_room(capacities, live), itype.vcpus, itype.memory_mib, 1))
            ratio = spot_ratio(used, self.limits.spot_price_floor_ratio, fits=fits)
            prices[itype.name] = spot_price(card.get(itype.name, Decimal(0)), ratio)
        return prices

    async def spot_price_history(self) -> list[SpotPrice]:
        """Every recorded price, each zone's and type's in time order (the current ones
        recorded first if due)."""
        await self.spot_prices()
        return await self.store.list(SpotPrice, None)

    async def prune_spot_prices(self) -> int:
        """Forget the prices older than the history kept, each type's latest excepted."""
        horizon = self.clock() - timedelta(days=self.limits.spot_price_history_days)
        points = await self.store.list(SpotPrice, None)
        latest = {(p.availability_zone, p.instance_type): p.resource_id for p in points}
        gone = 0
        for point in points:
            if point.at < horizon and point.resource_id not in latest.values():
                await self.store.delete(SpotPrice, point.resource_id)
                gone += 1
        return gone

    async def spot_charges_by_tenant(self) -> dict[str, int]:
        """What each tenant's running Spot Instances cost per hour now, at the current Spot
        prices, in millionths of EUR (metering's ``ec2.spot``, decision 0202)."""
        prices = await self.spot_prices()
        held: dict[str, int] = {}
        for instance in await self.store.list(Instance, None):
            if instance.lifecycle == "spot" and instance.state is InstanceState.RUNNING:
                price = prices.get(instance.instance_type, Decimal(0))
                held[instance.tenant_id] = held.get(instance.tenant_id, 0) + int(price * 1_000_000)
        return held

    # -- admission -----------------------------------------------------------------------------

    async def check_spot_quota(self, tenant_id: str, more: int) -> None:
        held = [
            r
            for r in await self.store.list(SpotInstanceRequest, tenant_id)
            if r.state in LIVE_STATES
        ]
        limit = self.limits.max_spot_requests_per_tenant
        if len(held) + more > limit:
            raise MaxSpotInstanceCountExceeded(
                f"Max spot instance count exceeded: your quota allows {limit} open, active or "
                f"disabled Spot Instance requests, and you hold {len(held)}"
            )

    async def admit_spot(self, tenant_id: str, request: RunRequest, itype: InstanceType) -> None:
        """A Spot launch's admission: the quota of requests (for those it makes), and its
        maximum price (the on-demand price by default, as on EC2) against the Spot price."""
        options = request.spot
        if options is None:
            return
        if request.spot_request_id is None:
            await self.check_spot_quota(tenant_id, request.min_count)
        current = (await self.spot_prices()).get(itype.name, Decimal(0))
        ceiling = options.max_price
        if ceiling is None:
            ceiling = await self.on_demand_price(itype.name)
        if current > ceiling:
            raise SpotMaxPriceTooLow(
                f"Your Spot request price of {ceiling} is lower than the minimum required Spot "
                f"request fulfillment price of {current}."
            )

    # -- capacity taken back -------------------------------------------------------------------

    async def reclaim_spot(
        self,
        capacities: Sequence[HostCapacity],
        live: Sequence[Instance],
        itype: InstanceType,
        min_count: int,
        count: int,
    ) -> list[str]:
        """Hosts for an on-demand launch that found no room, counting the Spot Instances as
        free; the Spot Instances it displaces are marked for interruption (their capacity
        reclaimed). Fewer than ``min_count`` hosts: nothing is marked."""
        spot = [i for i in live if i.lifecycle == "spot" and i.state in ON_HOST]
        if not spot:
            return []
        # The room once the Spot Instances are gone; those already under notice are going
        # (another launch may have counted on their room already): never counted again.
        others = [i for i in live if i.lifecycle != "spot"]
        hosts = place(free_room(capacities, others), itype.vcpus, itype.memory_mib, count)
        if len(hosts) < min_count:
            return hosts
        staying = [i for i in spot if i.spot_interruption is None]
        rooms = {r.host: r for r in free_room(capacities, [*others, *staying])}
        for host in hosts:
            rooms[host].vcpus -= itype.vcpus
            rooms[host].memory_mib -= itype.memory_mib
        # The latest launched go first.
        for instance in sorted(staying, key=lambda i: i.launch_time, reverse=True):
            room = rooms.get(instance.host)
            if room is None or (room.vcpus >= 0 and room.memory_mib >= 0):
                continue
            room.vcpus += instance.vcpus
            room.memory_mib += instance.memory_mib
            await self.interrupt_spot(instance.instance_id, "capacity")
        return hosts

    # -- interruption notices ------------------------------------------------------------------

    async def interrupt_spot(self, instance_id: str, reason: str) -> Instance | None:
        """Mark a running Spot Instance for interruption (``price`` or ``capacity``) after
        the notice: its request's status says so, its metadata shows the action, and the
        warning goes to its account's event bus. None when it is no longer a running Spot
        Instance without notice."""
        for _ in range(_ATTEMPTS):
            instance = await self.store.get(Instance, instance_id)
            if (
                instance is None
                or instance.spot_interruption is not None
                or instance.state not in (InstanceState.PENDING, InstanceState.RUNNING)
                or instance.spot_request_id is None
            ):
                return None
            request = await self.store.get(SpotInstanceRequest, instance.spot_request_id)
            action = request.options.interruption_behavior if request is not None else "terminate"
            now = self.clock()
            at = now + timedelta(seconds=self.limits.spot_interruption_notice)
            marked = replace(instance, spot_interruption=SpotInterruption(action, at, reason))
            others = []
            if request is not None and request.instance_id == instance_id:
                code = "marked-for-stop" if action == "stop" else "marked-for-termination"
                others.append(with_status(request, code, now))
            if await self.store.change(marked, replace=others):
                log.info(
                    "instance %s: Spot interruption (%s) noticed for %s", instance_id, reason, at
                )
                if self.spot_warning is not None:
                    try:
                        await self.spot_warning(marked, at)
                    except Exception:
                        log.exception("instance %s: the interruption warning failed", instance_id)
                return marked
        return None
