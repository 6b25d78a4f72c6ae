"""Bucket replication at work (decision 0112): new versions of a bucket with a replication
configuration queued as they are written, and the worker each ``serve`` runs that copies them.

- ``version_written`` / ``marker_written``: called by the S3 handlers once a write (PUT,
  CompleteMultipartUpload, CopyObject, POST) or a DELETE without ``versionId`` committed in a
  versioned source bucket. The rule the version falls under (``storage/replication.py``) names
  its destination; the task is queued and the version is PENDING. SSE-C versions are not
  replicated (S3 neither: the key is the customer's, never kept), nor are version deletes.
  Replicas are written by the worker, never through these hooks: a replica is never
  replicated again, so two buckets replicating to each other make no loop.
- ``run_once``: claim the due tasks whose two regions this gateway serves, copy each
  (``ObjectService.replicate_version``: streamed, re-encrypted under the destination's keys,
  the source's version id kept), and settle it: COMPLETED and REPLICA; retried after
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
from andromede.storage.model import Bucket, EncryptionMode, ObjectRecord, VersioningStatus
from andromede.storage.replication import ReplicationRule
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
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``regions``: those this gateway serves (None: every one)."""
        self._objects = objects
        self._queue = queue
        self._regions = None if regions is None else frozenset(regions)
        self._interval = interval
        self._batch = batch
        self._lease = timedelta(seconds=lease)
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._clock = clock

    # -- queueing -----------------------------------------------------------------------------
    async def version_written(self, bucket: Bucket, record: ObjectRecord) -> None:
        """Queue the new version ``record`` of ``bucket`` if a rule selects it."""
        if record.version_id is None or bucket.versioning is not VersioningStatus.ENABLED:
            return
        if record.encryption is EncryptionMode.SSE_C:
            return
        config = await self._objects.get_bucket_replication(bucket.name)
        if config is None:
            return
        rule = config.rule_for(record.key, record.headers.tags)
        if rule is not None:
            await self._enqueue(bucket, record.key, record.version_id, rule, marker=False)

    async def marker_written(self, bucket: Bucket, key: str, version_id: str | None) -> None:
        """Queue the new delete marker of ``key`` if its rule replicates markers."""
        if version_id is None or bucket.versioning is not VersioningStatus.ENABLED:
            return
        config = await self._objects.get_bucket_replication(bucket.name)
        rule = None if config is None else config.rule_for_marker(key)
        if rule is not None:
            await self._enqueue(bucket, key, version_id, rule, marker=True)

    async def status(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The version's ``x-amz-replication-status``, if it has one."""
        if version_id is None:
            return None
        return await self._queue.status(bucket, key, version_id)

    async def _enqueue(
        self, source: Bucket, key: str, version_id: str, rule: ReplicationRule, *, marker: bool
    ) -> None:
        try:
            region = (await self._objects.get_bucket(rule.destination_bucket)).region
        except NoSuchBucket:
            # Gone since the configuration was put: the source's gateways settle it (FAILED).
            region = source.region
        task = ReplicationTask(
            source_bucket=source.name,
            key=key,
            version_id=version_id,
            destination_bucket=rule.destination_bucket,
            rule_id=rule.rule_id,
            source_region=source.region,
            destination_region=region,
            delete_marker=marker,
        )
        await self._queue.enqueue([task], self._clock())

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
        await self._objects.replicate_version(source, task.destination_bucket)
