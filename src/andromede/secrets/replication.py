"""Secrets Manager replication across the deployment's regions (decision 0207).

A primary secret replicated to a region has a :class:`~andromede.secrets.model.Replica` row
per region (the replica's key, its status, the durable task that brings it up to date) and,
in that region, a replica secret: the same name and random suffix, ``PrimaryRegion`` the
primary's, its versions the primary's (same ids, labels and creation times), each value
opened under the primary's key and sealed again under a key **of the replica's region** (its
``KmsKeyId``, else that region's ``aws/secretsmanager``), as S3 replication re-encrypts per
region (decision 0142).

Every change of the primary marks its replications due (their generation one more). A
replication into a region this gateway serves is made in the same call, as the caller (its
KMS rights decide, its key uses audited and metered by the sealer); the others, and those
that failed, wait for :meth:`ReplicaSync.run_due`, the upkeep loop of a gateway serving the
region, which retries with an exponential backoff as Secrets Manager itself (the account's
root, decision 0204's convention for a service acting on an account's behalf). A sync that
read an older primary than the latest change settles nothing: the row stays due.

A region not declared is refused, as is a region the account's allow-list (the operator's
data-residency guardrail) does not hold, at the call and again at each sync."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Protocol

from andromede.secrets.errors import (
    Conflict,
    DecryptionFailure,
    EncryptionFailure,
    InvalidParameter,
    InvalidRequest,
    KmsAccessDenied,
    RegionRefused,
    SecretExists,
)
from andromede.secrets.model import (
    REPLICA_FAILED,
    REPLICA_IN_PROGRESS,
    REPLICA_IN_SYNC,
    Replica,
    Secret,
    SecretVersion,
    parse_arn,
    replica_arn,
)
from andromede.secrets.store import SecretStore

__all__ = ["ReplicaSync", "ReplicationPolicy"]

log = logging.getLogger(__name__)

_KEY_FAILURES: Final = (DecryptionFailure, EncryptionFailure, KmsAccessDenied)


class Sealer(Protocol):
    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes: ...

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes: ...


class _Failed(Exception):
    """A sync that cannot be made now; its message is the replica's ``StatusMessage``."""


@dataclass(frozen=True, slots=True)
class ReplicationPolicy:
    """Where replicas may go and how the durable task retries: ``regions`` the deployment
    declares, ``served`` those this gateway serves (synced in the call), ``allowed`` the
    account's allow-list (empty: every region), ``background_caller`` the caller Secrets
    Manager uses a key for in the upkeep loop (None: the loop syncs nothing)."""

    regions: frozenset[str] = frozenset()
    served: frozenset[str] = frozenset()
    allowed: Callable[[str], Awaitable[frozenset[str]]] | None = None
    background_caller: Callable[[str], object] | None = None
    retry_interval: float = 5.0
    max_backoff: float = 900.0


