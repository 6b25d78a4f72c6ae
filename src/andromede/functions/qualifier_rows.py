"""What the in-memory stores of a function's per-qualifier configurations share
(asynchronous invocation configs, URLs, provisioned concurrency): the twin of
``qualifier_rows_sql``, one item a tenant, function name and qualifier, kept, read, listed
by qualifier, deleted (one qualifier's or the function's all) and a closed tenant's
forgotten. Each store keeps what is its own."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

__all__ = ["MemoryQualifierRows", "QualifierConfig"]


class QualifierConfig(Protocol):
    @property
    def tenant_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def qualifier(self) -> str: ...


_C = TypeVar("_C", bound=QualifierConfig)


class MemoryQualifierRows(Generic[_C]):
    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], _C] = {}

    def _keep(self, config: _C) -> None:
        self._items[(config.tenant_id, config.name, config.qualifier)] = config

    async def get(self, tenant_id: str, name: str, qualifier: str) -> _C | None:
        return self._items.get((tenant_id, name, qualifier))

    def _function_items(self, tenant_id: str, name: str | None) -> list[_C]:
        """The function's items by qualifier (every function's of the tenant: None)."""
        return [
            v for k, v in sorted(self._items.items()) if k[0] == tenant_id and name in (None, k[1])
        ]

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        gone = [
            k
            for k in self._items
            if k[0] == tenant_id and k[1] == name and qualifier in (None, k[2])
        ]
        for key in gone:
            del self._items[key]
        return len(gone)

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._items if k[0] == tenant_id]
        for key in gone:
            del self._items[key]
        return len(gone)
