"""Lambda's function store in memory (decision 0286): the twin of ``store_sql`` for tests."""

from __future__ import annotations

from andromede.functions.errors import FunctionChanged
from andromede.functions.model import LATEST, FunctionRecord, FunctionVersion

__all__ = ["MemoryFunctionStore", "version_order"]


def version_order(version: FunctionVersion) -> tuple[int, int]:
    return (0, 0) if version.version == LATEST else (1, int(version.version))


class MemoryFunctionStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], FunctionRecord] = {}
        self._versions: dict[tuple[str, str, str], FunctionVersion] = {}
        self._code: dict[tuple[str, str, str], bytes] = {}

    async def create(self, record: FunctionRecord, latest: FunctionVersion) -> None:
        key = (record.tenant_id, record.name)
        if key in self._records:
            raise FunctionChanged(record.name)
        self._records[key] = record
        self._versions[(*key, LATEST)] = latest

    async def get(self, tenant_id: str, name: str) -> FunctionRecord | None:
        return self._records.get((tenant_id, name))

    async def records(self, tenant_id: str) -> list[FunctionRecord]:
        return sorted(
            (r for r in self._records.values() if r.tenant_id == tenant_id), key=lambda r: r.name
        )

    async def replace(self, record: FunctionRecord) -> None:
        found = self._records.get((record.tenant_id, record.name))
        if found is None or found.version != record.version - 1:
            raise FunctionChanged(record.name)
        self._records[(record.tenant_id, record.name)] = record

    async def version(self, tenant_id: str, name: str, version: str) -> FunctionVersion | None:
        return self._versions.get((tenant_id, name, version))

    async def versions(self, tenant_id: str, name: str) -> list[FunctionVersion]:
        found = [v for (t, n, _), v in self._versions.items() if (t, n) == (tenant_id, name)]
        return sorted(found, key=version_order)

    async def latest_versions(self, tenant_id: str) -> list[FunctionVersion]:
        found = [v for (t, _, q), v in self._versions.items() if t == tenant_id and q == LATEST]
        return sorted(found, key=lambda v: v.name)

    async def replace_latest(self, latest: FunctionVersion, revision_id: str) -> None:
        key = (latest.tenant_id, latest.name, LATEST)
        found = self._versions.get(key)
        if found is None or found.revision_id != revision_id:
            raise FunctionChanged(latest.name)
        self._versions[key] = latest

    async def add_version(self, version: FunctionVersion) -> None:
        key = (version.tenant_id, version.name, version.version)
        if key in self._versions:
            raise FunctionChanged(version.name)
        self._versions[key] = version

    async def delete_version(self, tenant_id: str, name: str, version: str) -> bool:
        return self._versions.pop((tenant_id, name, version), None) is not None

    async def put_code(self, tenant_id: str, name: str, sha256: str, sealed: bytes) -> None:
        self._code.setdefault((tenant_id, name, sha256), sealed)

    async def code(self, tenant_id: str, name: str, sha256: str) -> bytes | None:
        return self._code.get((tenant_id, name, sha256))

    async def drop_unused_code(self, tenant_id: str, name: str) -> int:
        used = {v.code_sha256 for v in await self.versions(tenant_id, name)}
        unused = [k for k in self._code if k[:2] == (tenant_id, name) and k[2] not in used]
        for key in unused:
            del self._code[key]
        return len(unused)

    async def code_bytes(self, tenant_id: str) -> int:
        return sum(v.code_size for (t, _, _), v in self._versions.items() if t == tenant_id)

    async def delete(self, tenant_id: str, name: str) -> bool:
        found = self._records.pop((tenant_id, name), None) is not None
        for store in (self._versions, self._code):
            for key in [k for k in store if k[:2] == (tenant_id, name)]:
                del store[key]
        return found

    async def forget_tenant(self, tenant_id: str) -> int:
        names = [n for t, n in self._records if t == tenant_id]
        for name in names:
            await self.delete(tenant_id, name)
        return len(names)
