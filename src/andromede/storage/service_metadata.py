"""Changes to an object's or version's metadata that leave its bytes alone: ACL, tags, Object
Lock retention and legal hold, and where such a change is replicated (decisions 0112, 0127),
including the sync of a replica's metadata with its source's.

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size.
"""

from __future__ import annotations

import dataclasses

from andromede.storage.acl import AccessControlList
from andromede.storage.errors import (
    DeleteMarkerFound,
    NoSuchKey,
    NoSuchVersion,
    ObjectChanged,
    ObjectLocked,
)
from andromede.storage.model import Bucket, ObjectRecord, VersioningStatus
from andromede.storage.notification import EventSource
from andromede.storage.object_lock import LockChange, ObjectLock
from andromede.storage.replication import ReplicationStatus, ReplicationTarget
from andromede.storage.sealed_blobs import stored_form
from andromede.storage.service_core import ServiceCore, _events_of, _replication_target, replica_acl
from andromede.storage.versioning import DeleteMarker

__all__ = ["MetadataMixin"]

# How often a tagging retries when the object is replaced under it before giving up with 409
# ConditionalRequestConflict (each retry means another client wrote the key meanwhile).
_TAGGING_ATTEMPTS = 3


class MetadataMixin(ServiceCore):
    """ACL, tags and lock of an object or version (mixed into ObjectService)."""

    async def set_object_acl(
        self,
        bucket: str,
        key: str,
        acl: AccessControlList | None,
        *,
        version_id: str | None = None,
        read: ObjectRecord | None = None,
        notify: tuple[Bucket, EventSource] | None = None,
    ) -> ObjectRecord:
        """NoSuchBucket, NoSuchKey. ``version_id`` (a versioned bucket): that version's ACL,
        current or not (NoSuchVersion; DeleteMarkerFound: a marker has none). ``read``: the
        version as the caller read it, whose replication status says whether the change
        goes to its replica, or back to its source (decision 0127); such a change is made
        on that version, by its id, with its task in the same transaction. ``notify``: the
        bucket as read for the request and the request, for ``ObjectAcl:Put``, queued with
        the change; none when the ACL is the one ``read`` had (S3 sends none when nothing
        changed)."""
        target = None if read is None else await self._metadata_target(bucket, read, read)
        if target is not None and read is not None and read.version_id is not None:
            version_id = read.version_id
        events = (
            None
            if notify is None or (read is not None and read.acl == acl)
            else _events_of(notify[0], notify[1], key, self._clock(), self._bound, read)
        )
        if version_id is not None:
            found = await self._store.set_version_acl(
                bucket, key, version_id, acl, replication=target, notify=events
            )
            if isinstance(found, DeleteMarker):
                raise DeleteMarkerFound(found)
            if found is None:
                await self.get_version(bucket, key, version_id)  # its own error
                raise NoSuchVersion(version_id)
            return await self._open_record(found)
        record = await self._store.set_object_acl(bucket, key, acl, notify=events)
        if record is None:
            await self.get_bucket(bucket)
            raise NoSuchKey(key)
        return await self._open_record(record)

    async def set_object_tags(
        self,
        bucket: str,
        key: str,
        tags: tuple[tuple[str, str], ...],
        *,
        version_id: str | None = None,
        replicated: bool = False,
        notify: tuple[Bucket, EventSource] | None = None,
    ) -> ObjectRecord:
        """Replace the object's tag set (empty: remove it), resealed with its headers; the
        object's bytes, ETag and Last-Modified stay as they are, as on S3. NoSuchBucket,
        NoSuchKey. A write of the key that lands between the read and the update wins, and the
        tags go to the object it wrote (tried again: tags never land on a replaced record).
        ``version_id`` (a versioned bucket): that version's tags, current or not, with
        :meth:`get_version`'s errors. ``replicated``: the change is replication's own (a
        replica synced, or a replica's change brought back), never queued again.
        ``notify``: the bucket as read for the request and the request (``ObjectTagging:Put``
        or ``:Delete``), whose events are queued with the update that lands (decision 0132)."""
        for _ in range(_TAGGING_ATTEMPTS):
            if version_id is not None:
                record = await self.get_version(bucket, key, version_id)
            else:
                record = await self.head_object(bucket, key)
            headers = record.headers.with_tags(tags)
            sealed = record.sealed_headers
            if sealed is not None:
                sealed = await self._sealed.reseal_headers(sealed, bucket, key, headers)
            changed = record.rebuilt(headers, None, None, record.format_version)
            stored = stored_form(dataclasses.replace(changed, sealed_headers=sealed))
            target = None if replicated else await self._metadata_target(bucket, record, changed)
            events = (
                None
                if notify is None
                # The tags the change leaves, which ObjectTagging's filters are about.
                else _events_of(notify[0], notify[1], key, self._clock(), self._bound, changed)
            )
            if version_id is not None:
                if await self._store.replace_version_headers(
                    record, stored, replication=target, notify=events
                ):
                    return changed
            elif await self._store.replace_object_headers(
                record, stored, replication=target, notify=events
            ):
                return changed
        raise ObjectChanged(f"{key} kept changing while its tags were being set")

    async def set_version_lock(
        self,
        bucket: str,
        key: str,
        version_id: str,
        change: LockChange,
        *,
        read: ObjectRecord | None = None,
    ) -> ObjectRecord | DeleteMarker:
        """PutObjectRetention / PutObjectLegalHold on one version ("null": the null one):
        the version as it now is. NoSuchVersion; ObjectLocked when the change would weaken a
        retention it may not (checked against the version as stored, in the write).
        ``read``: the version as the caller read it, whose replication status says whether
        the change goes to its replica too (increment 6 of decision 0112)."""
        target = None if read is None else await self._metadata_target(bucket, read, read)
        changed = await self._store.update_version_lock(
            bucket, key, version_id, change, self._clock(), replication=target
        )
        if changed is None:
            raise NoSuchVersion(version_id)
        return changed

    async def _metadata_target(
        self, bucket: str, before: ObjectRecord, after: ObjectRecord
    ) -> ReplicationTarget | None:
        """Where a change of a version's tags, ACL or lock made by a client goes (decision
        0112, increment 6): to its replica, when the version was queued for copying
        (PENDING) or copied (COMPLETED) and a rule of the bucket's configuration still
        selects it as it will be (``after``: its new tags). A replica's own change goes back
        to the version it came from only when a rule of its bucket with
        ``ReplicaModifications`` Enabled selects it (decision 0127), and nowhere otherwise;
        a change made *by* replication is never queued (its callers pass no target), so two
        buckets replicating to each other make no loop. A version never replicated is not
        copied because its tags changed, as on S3. Reads the bucket only for such a
        version."""
        status = before.replication_status
        if ReplicationStatus.is_replica(status):
            found = await self.get_bucket(bucket)
            config = found.replication
            if config is None or found.versioning is not VersioningStatus.ENABLED:
                return None
            return config.modification_target_for(after.key, after.headers.tags, found.region)
        if status not in (ReplicationStatus.PENDING, ReplicationStatus.COMPLETED):
            return None
        return _replication_target(await self.get_bucket(bucket), after)

    async def sync_replica(
        self, source: ObjectRecord, replica: ObjectRecord, *, acl_into: Bucket | None = None
    ) -> None:
        """Bring a replica's tags, lock and ACL to its source's (decision 0112, increment 6),
        as S3 replicates metadata changes; the same call brings a replica's own change back
        to the version it came from (decision 0127: ``source`` the replica, ``replica`` that
        version). Nothing written here is queued again. A COMPLIANCE retention on the
        replica is never shortened (its owner's guarantee outlives the source's change); its
        GOVERNANCE one follows the source's, as the source's owner may shorten theirs only
        with ``s3:BypassGovernanceRetention``, which was checked there. ``acl_into``: the
        replica's bucket when the ACL follows too (both buckets one tenant's, see
        :func:`replica_acl`)."""
        if replica.version_id is None:
            return
        if replica.headers.tags != source.headers.tags:
            await self.set_object_tags(
                replica.bucket,
                replica.key,
                source.headers.tags,
                version_id=replica.version_id,
                replicated=True,
            )
        if acl_into is not None and replica.acl != source.acl and replica_acl(source, acl_into):
            await self._store.set_version_acl(
                replica.bucket, replica.key, replica.version_id, source.acl
            )
        wanted = source.lock or ObjectLock()
        held = replica.lock or ObjectLock()
        if wanted == held:
            return
        hold = LockChange.hold(bool(wanted.legal_hold)) if wanted.legal_hold is not None else None
        retention = LockChange.retention(wanted.mode, wanted.retain_until, bypass_governance=True)
        now = self._clock()
        if (wanted.mode, wanted.retain_until) != (held.mode, held.retain_until):
            try:
                await self._store.update_version_lock(
                    replica.bucket, replica.key, replica.version_id, retention, now
                )
            except ObjectLocked:
                pass  # a COMPLIANCE retention the change would shorten: it stays
        if hold is not None and wanted.legal_hold != held.legal_hold:
            await self._store.update_version_lock(
                replica.bucket, replica.key, replica.version_id, hold, now
            )
