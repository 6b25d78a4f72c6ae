"""The in-memory metadata store: the fast twin of ``store_sql.py`` for tests and benchmarks.

Same behaviour, checked by ``tests/contract/test_metadata_store.py``. Keys of each bucket are
kept in a list sorted by their UTF-8 encoding (S3's order) and searched with :mod:`bisect`.
Every method runs without awaiting, so each is atomic on the event loop.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from andromede.storage.access_logging import (
    LOGGING_DOCUMENT,
    MISSING_TARGET,
    REQUESTER_PAYS_TARGET,
    LoggingTarget,
)
from andromede.storage.acl import AccessControlList
from andromede.storage.cors import CorsConfiguration
from andromede.storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketIsLogTarget,
    BucketNotEmpty,
    BucketVersioned,
    InvalidBucketState,
    InvalidLogTarget,
    NoSuchBucket,
    NoSuchUpload,
    ObjectChanged,
)
from andromede.storage.model import (
    BUCKET_ACCESS_FIELDS,
    Bucket,
    BucketUsage,
    ExpectedObject,
    ListPage,
    MultipartUpload,
    ObjectRecord,
    ObjectSummary,
    Part,
    Segment,
    VersioningStatus,
)
from andromede.storage.notification import (
    NOTIFICATION_DOCUMENT,
    EventBatch,
    NotificationConfiguration,
)
from andromede.storage.object_lock import (
    LOCK_NEEDS_VERSIONING,
    VERSIONING_LOCKED,
    LockChange,
    ObjectLockConfiguration,
    check_removal,
)
from andromede.storage.replication import (
    REPLICATION_DOCUMENT,
    ReplicationConfiguration,
    ReplicationTarget,
)
from andromede.storage.replication_queue import MemoryReplicationQueue, ReplicationTask
from andromede.storage.versioning import (
    NULL_VERSION_ID,
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
    check_replica,
    next_version_id,
)

__all__ = ["MemoryMetadataStore"]


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


class MemoryMetadataStore:
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
        # Event notifications (decision 0132): (tenant, topic ARN, message) of each event,
        # appended in the step that commits its write, as the SQL store's transaction does.
        self.notification_outbox: list[tuple[str, str, str]] = []

    # -- buckets --------------------------------------------------------------------------
    async def create_bucket(self, bucket: Bucket) -> None:
        existing = self._buckets.get(bucket.name)
        if existing is not None:
            if existing.bucket.tenant_id == bucket.tenant_id:
                raise BucketAlreadyOwnedByYou(bucket.name)
            raise BucketAlreadyExists(bucket.name)
        self._buckets[bucket.name] = _BucketState(bucket)

    async def get_bucket(self, name: str) -> Bucket | None:
        state = self._buckets.get(name)
        return None if state is None else state.bucket

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        return sorted(
            (s.bucket for s in self._buckets.values() if s.bucket.tenant_id == tenant_id),
            key=lambda b: b.name,
        )

    async def all_buckets(self) -> list[Bucket]:
        return sorted(
            (s.bucket for s in self._buckets.values()), key=lambda b: (b.tenant_id, b.name)
        )

    async def usage_by_bucket(self) -> dict[str, BucketUsage]:
        usage = {}
        for name, state in self._buckets.items():
            noncurrent = [
                kept.version
                for versions in state.versions.values()
                for kept in versions
                if isinstance(kept.version, ObjectRecord)
            ]
            if state.objects or noncurrent:
                usage[name] = BucketUsage(
                    len(state.objects),
                    sum(r.size for r in state.objects.values()),
                    len(noncurrent),
                    sum(r.size for r in noncurrent),
                )
        return usage

    async def update_bucket_access(self, name: str, **changes: object) -> Bucket:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        unknown = set(changes) - BUCKET_ACCESS_FIELDS
        if unknown:
            raise ValueError(f"not bucket access fields: {sorted(unknown)}")
        state.bucket = dataclasses.replace(state.bucket, **changes)  # type: ignore[arg-type]
        return state.bucket

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        state.bucket = dataclasses.replace(state.bucket, data_reads_logged=logged)
        return state.bucket

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        state = self._state(name)
        owner, region = state.bucket.tenant_id, state.bucket.region
        # No await between the check and the change: nothing runs between them (0150).
        if requester_pays and any(
            LoggingTarget.from_text(text).bucket == name
            for _, text in await self.list_tenant_bucket_documents(owner, region, LOGGING_DOCUMENT)
        ):
            raise BucketIsLogTarget
        state.bucket = dataclasses.replace(state.bucket, requester_pays=requester_pays)
        return state.bucket

    async def put_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        self._state(name)
        if target is not None:
            found = self._buckets.get(target.bucket)
            if found is None:
                raise InvalidLogTarget(MISSING_TARGET)
            if found.bucket.requester_pays:
                raise InvalidLogTarget(REQUESTER_PAYS_TARGET)
        text = None if target is None else target.to_text()
        await self.put_bucket_document(name, LOGGING_DOCUMENT, text)

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        return self._state(name).tags

    async def put_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        self._state(name).tags = tags

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        return self._state(name).cors

    async def put_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        self._state(name).cors = cors

    async def get_bucket_document(self, name: str, kind: str) -> str | None:
        return self._state(name).documents.get(kind)

    async def put_bucket_document(self, name: str, kind: str, document: str | None) -> None:
        state = self._state(name)
        documents = state.documents
        if document is None:
            documents.pop(kind, None)
        else:
            documents[kind] = document
        if kind == NOTIFICATION_DOCUMENT:
            notification = (
                None if document is None else NotificationConfiguration.from_text(document)
            )
            state.bucket = dataclasses.replace(state.bucket, notification=notification)
        if kind == REPLICATION_DOCUMENT:
            # Read with the bucket, as the SQL store joins it (decision 0112).
            replication = None if document is None else ReplicationConfiguration.from_text(document)
            state.bucket = dataclasses.replace(state.bucket, replication=replication)

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        found = sorted(
            (name, state.documents[kind])
            for name, state in self._buckets.items()
            if kind in state.documents and (after is None or name > after)
        )
        return found[:limit]

    async def list_tenant_bucket_documents(
        self, tenant_id: str, region: str, kind: str
    ) -> list[tuple[str, str]]:
        return sorted(
            (name, state.documents[kind])
            for name, state in self._buckets.items()
            if state.bucket.tenant_id == tenant_id
            and state.bucket.region == region
            and kind in state.documents
        )

    async def delete_bucket(self, name: str) -> list[Part]:
        state = self._state(name)
        if state.keys or state.versions:
            raise BucketNotEmpty(name)
        dropped: list[Part] = []
        for upload_id in [u.upload_id for u in self._uploads.values() if u.bucket == name]:
            dropped.extend(self._drop_upload(upload_id))
        del self._buckets[name]
        return dropped

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

    def _with_status(self, record: ObjectRecord | None) -> ObjectRecord | None:
        """``record`` with its version's replication status, as the SQL store reads it with
        the row (decision 0112)."""
        if record is None or record.version_id is None:
            return record
        status = self.replication_queue.status_now(record.bucket, record.key, record.version_id)
        if status is None:
            return record
        return dataclasses.replace(record, replication_status=status)

    async def get_bucket_and_object(
        self, bucket: str, key: str
    ) -> tuple[Bucket | None, ObjectRecord | None]:
        state = self._buckets.get(bucket)
        if state is None:
            return None, None
        return state.bucket, self._with_status(state.objects.get(key.encode()))

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

    # -- versioned buckets (decision 0097) ----------------------------------------------------
    async def set_bucket_versioning(self, name: str, status: VersioningStatus) -> None:
        # Checked and written with no await between: one step, as the SQL statement is.
        state = self._state(name)
        if state.bucket.object_lock is not None and status is not VersioningStatus.ENABLED:
            raise InvalidBucketState(VERSIONING_LOCKED)
        state.bucket = dataclasses.replace(state.bucket, versioning=status)

    async def set_bucket_object_lock(self, name: str, config: ObjectLockConfiguration) -> Bucket:
        state = self._state(name)
        bucket = state.bucket
        if bucket.object_lock is None and bucket.versioning is not VersioningStatus.ENABLED:
            raise InvalidBucketState(LOCK_NEEDS_VERSIONING)
        state.bucket = dataclasses.replace(bucket, object_lock=config)
        return state.bucket

    async def put_object_version(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> VersionedWrite:
        state = self._state(record.bucket)
        if not record.stored_in(state.bucket.region):
            raise NoSuchBucket(record.bucket)
        status = _status(state)
        encoded = record.key.encode()
        current = state.objects.get(encoded)
        if expected is not None and not expected.holds_for(current):
            raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
        if record.version_id is not None:
            kept = state.versions.get(encoded, [])
            newest_kept = next((k.sort_id for k in kept), None)
            if check_replica(
                record.version_id,
                status,
                None if current is None else current.version_id,
                newest_kept,
                present=_find(state, encoded, record.version_id) is not None,
            ):
                # Older than the key's newest: among the noncurrent versions, at its place.
                _insert_kept(state, encoded, _Kept(record.version_id, False, record))
                self._queue_events(notify, record.version_id)
                return VersionedWrite(record.version_id, ())
        newest, released = _make_room(state, status, encoded)
        version_id = (
            None
            if status is VersioningStatus.SUSPENDED
            else record.version_id or next_version_id(record.last_modified, newest)
        )
        if encoded not in state.objects:
            bisect.insort(state.keys, encoded)
        state.objects[encoded] = dataclasses.replace(record, version_id=version_id)
        if replication is not None and version_id is not None:
            self._queue_replication(
                replication, record.bucket, record.key, version_id, record.last_modified
            )
        self._queue_events(notify, version_id)
        return VersionedWrite(version_id, tuple(released))

    async def put_delete_marker(
        self,
        bucket: str,
        key: str,
        *,
        owner_id: str,
        now: datetime,
        if_etag: str | None = None,
        version_id: str | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> VersionedWrite:
        state = self._state(bucket)
        status = _status(state)
        encoded = key.encode()
        if if_etag is not None:
            current = state.objects.get(encoded)
            if current is None or current.etag != if_etag:
                raise ObjectChanged(f"{key} is not the object the condition was checked on")
        if version_id is not None:
            current = state.objects.get(encoded)
            if check_replica(
                version_id,
                status,
                None if current is None else current.version_id,
                next((k.sort_id for k in state.versions.get(encoded, [])), None),
                present=_find(state, encoded, version_id) is not None,
            ):
                older = DeleteMarker(bucket, key, version_id, now, owner_id)
                _insert_kept(state, encoded, _Kept(version_id, False, older))
                self._queue_events(notify, version_id)
                return VersionedWrite(version_id, ())
        newest, released = _make_room(state, status, encoded)
        sort_id = version_id or next_version_id(now, newest)
        suspended = status is VersioningStatus.SUSPENDED
        marker = DeleteMarker(bucket, key, None if suspended else sort_id, now, owner_id)
        state.versions.setdefault(encoded, []).insert(0, _Kept(sort_id, suspended, marker))
        if replication is not None and not suspended:
            self._queue_replication(replication, bucket, key, sort_id, now)
        self._queue_events(notify, marker.version_id)
        return VersionedWrite(marker.version_id, tuple(released))

    def _queue_events(self, batch: EventBatch | None, version_id: str | None) -> None:
        """A write's events, in the step that commits it (decision 0132), as far as each
        tenant's bound allows."""
        if batch is None:
            return
        for event in batch.events:
            waiting = sum(1 for queued in self.notification_outbox if queued[0] == event.tenant_id)
            if waiting < batch.bound:
                self.notification_outbox.append(
                    (event.tenant_id, event.topic_arn, event.message(version_id))
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

    async def get_object_version(
        self, bucket: str, key: str, version_id: str
    ) -> ObjectRecord | DeleteMarker | None:
        state = self._buckets.get(bucket)
        if state is None:
            return None
        encoded = key.encode()
        current = state.objects.get(encoded)
        if current is not None and (current.version_id or NULL_VERSION_ID) == version_id:
            return self._with_status(current)
        kept = _find(state, encoded, version_id)
        if kept is None:
            return None
        found = kept.version
        return found if isinstance(found, DeleteMarker) else self._with_status(found)

    async def get_current_delete_marker(self, bucket: str, key: str) -> DeleteMarker | None:
        state = self._buckets.get(bucket)
        encoded = key.encode()
        if state is None or encoded in state.objects or not state.versions.get(encoded):
            return None
        newest = state.versions[encoded][0].version
        return newest if isinstance(newest, DeleteMarker) else None

    async def delete_object_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        *,
        only_if: RemovalCondition | None = None,
        now: datetime | None = None,
        bypass_governance: bool = False,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        # No await between the removal and its events: one step, as the SQL transaction.
        removed = self._delete_version(bucket, key, version_id, only_if, now, bypass_governance)
        if removed is not None:
            self._queue_events(notify, removed.version_id)
        return removed

    def _delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        only_if: RemovalCondition | None,
        now: datetime | None,
        bypass_governance: bool,
    ) -> ObjectRecord | DeleteMarker | None:
        state = self._state(bucket)
        encoded = key.encode()
        current = state.objects.get(encoded)
        moment = now or datetime.now(UTC)
        if current is not None and (current.version_id or NULL_VERSION_ID) == version_id:
            if only_if is not None:
                return None  # the current object is neither noncurrent nor a marker
            check_removal(current.lock, moment, bypass_governance=bypass_governance)
            del state.objects[encoded]
            del state.keys[bisect.bisect_left(state.keys, encoded)]
            _promote(state, encoded)
            return current
        kept = _find(state, encoded, version_id)
        if kept is None:
            return None
        if only_if is not None and not _holds(only_if, state, encoded, kept):
            return None
        if isinstance(kept.version, ObjectRecord):
            check_removal(kept.version.lock, moment, bypass_governance=bypass_governance)
        _forget(state, encoded, kept)
        _promote(state, encoded)
        return kept.version

    async def replace_version_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        state = self._buckets.get(expected.bucket)
        if state is None:
            return False
        encoded = expected.key.encode()
        wanted = expected.version_id or NULL_VERSION_ID
        current = state.objects.get(encoded)
        if current is not None and (current.version_id or NULL_VERSION_ID) == wanted:
            return await self.replace_object_headers(
                expected, record, replication=replication, notify=notify
            )
        kept = _find(state, encoded, wanted)
        if kept is None or not isinstance(kept.version, ObjectRecord):
            return False
        if kept.version.segments != expected.segments:
            return False
        kept.version = dataclasses.replace(
            kept.version, headers=record.headers, sealed_headers=record.sealed_headers
        )
        self._queue_sync(replication, expected.bucket, expected.key, expected.version_id)
        self._queue_events(notify, expected.version_id)
        return True

    async def set_version_acl(
        self,
        bucket: str,
        key: str,
        version_id: str,
        acl: AccessControlList | None,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        state = self._buckets.get(bucket)
        if state is None:
            return None
        encoded = key.encode()
        current = state.objects.get(encoded)
        if current is not None and (current.version_id or NULL_VERSION_ID) == version_id:
            changed = await self.set_object_acl(bucket, key, acl, notify=notify)
            self._queue_sync(replication, bucket, key, version_id)
            return changed
        kept = _find(state, encoded, version_id)
        if kept is None:
            return None
        if isinstance(kept.version, ObjectRecord):
            kept.version = dataclasses.replace(kept.version, acl=acl)
            self._queue_sync(replication, bucket, key, version_id)
            self._queue_events(notify, kept.version.version_id)
        return kept.version

    async def update_version_lock(
        self,
        bucket: str,
        key: str,
        version_id: str,
        change: LockChange,
        now: datetime,
        *,
        replication: ReplicationTarget | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        state = self._buckets.get(bucket)
        if state is None:
            return None
        encoded = key.encode()
        current = state.objects.get(encoded)
        if current is not None and (current.version_id or NULL_VERSION_ID) == version_id:
            updated = dataclasses.replace(current, lock=change.apply(current.lock, now))
            state.objects[encoded] = updated
            self._queue_sync(replication, bucket, key, version_id, now)
            return updated
        kept = _find(state, encoded, version_id)
        if kept is None:
            return None
        if isinstance(kept.version, ObjectRecord):
            version = kept.version
            kept.version = dataclasses.replace(version, lock=change.apply(version.lock, now))
            self._queue_sync(replication, bucket, key, version_id, now)
        return kept.version

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_version: str | None,
        limit: int,
    ) -> ListPage[VersionEntry]:
        state = self._buckets.get(bucket)
        if state is None:
            return ListPage((), False)
        encoded_prefix = prefix.encode()
        marker: tuple[bytes, str] | None = None
        if after_key is not None:
            after = after_key.encode()
            sort = after_version
            if sort == NULL_VERSION_ID:
                null = _find(state, after, NULL_VERSION_ID)
                sort = "" if null is None else null.sort_id  # "": the current one
            marker = (after, "\U0010ffff" * 2 if sort is None else sort)
        entries: list[tuple[bytes, str, VersionEntry]] = []
        for encoded in sorted(set(state.keys) | set(state.versions)):
            if not encoded.startswith(encoded_prefix):
                continue
            current = state.objects.get(encoded)
            kept = state.versions.get(encoded, [])
            if current is not None:
                sort = current.version_id or ""
                entries.append(
                    (encoded, sort, VersionEntry.of_record(current, sort, is_latest=True))
                )
            for index, entry in enumerate(kept):
                version = entry.version
                latest = current is None and index == 0
                entries.append(
                    (
                        encoded,
                        entry.sort_id,
                        VersionEntry.of_marker(version, entry.sort_id, is_latest=latest)
                        if isinstance(version, DeleteMarker)
                        else VersionEntry.of_record(version, entry.sort_id, is_latest=False),
                    )
                )
        if marker is not None:
            entries = [e for e in entries if (e[0], e[1]) > marker]
        page = [entry for _, _, entry in entries[: limit + 1]]
        return ListPage(tuple(page[:limit]), len(page) > limit)

    # -- multipart uploads ------------------------------------------------------------------
    async def create_upload(self, upload: MultipartUpload) -> None:
        self._state(upload.bucket)
        self._uploads[upload.upload_id] = upload
        self._parts[upload.upload_id] = {}

    async def get_upload(self, bucket: str, upload_id: str) -> MultipartUpload | None:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.bucket != bucket:
            return None
        return upload

    async def put_part(self, part: Part) -> Part | None:
        parts = self._parts.get(part.upload_id)
        if parts is None:
            raise NoSuchUpload(part.upload_id)
        replaced = parts.get(part.part_number)
        parts[part.part_number] = part
        return replaced

    async def list_parts(self, upload_id: str, *, after_part: int, limit: int) -> ListPage[Part]:
        parts = self._parts.get(upload_id, {})
        numbers = sorted(n for n in parts if n > after_part)
        return ListPage(tuple(parts[n] for n in numbers[:limit]), len(numbers) > limit)

    async def get_parts(self, upload_id: str, part_numbers: Sequence[int]) -> list[Part]:
        parts = self._parts.get(upload_id, {})
        return [parts[n] for n in sorted(set(part_numbers)) if n in parts]

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_upload_id: str | None,
        limit: int,
    ) -> ListPage[MultipartUpload]:
        def order(u: MultipartUpload) -> tuple[bytes, datetime, str]:
            return (u.key.encode(), u.initiated, u.upload_id)

        candidates = sorted(
            (u for u in self._uploads.values() if u.bucket == bucket and u.key.startswith(prefix)),
            key=order,
        )
        if after_key is not None:
            marker = self._uploads.get(after_upload_id) if after_upload_id is not None else None
            if marker is not None and marker.bucket == bucket and marker.key == after_key:
                bound = order(marker)
                candidates = [u for u in candidates if order(u) > bound]
            else:
                encoded = after_key.encode()
                candidates = [u for u in candidates if u.key.encode() > encoded]
        return ListPage(tuple(candidates[:limit]), len(candidates) > limit)

    async def complete_upload(
        self,
        upload_id: str,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> tuple[ObjectRecord | VersionedWrite | None, list[Part]]:
        if upload_id not in self._uploads:
            raise NoSuchUpload(upload_id)
        state = self._state(record.bucket)
        if expected is not None and not expected.holds_for(state.objects.get(record.key.encode())):
            raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
        used = {s.blob_id for s in record.segments}
        unused = [p for p in self._drop_upload(upload_id) if p.blob_id not in used]
        if state.bucket.versioning is not None:
            written = await self.put_object_version(record, replication=replication, notify=notify)
            return written, unused
        replaced = await self.put_object(record, notify=notify)
        return replaced, unused

    async def abort_upload(self, upload_id: str) -> list[Part]:
        if upload_id not in self._uploads:
            raise NoSuchUpload(upload_id)
        return self._drop_upload(upload_id)

    # -- housekeeping -----------------------------------------------------------------------
    async def queue_blob_deletion(
        self, blob_ids: Iterable[str], not_before: datetime, *, region: str | None = None
    ) -> None:
        for blob_id in blob_ids:
            self._deletion_seq += 1
            bisect.insort(self._deletions, (not_before, self._deletion_seq, blob_id, region))

    async def take_due_blob_deletions(
        self, now: datetime, limit: int, *, regions: Collection[str | None] | None = None
    ) -> list[str]:
        taken: list[str] = []
        kept: list[tuple[datetime, int, str, str | None]] = []
        for entry in self._deletions:
            due, _, blob_id, region = entry
            if due <= now and len(taken) < limit and (regions is None or region in regions):
                taken.append(blob_id)
            else:
                kept.append(entry)
        self._deletions = kept
        return taken

    async def referenced_blob_ids(self, candidates: Iterable[str]) -> set[str]:
        wanted = set(candidates)
        found: set[str] = set()
        for state in self._buckets.values():
            for record in state.objects.values():
                found.update(
                    s.blob_id for s in record.segments if s.inline is None and s.blob_id in wanted
                )
            for kept in state.versions.values():
                for entry in kept:
                    if isinstance(entry.version, ObjectRecord):
                        found.update(
                            s.blob_id
                            for s in entry.version.segments
                            if s.inline is None and s.blob_id in wanted
                        )
        for parts in self._parts.values():
            found.update(p.blob_id for p in parts.values() if p.blob_id in wanted)
        found.update(entry[2] for entry in self._deletions if entry[2] in wanted)
        return found

    # -- internals --------------------------------------------------------------------------
    def _state(self, name: str) -> _BucketState:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        return state

    def _drop_upload(self, upload_id: str) -> list[Part]:
        del self._uploads[upload_id]
        parts = self._parts.pop(upload_id, {})
        return [parts[n] for n in sorted(parts)]


# -- versioned buckets' rules, as store_sql_versions.py keeps them ----------------------------


def _status(state: _BucketState) -> VersioningStatus:
    if state.bucket.versioning is None:
        raise ValueError(f"bucket {state.bucket.name} is not versioned")
    return state.bucket.versioning


def _insert_kept(state: _BucketState, encoded: bytes, kept: _Kept) -> None:
    """``kept`` among the key's versions at its place (newest first: ids ascending)."""
    versions = state.versions.setdefault(encoded, [])
    place = bisect.bisect_left([k.sort_id for k in versions], kept.sort_id)
    versions.insert(place, kept)


def _find(state: _BucketState, encoded: bytes, version_id: str) -> _Kept | None:
    for kept in state.versions.get(encoded, []):
        if (kept.is_null and version_id == NULL_VERSION_ID) or (
            not kept.is_null and kept.sort_id == version_id
        ):
            return kept
    return None


def _holds(condition: RemovalCondition, state: _BucketState, encoded: bytes, kept: _Kept) -> bool:
    """Whether ``kept``, one of the key's ``object_versions`` twin, may go under ``condition``."""
    versions = state.versions[encoded]
    if condition is RemovalCondition.NONCURRENT:
        return encoded in state.objects or versions[0] is not kept
    return (
        isinstance(kept.version, DeleteMarker)
        and encoded not in state.objects
        and versions == [kept]
    )


def _forget(state: _BucketState, encoded: bytes, kept: _Kept) -> None:
    versions = state.versions[encoded]
    versions.remove(kept)
    if not versions:
        del state.versions[encoded]


def _promote(state: _BucketState, encoded: bytes) -> None:
    """A newest version that is an object becomes the current object again."""
    versions = state.versions.get(encoded)
    if encoded in state.objects or not versions:
        return
    newest = versions[0]
    if isinstance(newest.version, DeleteMarker):
        return
    _forget(state, encoded, newest)
    bisect.insort(state.keys, encoded)
    state.objects[encoded] = newest.version


def _make_room(
    state: _BucketState, status: VersioningStatus, encoded: bytes
) -> tuple[str | None, list[Segment]]:
    """As store_sql_versions._make_room: keep or release the current object (and, Suspended,
    the noncurrent null version); the newest id the key then keeps, and what was released."""
    released: list[Segment] = []
    current = state.objects.get(encoded)
    versions = state.versions.setdefault(encoded, [])
    if current is not None:
        del state.objects[encoded]
        del state.keys[bisect.bisect_left(state.keys, encoded)]
        if current.version_id is None and status is VersioningStatus.SUSPENDED:
            released.extend(current.segments)
        else:
            sort_id = current.version_id or next_version_id(
                current.last_modified, versions[0].sort_id if versions else None
            )
            versions.insert(0, _Kept(sort_id, current.version_id is None, current))
    if status is VersioningStatus.SUSPENDED:
        null = next((k for k in versions if k.is_null), None)
        if null is not None:
            versions.remove(null)
            if isinstance(null.version, ObjectRecord):
                released.extend(null.version.segments)
    if not versions:
        del state.versions[encoded]
        return None, released
    return versions[0].sort_id, released
