"""The in-memory metadata store's shared state and the current objects every part writes
through: :class:`MemoryStoreCore`, the base of ``store_memory``'s mixins.

It holds the buckets (each a :class:`_BucketState`: its keys sorted by their UTF-8 encoding and
searched with :mod:`bisect`, its objects, its documents and, versioned, its noncurrent versions),
the uploads and their parts, the blob deletion queue, and the queues a write fills in the step
that commits it (replication tasks, notification events). The current objects' reads and writes
are here too, since a versioned write on a key's current version and a completed upload end in
them. Split off from ``store_memory.py`` for size only.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

from andromede.storage.acl import AccessControlList
from andromede.storage.cors import CorsConfiguration
from andromede.storage.errors import BucketVersioned, NoSuchBucket, ObjectChanged
from andromede.storage.model import (
    Bucket,
    ExpectedObject,
    ListPage,
    MultipartUpload,
    ObjectRecord,
    ObjectSummary,
    Part,
    PublicAccessBlock,
)
from andromede.storage.notification import EventBatch
from andromede.storage.replication import ReplicationTarget
from andromede.storage.replication_queue import MemoryReplicationQueue, ReplicationTask
from andromede.storage.versioning import DeleteMarker

__all__ = ["MemoryStoreCore"]


@dataclass(slots=True)
class _BucketState:
    bucket: Bucket
    keys: list[bytes] = field(default_factory=list)  # sorted UTF-8 encodings
    objects: dict[bytes, ObjectRecord] = field(default_factory=dict)
    tags: tuple[tuple[str, str], ...] | None = None
    cors: CorsConfiguration | None = None
    documents: dict[str, str] = field(default_factory=dict)
    # Versioned buckets (decision 0097): each key's noncurrent versions and delete markers,
    # newest first, as (sort id, null version?, version).
    versions: dict[bytes, list[_Kept]] = field(default_factory=dict)


@dataclass(slots=True)
class _Kept:
    sort_id: str
    is_null: bool
    version: ObjectRecord | DeleteMarker


class MemoryStoreCore:
    """The in-memory store's state, the steps its parts share, and its current objects."""

    def __init__(self) -> None:
        self._buckets: dict[str, _BucketState] = {}
        self._uploads: dict[str, MultipartUpload] = {}
        self._parts: dict[str, dict[int, Part]] = {}
        self._deletions: list[tuple[datetime, int, str, str | None]] = []
        self._deletion_seq = 0
        # Bucket replication's queue (decision 0112): the store writes a version's task in the
        # step that commits the version, as the SQL store does in its transaction; the
        # replicator reads and settles it through the same object.
        self.replication_queue = MemoryReplicationQueue()
        # Event notifications (decision 0132): (tenant, topic ARN, message, trace) of each event,
        # appended in the step that commits its write, as the SQL store's transaction does.
        self.notification_outbox: list[tuple[str, str, str, str | None]] = []
        # Account-level Block Public Access by tenant (S3 Control, decision 0152).
        self._account_blocks: dict[str, PublicAccessBlock] = {}

    # -- internals --------------------------------------------------------------------------
    def _with_account(self, bucket: Bucket) -> Bucket:
        """The bucket with its account's Block Public Access, as the SQL store joins it."""
        block = self._account_blocks.get(bucket.tenant_id)
        if block is None:
            return bucket
        return dataclasses.replace(bucket, account_public_access_block=block)

    def _state(self, name: str) -> _BucketState:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        return state

    def _drop_upload(self, upload_id: str) -> list[Part]:
        del self._uploads[upload_id]
        parts = self._parts.pop(upload_id, {})
        return [parts[n] for n in sorted(parts)]

    def _with_status(self, record: ObjectRecord | None) -> ObjectRecord | None:
        """``record`` with its version's replication status, as the SQL store reads it with
        the row (decision 0112)."""
        if record is None or record.version_id is None:
            return record
        status = self.replication_queue.status_now(record.bucket, record.key, record.version_id)
        if status is None:
            return record
        return dataclasses.replace(record, replication_status=status)

    def _queue_events(self, batch: EventBatch | None, version_id: str | None) -> None:
        """A write's events, in the step that commits it (decision 0132), as far as each
        tenant's bound allows."""
        if batch is None:
            return
        for event in batch.events:
            waiting = sum(1 for queued in self.notification_outbox if queued[0] == event.tenant_id)
            if waiting < batch.bound:
                self.notification_outbox.append(
                    (event.tenant_id, event.topic_arn, event.message(version_id), batch.trace)
                )

    def _queue_replication(
        self, target: ReplicationTarget, bucket: str, key: str, version_id: str, now: datetime
    ) -> None:
        """The copy queued in the step that commits the version, with no await between (the
        SQL store's transaction, decision 0112)."""
        destination = self._buckets.get(target.destination_bucket)
        region = None if destination is None else destination.bucket.region
        task = ReplicationTask.of_version(target, bucket, key, version_id, region)
        self.replication_queue.add(task, now, target.queued_status)

    def _queue_sync(
        self,
        target: ReplicationTarget | None,
        bucket: str,
        key: str,
        version_id: str | None,
        now: datetime | None = None,
    ) -> None:
        """A version's metadata change queued for its replica in the step that makes it
        (decision 0112, increment 6)."""
        if target is not None and version_id is not None:
            self._queue_replication(target, bucket, key, version_id, now or datetime.now(UTC))

    # -- objects --------------------------------------------------------------------------
    async def put_object(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        state = self._state(record.bucket)
        if not record.stored_in(state.bucket.region):
            raise NoSuchBucket(record.bucket)
        if state.bucket.versioning is not None:
            raise BucketVersioned(record.bucket)
        encoded = record.key.encode()
        replaced = state.objects.get(encoded)
        if expected is not None and not expected.holds_for(replaced):
            raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
        if replaced is None:
            bisect.insort(state.keys, encoded)
        state.objects[encoded] = record
        self._queue_events(notify, None)
        return replaced

    async def replace_object_segments(self, expected: ObjectRecord, record: ObjectRecord) -> bool:
        state = self._buckets.get(record.bucket)
        current = None if state is None else state.objects.get(record.key.encode())
        if state is None or current is None or current.segments != expected.segments:
            return False
        state.objects[record.key.encode()] = record
        return True

    async def replace_object_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        state = self._buckets.get(record.bucket)
        current = None if state is None else state.objects.get(record.key.encode())
        if state is None or current is None or current.segments != expected.segments:
            return False
        state.objects[record.key.encode()] = dataclasses.replace(
            current, headers=record.headers, sealed_headers=record.sealed_headers
        )
        self._queue_sync(replication, record.bucket, record.key, expected.version_id)
        self._queue_events(notify, expected.version_id)
        return True

    async def legacy_objects(
        self, after: tuple[str, str] | None, limit: int, format_version: int
    ) -> list[ObjectRecord]:
        found = sorted(
            (name, record.key.encode(), record)
            for name, state in self._buckets.items()
            for record in state.objects.values()
            if record.format_version < format_version
        )
        marker = None if after is None else (after[0], after[1].encode())
        return [r for n, k, r in found if marker is None or (n, k) > marker][:limit]

    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        state = self._buckets.get(bucket)
        return None if state is None else self._with_status(state.objects.get(key.encode()))

    async def get_bucket_and_object(
        self, bucket: str, key: str
    ) -> tuple[Bucket | None, ObjectRecord | None]:
        state = self._buckets.get(bucket)
        if state is None:
            return None, None
        found = self._with_account(state.bucket)
        return found, self._with_status(state.objects.get(key.encode()))

    async def set_object_acl(
        self,
        bucket: str,
        key: str,
        acl: AccessControlList | None,
        *,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        state = self._buckets.get(bucket)
        encoded = key.encode()
        if state is None or encoded not in state.objects:
            return None
        record = dataclasses.replace(state.objects[encoded], acl=acl)
        state.objects[encoded] = record
        self._queue_events(notify, record.version_id)
        return record

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        if_etag: str | None = None,
        if_last_modified: datetime | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        state = self._buckets.get(bucket)
        if state is None:
            return None
        encoded = key.encode()
        if if_etag is not None:
            current = state.objects.get(encoded)
            if (
                current is None
                or current.etag != if_etag
                or (if_last_modified is not None and current.last_modified != if_last_modified)
            ):
                raise ObjectChanged(f"{key} is not the object the condition was checked on")
        record = state.objects.pop(encoded, None)
        if record is not None:
            del state.keys[bisect.bisect_left(state.keys, encoded)]
            self._queue_events(notify, None)
        return record

    async def list_objects(
        self, bucket: str, *, prefix: str, after: str | None, limit: int
    ) -> ListPage[ObjectSummary]:
        state = self._buckets.get(bucket)
        if state is None:
            return ListPage((), False)
        encoded_prefix = prefix.encode()
        start = bisect.bisect_left(state.keys, encoded_prefix)
        if after is not None:
            start = max(start, bisect.bisect_right(state.keys, after.encode()))
        items: list[ObjectSummary] = []
        for encoded in state.keys[start:]:  # copies the tail; fine for the twin
            if not encoded.startswith(encoded_prefix):
                return ListPage(tuple(items), False)
            if len(items) == limit:
                return ListPage(tuple(items), True)
            items.append(state.objects[encoded].summary)
        return ListPage(tuple(items), False)
