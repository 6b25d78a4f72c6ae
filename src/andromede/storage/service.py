"""ObjectService: the one public entry of object storage (buckets, objects, multipart).

It streams bodies through the integrity checks (MD5 for the ETag, the asked-for additional
checksum, Content-MD5) and the encryption of the blob (a fresh data key per blob:
``sealed_blobs.py``, ``encryption.py``) into a blob, commits the blob (durable) before the
metadata row (the moment the object exists), and queues blobs that an overwrite or delete left
unreferenced for deferred deletion, so a GET in flight still reads the old object whole.

Blobs go to the store of their bucket's region (``regions.py``), and each segment and part
records that region, so a read finds its store with one look-up and never leaves the region.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from andromede.storage.access_logging import LOGGING_DOCUMENT, LoggingTarget
from andromede.storage.acl import AccessControlList
from andromede.storage.blobs import BlobStore
from andromede.storage.bucket_names import validate_bucket_name
from andromede.storage.checksums import (
    BodyHasher,
    default_checksum_type,
    validate_checksum_type,
)
from andromede.storage.cors import CorsConfiguration
from andromede.storage.encryption import (
    CustomerKey,
    ObjectCipher,
    ObjectEncryption,
)
from andromede.storage.errors import (
    BlobError,
    BucketVersioned,
    ChecksumMismatch,
    DeleteMarkerFound,
    EncryptionError,
    EntityTooLarge,
    EntityTooSmall,
    InvalidChecksumRequest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    ObjectChanged,
    ObjectCorrupted,
    ObjectLocked,
    ObjectSizeMismatch,
    RegionNotServed,
    ReplicaRefused,
)
from andromede.storage.integrity import (
    BodyIntegrity,
    checksum_base,
    full_checksum,
    multipart_checksum,
    normal_etag,
    source_integrity,
)
from andromede.storage.lifecycle import LIFECYCLE_DOCUMENT, LifecycleConfiguration
from andromede.storage.listing import (
    ObjectListing,
    UploadListing,
    VersionListing,
    page_objects,
    page_uploads,
    page_versions,
)
from andromede.storage.model import (
    RECORD_FORMAT_VERSION,
    Bucket,
    BucketEncryption,
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    EncryptionMode,
    ExpectedObject,
    MultipartUpload,
    ObjectLookup,
    ObjectOwnership,
    ObjectRecord,
    Part,
    PublicAccessBlock,
    Segment,
    SegmentKey,
    VersioningStatus,
)
from andromede.storage.notification import (
    NOTIFICATION_DOCUMENT,
    EventBatch,
    EventSource,
    NotificationConfiguration,
)
from andromede.storage.object_lock import LockChange, ObjectLock, ObjectLockConfiguration
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication import (
    BACKFILL_DOCUMENT,
    REPLICATION_DOCUMENT,
    Backfill,
    ReplicaKeys,
    ReplicationConfiguration,
    ReplicationStatus,
    ReplicationTarget,
)
from andromede.storage.replication_queue import ReplicationTask
from andromede.storage.sealed_blobs import (
    DEFAULT_OPENED_HEADERS_MEMO_SIZE,
    BlobKeys,
    SealedBlobs,
    stored_form,
)
from andromede.storage.store import MetadataStore
from andromede.storage.versioning import (
    NULL_VERSION_ID,
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
)
from andromede.storage.website import WEBSITE_DOCUMENT, WebsiteConfiguration

__all__ = [
    "BodyIntegrity",
    "CompletedPart",
    "ObjectListing",
    "ObjectService",
    "StorageLimits",
    "UploadListing",
    "new_upload_id",
]

_log = logging.getLogger(__name__)


def new_upload_id() -> str:
    """A multipart upload's id: 192 random bits, URL-safe, never starting with ``-``. The
    aws CLI takes ``--upload-id -abc`` for an option and refuses the command, so one upload in
    64 could not be continued from it."""
    while True:
        upload_id = secrets.token_urlsafe(24)
        if not upload_id.startswith("-"):
            return upload_id


def _replication_target(bucket: Bucket, record: ObjectRecord) -> ReplicationTarget | None:
    """Where the new version ``record`` of ``bucket`` is copied, if its replication
    configuration (read with the bucket) has a rule for it (decision 0112). Only a bucket
    whose versioning is Enabled replicates; SSE-C versions never are (their chunks are bound
    to their blob under the customer's key, which is not kept: decision 0112); versions under
    a KMS key only by a rule that selects them."""
    config = bucket.replication
    if (
        config is None
        or bucket.versioning is not VersioningStatus.ENABLED
        or record.encryption is EncryptionMode.SSE_C
    ):
        return None
    return config.target_for(
        record.key,
        record.headers.tags,
        bucket.region,
        kms_encrypted=record.encryption in _KMS_MODES,
    )


def _events_of(
    bucket: Bucket,
    source: EventSource | None,
    key: str,
    now: datetime,
    bound: int,
    record: ObjectRecord | None = None,
    *,
    size: int | None = None,
    etag: str | None = None,
) -> EventBatch | None:
    """The events a client's write of ``key`` queues, if the bucket's notification
    configuration (read with the bucket) has a rule for it (decision 0132): None otherwise,
    and the write is as it was without notifications. ``size`` and ``etag``: the object's,
    when there is no ``record`` to take them from (a lifecycle expiry's listing). The
    record's metadata and tags feed the rules' metadata and tag filters; without a record
    (a removal) there are none, and no rule that has such filters names removals."""
    if bucket.notification is None or source is None:
        return None
    return EventBatch.of(
        bucket.notification,
        source,
        tenant_id=bucket.tenant_id,
        bucket=bucket.name,
        owner_id=bucket.owner_id,
        region=bucket.region,
        key=key,
        now=now,
        bound=bound,
        size=size if record is None else record.size,
        etag=etag if record is None else record.etag,
        user_metadata=None if record is None else record.headers.user_metadata,
        tags=() if record is None else record.headers.tags,
    )


def replica_acl(source: ObjectRecord, replica_bucket: Bucket) -> bool:
    """Whether ``source``'s ACL may be given to its replica (or, decision 0127, a replica's to
    the version it came from) in ``replica_bucket``, both buckets being one tenant's (another
    tenant's copy answers to its owner's grants, as S3's with the owner override): only where
    ACLs are enabled (with ``BucketOwnerEnforced`` S3 ignores them), and never a public ACL
    into a bucket whose Block Public Access refuses public ACLs (PutObjectAcl would be
    refused there)."""
    if not replica_bucket.acls_enabled:
        return False
    block = replica_bucket.public_access_block
    return not (
        block is not None
        and block.block_public_acls
        and source.acl is not None
        and source.acl.is_public
    )


# The modes whose data keys are under a customer's KMS key.
_KMS_MODES = frozenset({EncryptionMode.SSE_KMS, EncryptionMode.SSE_KMS_DSSE})


def _whole_object_segment(
    blob_id: str, hasher: BodyHasher, keys: BlobKeys, region: str, inline: bytes | None
) -> Segment:
    """The one segment of an object written in one piece (a PUT, a copy, a replica): its
    blob as ``SealedBlobs.write`` left it, under the data key ``keys`` sealed it with."""
    return Segment(
        blob_id=blob_id,
        size=hasher.size,
        etag=hasher.md5_hex(),
        key=keys.segment_key,
        region=region,
        inline=inline,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


# How often a tagging retries when the object is replaced under it before giving up with 409
# ConditionalRequestConflict (each retry means another client wrote the key meanwhile).
_TAGGING_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class StorageLimits:
    max_object_size: int
    max_part_size: int
    min_part_size: int
    max_parts: int
    max_key_length: int
    max_user_metadata_size: int
    read_chunk_size: int
    deletion_grace: float  # seconds a replaced blob stays readable for GETs in flight
    # Objects up to this size keep their sealed bytes in their metadata row (0: never)...
    inline_object_max_bytes: int = 0
    # ... in these regions (None: every region; decision 0028)
    inline_object_regions: frozenset[str] | None = None
    # Opened object headers (and SSE-KMS contexts) remembered per region's store (decision 0033)
    opened_headers_memo_size: int = DEFAULT_OPENED_HEADERS_MEMO_SIZE
    # The most event notifications a tenant may have waiting (decision 0132)
    notification_queue_per_tenant: int = 100_000


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One <Part> of a CompleteMultipartUpload request body."""

    part_number: int
    etag: str  # as the client sent it, quotes stripped
    checksums: dict[ChecksumAlgorithm, str] = field(default_factory=dict)


class ObjectService:
    def __init__(
        self,
        store: MetadataStore,
        blobs: BlobStore | RegionalBlobs,
        limits: StorageLimits,
        cipher: ObjectCipher,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``blobs``: the store of each served region, or one store for every region."""
        self._store = store
        self._regional = blobs if isinstance(blobs, RegionalBlobs) else RegionalBlobs.single(blobs)
        self._cipher = cipher
        self._limits = limits
        self._clock = clock
        # Blob readers and writers by region (None: the default region), made on first use.
        self._sealed_by_region: dict[str | None, SealedBlobs] = {}
        served = self._regional.regions
        default = (
            self._regional.store(None)
            if self._regional.serves(self._regional.default_region) or not served
            else next(iter(served.values()))
        )
        # Keys and headers (no bytes): whichever store, one memo of opened headers.
        self._sealed = SealedBlobs(
            default, cipher, limits.read_chunk_size, memo_size=limits.opened_headers_memo_size
        )

    # -- buckets ----------------------------------------------------------------------------
    async def create_bucket(
        self,
        name: str,
        *,
        tenant_id: str,
        owner_id: str,
        region: str,
        object_ownership: ObjectOwnership = ObjectOwnership.BUCKET_OWNER_ENFORCED,
        acl: AccessControlList | None = None,
        object_lock: ObjectLockConfiguration | None = None,
    ) -> Bucket:
        """Validate the name (S3 rules: InvalidBucketName) and create the bucket.

        New buckets have Block Public Access fully on, as on AWS since April 2023. With
        ``object_lock``, the bucket is versioned (Enabled) from its first moment and has
        Object Lock for good (decision 0102).
        """
        validate_bucket_name(name)
        bucket = Bucket(
            name=name,
            tenant_id=tenant_id,
            owner_id=owner_id,
            region=region,
            created_at=self._clock(),
            object_ownership=object_ownership,
            public_access_block=PublicAccessBlock(),
            acl=acl,
            versioning=None if object_lock is None else VersioningStatus.ENABLED,
            object_lock=object_lock,
        )
        await self._store.create_bucket(bucket)
        return bucket

    async def get_bucket(self, name: str) -> Bucket:
        """NoSuchBucket if absent."""
        bucket = await self._store.get_bucket(name)
        if bucket is None:
            raise NoSuchBucket(name)
        return bucket

    async def _bucket(self, bucket: str | Bucket) -> Bucket:
        return bucket if isinstance(bucket, Bucket) else await self.get_bucket(bucket)

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        return await self._store.list_buckets(tenant_id)

    async def stored_bytes_by_tenant_and_region(self) -> dict[tuple[str, str], int]:
        """Bytes each tenant stores in each region, noncurrent versions included (what
        metering samples, decision 0108; the residency report's figures, summed)."""
        usage = await self._store.usage_by_bucket()
        held: dict[tuple[str, str], int] = {}
        for bucket in await self._store.all_buckets():
            used = usage.get(bucket.name)
            key = (bucket.tenant_id, bucket.region)
            held[key] = held.get(key, 0) + (used.stored_bytes if used else 0)
        return held

    async def set_bucket_policy(self, name: str, policy: str | None) -> Bucket:
        """Store (or, with None, remove) the bucket policy; validating it is the caller's job,
        since the policy language belongs to identity. NoSuchBucket."""
        return await self._store.update_bucket_access(name, policy=policy)

    async def set_bucket_acl(self, name: str, acl: AccessControlList | None) -> Bucket:
        return await self._store.update_bucket_access(name, acl=acl)

    async def set_object_ownership(self, name: str, ownership: ObjectOwnership | None) -> Bucket:
        return await self._store.update_bucket_access(name, object_ownership=ownership)

    async def set_public_access_block(self, name: str, block: PublicAccessBlock | None) -> Bucket:
        return await self._store.update_bucket_access(name, public_access_block=block)

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        """The bucket's tag set, None when it has none. NoSuchBucket."""
        return await self._store.get_bucket_tags(name)

    async def set_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        """Replace (None: remove) the bucket's tag set, validated by the caller. NoSuchBucket."""
        await self._store.put_bucket_tags(name, tags)

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        """The bucket's CORS configuration, None when it has none. NoSuchBucket."""
        return await self._store.get_bucket_cors(name)

    async def set_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        """Replace (None: remove) the bucket's CORS rules, validated by the caller.
        NoSuchBucket."""
        await self._store.put_bucket_cors(name, cors)

    async def get_bucket_website(self, name: str) -> WebsiteConfiguration | None:
        """The bucket's static-website configuration, None when it has none. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, WEBSITE_DOCUMENT)
        return None if text is None else WebsiteConfiguration.from_text(text)

    async def set_bucket_website(self, name: str, website: WebsiteConfiguration | None) -> None:
        """Replace (None: remove) the bucket's website configuration, validated by the caller.
        NoSuchBucket."""
        text = None if website is None else website.to_text()
        await self._store.put_bucket_document(name, WEBSITE_DOCUMENT, text)

    async def get_bucket_logging(self, name: str) -> LoggingTarget | None:
        """Where the bucket's access records go, None when it does not log. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, LOGGING_DOCUMENT)
        return None if text is None else LoggingTarget.from_text(text)

    async def set_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        """Start (or, with None, stop) logging the bucket's access, the target checked by the
        caller. NoSuchBucket."""
        text = None if target is None else target.to_text()
        await self._store.put_bucket_document(name, LOGGING_DOCUMENT, text)

    async def get_bucket_lifecycle(self, name: str) -> LifecycleConfiguration | None:
        """The bucket's lifecycle configuration, None when it has none. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, LIFECYCLE_DOCUMENT)
        return None if text is None else LifecycleConfiguration.from_text(text)

    async def set_bucket_lifecycle(
        self, name: str, lifecycle: LifecycleConfiguration | None
    ) -> None:
        """Replace (None: remove) the bucket's lifecycle configuration, validated by the
        caller. NoSuchBucket."""
        text = None if lifecycle is None else lifecycle.to_text()
        await self._store.put_bucket_document(name, LIFECYCLE_DOCUMENT, text)

    async def get_bucket_notification(self, name: str) -> NotificationConfiguration | None:
        """The bucket's event notification configuration (decision 0132); NoSuchBucket."""
        text = await self._store.get_bucket_document(name, NOTIFICATION_DOCUMENT)
        return None if text is None else NotificationConfiguration.from_text(text)

    async def set_bucket_notification(
        self, name: str, config: NotificationConfiguration | None
    ) -> None:
        """Replace the configuration (None or no rule: none); NoSuchBucket."""
        text = None if config is None or not config.rules else config.to_text()
        await self._store.put_bucket_document(name, NOTIFICATION_DOCUMENT, text)

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

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        """Whether the tenant's own data reads of the bucket are audited (decision 0109);
        its writes are, whatever this says. NoSuchBucket."""
        return await self._store.set_bucket_data_reads_logged(name, logged)

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        """Requester Pays on or off (decision 0133): with it on, other accounts' requests and
        transfers are billed to them; the owner still pays for storage. NoSuchBucket."""
        return await self._store.set_bucket_requester_pays(name, requester_pays)

    async def set_bucket_versioning(self, name: str, status: VersioningStatus) -> None:
        """Enabled or Suspended; a bucket never goes back to never versioned. NoSuchBucket;
        InvalidBucketState for Suspended on a bucket with Object Lock (checked by the store in
        the write: decision 0104)."""
        await self._store.set_bucket_versioning(name, status)

    async def set_bucket_object_lock(self, name: str, config: ObjectLockConfiguration) -> Bucket:
        """Turn Object Lock on (for good), or change its default retention (decision 0102).
        NoSuchBucket; InvalidBucketState unless the bucket is versioned Enabled or has Object
        Lock already, checked by the store in the write (decision 0104)."""
        return await self._store.set_bucket_object_lock(name, config)

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

    async def replica_of(self, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
        """The replica of a version in its destination ``bucket`` (the same id), if it is
        there already; ReplicaRefused (``present``) for a delete marker holding that id."""
        found = await self._store.get_object_version(bucket, key, version_id)
        if isinstance(found, DeleteMarker):
            raise ReplicaRefused("a delete marker holds that version id", present=True)
        return None if found is None else await self._open_record(found)

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

    async def set_bucket_encryption(self, name: str, encryption: BucketEncryption | None) -> Bucket:
        """Store (or, with None, remove) the bucket's default encryption. NoSuchBucket."""
        return await self._store.update_bucket_access(name, encryption=encryption)

    async def delete_bucket(self, name: str) -> None:
        """NoSuchBucket, BucketNotEmpty."""
        parts = await self._store.delete_bucket(name)
        await self._queue_deletion(parts)

    # -- objects ----------------------------------------------------------------------------
    async def put_object(
        self,
        bucket: str | Bucket,
        key: str,
        body: AsyncIterable[bytes],
        *,
        size: int,
        headers: ContentHeaders,
        owner_id: str,
        integrity: BodyIntegrity,
        encryption: ObjectEncryption | None = None,
        acl: AccessControlList | None = None,
        expected: ExpectedObject | None = None,
        exact_size: bool = True,
        lock: ObjectLock | None = None,
        notify: EventSource | None = None,
    ) -> ObjectRecord:
        """Store a whole object, encrypted as ``encryption`` says. ``notify``: the client's
        request, whose events the bucket's notification configuration may ask for (decision
        0132). ``size`` is the decoded length the client announced: EntityTooLarge above the
        limit, IncompleteBody if the body ends short of it, and the stream is not read past
        it. BadDigest / ChecksumMismatch leave nothing behind. ``exact_size`` False: ``size``
        only bounds the body (PostObject's file, whose length its form's end tells), and a
        shorter body is the object.

        ``bucket`` by name, or as the caller read it during this request: the commit checks
        again that it still exists in that region, so it is not read twice. ``expected``: a
        conditional write, checked when the row commits (ObjectChanged, nothing left behind)."""
        self._check_key(key)
        self._check_metadata(headers)
        if size > self._limits.max_object_size:
            raise EntityTooLarge(f"{size} bytes exceed the {self._limits.max_object_size} limit")
        algorithm = integrity.checksum_algorithm
        target = await self._bucket(bucket)
        bucket = target.name
        sealed = self._sealed_in(target.region)  # RegionNotServed before a data key is drawn
        keys = await self._blob_keys(target, key, encryption)
        try:
            blob_id, hasher, inline = await sealed.write(
                body,
                size,
                algorithm,
                integrity,
                keys,
                inline_max=self._inline_max(target),
                exact_size=exact_size,
            )
            record = ObjectRecord(
                bucket=bucket,
                key=key,
                size=hasher.size,
                etag=hasher.md5_hex(),
                last_modified=self._clock(),
                headers=headers,
                segments=(_whole_object_segment(blob_id, hasher, keys, target.region, inline),),
                owner_id=owner_id,
                checksum=full_checksum(algorithm, hasher),
                acl=acl,
                sealed_headers=keys.seal(bucket, key, headers),
                lock=lock,
            )
        finally:
            keys.forget()
        return await self._commit_record(
            record,
            expected,
            versioned=target.versioning is not None,
            replication=_replication_target(target, record),
            notify=_events_of(target, notify, key, record.last_modified, self._bound, record),
        )

    @property
    def _bound(self) -> int:
        return self._limits.notification_queue_per_tenant

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

    async def look_up_object(self, bucket: str, key: str) -> ObjectLookup:
        """The bucket and its object ``key`` in one read, for :meth:`head_object`. NoSuchBucket."""
        found, record = await self._store.get_bucket_and_object(bucket, key)
        if found is None:
            raise NoSuchBucket(bucket)
        return ObjectLookup(found, record)

    async def head_object(
        self, bucket: str, key: str, *, lookup: ObjectLookup | None = None
    ) -> ObjectRecord:
        """NoSuchBucket, NoSuchKey. ``lookup``: the object as :meth:`look_up_object` read it
        (then not read again)."""
        if lookup is not None:
            if lookup.record is None:
                raise NoSuchKey(key)
            return await self._open_record(lookup.record)
        record = await self._store.get_object(bucket, key)
        if record is None:
            await self.get_bucket(bucket)  # NoSuchBucket rather than NoSuchKey
            raise NoSuchKey(key)
        return await self._open_record(record)

    async def check_customer_key(self, record: ObjectRecord, customer: CustomerKey | None) -> None:
        """What a read of ``record`` needs: its SSE-C key if it has one (CustomerKeyRequired,
        CustomerKeyMismatch), no customer key otherwise (CustomerKeyNotApplicable)."""
        key = record.segments[0].key if record.segments else None
        check = key.customer_key_check if key is not None else None
        await self._sealed.check_customer(key.wrapped if key else b"", check, customer)

    def read_object(
        self,
        record: ObjectRecord,
        start: int,
        end: int,
        *,
        customer_key: CustomerKey | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream plaintext bytes ``start``..``end`` inclusive of a record got from head_object
        (whose customer key, for SSE-C, the caller checked with :meth:`check_customer_key`).

        InvalidRange is raised here, before any byte is produced; ``end = start - 1`` reads
        nothing (the whole of an empty object is ``0..-1``). Only the chunks that hold the
        range are read and decrypted.
        """
        if start < 0 or end >= record.size or start > end + 1:
            raise InvalidRange(f"bytes {start}-{end} of an object of {record.size} bytes")
        if len(record.segments) == 1 and start <= end:
            # One segment (every object but a completed multipart upload): its own stream,
            # without a generator around it (each layer costs a small GET, decision 0025).
            segment = record.segments[0]
            return self._sealed_in(segment.region).read_segment(
                segment, start, end + 1, customer_key, record.kms_context, record.key_check
            )
        if record.segments:
            self._sealed_in(record.segments[0].region)  # RegionNotServed before any byte
        return self._stream(record, start, end, customer_key)

    async def _stream(
        self, record: ObjectRecord, start: int, end: int, customer: CustomerKey | None
    ) -> AsyncIterator[bytes]:
        # The headers' key check stands for one key use at most (the cipher spends it).
        offset = 0
        for segment in record.segments:
            first, last = offset, offset + segment.size - 1
            offset += segment.size
            if last < start or segment.size == 0:
                continue
            if first > end:
                break
            lo = max(start, first) - first
            hi = min(end, last) - first
            sealed = self._sealed_in(segment.region)
            async for chunk in sealed.read_segment(
                segment, lo, hi + 1, customer, record.kms_context, record.key_check
            ):
                yield chunk

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        if_etag: str | None = None,
        if_last_modified: datetime | None = None,
        size: int | None = None,
        notify: tuple[Bucket, EventSource] | None = None,
    ) -> ObjectRecord | None:
        """Delete if present (S3 answers 204 either way). NoSuchBucket. ``notify``: the bucket
        as read for the request and the request, for the bucket's event notifications
        (with ``if_etag`` and ``size``, a lifecycle expiry's, the object's in its events).
        ``if_etag``: delete only the object with that ETag, atomically (ObjectChanged
        otherwise): the last step of a conditional delete whose condition was checked against
        that object. With ``if_last_modified`` too, only the very object a listing showed (a
        lifecycle expiry)."""
        events = (
            None
            if notify is None
            else _events_of(
                notify[0],
                notify[1],
                key,
                self._clock(),
                self._bound,
                size=size,
                etag=if_etag if size is not None else None,
            )
        )
        removed = await self._store.delete_object(
            bucket, key, if_etag=if_etag, if_last_modified=if_last_modified, notify=events
        )
        if removed is None:
            await self.get_bucket(bucket)
            return None
        await self._queue_deletion(removed.segments)
        return removed

    async def get_version(self, bucket: str, key: str, version_id: str) -> ObjectRecord:
        """The version ``version_id`` of the key, opened. NoSuchBucket; NoSuchVersion (or
        NoSuchKey for "null") when there is none; a delete marker is raised as
        :class:`DeleteMarkerFound` (GET answers 405 for it, DELETE removes it)."""
        found = await self._store.get_object_version(bucket, key, version_id)
        if found is None:
            await self.get_bucket(bucket)
            if version_id == NULL_VERSION_ID:
                raise NoSuchKey(key)
            raise NoSuchVersion(version_id)
        if isinstance(found, DeleteMarker):
            raise DeleteMarkerFound(found)
        return await self._open_record(found)

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

    async def copy_object(
        self,
        source: ObjectRecord,
        bucket: str,
        key: str,
        *,
        headers: ContentHeaders | None,
        owner_id: str,
        checksum_algorithm: ChecksumAlgorithm | None,
        encryption: ObjectEncryption | None = None,
        source_customer_key: CustomerKey | None = None,
        acl: AccessControlList | None = None,
        expected: ExpectedObject | None = None,
        lock: ObjectLock | None = None,
        notify: EventSource | None = None,
    ) -> ObjectRecord:
        """Copy ``source`` (already fetched and checked by the caller, its SSE-C key too) to
        bucket/key, re-encrypted as ``encryption`` says. ``headers`` None keeps the source's
        (COPY directive). The copy has a single segment; its checksum is recomputed with
        ``checksum_algorithm`` or the source's algorithm. ``expected`` as for
        :meth:`put_object`, about the destination."""
        self._check_key(key)
        if headers is not None:
            self._check_metadata(headers)
        if source.size > self._limits.max_object_size:
            raise EntityTooLarge(f"{source.size} bytes exceed the copy limit")
        algorithm = checksum_algorithm or (source.checksum.algorithm if source.checksum else None)
        body = self.read_object(source, 0, source.size - 1, customer_key=source_customer_key)
        new_headers = source.headers if headers is None else headers
        # The bytes are written anew into the target bucket's region, whatever the source's.
        target = await self.get_bucket(bucket)
        keys = await self._blob_keys(target, key, encryption)
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
                bucket=bucket,
                key=key,
                size=hasher.size,
                etag=hasher.md5_hex(),
                last_modified=self._clock(),
                headers=new_headers,
                segments=(_whole_object_segment(blob_id, hasher, keys, target.region, inline),),
                owner_id=owner_id,
                acl=acl,
                checksum=full_checksum(algorithm, hasher),
                sealed_headers=keys.seal(bucket, key, new_headers),
                lock=lock,
            )
        finally:
            keys.forget()
        return await self._commit_record(
            record,
            expected,
            versioned=target.versioning is not None,
            replication=_replication_target(target, record),
            notify=_events_of(target, notify, key, record.last_modified, self._bound, record),
        )

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
            encryption = await replica_keys.replica_encryption(
                target.tenant_id,
                replica_kms_key,
                bucket=destination,
                key=source.key,
                dual_layer=source.encryption is EncryptionMode.SSE_KMS_DSSE,
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

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        after: str | None = None,
        max_keys: int = 1000,
    ) -> ObjectListing:
        """Keys (and common prefixes, when ``delimiter``) strictly after ``after``, in UTF-8
        byte order, at most ``max_keys`` entries in all. NoSuchBucket."""
        await self.get_bucket(bucket)
        return await page_objects(
            self._store,
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            max_keys=max_keys,
        )

    # -- multipart --------------------------------------------------------------------------
    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        headers: ContentHeaders,
        owner_id: str,
        checksum_algorithm: ChecksumAlgorithm | None,
        checksum_type: ChecksumType | None,
        encryption: ObjectEncryption | None = None,
        acl: AccessControlList | None = None,
        lock: ObjectLock | None = None,
    ) -> MultipartUpload:
        """NoSuchBucket; InvalidChecksumRequest for a checksum type the algorithm
        cannot have (FULL_OBJECT with SHA, COMPOSITE with CRC64NVME) or a type without one.
        ``lock``: the Object Lock settings the completed version gets (checked by the
        caller), the bucket's default completing them at completion."""
        self._check_key(key)
        self._check_metadata(headers)
        if checksum_algorithm is not None:
            if checksum_type is None:
                checksum_type = default_checksum_type(checksum_algorithm)
            try:
                validate_checksum_type(checksum_algorithm, checksum_type)
            except ValueError as exc:
                raise InvalidChecksumRequest(str(exc)) from exc
        elif checksum_type is not None:
            raise InvalidChecksumRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        # The upload's own data key seals its headers and keys the check of an SSE-C key
        # (each part then gets a data key of its own).
        keys = await self._blob_keys(bucket, key, encryption)
        try:
            upload = MultipartUpload(
                bucket=bucket,
                key=key,
                upload_id=new_upload_id(),
                initiated=self._clock(),
                owner_id=owner_id,
                headers=headers,
                checksum_algorithm=checksum_algorithm,
                checksum_type=checksum_type,
                acl=acl,
                sealed_headers=keys.seal(bucket, key, headers),
                customer_key_check=keys.segment_key.customer_key_check
                if keys.segment_key
                else None,
                kms_key_arn=keys.segment_key.kms_key_arn if keys.segment_key else None,
                sealed_kms_context=keys.segment_key.context if keys.segment_key else None,
                kms_context=dict(encryption.kms_context) if encryption else None,
                bucket_key=bool(keys.segment_key and keys.segment_key.bucket_key),
                dual_layer=bool(keys.segment_key and keys.segment_key.inner_wrapped),
                lock=None if lock is None or lock.is_empty else lock,
            )
        finally:
            keys.forget()
        await self._store.create_upload(stored_form(upload))
        return upload

    async def upload_part(
        self,
        bucket: str | Bucket,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterable[bytes],
        *,
        size: int,
        integrity: BodyIntegrity,
        encryption: ObjectEncryption | None = None,
    ) -> Part:
        """NoSuchUpload, InvalidPartNumber (1..max_parts), EntityTooLarge, BadDigest…; for an
        SSE-C upload the part needs the upload's customer key (CustomerKeyRequired/Mismatch).
        ``bucket``: by name, or as the caller read it during this request (not read again)."""
        self._check_part_number(part_number)
        if size > self._limits.max_part_size:
            raise EntityTooLarge(f"{size} bytes exceed the {self._limits.max_part_size} limit")
        known = bucket if isinstance(bucket, Bucket) else None
        bucket = bucket.name if isinstance(bucket, Bucket) else bucket
        upload = await self._upload(bucket, key, upload_id)
        await self._check_upload_customer(upload, encryption.customer_key if encryption else None)
        encryption = self._part_encryption(upload, encryption)
        algorithm = upload.checksum_algorithm
        if integrity.checksum_algorithm is not None:
            if algorithm is not None and integrity.checksum_algorithm is not algorithm:
                raise InvalidChecksumRequest(
                    f"Checksum Type mismatch occurred, expected checksum Type: "
                    f"{algorithm.value.lower()}, actual checksum Type: "
                    f"{integrity.checksum_algorithm.value.lower()}"
                )
            algorithm = integrity.checksum_algorithm
        target = known or await self.get_bucket(bucket)
        sealed = self._sealed_in(target.region)  # RegionNotServed before a data key is drawn
        keys = await self._blob_keys(target, key, encryption)
        try:
            blob_id, hasher, _ = await sealed.write(body, size, algorithm, integrity, keys)
        finally:
            keys.forget()
        return await self._commit_part(
            upload, part_number, blob_id, hasher, keys.segment_key, target.region
        )

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        source: ObjectRecord,
        start: int,
        end: int,
        *,
        encryption: ObjectEncryption | None = None,
        source_customer_key: CustomerKey | None = None,
    ) -> Part:
        """A part made of source bytes ``start``..``end`` inclusive (the source's SSE-C key
        checked by the caller), encrypted for the upload."""
        self._check_part_number(part_number)
        if start < 0 or end >= source.size or start > end + 1:
            raise InvalidRange(f"bytes {start}-{end} of an object of {source.size} bytes")
        size = end - start + 1
        if size > self._limits.max_part_size:
            raise EntityTooLarge(f"{size} bytes exceed the {self._limits.max_part_size} limit")
        upload = await self._upload(bucket, key, upload_id)
        await self._check_upload_customer(upload, encryption.customer_key if encryption else None)
        encryption = self._part_encryption(upload, encryption)
        body = self.read_object(source, start, end, customer_key=source_customer_key)
        target = await self.get_bucket(bucket)
        keys = await self._blob_keys(target, key, encryption)
        try:
            blob_id, hasher, _ = await self._sealed_in(target.region).write(
                body, size, upload.checksum_algorithm, BodyIntegrity(), keys
            )
        finally:
            keys.forget()
        return await self._commit_part(
            upload, part_number, blob_id, hasher, keys.segment_key, target.region
        )

    async def complete_multipart_upload(
        self,
        bucket: str | Bucket,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        expected_checksum: Checksum | None = None,
        expected_size: int | None = None,
        expected: ExpectedObject | None = None,
        default_lock: ObjectLock | None = None,
        notify: EventSource | None = None,
    ) -> ObjectRecord:
        """InvalidPartOrder (not ascending), InvalidPart (missing or ETag/checksum mismatch),
        EntityTooSmall (a part other than the last below min_part_size), NoSuchUpload,
        ObjectSizeMismatch (the parts do not add up to ``expected_size``), all before anything
        is written. ETag is md5-of-md5s-N; checksum composite or full-object as the upload
        declared. ``expected``: a conditional completion, checked in the commit
        (ObjectChanged, the upload left as it was). ``default_lock``: the bucket's default
        retention counted from now; the upload's own lock settings win over it. ``bucket`` by
        name, or as the caller read it during this request (its replication configuration
        says whether the version is queued for a copy, decision 0112)."""
        source = bucket if isinstance(bucket, Bucket) else None
        bucket = bucket if isinstance(bucket, str) else bucket.name
        upload = await self._upload(bucket, key, upload_id)
        if not parts:
            raise InvalidPart("a multipart upload needs at least one part")
        numbers = [p.part_number for p in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder("parts must be listed in ascending part-number order")
        stored = {p.part_number: p for p in await self._store.get_parts(upload_id, numbers)}
        chosen: list[Part] = []
        algorithm = upload.checksum_algorithm
        for i, wanted in enumerate(parts):
            part = stored.get(wanted.part_number)
            if part is None or normal_etag(wanted.etag) != part.etag:
                if part is None:
                    # Completed or aborted meanwhile (another gateway won the race): its parts
                    # went with it, and the answer is the upload's, NoSuchUpload, as on AWS.
                    await self._upload(bucket, key, upload_id)
                raise InvalidPart(f"part {wanted.part_number} was not found or its ETag differs")
            if part.key is None and self._cipher.encrypts:
                raise InvalidPart(
                    f"part {part.part_number} was stored before encryption at rest: upload it again"
                )
            if i < len(parts) - 1 and part.size < self._limits.min_part_size:
                raise EntityTooSmall(f"part {part.part_number} is smaller than the minimum")
            if algorithm is not None:
                given = wanted.checksums.get(algorithm)
                if part.checksum is None or (given is not None and given != part.checksum.value):
                    raise InvalidPart(f"part {wanted.part_number}: its checksum differs")
            chosen.append(part)

        if expected_size is not None and expected_size != sum(p.size for p in chosen):
            raise ObjectSizeMismatch(
                f"the parts add up to {sum(p.size for p in chosen)} bytes, not {expected_size}"
            )
        etag_md5 = hashlib.md5(usedforsecurity=False)  # S3's ETag, not a security primitive
        for part in chosen:
            etag_md5.update(bytes.fromhex(part.etag))
        checksum = multipart_checksum(upload, chosen)
        if expected_checksum is not None:
            if checksum is None or expected_checksum.algorithm is not checksum.algorithm:
                raise ChecksumMismatch("the checksum algorithm differs from the upload's")
            if checksum_base(expected_checksum.value) != checksum_base(checksum.value):
                raise ChecksumMismatch(f"the {checksum.algorithm.value} checksum differs")
        record = ObjectRecord(
            bucket=bucket,
            key=key,
            size=sum(p.size for p in chosen),
            etag=f"{etag_md5.hexdigest()}-{len(chosen)}",
            last_modified=self._clock(),
            headers=upload.headers,
            acl=upload.acl,
            segments=tuple(
                Segment(
                    blob_id=p.blob_id,
                    size=p.size,
                    part_number=p.part_number,
                    etag=p.etag,
                    checksum=p.checksum,
                    key=p.key,
                    region=p.region,
                )
                for p in chosen
            ),
            owner_id=upload.owner_id,
            checksum=checksum,
            sealed_headers=upload.sealed_headers,
            lock=default_lock if upload.lock is None else upload.lock.with_default(default_lock),
        )
        # Shielded: once the transaction runs, a client disconnect must not leave us unsure
        # whether the object exists while its replaced blobs are still unqueued.
        if source is None:
            source = await self.get_bucket(bucket)
        replaced, unused = await asyncio.shield(
            self._store.complete_upload(
                upload_id,
                stored_form(record),
                expected=expected,
                replication=_replication_target(source, record),
                notify=_events_of(source, notify, key, record.last_modified, self._bound, record),
            )
        )
        if isinstance(replaced, VersionedWrite):  # a versioned bucket (decision 0097)
            await self._queue_deletion([*unused, *replaced.released])
            return dataclasses.replace(record, version_id=replaced.version_id)
        await self._queue_deletion([*unused, *(replaced.segments if replaced is not None else ())])
        return record

    async def upload_kms_key(
        self, bucket: str, key: str, upload_id: str
    ) -> tuple[str, dict[str, str], bool, bool] | None:
        """The KMS key (ARN) an SSE-KMS or DSSE-KMS upload's parts are encrypted under, the
        encryption context they are bound to, whether they use a bucket key and whether they
        are sealed in two layers; None if the upload is neither. NoSuchUpload."""
        upload = await self._upload(bucket, key, upload_id)
        if upload.kms_key_arn is None:
            return None
        return (
            upload.kms_key_arn,
            dict(upload.kms_context or {}),
            upload.bucket_key,
            upload.dual_layer,
        )

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """NoSuchUpload."""
        await self._upload(bucket, key, upload_id)
        parts = await self._store.abort_upload(upload_id)
        await self._queue_deletion(parts)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, *, after_part: int, max_parts: int
    ) -> tuple[MultipartUpload, Sequence[Part], bool]:
        """The upload, a page of its parts, and whether more follow."""
        upload = await self._upload(bucket, key, upload_id)
        page = await self._store.list_parts(upload_id, after_part=after_part, limit=max_parts)
        return upload, page.items, page.truncated

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadListing:
        """Uploads by (key, initiated, upload id) after the markers; with ``delimiter``, keys
        rolled up into common prefixes as in :meth:`list_objects`. NoSuchBucket."""
        await self.get_bucket(bucket)
        return await page_uploads(
            self._store,
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )

    # -- encryption of legacy rows ----------------------------------------------------------
    async def reencrypt_legacy_objects(self, *, batch: int = 100) -> int:
        """Encrypt the objects stored before encryption at rest (record format 1): each
        plaintext blob is re-written encrypted under a fresh data key, the headers sealed, and
        the row swapped only if the object was not overwritten meanwhile (the new blobs are
        then dropped). Idempotent: run at every start, it finds nothing once done. An object
        that cannot be converted (its tenant's key destroyed, its blob missing) is left as it
        is, unreadable, rather than keeping the server from starting. Returns how many objects
        it encrypted."""
        if not self._cipher.encrypts:
            return 0
        done = 0
        after: tuple[str, str] | None = None
        tenants: dict[str, str] = {}
        while True:
            records = await self._store.legacy_objects(after, batch, RECORD_FORMAT_VERSION)
            if not records:
                return done
            for record in records:
                after = (record.bucket, record.key)
                if record.bucket not in tenants:
                    tenants[record.bucket] = (await self.get_bucket(record.bucket)).tenant_id
                try:
                    if await self._reencrypt(record, ObjectEncryption(tenants[record.bucket])):
                        done += 1
                except RegionNotServed:
                    continue  # its blobs are out of reach here: a gateway of its region does it
                except (EncryptionError, ObjectCorrupted, BlobError) as exc:
                    _log.warning(
                        "an object of bucket %s stays unconverted: %s",
                        record.bucket,
                        type(exc).__name__,
                    )

    async def _reencrypt(self, record: ObjectRecord, encryption: ObjectEncryption) -> bool:
        segments: list[Segment] = []
        written: list[Segment] = []
        try:
            for segment in record.segments:
                if segment.key is not None:
                    segments.append(segment)
                    continue
                # Re-written beside the plaintext blob: the same region's store (or the row,
                # for bytes kept inline).
                regional = self._sealed_in(segment.region)
                plain = regional.stored_bytes(
                    segment, 0, segment.size, self._limits.read_chunk_size
                )
                keys = await self._blob_keys(record.bucket, record.key, encryption)
                try:
                    blob_id, _, inline = await regional.write(
                        plain,
                        segment.size,
                        None,
                        BodyIntegrity(),
                        keys,
                        inline_max=segment.size if segment.inline is not None else 0,
                    )
                finally:
                    keys.forget()
                if inline is None:
                    written.append(Segment(blob_id, segment.size, region=segment.region))
                segments.append(
                    dataclasses.replace(
                        segment, blob_id=blob_id, key=keys.segment_key, inline=inline
                    )
                )
            keys = await self._blob_keys(record.bucket, record.key, encryption)
            try:
                sealed = keys.seal(record.bucket, record.key, record.headers)
            finally:
                keys.forget()
            new = dataclasses.replace(
                record,
                segments=tuple(segments),
                sealed_headers=sealed,
                format_version=RECORD_FORMAT_VERSION,
            )
            swapped = await self._store.replace_object_segments(record, stored_form(new))
        except BaseException:
            for blob in written:
                await self._delete_quietly(blob.blob_id, blob.region)
            raise
        if swapped:
            await self._queue_deletion(
                s for s in record.segments if s.blob_id not in {x.blob_id for x in segments}
            )
        else:
            for blob in written:
                await self._delete_quietly(blob.blob_id, blob.region)
        return swapped

    # -- internals --------------------------------------------------------------------------
    def _check_key(self, key: str) -> None:
        if len(key.encode()) > self._limits.max_key_length:
            raise KeyTooLong(f"keys are limited to {self._limits.max_key_length} UTF-8 bytes")

    def _check_metadata(self, headers: ContentHeaders) -> None:
        # AWS counts the UTF-8 bytes of every name and value.
        total = sum(len(k.encode()) + len(v.encode()) for k, v in headers.user_metadata.items())
        if total > self._limits.max_user_metadata_size:
            raise MetadataTooLarge(
                f"user metadata of {total} bytes exceeds {self._limits.max_user_metadata_size}"
            )

    def _check_part_number(self, part_number: int) -> None:
        if not 1 <= part_number <= self._limits.max_parts:
            raise InvalidPartNumber(
                f"part numbers go from 1 to {self._limits.max_parts}, not {part_number}"
            )

    async def _upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        upload = await self._store.get_upload(bucket, upload_id)
        if upload is None or upload.key != key:
            raise NoSuchUpload(upload_id)
        if upload.sealed_headers is not None:
            upload = dataclasses.replace(
                upload,
                headers=(await self._sealed.open_headers(upload.sealed_headers, bucket, key))[0],
            )
        if upload.sealed_kms_context is not None:
            upload = dataclasses.replace(
                upload,
                kms_context=await self._sealed.open_context(upload.sealed_kms_context, bucket, key),
            )
        return upload

    @staticmethod
    def _part_encryption(
        upload: MultipartUpload, encryption: ObjectEncryption | None
    ) -> ObjectEncryption | None:
        """A part of an SSE-KMS upload is bound to the upload's context, bucket-key choice and
        layers."""
        if encryption is None or upload.kms_key_arn is None:
            return encryption
        return dataclasses.replace(
            encryption,
            kms_context=dict(upload.kms_context or {}),
            bucket_key=upload.bucket_key,
            dual_layer=upload.dual_layer,
        )

    async def _check_upload_customer(
        self, upload: MultipartUpload, customer: CustomerKey | None
    ) -> None:
        wrapped = upload.sealed_headers.wrapped if upload.sealed_headers else b""
        await self._sealed.check_customer(wrapped, upload.customer_key_check, customer)

    async def _blob_keys(
        self, bucket: str | Bucket, key: str, encryption: ObjectEncryption | None
    ) -> BlobKeys:
        """A fresh data key for one blob of ``bucket``/``key``; ``encryption`` None: SSE-S3
        under the tenant that owns ``bucket`` (fetched if given by name)."""
        name = bucket.name if isinstance(bucket, Bucket) else bucket
        if encryption is None and self._cipher.encrypts:
            owner = bucket if isinstance(bucket, Bucket) else await self.get_bucket(bucket)
            encryption = ObjectEncryption(owner.tenant_id)
        return await self._sealed.new_keys(encryption or ObjectEncryption(""), name, key)

    async def _open_record(self, record: ObjectRecord) -> ObjectRecord:
        """The record as the store keeps it, with its sealed headers (and SSE-KMS context)
        opened."""
        if record.sealed_headers is None:
            return record
        headers, key_check = await self._sealed.open_headers(
            record.sealed_headers, record.bucket, record.key
        )
        first = record.segments[0].key if record.segments else None
        context = None
        if first is not None and first.context is not None:
            context = await self._sealed.open_context(first.context, record.bucket, record.key)
        return record.opened(headers, context, key_check)

    def _inline_max(self, bucket: Bucket) -> int:
        """Up to how many bytes an object of ``bucket`` is kept in its row (decision 0028)."""
        regions = self._limits.inline_object_regions
        if regions is not None and bucket.region not in regions:
            return 0
        return self._limits.inline_object_max_bytes

    async def _commit_record(
        self,
        record: ObjectRecord,
        expected: ExpectedObject | None = None,
        *,
        versioned: bool = False,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord:
        """Commit the metadata row of a freshly committed blob (or inline bytes); queue what
        it replaced. ``versioned``: the bucket was versioned when read (decision 0097); the
        record returned then carries its version id. ``replication``: the version's copy,
        queued in the version's own transaction (decision 0112)."""
        try:
            # Shielded: a disconnect must not cut the transaction (and the queueing of the
            # replaced blobs) in the middle; the client simply does not hear the answer.
            if versioned:
                return await self._commit_version(record, expected, replication, notify)
            try:
                replaced = await asyncio.shield(
                    self._store.put_object(stored_form(record), expected=expected, notify=notify)
                )
            except BucketVersioned:
                # Turned on since the bucket was read: the previous version must be kept.
                return await self._commit_version(record, expected, replication, notify)
        except (NoSuchBucket, NoSuchUpload, ObjectChanged):
            # The row was certainly not written: the blob is nobody's.
            segment = record.segments[0]
            if segment.inline is None:
                await self._delete_quietly(segment.blob_id, segment.region)
            raise
        # Other failures leave the blob to the sweeper, which checks references first: the
        # row might have committed before the error surfaced.
        if replaced is not None:
            await self._queue_deletion(replaced.segments)
        if record.sealed_headers is not None:
            self._sealed.remember_headers(
                record.sealed_headers, record.bucket, record.key, record.headers
            )
        return record

    async def _commit_version(
        self,
        record: ObjectRecord,
        expected: ExpectedObject | None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord:
        """The commit of a write in a versioned bucket; what it released is queued."""
        written = await asyncio.shield(
            self._store.put_object_version(
                stored_form(record), expected=expected, replication=replication, notify=notify
            )
        )
        await self._queue_deletion(written.released)
        if record.sealed_headers is not None:
            self._sealed.remember_headers(
                record.sealed_headers, record.bucket, record.key, record.headers
            )
        return dataclasses.replace(record, version_id=written.version_id)

    async def _commit_part(
        self,
        upload: MultipartUpload,
        part_number: int,
        blob_id: str,
        hasher: BodyHasher,
        key: SegmentKey | None,
        region: str,
    ) -> Part:
        part = Part(
            upload_id=upload.upload_id,
            part_number=part_number,
            blob_id=blob_id,
            size=hasher.size,
            etag=hasher.md5_hex(),
            last_modified=self._clock(),
            checksum=full_checksum(hasher.algorithm, hasher),
            key=key,
            region=region,
        )
        try:
            replaced = await asyncio.shield(self._store.put_part(part))
        except NoSuchUpload:
            await self._delete_quietly(blob_id, region)
            raise
        if replaced is not None:
            await self._queue_deletion([replaced])
        return part

    def _sealed_in(self, region: str | None) -> SealedBlobs:
        """Reads and writes in ``region``'s store (None: the default region). RegionNotServed."""
        sealed = self._sealed_by_region.get(region)
        if sealed is None:
            store = self._regional.store(region)
            limits = self._limits
            sealed = SealedBlobs(
                store,
                self._cipher,
                limits.read_chunk_size,
                memo_size=limits.opened_headers_memo_size,
            )
            self._sealed_by_region[region] = sealed
        return sealed

    async def _queue_deletion(self, blobs: Iterable[Segment | Part]) -> None:
        """Queue blobs for deletion in their own region's store, by the sweeper serving it."""
        by_region: dict[str | None, list[str]] = {}
        for blob in blobs:
            if isinstance(blob, Segment) and blob.inline is not None:
                continue  # its bytes went with its row
            by_region.setdefault(blob.region, []).append(blob.blob_id)
        if by_region:
            not_before = self._clock() + timedelta(seconds=self._limits.deletion_grace)
            for region, ids in by_region.items():
                await self._store.queue_blob_deletion(ids, not_before, region=region)

    async def _delete_quietly(self, blob_id: str, region: str | None) -> None:
        try:
            await self._regional.store(region).delete(blob_id)
        except BlobError:
            _log.warning("blob %s left for the sweeper: cannot delete it", blob_id, exc_info=True)
