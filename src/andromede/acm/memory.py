"""The in-memory twin of the certificate store (decision 0230), for tests and as the
contract suite's reference."""

from __future__ import annotations

import asyncio

from andromede.acm.errors import LimitExceeded
from andromede.acm.model import Certificate, imports_exceeded

__all__ = ["MemoryCertificateStore"]


class MemoryCertificateStore:
    def __init__(self) -> None:
        self._certificates: dict[tuple[str, str], Certificate] = {}
        self._days: dict[str, int] = {}
        self._checked: dict[tuple[str, str], int] = {}
        self._imports: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()

    async def create(self, certificate: Certificate, max_certificates: int) -> None:
        async with self._lock:
            held = sum(1 for t, _ in self._certificates if t == certificate.tenant_id)
            if held >= max_certificates:
                raise LimitExceeded(
                    f"Cannot exceed quota for certificates per account: {max_certificates}"
                )
            self._certificates[(certificate.tenant_id, certificate.certificate_id)] = certificate

    async def count_import(self, tenant_id: str, now_ms: int, since_ms: int, most: int) -> None:
        async with self._lock:
            kept = [t for t in self._imports.get(tenant_id, []) if t >= since_ms]
            self._imports[tenant_id] = kept
            if len(kept) >= most:
                raise LimitExceeded(imports_exceeded(most))
            kept.append(now_ms)

    async def get(self, tenant_id: str, certificate_id: str) -> Certificate | None:
        return self._certificates.get((tenant_id, certificate_id))

    async def list_certificates(self, tenant_id: str) -> list[Certificate]:
        mine = [c for (t, _), c in self._certificates.items() if t == tenant_id]
        return sorted(mine, key=lambda c: (c.created_at, c.certificate_id))

    async def replace(self, certificate: Certificate) -> bool:
        async with self._lock:
            key = (certificate.tenant_id, certificate.certificate_id)
            held = self._certificates.get(key)
            if held is None or held.revision != certificate.revision - 1:
                return False
            self._certificates[key] = certificate
            return True

    async def delete(self, tenant_id: str, certificate_id: str) -> bool:
        async with self._lock:
            self._checked.pop((tenant_id, certificate_id), None)
            return self._certificates.pop((tenant_id, certificate_id), None) is not None

    async def unchecked(self, region: str, day: int, limit: int) -> list[Certificate]:
        return [
            c
            for key, c in sorted(self._certificates.items())
            if c.region == region and self._checked.get(key, 0) < day
        ][:limit]

    async def mark_checked(self, tenant_id: str, certificate_id: str, day: int) -> bool:
        async with self._lock:
            key = (tenant_id, certificate_id)
            if key not in self._certificates or self._checked.get(key, 0) >= day:
                return False
            self._checked[key] = day
            return True

    async def days_before_expiry(self, tenant_id: str) -> int | None:
        return self._days.get(tenant_id)

    async def put_days_before_expiry(self, tenant_id: str, days: int) -> None:
        self._days[tenant_id] = days

    async def forget_tenant(self, tenant_id: str) -> int:
        async with self._lock:
            mine = [k for k in self._certificates if k[0] == tenant_id]
            for key in mine:
                del self._certificates[key]
                self._checked.pop(key, None)
            self._days.pop(tenant_id, None)
            self._imports.pop(tenant_id, None)
            return len(mine)
