"""What the secrets service needs of a store (decision 0190), implemented in memory
(``memory``) and over the metadata database (``store_sql``); ``tests/contract`` runs one suite
over each.

A write of a secret's versions names the revision it read: a store whose row moved on since
raises :class:`~andromede.secrets.errors.Conflict` and changes nothing, so two concurrent
PutSecretValue calls cannot both leave ``AWSCURRENT`` on their own version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from andromede.secrets.model import Replica, Secret, SecretVersion

__all__ = ["SecretStore"]


class SecretStore(Protocol):
    async def create(self, secret: Secret, version: SecretVersion | None) -> None:
        """Insert a new secret (and its first version); ``SecretExists`` if the account's
        region has one of that name."""
        ...

    async def get(self, tenant_id: str, region: str, name: str) -> Secret | None: ...

    async def count(self, tenant_id: str, region: str) -> int: ...

    async def list_all(self, tenant_id: str, region: str) -> list[Secret]:
        """Every secret of the account's region, by name."""
        ...

    async def versions(self, arn: str) -> list[SecretVersion]:
        """The secret's versions, oldest first."""
        ...

    async def update(self, secret: Secret, expected_revision: int) -> Secret:
        """Replace the secret's metadata; its revision becomes ``expected_revision + 1``."""
        ...

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
        """In one transaction: the secret's metadata, ``new`` and ``added`` inserted, each
        version of ``stages`` relabelled, each of ``resealed`` given its value sealed anew
        (under the secret's new key), the versions ``drop`` deleted."""
        ...

    async def crowded(self, more_than: int, limit: int) -> list[Secret]:
        """Up to ``limit`` secrets holding more than ``more_than`` versions."""
        ...

    async def held(self) -> dict[tuple[str, str], int]:
        """The secrets not marked for deletion, per (account, region)."""
        ...

    async def touch(self, arn: str, version_id: str, when: datetime) -> None:
        """Record a read (the day of ``LastAccessedDate``) of the secret and the version."""
        ...

    async def delete(self, arn: str) -> bool:
        """Forget the secret and its versions; False if it was gone."""
        ...

    async def purge_due(self, now: datetime, limit: int) -> list[str]:
        """Delete up to ``limit`` secrets whose deletion date is past; their ARNs. Gateways
        may run it at once: a row one of them holds is skipped by the others."""
        ...

    # --- replication (decision 0207) ----------------------------------------------------

    async def replicas(self, primary_arn: str) -> list[Replica]:
        """The primary's replications, by region."""
        ...

    async def put_replica(self, replica: Replica) -> None:
        """Insert or replace the primary's replication to ``replica.region``."""
        ...

    async def drop_replica(self, primary_arn: str, region: str) -> bool: ...

    async def mark_due(self, primary_arn: str, when: datetime) -> None:
        """Every replication of the primary due at ``when``, ``InProgress``, its generation
        one more (a change of the primary to propagate)."""
        ...

    async def settle(self, replica: Replica, generation: int) -> bool:
        """Record ``replica``'s status, message, due time and attempts if its generation is
        still ``generation`` (no change of the primary since the sync read it)."""
        ...

    async def due_replicas(
        self, regions: Sequence[str], now: datetime, limit: int
    ) -> list[Replica]:
        """Up to ``limit`` replications into ``regions`` due by ``now``, the oldest first."""
        ...
