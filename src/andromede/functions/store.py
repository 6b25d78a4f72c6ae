"""Where Lambda's functions are kept (decision 0286): the ``FunctionStore`` interface (its
in-memory twin in ``memory``, SQL in ``store_sql``).

A function is its :class:`~andromede.functions.model.FunctionRecord`, written whole by
compare-and-set on its ``version``; its versions' configurations, ``$LATEST`` replaced by
compare-and-set on its ``revision_id``, the published ones written once; and its code zips,
sealed under the account's keys by the service before they reach the store, kept by their
SHA-256 while a version uses them."""

from __future__ import annotations

from typing import Protocol

from andromede.functions.model import FunctionRecord, FunctionVersion

__all__ = ["FunctionStore"]


class FunctionStore(Protocol):
    async def create(self, record: FunctionRecord, latest: FunctionVersion) -> None:
        """Add a new function with its ``$LATEST``; ``FunctionChanged`` if the name is
        taken in the account."""

    async def get(self, tenant_id: str, name: str) -> FunctionRecord | None: ...

    async def records(self, tenant_id: str) -> list[FunctionRecord]: ...

    async def replace(self, record: FunctionRecord) -> None:
        """Write ``record`` over the stored one at ``record.version - 1``; ``FunctionChanged``
        if another write came first."""

    async def version(self, tenant_id: str, name: str, version: str) -> FunctionVersion | None: ...

    async def versions(self, tenant_id: str, name: str) -> list[FunctionVersion]:
        """The function's versions, ``$LATEST`` first then by number."""

    async def latest_versions(self, tenant_id: str) -> list[FunctionVersion]:
        """Every function's ``$LATEST`` in the account, by name."""

    async def replace_latest(self, latest: FunctionVersion, revision_id: str) -> None:
        """Write ``latest`` over ``$LATEST`` if its revision is still ``revision_id``;
        ``FunctionChanged`` otherwise."""

    async def add_version(self, version: FunctionVersion) -> None:
        """Add a published version; ``FunctionChanged`` if its number exists."""

    async def delete_version(self, tenant_id: str, name: str, version: str) -> bool: ...

    async def put_code(self, tenant_id: str, name: str, sha256: str, sealed: bytes) -> None:
        """Keep a sealed code zip (a zip already kept under this SHA-256 stays)."""

    async def code(self, tenant_id: str, name: str, sha256: str) -> bytes | None: ...

    async def drop_unused_code(self, tenant_id: str, name: str) -> int:
        """Remove the function's zips no version uses; how many."""

    async def code_bytes(self, tenant_id: str) -> int:
        """The sizes of the account's versions' code, summed as AWS counts its code storage."""

    async def delete(self, tenant_id: str, name: str) -> bool:
        """Remove the function, its versions and its code."""

    async def forget_tenant(self, tenant_id: str) -> int: ...
