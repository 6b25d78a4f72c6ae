"""Bucket replication at work (decision 0112): the worker each ``serve`` runs that copies
the versions queued for it.

- Queueing is the metadata store's: a write (PUT, CompleteMultipartUpload, CopyObject, POST)
  or a client's DELETE without ``versionId`` in a versioned source bucket commits the version
  and its task (the version PENDING) in one transaction, with the rule the bucket's
  configuration (read with the bucket) chooses (``ObjectService``, ``storage/replication.py``).
  SSE-C versions are not replicated (S3 now copies their ciphertext as it is; here each chunk
  is bound to its blob's id under a key only the customer holds, so a copy could be neither
  re-sealed nor moved: decision 0112), nor are version deletes. Replicas are written by this
  worker without a target: a replica is never replicated again, so two buckets replicating
  to each other make no loop.
- ``run_once``: claim the due tasks whose two regions this gateway serves, copy each
  (``ObjectService.replicate_version``: streamed, re-encrypted under the destination owner's
  keys, the source's version id kept; a version under a KMS key sealed under its rule's
  ``ReplicaKmsKeyID`` through ``replica_keys``, read from the source bucket's configuration
  as it is at the copy), and settle it: COMPLETED and REPLICA; retried after
  ``retry_base * 2**(attempts - 1)`` seconds when the copy could not be made (a store away);
  FAILED after ``max_attempts``, or at once when the destination refuses replicas (gone, or
  its versioning no longer Enabled) or the source version is gone.
- A change of a replicated version's tags (Put/DeleteObjectTagging), ACL or lock (retention,
  legal hold) is queued like its copy, in the change's transaction (increment 6); the worker
  finds the replica there and brings its tags, lock and (within one tenant) ACL to the
  source's (``ObjectService.sync_replica``) without copying a byte.
- The same change made on a replica, in a bucket whose rule selecting it has
  ``ReplicaModifications`` Enabled, is queued towards that rule's destination — the bucket the
  replica came from, in a two-way setup — and brought to the version there with the same id
  the same way (decision 0127); the task's source being a replica (its status), the version
  gone is FAILED, never copied back. What replication writes is never queued again, on
  either side: no loop.
- ``backfill_once`` (increment 7): a configuration with an ``ExistingObjectReplication`` rule
  starts a pass over the bucket's versions, a bucket document saying where it stands; each
  step looks at ``batch`` versions and queues those such a rule takes and that have no status.
- A destination of another tenant (increment 4) is copied into only while ``grants`` says
  its owner consents (the configuration's role, trusted by S3, allowed by its own policies and
  by the destination's bucket policy, ``s3:ReplicateObject`` or ``s3:ReplicateDelete``),
  checked at each copy and recorded in the destination tenant's trail; otherwise FAILED at
  once. The replica is the destination owner's, under their keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

from andromede.errors import AndromedeError
from andromede.storage.errors import (
    DeleteMarkerFound,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    ReplicaRefused,
)
from andromede.storage.model import Bucket, VersioningStatus
from andromede.storage.replication import (
    Backfill,
    ReplicaKeys,
    ReplicationConfiguration,
    ReplicationGrants,
    ReplicationStatus,
)
from andromede.storage.replication_queue import ReplicationQueue, ReplicationTask
from andromede.storage.service import ObjectService
from andromede.wakeup import Doorbell, Pacer

__all__ = ["Replicator"]

_log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Replicator:
    def __init__(
        self,
        objects: ObjectService,
        queue: ReplicationQueue,
        *,
        regions: Collection[str] | None = None,
        interval: float = 1.0,
        batch: int = 16,
        lease: float = 300.0,
        max_attempts: int = 5,
        retry_base: float = 2.0,
        replica_keys: ReplicaKeys | None = None,
        grants: ReplicationGrants | None = None,
        clock: Callable[[], datetime] = _utcnow,
        idle_poll_max: float | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``regions``: those this gateway serves (None: every one). ``replica_keys``: the
        KMS keys replicas of versions under a KMS key are sealed under (None: such versions
        fail, never copied under other keys). ``grants``: who may copy into another tenant's
        bucket (None: nobody; such copies fail). ``doorbell``: rung when this process queued
        tasks; between rings the worker polls every ``interval``, backing off to
        ``idle_poll_max`` while idle (decision 0206)."""
        self._objects = objects
        self._replica_keys = replica_keys
        self._grants = grants
        self._queue = queue
        self._regions = None if regions is None else frozenset(regions)
        self._pacer = Pacer(interval, idle_poll_max, doorbell)
        self._batch = batch
        self._lease = timedelta(seconds=lease)
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._clock = clock

    # -- the worker ---------------------------------------------------------------------------
    async def run_forever(self) -> None:
        while True:
            worked = False
            try:
                worked = await self.backfill_once() > 0
                while await self.run_once():
                    worked = True
            except AndromedeError:
                _log.warning("replication pass failed; the next one retries", exc_info=True)
            await self._pacer.pause(worked)

    async def backfill_once(self) -> int:
        """One step of every pass over a bucket's existing versions that this gateway's
        regions hold (increment 7): up to ``batch`` versions looked at per bucket, those an
        ``ExistingObjectReplication`` rule takes queued as any new version's copy; how many
        were queued. Two gateways stepping one bucket at once may queue a version twice: the
        second task finds the replica there and costs one read."""
        queued = 0
        after: str | None = None
        while page := await self._objects.replication_backfills(after, 100):
            for name, backfill in page:
                after = name
                queued += await self._backfill(name, backfill)
        return queued

    async def _backfill(self, name: str, backfill: Backfill) -> int:
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            return 0
        if self._regions is not None and bucket.region not in self._regions:
            return 0
        config = bucket.replication
        if (
            config is None
            or not config.replicates_existing_objects
            or bucket.versioning is not VersioningStatus.ENABLED
        ):
            await self._objects.set_replication_backfill(name, None)  # nothing to do any more
            return 0
        tasks, after = await self._objects.existing_version_tasks(bucket, backfill, self._batch)
        await self._queue.enqueue(tasks, self._clock())
        await self._objects.set_replication_backfill(name, after)
        if after is None:
            _log.info(
                "bucket %s: existing versions looked at, %d queued for replication",
                name,
                backfill.queued + len(tasks),
            )
        return len(tasks)

    async def run_once(self) -> int:
        """Claim and settle one batch of due tasks; how many were claimed."""
        tasks = await self._queue.claim(
            self._clock(), lease=self._lease, limit=self._batch, regions=self._regions
        )
        for task in tasks:
            await self._settle(task)
        return len(tasks)

    async def _settle(self, task: ReplicationTask) -> None:
        try:
            await self._copy(task)
        except ReplicaRefused as refused:
            if refused.present:
                await self._queue.complete(task)
            else:
                await self._queue.fail(task, str(refused))
        except (NoSuchBucket, NoSuchVersion, NoSuchKey, DeleteMarkerFound) as gone:
            await self._queue.fail(task, f"{type(gone).__name__}: {gone}")
        except (AndromedeError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if task.attempts >= self._max_attempts:
                _log.warning("replication of %s/%s failed: %s", task.source_bucket, task.key, error)
                await self._queue.fail(task, error)
            else:
                delay = self._retry_base * 2 ** (task.attempts - 1)
                await self._queue.retry(task, self._clock() + timedelta(seconds=delay), error)
        else:
            await self._queue.complete(task)

    async def _copy(self, task: ReplicationTask) -> None:
        destination = await self._objects.get_bucket(task.destination_bucket)
        if destination.versioning is not VersioningStatus.ENABLED:
            raise ReplicaRefused("the destination bucket's versioning is not Enabled")
        source_bucket = await self._objects.get_bucket(task.source_bucket)
        config = source_bucket.replication
        rule = None if config is None else config.rule(task.rule_id)
        if destination.tenant_id != source_bucket.tenant_id:
            # Another tenant's bucket: its owner's consent is checked at each copy, as AWS
            # evaluates the role's permissions and the bucket policy at each replication.
            await self._check_grant(task, config, source_bucket.tenant_id, destination)
        if task.delete_marker:
            await self._objects.replicate_marker(
                task.destination_bucket, task.key, task.version_id, destination.owner_id
            )
            return
        source = await self._objects.get_version(task.source_bucket, task.key, task.version_id)
        same_tenant = destination.tenant_id == source_bucket.tenant_id
        # There already: the task is a change of the version's tags, ACL or lock (or a copy
        # made twice), brought to the replica without copying a byte (increment 6).
        replica = await self._objects.replica_of(task.destination_bucket, task.key, task.version_id)
        if replica is not None:
            acl_into = destination if same_tenant else None
            await self._objects.sync_replica(source, replica, acl_into=acl_into)
            return
        if ReplicationStatus.is_replica(source.replication_status):
            # A replica's change going back (decision 0127) to a version gone since: no byte
            # is ever copied back, the replica's bucket is not its source.
            raise ReplicaRefused("the version the replica came from is not in the bucket")
        # The rule's replica key, as the source's configuration says now: only a version under
        # a KMS key is sealed under it (None: the rule is gone or names none; such a version
        # then fails, never copied under other keys).
        replica_key = (
            None if rule is None or source.kms_key_arn is None else rule.replica_kms_key_id
        )
        await self._objects.replicate_version(
            source, task.destination_bucket, self._replica_keys, replica_key, with_acl=same_tenant
        )

    async def _check_grant(
        self,
        task: ReplicationTask,
        config: ReplicationConfiguration | None,
        source_tenant: str,
        destination: Bucket,
    ) -> None:
        action = "s3:ReplicateDelete" if task.delete_marker else "s3:ReplicateObject"
        role = None if config is None else config.role
        if self._grants is None or not await self._grants.allows(
            role,
            source_tenant,
            destination,
            action,
            task.key,
            audited=True,
            source_bucket=task.source_bucket,
        ):
            raise ReplicaRefused(f"the destination's owner does not grant {action} to {role}")