class ReplicaSync:
    def __init__(
        self,
        store: SecretStore,
        sealer: Sealer,
        policy: ReplicationPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._sealer = sealer
        self.policy = policy
        self._clock = clock

    # --- checks ------------------------------------------------------------------------

    async def check_regions(
        self, account: str, primary_region: str, adds: Sequence[tuple[str, str | None]]
    ) -> None:
        """Each asked region declared, not the primary's, allowed to the account, and its
        key (an ARN) of that region."""
        allowed = await self._allowed(account)
        seen: set[str] = set()
        for region, key in adds:
            if region not in self.policy.regions:
                raise InvalidParameter(f"Invalid replica region: {region}")
            if region == primary_region:
                raise InvalidParameter(
                    "Invalid replica region: a secret can't be replicated to its own Region."
                )
            if region in seen:
                raise InvalidParameter(f"Duplicate replica region: {region}")
            seen.add(region)
            if allowed and region not in allowed:
                raise RegionRefused(f"Your account may not hold secrets in {region}")
            if key is not None and key.startswith("arn:") and key.split(":")[3:4] != [region]:
                raise InvalidParameter(
                    f"The KMS key of a replica in {region} must be a key of that Region."
                )

    async def check_home(self, account: str, region: str) -> None:
        """A secret made in ``region`` must be in the account's allowed regions too."""
        allowed = await self._allowed(account)
        if allowed and region not in allowed:
            raise RegionRefused(f"Your account may not hold secrets in {region}")

    async def _allowed(self, account: str) -> frozenset[str]:
        return frozenset() if self.policy.allowed is None else await self.policy.allowed(account)

    # --- changes -----------------------------------------------------------------------

    async def add(
        self,
        primary: Secret,
        adds: Sequence[tuple[str, str | None]],
        *,
        overwrite: bool,
        caller: object,
    ) -> Secret:
        """Replicate ``primary`` to ``adds`` (region, key); a region already replicated
        takes the new key and is synced again. ``primary`` marked as a primary."""
        held = {r.region: r for r in await self._store.replicas(primary.arn)}
        for region, key in adds:
            before = held.get(region)
            await self._store.put_replica(
                Replica(
                    primary.arn,
                    primary.tenant_id,
                    region,
                    key,
                    REPLICA_IN_PROGRESS,
                    generation=0 if before is None else before.generation,
                    overwrite=overwrite,
                )
            )
        primary = await self._primary_region(primary, primary.region)
        await self.propagate(primary, caller)
        return primary

    async def propagate(self, primary: Secret, caller: object) -> None:
        """A change of ``primary``: each replication due, those into a region this gateway
        serves synced now as ``caller``."""
        await self._store.mark_due(primary.arn, self._clock())
        for replica in await self._store.replicas(primary.arn):
            if replica.region in self.policy.served:
                try:
                    await self.sync(replica, caller)
                except Exception:  # the primary's write stands; the row stays due for the task
                    log.exception("secret replication to %s failed", replica.region)

    async def remove(self, primary: Secret, regions: Sequence[str]) -> Secret:
        """Delete ``primary``'s replicas in ``regions`` (at once, as AWS) and forget their
        replication; ``primary`` no longer a primary once it has none."""
        for region in regions:
            await self._store.drop_replica(primary.arn, region)
            found = await self._store.get(primary.tenant_id, region, primary.name)
            if found is not None and self._mine(primary, found):
                await self._store.delete(found.arn)
        if not await self._store.replicas(primary.arn):
            primary = await self._primary_region(primary, None)
        return primary

    async def stop(self, replica: Secret) -> Secret:
        """``replica`` promoted to a standalone secret of its region; its primary no longer
        replicates to it."""
        assert replica.primary_region is not None  # noqa: S101 (the caller checked)
        primary_arn = replica_arn(replica.arn, replica.primary_region)
        standalone = await self._primary_region(replica, None)
        await self._store.drop_replica(primary_arn, replica.region)
        return standalone

    async def _primary_region(self, secret: Secret, region: str | None) -> Secret:
        """``secret`` with ``primary_region`` ``region``, written against its revision (a
        concurrent writer's change read again, a few times)."""
        for _ in range(5):
            if secret.primary_region == region:
                return secret
            try:
                return await self._store.update(
                    replace(secret, primary_region=region), secret.revision
                )
            except Conflict:
                fresh = await self._store.get(secret.tenant_id, secret.region, secret.name)
                if fresh is None or fresh.arn != secret.arn:
                    break
                secret = fresh
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def statuses(self, primary: Secret) -> list[tuple[Replica, datetime | None]]:
        """Each replication of ``primary`` and its replica's last access."""
        found = []
        for replica in await self._store.replicas(primary.arn):
            copy = await self._store.get(primary.tenant_id, replica.region, primary.name)
            mine = copy is not None and self._mine(primary, copy)
            found.append((replica, copy.last_accessed if copy is not None and mine else None))
        return found

    @staticmethod
    def _mine(primary: Secret, found: Secret) -> bool:
        return found.arn == replica_arn(primary.arn, found.region) and found.is_replica

    # --- the durable task --------------------------------------------------------------

    async def run_due(self, batch: int = 100) -> int:
        """Sync the replications due into the regions this gateway serves, as Secrets Manager
        acting for each account; the number brought in sync."""
        made_by = self.policy.background_caller
        if made_by is None or not self.policy.served:
            return 0
        done = 0
        for replica in await self._store.due_replicas(
            sorted(self.policy.served), self._clock(), batch
        ):
            settled = await self.sync(replica, made_by(replica.tenant_id))
            done += settled is not None and settled.status == REPLICA_IN_SYNC
        return done

    async def sync(self, replica: Replica, caller: object) -> Replica | None:
        """Bring ``replica`` up to date with its primary as ``caller``; its settled state
        (None: its primary is gone, the replication forgotten)."""
        now = self._clock()
        try:
            if not await self._copy(replica, caller):
                await self._store.drop_replica(replica.primary_arn, replica.region)
                return None
            settled = replace(replica, status=REPLICA_IN_SYNC, message=None, due=None, attempts=0)
        except Conflict:  # another writer of the replica: again soon
            settled = replace(replica, due=now + timedelta(seconds=self.policy.retry_interval))
        except (_Failed, RegionRefused, *_KEY_FAILURES) as exc:
            attempts = replica.attempts + 1
            delay = min(self.policy.retry_interval * 2 ** (attempts - 1), self.policy.max_backoff)
            settled = replace(
                replica,
                status=REPLICA_FAILED,
                message=f"Replication failed: {exc}",
                due=now + timedelta(seconds=delay),
                attempts=attempts,
            )
            log.warning(
                "secret replication to %s failed (%s), retried in %.0f s",
                replica.region,
                type(exc).__name__,
                delay,
            )
        await self._store.settle(settled, replica.generation)
        return settled

    async def _primary(self, replica: Replica) -> Secret | None:
        parsed = parse_arn(replica.primary_arn)
        if parsed is None:
            return None
        region, account, part = parsed
        found = await self._store.get(account, region, part[:-7])
        return found if found is not None and found.arn == replica.primary_arn else None

    async def _copy(self, replica: Replica, caller: object) -> bool:
        primary = await self._primary(replica)
        if primary is None:
            return False
        allowed = await self._allowed(primary.tenant_id)
        if allowed and replica.region not in allowed:
            raise RegionRefused(f"the account may not hold secrets in {replica.region}")
        target_arn = replica_arn(primary.arn, replica.region)
        there = await self._store.get(primary.tenant_id, replica.region, primary.name)
        if there is not None and not self._mine(primary, there):
            if not replica.overwrite:
                raise _Failed("a secret of this name already exists in the Region")
            await self._store.delete(there.arn)
            there = None
        if there is None:
            there = Secret(
                arn=target_arn,
                tenant_id=primary.tenant_id,
                region=replica.region,
                name=primary.name,
                created=self._clock(),
                last_changed=primary.last_changed,
                kms_key_id=replica.kms_key_id,
                primary_region=primary.region,
            )
            try:
                await self._store.create(there, None)
            except SecretExists:
                raise Conflict("made meanwhile") from None
        target = replace(
            there,
            description=primary.description,
            kms_key_id=replica.kms_key_id,
            tags=primary.tags,
            policy=primary.policy,
            last_changed=primary.last_changed,
            deleted_date=None,
            primary_region=primary.region,
        )
        rekeyed = there.kms_key_id != replica.kms_key_id
        held = {v.version_id: v for v in await self._store.versions(there.arn)}
        wanted = await self._store.versions(primary.arn)
        added: list[SecretVersion] = []
        resealed: dict[str, bytes] = {}
        stages: dict[str, tuple[str, ...]] = {}
        skipped: set[str] = set()
        for version in wanted:
            if not version.sealed:  # a rotation's AWSPENDING awaiting its value (0303, 0308)
                skipped.add(version.version_id)
                continue
            mine = held.get(version.version_id)
            if mine is None or rekeyed:
                try:
                    plain = await self._sealer.open(primary, version, caller)
                    sealed = await self._sealer.seal(target, version.version_id, plain, caller)
                except _KEY_FAILURES:
                    if version.stages:
                        raise
                    # A deprecated version under a key that no longer opens: not replicated
                    # (AWS keeps what it could replicate).
                    skipped.add(version.version_id)
                    continue
                if mine is None:
                    added.append(
                        replace(version, secret_arn=target.arn, sealed=sealed, last_accessed=None)
                    )
                else:
                    resealed[version.version_id] = sealed
            if mine is not None and mine.stages != version.stages:
                stages[version.version_id] = version.stages
        kept = {v.version_id for v in wanted} - skipped
        drop = [v for v in held if v not in kept and v not in stages]
        await self._store.write_versions(
            target, there.revision, None, stages, drop, resealed=resealed, added=added
        )
        return True
