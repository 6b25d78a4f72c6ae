"""Route 53's health check store in memory (decision 0285): the twin of ``health_store_sql``
for tests and the memory hypervisor's runs."""

from __future__ import annotations

from dataclasses import dataclass

from andromede.route53.health_errors import HealthCheckChanged
from andromede.route53.health_model import HealthCheck, HealthStatus
from andromede.route53.health_store import DueCheck

__all__ = ["MemoryHealthCheckStore"]


@dataclass
class _Row:
    check: HealthCheck
    deleted: bool = False
    next_check: int = 0
    token: int = 0


class MemoryHealthCheckStore:
    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    async def create(self, check: HealthCheck) -> None:
        if check.health_check_id in self._rows or any(
            r.check.tenant_id == check.tenant_id
            and r.check.caller_reference == check.caller_reference
            for r in self._rows.values()
        ):
            raise HealthCheckChanged(check.health_check_id)
        self._rows[check.health_check_id] = _Row(check)

    def _live(self, tenant_id: str, health_check_id: str) -> _Row | None:
        row = self._rows.get(health_check_id)
        if row is None or row.deleted or row.check.tenant_id != tenant_id:
            return None
        return row

    async def get(self, tenant_id: str, health_check_id: str) -> HealthCheck | None:
        row = self._live(tenant_id, health_check_id)
        return None if row is None else row.check

    async def by_reference(
        self, tenant_id: str, caller_reference: str
    ) -> tuple[HealthCheck, bool] | None:
        for row in self._rows.values():
            if row.check.tenant_id == tenant_id and row.check.caller_reference == caller_reference:
                return row.check, row.deleted
        return None

    async def checks(self, tenant_id: str) -> list[HealthCheck]:
        return sorted(
            (
                r.check
                for r in self._rows.values()
                if r.check.tenant_id == tenant_id and not r.deleted
            ),
            key=lambda c: c.health_check_id,
        )

    async def replace(self, check: HealthCheck) -> None:
        row = self._live(check.tenant_id, check.health_check_id)
        if row is None or row.check.revision != check.revision - 1:
            raise HealthCheckChanged(check.health_check_id)
        row.check = check.replaced(status=row.check.status)

    async def delete(self, tenant_id: str, health_check_id: str, revision: int) -> None:
        row = self._live(tenant_id, health_check_id)
        if row is None or row.check.revision != revision:
            raise HealthCheckChanged(health_check_id)
        row.deleted = True

    async def due(self, now: int, limit: int) -> list[DueCheck]:
        due = sorted(
            (r for r in self._rows.values() if not r.deleted and r.next_check <= now),
            key=lambda r: (r.next_check, r.check.health_check_id),
        )
        return [(r.check, r.token) for r in due[:limit]]

    async def claim(self, health_check_id: str, token: int, next_check: int) -> bool:
        row = self._rows.get(health_check_id)
        if row is None or row.deleted or row.token != token:
            return False
        row.token, row.next_check = token + 1, next_check
        return True

    async def set_status(self, health_check_id: str, status: HealthStatus) -> None:
        row = self._rows.get(health_check_id)
        if row is not None:
            row.check = row.check.replaced(status=status)

    async def find(self, health_check_id: str) -> HealthCheck | None:
        row = self._rows.get(health_check_id)
        return None if row is None or row.deleted else row.check

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, r in self._rows.items() if r.check.tenant_id == tenant_id]
        for key in gone:
            del self._rows[key]
        return len(gone)
