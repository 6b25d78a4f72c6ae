"""Where imported certificates and the accounts' ACM configuration are kept (decision 0230): the
:class:`CertificateStore` interface, implemented in memory (``acm.memory``) and over the
metadata database (``acm.store_sql``), one contract suite for both.

Writes over a certificate are compare-and-set on its ``revision``, so a re-import and a tag
change at once never undo each other; the account's bound of certificates is counted before
the insert (two gateways importing at the same instant may pass it by one: a quota, not a
guarantee, as decision 0223's streams)."""

from __future__ import annotations

from typing import Protocol

from andromede.acm.model import Certificate

__all__ = ["CertificateStore"]


class CertificateStore(Protocol):
    async def create(self, certificate: Certificate, max_certificates: int) -> None:
        """LimitExceeded at ``max_certificates`` certificates of the account."""
        ...

    async def get(self, tenant_id: str, certificate_id: str) -> Certificate | None: ...

    async def count_import(self, tenant_id: str, now_ms: int, since_ms: int, most: int) -> None:
        """One import of the account counted at ``now_ms``; LimitExceeded when ``most`` were
        counted since ``since_ms`` already (those before it forgotten)."""
        ...

    async def list_certificates(self, tenant_id: str) -> list[Certificate]:
        """The account's certificates, oldest first (then by id)."""
        ...

    async def replace(self, certificate: Certificate) -> bool:
        """Write ``certificate`` over its row if the row's revision is
        ``certificate.revision - 1``; False when another write came first (or it is gone)."""
        ...

    async def delete(self, tenant_id: str, certificate_id: str) -> bool: ...

    async def unchecked(self, region: str, day: int, limit: int) -> list[Certificate]:
        """Up to ``limit`` certificates of ``region`` whose expiry was not checked on ``day``
        (days since the epoch) yet."""
        ...

    async def mark_checked(self, tenant_id: str, certificate_id: str, day: int) -> bool:
        """The certificate's expiry checked on ``day``: True for the one call that marked it
        (another gateway's, or a second call, False)."""
        ...

    async def days_before_expiry(self, tenant_id: str) -> int | None:
        """The account's ``ExpiryEvents.DaysBeforeExpiry``; None when never put."""
        ...

    async def put_days_before_expiry(self, tenant_id: str, days: int) -> None: ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's certificates and configuration removed; how many certificates."""
        ...
