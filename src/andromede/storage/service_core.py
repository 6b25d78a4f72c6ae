"""What the parts of the object service share (:class:`ServiceCore`): the metadata store, the
blob stores by region and their sealing, the reads of a bucket and of an object or version,
the commit of a written record, and the deletion of the blobs a write released.

:class:`~andromede.storage.service.ObjectService`, the context's one public entry, is this
core with the mixins of buckets, objects, versions, per-version metadata, replication and
multipart uploads; split off only for size (STYLE §10). Also here: :class:`StorageLimits`
and the helpers the parts use to decide a write's replication and event notifications.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from andromede.storage.blobs import BlobStore
from andromede.storage.checksums import BodyHasher
from andromede.storage.encryption import CustomerKey, ObjectCipher, ObjectEncryption
from andromede.storage.errors import (
    BlobError,
    BucketVersioned,
    DeleteMarkerFound,
    InvalidRange,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    ObjectChanged,
)
from andromede.storage.model import (
    Bucket,
    ContentHeaders,
    EncryptionMode,
    ExpectedObject,
    ObjectLookup,
    ObjectRecord,
    Part,
    PublicAccessBlock,
    Segment,
    VersioningStatus,
)
from andromede.storage.notification import EventBatch, EventSource
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication import ReplicationTarget
from andromede.storage.sealed_blobs import (
    DEFAULT_OPENED_HEADERS_MEMO_SIZE,
    BlobKeys,
    SealedBlobs,
    stored_form,
)
from andromede.storage.store import MetadataStore
from andromede.storage.versioning import NULL_VERSION_ID, DeleteMarker

__all__ = ["ServiceCore", "StorageLimits", "replica_acl"]

# The facade's logger name, as before the split: log settings and readers name it.
_log = logging.getLogger("andromede.storage.service")


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
    block = replica_bucket.effective_public_access_block
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


class ServiceCore:
    """The state and the shared steps of :class:`~andromede.storage.service.ObjectService`."""

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

    async def get_bucket(self, name: str) -> Bucket:
        """NoSuchBucket if absent. With its account's Block Public Access (decision 0152)."""
        bucket = await self._store.get_bucket(name)
        if bucket is None:
            raise NoSuchBucket(name)
        return bucket

    async def get_account_public_access_block(self, tenant_id: str) -> PublicAccessBlock | None:
        """The account's Block Public Access (S3 Control, decision 0152); None: none."""
        return await self._store.get_account_public_access_block(tenant_id)

    async def put_account_public_access_block(
        self, tenant_id: str, block: PublicAccessBlock | None
    ) -> None:
        """Set (None: delete) the account's Block Public Access; read with every bucket of the
        account from then on, whichever gateway reads it."""
        await self._store.put_account_public_access_block(tenant_id, block)

    async def _bucket(self, bucket: str | Bucket) -> Bucket:
        return bucket if isinstance(bucket, Bucket) else await self.get_bucket(bucket)

    @property
    def _bound(self) -> int:
        return self._limits.notification_queue_per_tenant

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
