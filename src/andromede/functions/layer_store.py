"""Where Lambda's layers are kept (decision 0302): the ``LayerStore`` interface and its
in-memory twin (SQL in ``layer_store_sql``).

A layer version is written once with its content, a zip sealed under the account's keys by
the service before it reaches the store; only its resource policy changes after, by
compare-and-set on ``policy_revision``. Deleting marks it a tombstone: its number stays
taken and its content stays for the functions using it."""

from __future__ import annotations

from typing import Protocol

from andromede.functions.errors import FunctionChanged
from andromede.functions.layer_model import LayerVersion

__all__ = ["LayerStore", "MemoryLayerStore"]


class LayerStore(Protocol):
    async def add(self, version: LayerVersion, sealed: bytes) -> None:
        """Keep a new version and its sealed content; ``FunctionChanged`` if its number is
        taken (by a live version or a tombstone)."""

    async def last_number(self, tenant_id: str, name: str) -> int:
        """The highest number the layer ever had, tombstones included (0 for none)."""

    async def get(self, tenant_id: str, name: str, version: int) -> LayerVersion | None:
        """The version, a tombstone too (``deleted`` set)."""

    async def versions(self, tenant_id: str, name: str | None = None) -> list[LayerVersion]:
        """The account's live versions (of one layer when ``name``), by name then number."""

    async def content(self, tenant_id: str, name: str, version: int) -> bytes | None: ...

    async def mark_deleted(self, tenant_id: str, name: str, version: int) -> bool:
        """Make a live version a tombstone; whether there was one."""

    async def replace_policy(
        self, tenant_id: str, name: str, version: int, policy: str | None, revision: str, was: str
    ) -> None:
        """Write the policy and its new revision if the revision is still ``was``;
        ``FunctionChanged`` otherwise."""

    async def live_bytes(self, tenant_id: str) -> int:
        """The zipped sizes of the account's live versions, summed (its code storage)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryLayerStore:
    def __init__(self) -> None:
        self._versions: dict[tuple[str, str, int], LayerVersion] = {}
        self._content: dict[tuple[str, str, int], bytes] = {}

    async def add(self, version: LayerVersion, sealed: bytes) -> None:
        key = (version.tenant_id, version.name, version.version)
        if key in self._versions:
            raise FunctionChanged(version.name)
        self._versions[key] = version
        self._content[key] = sealed

    async def last_number(self, tenant_id: str, name: str) -> int:
        return max(
            (v for t, n, v in self._versions if (t, n) == (tenant_id, name)),
            default=0,
        )

    async def get(self, tenant_id: str, name: str, version: int) -> LayerVersion | None:
        return self._versions.get((tenant_id, name, version))

    async def versions(self, tenant_id: str, name: str | None = None) -> list[LayerVersion]:
        return sorted(
            (
                v
                for v in self._versions.values()
                if v.tenant_id == tenant_id and not v.deleted and name in (None, v.name)
            ),
            key=lambda v: (v.name, v.version),
        )

    async def content(self, tenant_id: str, name: str, version: int) -> bytes | None:
        return self._content.get((tenant_id, name, version))

    async def mark_deleted(self, tenant_id: str, name: str, version: int) -> bool:
        found = self._versions.get((tenant_id, name, version))
        if found is None or found.deleted:
            return False
        self._versions[(tenant_id, name, version)] = found.replaced(deleted=True, policy=None)
        return True

    async def replace_policy(
        self, tenant_id: str, name: str, version: int, policy: str | None, revision: str, was: str
    ) -> None:
        found = self._versions.get((tenant_id, name, version))
        if found is None or found.deleted or found.policy_revision != was:
            raise FunctionChanged(name)
        self._versions[(tenant_id, name, version)] = found.replaced(
            policy=policy, policy_revision=revision
        )

    async def live_bytes(self, tenant_id: str) -> int:
        return sum(v.code_size for v in await self.versions(tenant_id))

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._versions if k[0] == tenant_id]
        for key in keys:
            del self._versions[key]
            self._content.pop(key, None)
        return len(keys)
