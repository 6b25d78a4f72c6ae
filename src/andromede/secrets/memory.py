"""The secret store in memory (decision 0190): the SQL store's twin, for unit tests and the
contract suite."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from andromede.secrets.errors import Conflict, SecretExists
from andromede.secrets.model import REPLICA_IN_PROGRESS, Replica, Secret, SecretVersion

__all__ = ["MemorySecretStore"]


class MemorySecretStore:
    def __init__(self) -> None:
        self._secrets: dict[str, Secret] = {}
        self._versions: dict[str, dict[str, SecretVersion]] = {}
        self._replicas: dict[tuple[str, str], Replica] = {}

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
        added: Sequence[SecretVersion] = (),
    ) -> Secret:
        self._check(secret, expected_revision)
        versions = self._versions[secret.arn]
        for version in (*added, *(() if new is None else (new,))):
            if version.version_id in versions:
                raise Conflict(f"{secret.arn} has version {version.version_id} already")
        for version in (*added, *(() if new is None else (new,))):
            versions[version.version_id] = version
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
        for key in [k for k in self._replicas if k[0] == arn]:
            del self._replicas[key]
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

    async def replicas(self, primary_arn: str) -> list[Replica]:
        return sorted(
            (r for (arn, _), r in self._replicas.items() if arn == primary_arn),
            key=lambda r: r.region,
        )

    async def put_replica(self, replica: Replica) -> None:
        self._replicas[replica.primary_arn, replica.region] = replica

    async def drop_replica(self, primary_arn: str, region: str) -> bool:
        return self._replicas.pop((primary_arn, region), None) is not None

    async def mark_due(self, primary_arn: str, when: datetime) -> None:
        for key, held in self._replicas.items():
            if key[0] == primary_arn:
                self._replicas[key] = replace(
                    held,
                    status=REPLICA_IN_PROGRESS,
                    message=None,
                    due=when,
                    attempts=0,
                    generation=held.generation + 1,
                )

    async def settle(self, replica: Replica, generation: int) -> bool:
        key = (replica.primary_arn, replica.region)
        held = self._replicas.get(key)
        if held is None or held.generation != generation:
            return False
        self._replicas[key] = replace(
            held,
            status=replica.status,
            message=replica.message,
            due=replica.due,
            attempts=replica.attempts,
        )
        return True

    async def due_replicas(
        self, regions: Sequence[str], now: datetime, limit: int
    ) -> list[Replica]:
        due = [
            r
            for r in self._replicas.values()
            if r.region in regions and r.due is not None and r.due <= now
        ]
        due.sort(key=lambda r: (r.due or now, r.primary_arn, r.region))
        return due[:limit]
