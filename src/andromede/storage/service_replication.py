"""Replication (decision 0112): the bucket's replication configuration, the pass over existing
versions (backfill), and the writes of replicas and replicated delete markers into a
destination bucket.

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size. What is
queued with a client's write is decided in ``service_core`` (:func:`_replication_target`).
"""

from __future__ import annotations

from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket, ReplicaRefused
from andromede.storage.integrity import source_integrity
from andromede.storage.model import Bucket, EncryptionMode, ObjectRecord
from andromede.storage.replication import (
    BACKFILL_DOCUMENT,
    REPLICATION_DOCUMENT,
    Backfill,
    ReplicaKeys,
    ReplicationConfiguration,
)
from andromede.storage.replication_queue import ReplicationTask
from andromede.storage.service_core import (
    _KMS_MODES,
    ServiceCore,
    _whole_object_segment,
    replica_acl,
)
from andromede.storage.versioning import DeleteMarker

__all__ = ["ReplicationMixin"]


class ReplicationMixin(ServiceCore):
    """Replication configuration, backfill and replica writes (mixed into ObjectService)."""

    async def get_bucket_replication(self, name: str) -> ReplicationConfiguration | None:
        """The bucket's replication configuration, None when it has none. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, REPLICATION_DOCUMENT)
        return None if text is None else ReplicationConfiguration.from_text(text)

    async def set_bucket_replication(
        self, name: str, replication: ReplicationConfiguration | None
    ) -> None:
        """Replace (None: remove) the bucket's replication configuration, validated by the
        caller (decision 0112). NoSuchBucket."""
        text = None if replication is None else replication.to_text()
        await self._store.put_bucket_document(name, REPLICATION_DOCUMENT, text)
        # A configuration that copies existing objects starts (again) the pass over the
        # bucket's versions; versions copied or queued already are skipped by it (increment 7).
        backfill = replication is not None and replication.replicates_existing_objects
        await self._store.put_bucket_document(
            name, BACKFILL_DOCUMENT, Backfill().to_text() if backfill else None
        )

    async def replication_backfills(
        self, after: str | None, limit: int
    ) -> list[tuple[str, Backfill]]:
        """The buckets whose pass over existing versions has versions left, by name."""
        found = await self._store.list_bucket_documents(BACKFILL_DOCUMENT, after, limit)
        return [(name, Backfill.from_text(text)) for name, text in found]

    async def existing_version_tasks(
        self, bucket: Bucket, backfill: Backfill, limit: int
    ) -> tuple[list[ReplicationTask], Backfill | None]:
        """One step of the pass over ``bucket``'s existing versions (increment 7): the tasks
        of the next ``limit`` versions that an ``ExistingObjectReplication`` rule takes and
        that have no replication status yet (never queued, copied or failed, nor replicas),
        and where the pass stands after them (None: done). Delete markers, the null version
        and SSE-C versions are not taken, as for new writes (a marker is not an object S3
        copies when it replicates existing ones)."""
        config = bucket.replication
        page = await self._store.list_object_versions(
            bucket.name,
            prefix="",
            after_key=backfill.after_key,
            after_version=backfill.after_version,
            limit=limit,
        )
        tasks: list[ReplicationTask] = []
        regions: dict[str, str | None] = {}
        for entry in page.items:
            if config is None or entry.delete_marker or entry.version_id is None:
                continue
            found = await self._store.get_object_version(bucket.name, entry.key, entry.version_id)
            if not isinstance(found, ObjectRecord) or found.replication_status is not None:
                continue
            if found.encryption is EncryptionMode.SSE_C:
                continue
            record = await self._open_record(found)  # its tags, which a rule may select on
            target = config.existing_target_for(
                record.key,
                record.headers.tags,
                bucket.region,
                kms_encrypted=record.encryption in _KMS_MODES,
            )
            if target is None:
                continue
            if target.destination_bucket not in regions:
                destination = await self._store.get_bucket(target.destination_bucket)
                regions[target.destination_bucket] = (
                    None if destination is None else destination.region
                )
            tasks.append(
                ReplicationTask.of_version(
                    target,
                    bucket.name,
                    entry.key,
                    entry.version_id,
                    regions[target.destination_bucket],
                )
            )
        if not page.truncated or not page.items:
            return tasks, None
        last = page.items[-1]
        return tasks, Backfill(last.key, last.sort_id, backfill.queued + len(tasks))

    async def set_replication_backfill(self, name: str, backfill: Backfill | None) -> None:
        """Where the bucket's pass stands (None: done). NoSuchBucket."""
        text = None if backfill is None else backfill.to_text()
        await self._store.put_bucket_document(name, BACKFILL_DOCUMENT, text)

    async def replica_of(self, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
        """The replica of a version in its destination ``bucket`` (the same id), if it is
        there already; ReplicaRefused (``present``) for a delete marker holding that id."""
        found = await self._store.get_object_version(bucket, key, version_id)
        if isinstance(found, DeleteMarker):
            raise ReplicaRefused("a delete marker holds that version id", present=True)
        return None if found is None else await self._open_record(found)

    async def replicate_version(
        self,
        source: ObjectRecord,
        destination: str,
        replica_keys: ReplicaKeys | None = None,
        replica_kms_key: str | None = None,
        *,
        with_acl: bool = False,
    ) -> ObjectRecord:
        """Write ``source`` (a version of a bucket with a replication configuration) into the
        bucket ``destination`` as its replica (decision 0112): the same version id, headers,
        tags, ETag, checksum, last modification and lock, the bytes streamed from the source's
        region and sealed anew in the destination's region under the destination owner's keys:
        SSE-S3, or, for a version under a KMS key, the rule's ``replica_kms_key`` through
        ``replica_keys`` (as S3 does: a replica keeps its source's kind of encryption, and the
        destination's default encryption is not used). ReplicaRefused (``present``: it is
        there already; or a version under a KMS key without a replica key to seal it under),
        NoSuchBucket, RegionNotServed, KmsKeyUnusable; the blob written is removed on refusal.
        ``with_acl``: both buckets are one tenant's, and the source's ACL goes with it where
        :func:`replica_acl` allows (decision 0127)."""
        target = await self.get_bucket(destination)
        acl = source.acl if with_acl and replica_acl(source, target) else None
        encryption: ObjectEncryption | None = None
        if source.encryption in _KMS_MODES:
            if replica_keys is None or replica_kms_key is None:
                # Never under the platform's keys instead of the customer's.
                raise ReplicaRefused("no replica KMS key for a version under a KMS key")
            try:  # whom the key uses are metered to (decision 0150)
                payer: str | None = (await self.get_bucket(source.bucket)).tenant_id
            except NoSuchBucket:
                payer = None
            encryption = await replica_keys.replica_encryption(
                target.tenant_id,
                replica_kms_key,
                bucket=destination,
                key=source.key,
                dual_layer=source.encryption is EncryptionMode.SSE_KMS_DSSE,
                region=target.region,
                payer=payer,
            )
            if source.kms_key_arn is not None:
                # Reading the source decrypts it under its key: a KMS use as the replica's
                # sealing is, once the replica key was found usable (a copy refused there
                # reads nothing), so one per copy made (decision 0150's addendum).
                await replica_keys.source_decryption(
                    payer, source.kms_key_arn, bucket=source.bucket, key=source.key
                )
        body = self.read_object(source, 0, source.size - 1)
        keys = await self._blob_keys(target, source.key, encryption)
        algorithm = source.checksum.algorithm if source.checksum else None
        try:
            blob_id, hasher, inline = await self._sealed_in(target.region).write(
                body,
                source.size,
                algorithm,
                source_integrity(source, algorithm),
                keys,
                inline_max=self._inline_max(target),
            )
            record = ObjectRecord(
                bucket=destination,
                key=source.key,
                size=hasher.size,
                etag=source.etag,
                last_modified=source.last_modified,
                headers=source.headers,
                segments=(_whole_object_segment(blob_id, hasher, keys, target.region, inline),),
                owner_id=target.owner_id,
                checksum=source.checksum,
                sealed_headers=keys.seal(destination, source.key, source.headers),
                lock=source.lock,
                version_id=source.version_id,
                acl=acl,
            )
        finally:
            keys.forget()
        try:
            return await self._commit_version(record, None)
        except (ReplicaRefused, NoSuchBucket):
            if inline is None:
                await self._delete_quietly(blob_id, target.region)
            raise

    async def replicate_marker(self, bucket: str, key: str, version_id: str, owner_id: str) -> None:
        """A delete marker of a source replicated into ``bucket`` with its source's id
        (decision 0112). ReplicaRefused (``present``: it is there already), NoSuchBucket."""
        written = await self._store.put_delete_marker(
            bucket, key, owner_id=owner_id, now=self._clock(), version_id=version_id
        )
        await self._queue_deletion(written.released)
