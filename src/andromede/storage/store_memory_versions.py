"""The in-memory metadata store's versioned buckets (decision 0097): versioning and Object Lock
settings, versioned writes and delete markers, reads, deletes and changes of one version, and
ListObjectVersions; then the rules that keep each key's noncurrent versions, as
``store_sql_versions`` keeps them.

Each key's noncurrent versions and delete markers are a list newest first of :class:`_Kept`
(sort id, null version?, version) in its bucket's :class:`_BucketState`. Mixed into
:class:`~andromede.storage.store_memory.MemoryMetadataStore`; split off only for size.
"""

from __future__ import annotations

import bisect
import dataclasses
from datetime import UTC, datetime

from andromede.storage.acl import AccessControlList
from andromede.storage.errors import InvalidBucketState, NoSuchBucket, ObjectChanged
from andromede.storage.model import (
    Bucket,
    ExpectedObject,
    ListPage,
    ObjectRecord,
    Segment,
    VersioningStatus,
)
from andromede.storage.notification import EventBatch
from andromede.storage.object_lock import (
    LOCK_NEEDS_VERSIONING,
    VERSIONING_LOCKED,
    LockChange,
    ObjectLockConfiguration,
    check_removal,
)
from andromede.storage.replication import ReplicationTarget
from andromede.storage.store_memory_core import MemoryStoreCore, _BucketState, _Kept
from andromede.storage.versioning import (
    NULL_VERSION_ID,
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
    check_replica,
    next_version_id,
)

__all__ = ["MemoryVersionsMixin"]


class MemoryVersionsMixin(MemoryStoreCore):
    """Versioned buckets (mixed into MemoryMetadataStore)."""

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
