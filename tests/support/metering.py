"""What an in-process harness's calls were billed and audited (decision 0357), for a harness
dataclass holding these fields: the month's usage of one meter, and the audit trail's
(action, outcome) pairs."""

from __future__ import annotations

from datetime import UTC, datetime

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService

__all__ = ["Audited", "Metered"]


class Metered:
    billing: BillingService
    tenant_id: str

    async def usage(self, meter: str) -> int:
        """The quantity of ``meter`` this month, once the billing's buffer is written."""
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(self.tenant_id, month)
        return sum(line.quantity for line in report.lines if line.meter == meter)


class Audited:
    audit: AuditService
    audit_store: MemoryAuditStore

    async def audited(self) -> list[tuple[str, str]]:
        """Each audited call's (action, outcome), once the trail's buffer is written."""
        await self.audit.flush()
        listed = await self.audit_store.list_events(None, after_id=0, limit=1000)
        return [(e.action, e.outcome.value) for _, e in listed]
