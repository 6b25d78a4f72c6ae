"""Deletes and listings of versioned buckets (decision 0097): delete markers, the removal of a
version for good, lifecycle's expiry of versions (decision 0099), the version listing.

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size. The read
of one version is the core's (:meth:`~andromede.storage.service_core.ServiceCore.get_version`).
"""

from __future__ import annotations

import dataclasses

from andromede.storage.errors import ObjectLocked
from andromede.storage.listing import VersionListing, page_versions
from andromede.storage.model import Bucket, ObjectRecord, VersioningStatus
from andromede.storage.notification import EventSource
from andromede.storage.service_core import ServiceCore, _events_of
from andromede.storage.versioning import NULL_VERSION_ID, DeleteMarker, RemovalCondition

__all__ = ["VersionsMixin"]


class VersionsMixin(ServiceCore):
    """Versioned deletes and listings (mixed into ObjectService)."""

    async def current_delete_marker(self, bucket: str, key: str) -> DeleteMarker | None:
        """The key's newest version when it is a delete marker (its GET answers 404 with it)."""
        return await self._store.get_current_delete_marker(bucket, key)

    async def delete_versioned(
        self,
        bucket: Bucket,
        key: str,
        version_id: str | None,
        *,
        owner_id: str,
        if_etag: str | None = None,
        bypass_governance: bool = False,
        replicated: bool = False,
        notify: EventSource | None = None,
    ) -> tuple[str | None, bool]:
        """A delete in a versioned bucket: without ``version_id``, a delete marker; with it,
        that version removed for good (nothing if there is none). Returns the version id to
        answer (None: the null version; of the marker made or the version removed) and
        whether it is a delete marker. ``if_etag`` (no ``version_id`` only): the marker is
        put only over a current object with that ETag (ObjectChanged otherwise). A version
        under retention or legal hold is not removed (ObjectLocked, decision 0102);
        ``bypass_governance``: a GOVERNANCE retention does not count. ``replicated``: a
        client's DELETE, whose marker the bucket's replication copies if a rule says so
        (decision 0112; a lifecycle's markers are not replicated, as on S3)."""
        if version_id is None:
            config = bucket.replication
            target = (
                config.target_for_marker(key, bucket.region)
                if replicated
                and config is not None
                and bucket.versioning is VersioningStatus.ENABLED
                else None
            )
            now = self._clock()
            marker_source = (
                None
                if notify is None
                # ObjectRemoved's, or a lifecycle expiry's LifecycleExpiration's.
                else dataclasses.replace(
                    notify,
                    event_name=notify.event_name.partition(":")[0] + ":DeleteMarkerCreated",
                )
            )
            written = await self._store.put_delete_marker(
                bucket.name,
                key,
                owner_id=owner_id,
                now=now,
                if_etag=if_etag,
                replication=target,
                notify=_events_of(bucket, marker_source, key, now, self._bound),
            )
            await self._queue_deletion(written.released)
            return written.version_id, True
        now = self._clock()
        removed = await self._store.delete_object_version(
            bucket.name,
            key,
            version_id,
            now=now,
            bypass_governance=bypass_governance,
            notify=_events_of(bucket, notify, key, now, self._bound),
        )
        if removed is None:
            return (None if version_id == NULL_VERSION_ID else version_id), False
        if isinstance(removed, DeleteMarker):
            return removed.version_id, True
        await self._queue_deletion(removed.segments)
        return removed.version_id, False

    async def expire_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        condition: RemovalCondition,
        *,
        notify: tuple[Bucket, EventSource] | None = None,
    ) -> bool:
        """Lifecycle's removal of a version or marker for good (decision 0099), only if
        ``condition`` still holds in the removal's transaction; whether it was removed. A
        version under retention or legal hold stays (decision 0102): lifecycle never bypasses
        a lock, as on AWS. ``notify``: the bucket as the pass read it and the expiry's event
        source, queued with the removal (decision 0132)."""
        now = self._clock()
        events = None if notify is None else _events_of(*notify, key, now, self._bound)
        try:
            removed = await self._store.delete_object_version(
                bucket, key, version_id, only_if=condition, now=now, notify=events
            )
        except ObjectLocked:
            return False
        if isinstance(removed, ObjectRecord):
            await self._queue_deletion(removed.segments)
        return removed is not None

    async def list_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        version_marker: str | None = None,
        max_keys: int = 1000,
    ) -> VersionListing:
        """A versioned bucket's versions and delete markers, by key then newest first."""
        return await page_versions(
            self._store,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_marker=version_marker,
            max_keys=max_keys,
        )
