"""Where load balancing keeps its resources (decision 0191): a :class:`LbStore` of JSON
documents keyed by account, kind and id, each name unique per account and kind, each write
conditional on the revision read. :class:`MemoryLbStore` is its in-memory twin; the SQL one
(``store_sql``) keeps migration 0093's ``lb_resources``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["LbStore", "MemoryLbStore", "Stored"]

# rule: decision 0216; truststore and revocation (a trust store's CRL): decision 0256
KINDS = ("loadbalancer", "targetgroup", "listener", "rule", "truststore", "revocation")


@dataclass(frozen=True, slots=True)
class Stored:
    """One resource's row: its document and the revision a write must name."""

    tenant_id: str
    kind: str
    resource_id: str
    name: str
    parent: str
    document: dict[str, Any]
    revision: int


class LbStore(Protocol):
    async def insert(
        self,
        tenant_id: str,
        kind: str,
        resource_id: str,
        name: str,
        parent: str,
        document: dict[str, Any],
        *,
        limit: int,
    ) -> str:
        """Add the resource unless its name is taken (``"duplicate"``) or ``limit`` rows of
        its kind (and parent, when it has one) are held already (``"limit"``); ``"ok"``."""
        ...

    async def get(self, tenant_id: str, kind: str, resource_id: str) -> Stored | None: ...

    async def by_name(self, tenant_id: str, kind: str, name: str) -> Stored | None: ...

    async def list(self, tenant_id: str | None, kind: str) -> list[Stored]:
        """The account's (every account's when None) resources of ``kind``, by name."""
        ...

    async def replace(self, stored: Stored, document: dict[str, Any]) -> bool:
        """Write ``document`` if the row is still at ``stored.revision``."""
        ...

    async def rename(self, stored: Stored, name: str, document: dict[str, Any]) -> str:
        """Write ``document`` under ``name`` if the row is still at ``stored.revision``:
        ``"ok"``, ``"duplicate"`` (another row has the name) or ``"changed"`` (decision
        0210: a listener's port is its name)."""
        ...

    async def delete(self, stored: Stored) -> bool:
        """Remove the row if it is still at ``stored.revision``."""
        ...


class MemoryLbStore:
    """The store in a dictionary, for unit tests; documents are copied through JSON, as the
    database would."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], Stored] = {}

    async def insert(
        self,
        tenant_id: str,
        kind: str,
        resource_id: str,
        name: str,
        parent: str,
        document: dict[str, Any],
        *,
        limit: int,
    ) -> str:
        same = [r for r in self._rows.values() if r.tenant_id == tenant_id and r.kind == kind]
        if any(r.name == name for r in same):
            return "duplicate"
        if len([r for r in same if r.parent == parent]) >= limit:
            return "limit"
        self._rows[(tenant_id, kind, resource_id)] = Stored(
            tenant_id, kind, resource_id, name, parent, json.loads(json.dumps(document)), 0
        )
        return "ok"

    async def get(self, tenant_id: str, kind: str, resource_id: str) -> Stored | None:
        return self._rows.get((tenant_id, kind, resource_id))

    async def by_name(self, tenant_id: str, kind: str, name: str) -> Stored | None:
        for row in self._rows.values():
            if (row.tenant_id, row.kind, row.name) == (tenant_id, kind, name):
                return row
        return None

    async def list(self, tenant_id: str | None, kind: str) -> list[Stored]:
        found = [
            r
            for r in self._rows.values()
            if r.kind == kind and (tenant_id is None or r.tenant_id == tenant_id)
        ]
        return sorted(found, key=lambda r: (r.tenant_id, r.name))

    async def replace(self, stored: Stored, document: dict[str, Any]) -> bool:
        key = (stored.tenant_id, stored.kind, stored.resource_id)
        held = self._rows.get(key)
        if held is None or held.revision != stored.revision:
            return False
        self._rows[key] = Stored(
            stored.tenant_id,
            stored.kind,
            stored.resource_id,
            stored.name,
            stored.parent,
            json.loads(json.dumps(document)),
            stored.revision + 1,
        )
        return True

    async def rename(self, stored: Stored, name: str, document: dict[str, Any]) -> str:
        key = (stored.tenant_id, stored.kind, stored.resource_id)
        held = self._rows.get(key)
        if held is None or held.revision != stored.revision:
            return "changed"
        for other, row in self._rows.items():
            if other != key and (row.tenant_id, row.kind, row.name) == (*key[:2], name):
                return "duplicate"
        self._rows[key] = Stored(
            *key, name, stored.parent, json.loads(json.dumps(document)), stored.revision + 1
        )
        return "ok"

    async def delete(self, stored: Stored) -> bool:
        key = (stored.tenant_id, stored.kind, stored.resource_id)
        held = self._rows.get(key)
        if held is None or held.revision != stored.revision:
            return False
        del self._rows[key]
        return True
