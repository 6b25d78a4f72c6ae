"""Bucket replication at work (decision 0112): the worker each ``serve`` runs that copies
the versions queued for it.

- Queueing is the metadata store's: a write (PUT, CompleteMultipartUpload, CopyObject, POST)
  or a client's DELETE without ``versionId`` in a versioned source bucket commits the version
  and its task (the version PENDING) in one transaction, with the rule the bucket's
  configuration (read with the bucket) chooses (``ObjectService``, ``storage/replication.py``).
  SSE-C versions are not replicated (S3 neither: the key is the customer's, never kept), nor
  are version deletes. Replicas are written by this worker without a target: a replica is
  never replicated again, so two buckets replicating to each other make no loop.
- ``run_once``: claim the due tasks whose two regions this gateway serves, copy each
  (``ObjectService.replicate_version``: streamed, re-encrypted under the destination owner's
  keys, the source's version id kept; a version under a KMS key sealed under its rule's
  ``ReplicaKmsKeyID`` through ``replica_keys``, read from the source bucket's configuration
  as it is at the copy), and settle it: COMPLETED and REPLICA; retried after
  ``retry_base * 2**(attempts - 1)`` seconds when the copy could not be made (a store away);
  FAILED after ``max_attempts``, or at once when the destination refuses replicas (gone, or
  its versioning no longer Enabled) or the source version is gone.
"""

from __future__ import annotations

import asyncio
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
from andromede.storage.model import VersioningStatus
from andromede.storage.replication import ReplicaKeys
from andromede.storage.replication_queue import ReplicationQueue, ReplicationTask
from andromede.storage.service import ObjectService

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
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``regions``: those this gateway serves (None: every one). ``replica_keys``: the
        KMS keys replicas of versions under a KMS key are sealed under (None: such versions
        fail, never copied under other keys)."""
        self._objects = objects
        self._replica_keys = replica_keys
        self._queue = queue
        self._regions = None if regions is None else frozenset(regions)
        self._interval = interval
        self._batch = batch
        self._lease = timedelta(seconds=lease)
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._clock = clock

    # -- the worker ---------------------------------------------------------------------------
    async def run_forever(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except AndromedeError:
                _log.warning("replication pass failed; the next one retries", exc_info=True)
            await asyncio.sleep(self._interval)

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
        if task.delete_marker:
            await self._objects.replicate_marker(
                task.destination_bucket, task.key, task.version_id, destination.owner_id
            )
            return
        source = await self._objects.get_version(task.source_bucket, task.key, task.version_id)
        # Only a version under a KMS key needs its rule's replica key (its one extra read).
        replica_key = None if source.kms_key_arn is None else await self._replica_kms_key(task)
        await self._objects.replicate_version(
            source, task.destination_bucket, self._replica_keys, replica_key
        )

    async def _replica_kms_key(self, task: ReplicationTask) -> str | None:
        """The ``ReplicaKmsKeyID`` of the task's rule, as the source's configuration says now
        (None: the rule is gone or names none)."""
        config = (await self._objects.get_bucket(task.source_bucket)).replication
        rule = None if config is None else config.rule(task.rule_id)
        return None if rule is None else rule.replica_kms_key_id
