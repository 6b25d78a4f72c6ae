"""The billing store interface and its in-memory twin (the SQL store is ``store_sql``).

A store keeps usage per tenant, region, meter and hour, only ever *added to* (two gateways
flushing the same hour add up); the samplers' watermarks, each advanced in the transaction
that writes what its interval used, so an interval is billed once whichever gateway samples
it; the open instance runs, billed up to a point and closed with the minute minimum; and the
price catalogue (a unit price per region and meter, a VAT rate per region).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from andromede.billing.model import (
    Price,
    Run,
    UsageIncrement,
    UsageTotal,
    ended_before,
    run_increments,
)

__all__ = ["BillingStore", "Increments", "MemoryBillingStore"]

# What a sampler's interval ``[previous, now)`` used, computed inside the watermark's
# transaction from readings taken before it.
Increments = Callable[[datetime, datetime], Sequence[UsageIncrement]]


class BillingStore(Protocol):
    async def add_usage(self, increments: Sequence[UsageIncrement]) -> None:
        """Add every increment to its (tenant, region, meter, hour) total, in one
        transaction."""

    async def advance_sampler(self, name: str, now: datetime, increments: Increments) -> bool:
        """Move the sampler ``name``'s watermark to ``now`` and add what ``increments`` says
        ``[watermark, now)`` used, in one transaction; a first call only sets the watermark.
        False (nothing written) when the watermark is at ``now`` or later already."""

    async def start_run(self, run: Run, *, previous_stop: datetime | None = None) -> None:
        """Open ``run``, unless the resource has a run open already that began at or after
        ``previous_stop`` (the time the instance last left the running state, as compute
        recorded it): that run is this running period's, kept. Compute's start and the
        sampler's reconciliation may both open the same running period, in either order;
        closing the first at the second would bill that period's minute twice. An open run
        that began *before* ``previous_stop`` belongs to an earlier period whose stop billing
        missed: it is billed up to that stop and closed, in the same transaction, and ``run``
        opened — the stopped gap is never billed (decision 0114)."""

    async def end_run(self, resource_id: str, ended_at: datetime) -> bool:
        """Bill the resource's open run up to ``ended_at``, the minute minimum included, and
        close it; False when it has no open run."""

    async def bill_runs(self, now: datetime) -> None:
        """Bill every open run up to ``now`` (the run stays open)."""

    async def open_runs(self) -> list[Run]: ...

    async def usage(self, tenant_id: str, start: datetime, end: datetime) -> list[UsageTotal]:
        """The tenant's usage over the hours in ``[start, end)``, per region and meter."""

    async def usage_by_hour(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[UsageIncrement]:
        """The same, hour by hour, in hour, region, meter order."""

    async def set_price(self, price: Price) -> None: ...

    async def delete_price(self, region: str, meter: str) -> bool: ...

    async def prices(self) -> list[Price]:
        """Every price, by region then meter."""

    async def set_vat_rate(self, region: str, rate: Decimal) -> None: ...

    async def vat_rates(self) -> dict[str, Decimal]: ...


@dataclass(slots=True)
class MemoryBillingStore:
    _usage: dict[tuple[str, str, str, datetime], int] = field(default_factory=dict)
    _watermarks: dict[str, datetime] = field(default_factory=dict)
    _runs: dict[str, Run] = field(default_factory=dict)
    _prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    _vat: dict[str, Decimal] = field(default_factory=dict)

    async def add_usage(self, increments: Sequence[UsageIncrement]) -> None:
        self._add(increments)

    def _add(self, increments: Sequence[UsageIncrement]) -> None:
        for i in increments:
            key = (i.tenant_id, i.region, i.meter, i.hour)
            self._usage[key] = self._usage.get(key, 0) + i.quantity

    async def advance_sampler(self, name: str, now: datetime, increments: Increments) -> bool:
        previous = self._watermarks.get(name)
        if previous is not None and previous >= now:
            return False
        self._watermarks[name] = now
        if previous is not None:
            self._add(increments(previous, now))
        return True

    async def start_run(self, run: Run, *, previous_stop: datetime | None = None) -> None:
        current = self._runs.get(run.resource_id)
        if (
            current is not None
            and previous_stop is not None
            and ended_before(current, previous_stop)
        ):
            await self.end_run(run.resource_id, previous_stop)
        self._runs.setdefault(run.resource_id, run)

    async def end_run(self, resource_id: str, ended_at: datetime) -> bool:
        run = self._runs.pop(resource_id, None)
        if run is None:
            return False
        self._add(run_increments(run, ended_at, ended=True))
        return True

    async def bill_runs(self, now: datetime) -> None:
        for run in list(self._runs.values()):
            if now > run.billed_until:
                self._add(run_increments(run, now, ended=False))
                self._runs[run.resource_id] = replace(run, billed_until=now)

    async def open_runs(self) -> list[Run]:
        return sorted(self._runs.values(), key=lambda r: r.resource_id)

    async def usage(self, tenant_id: str, start: datetime, end: datetime) -> list[UsageTotal]:
        totals: dict[tuple[str, str], int] = {}
        for i in await self.usage_by_hour(tenant_id, start, end):
            totals[(i.region, i.meter)] = totals.get((i.region, i.meter), 0) + i.quantity
        return [UsageTotal(r, m, q) for (r, m), q in sorted(totals.items())]

    async def usage_by_hour(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[UsageIncrement]:
        rows = [
            UsageIncrement(t, r, m, h, q)
            for (t, r, m, h), q in self._usage.items()
            if t == tenant_id and start <= h < end
        ]
        return sorted(rows, key=lambda i: (i.hour, i.region, i.meter))

    async def set_price(self, price: Price) -> None:
        self._prices[(price.region, price.meter)] = price.unit_price

    async def delete_price(self, region: str, meter: str) -> bool:
        return self._prices.pop((region, meter), None) is not None

    async def prices(self) -> list[Price]:
        return [Price(r, m, p) for (r, m), p in sorted(self._prices.items())]

    async def set_vat_rate(self, region: str, rate: Decimal) -> None:
        self._vat[region] = rate

    async def vat_rates(self) -> dict[str, Decimal]:
        return dict(sorted(self._vat.items()))
