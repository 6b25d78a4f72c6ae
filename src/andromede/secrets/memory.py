"""The secret store in memory (decision 0190): the SQL store's twin, for unit tests and the
contract suite."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from andromede.secrets.errors import Conflict, SecretExists
from andromede.secrets.model import Secret, SecretVersion

__all__ = ["MemorySecretStore"]


class MemorySecretStore:
    def __init__(self) -> None:
        self._secrets: dict[str, Secret] = {}
        self._versions: dict[str, dict[str, SecretVersion]] = {}

    def _named(self, tenant_id: str, region: str, name: str) -> Secret | None:
        return next(
            (
                s
                for s in self._secrets.values()
                if (s.tenant_id, s.region, s.name) == (tenant_id, region, name)
            ),
            None,
        )

    async def create(self, secret: Secret, version: SecretVersion | None) -> None:
        if self._named(secret.tenant_id, secret.region, secret.name) is not None:
            raise SecretExists(
                f"The operation failed because the secret {secret.name} already exists."
            )
        self._secrets[secret.arn] = secret
        self._versions[secret.arn] = {} if version is None else {version.version_id: version}

    async def get(self, tenant_id: str, region: str, name: str) -> Secret | None:
        return self._named(tenant_id, region, name)

    async def count(self, tenant_id: str, region: str) -> int:
        return len(await self.list_all(tenant_id, region))

    async def list_all(self, tenant_id: str, region: str) -> list[Secret]:
        found = [
            s for s in self._secrets.values() if (s.tenant_id, s.region) == (tenant_id, region)
        ]
        return sorted(found, key=lambda s: s.name)

    async def versions(self, arn: str) -> list[SecretVersion]:
        held = self._versions.get(arn, {}).values()
        return sorted(held, key=lambda v: (v.created, v.version_id))

    def _check(self, secret: Secret, expected_revision: int) -> None:
        held = self._secrets.get(secret.arn)
        if held is None or held.revision != expected_revision:
            raise Conflict(f"{secret.arn} changed meanwhile")

    async def update(self, secret: Secret, expected_revision: int) -> Secret:
        self._check(secret, expected_revision)
        stored = replace(secret, revision=expected_revision + 1)
        self._secrets[secret.arn] = stored
        return stored

    async def write_versions(
        self,
        secret: Secret,
        expected_revision: int,
        new: SecretVersion | None,
        stages: Mapping[str, tuple[str, ...]],
        drop: Sequence[str] = (),
        *,
        resealed: Mapping[str, bytes] | None = None,
    ) -> Secret:
        self._check(secret, expected_revision)
        versions = self._versions[secret.arn]
        if new is not None:
            versions[new.version_id] = new
        for version_id, held in stages.items():
            if version_id in versions:
                versions[version_id] = replace(versions[version_id], stages=tuple(held))
        for version_id, sealed in (resealed or {}).items():
            if version_id in versions:
                versions[version_id] = replace(versions[version_id], sealed=sealed)
        for version_id in drop:
            versions.pop(version_id, None)
        return await self.update(secret, expected_revision)

    async def crowded(self, more_than: int, limit: int) -> list[Secret]:
        crowded = [a for a, held in self._versions.items() if len(held) > more_than]
        return [self._secrets[arn] for arn in sorted(crowded)[:limit]]

    async def held(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for secret in self._secrets.values():
            if secret.deleted_date is None:
                where = (secret.tenant_id, secret.region)
                counts[where] = counts.get(where, 0) + 1
        return counts

    async def touch(self, arn: str, version_id: str, when: datetime) -> None:
        if arn in self._secrets:
            self._secrets[arn] = replace(self._secrets[arn], last_accessed=when)
            version = self._versions[arn].get(version_id)
            if version is not None:
                self._versions[arn][version_id] = replace(version, last_accessed=when)

    async def delete(self, arn: str) -> bool:
        self._versions.pop(arn, None)
        return self._secrets.pop(arn, None) is not None

    async def purge_due(self, now: datetime, limit: int) -> list[str]:
        due = [
            s.arn
            for s in self._secrets.values()
            if s.deleted_date is not None and s.deleted_date <= now
        ][:limit]
        for arn in due:
            await self.delete(arn)
        return due
