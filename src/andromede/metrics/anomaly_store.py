"""Where anomaly detectors are kept (decision 0189): the :class:`DetectorStore` port and its
in-memory implementation (the tests', and a twin of
:class:`~andromede.metrics.anomaly_store_sql.SqlDetectorStore`).

A detector is known by its account and the SHA-256 of its :attr:`Detector.key` (what it
watches); a put replaces the definition of the same key, keeping its creation order."""

from __future__ import annotations

import hashlib
from typing import Protocol

from andromede.metrics.anomaly_model import Detector

__all__ = ["DetectorStore", "MemoryDetectorStore", "digest"]


def digest(detector: Detector) -> str:
    return hashlib.sha256(detector.key.encode()).hexdigest()


class DetectorStore(Protocol):
    async def put(self, detector: Detector, created: int) -> bool:
        """Store the detector; whether it is new. A new one's ordinal is ``created``, or one
        past the account's last if that is not later."""
        ...

    async def get(self, tenant_id: str, key: str) -> Detector | None: ...

    async def count(self, tenant_id: str) -> int: ...

    async def page(self, tenant_id: str, after: int, limit: int) -> list[tuple[int, Detector]]:
        """The account's detectors created after the ordinal ``after``, oldest first, with
        their ordinals (a page's resume point)."""
        ...

    async def delete(self, tenant_id: str, key: str) -> bool: ...


class MemoryDetectorStore:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], tuple[int, Detector]] = {}

    async def put(self, detector: Detector, created: int) -> bool:
        key = (detector.tenant_id, digest(detector))
        held = self._rows.get(key)
        if held is None:  # ordinals unique within the account, as the SQL store's
            last = max((row[0] for (t, _), row in self._rows.items() if t == key[0]), default=0)
            created = max(created, last + 1)
        self._rows[key] = (created if held is None else held[0], detector)
        return held is None

    async def get(self, tenant_id: str, key: str) -> Detector | None:
        held = self._rows.get((tenant_id, key))
        return None if held is None else held[1]

    async def count(self, tenant_id: str) -> int:
        return sum(1 for t, _ in self._rows if t == tenant_id)

    async def page(self, tenant_id: str, after: int, limit: int) -> list[tuple[int, Detector]]:
        rows = sorted(
            (row for (t, _), row in self._rows.items() if t == tenant_id and row[0] > after),
            key=lambda row: row[0],
        )
        return rows[:limit]

    async def delete(self, tenant_id: str, key: str) -> bool:
        return self._rows.pop((tenant_id, key), None) is not None
