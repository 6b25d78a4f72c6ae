"""ObjectService: the one public entry of object storage (buckets, objects, multipart).

It streams bodies through the integrity checks (MD5 for the ETag, the asked-for additional
checksum, Content-MD5) and the encryption of the blob (a fresh data key per blob, see
``encryption.py``) into a blob, commits the blob (durable) before the metadata row (the
moment the object exists), and queues blobs that an overwrite or delete left unreferenced for
deferred deletion, so a GET in flight still reads the old object whole.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import logging
import secrets
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from andromede.storage.acl import AccessControlList
from andromede.storage.blobs import BlobStore, BlobWriter
from andromede.storage.bucket_names import validate_bucket_name
from andromede.storage.checksums import (
    BodyHasher,
    default_checksum_type,
    validate_checksum_type,
)
from andromede.storage.encryption import (
    BlobSealer,
    CustomerKey,
    ObjectCipher,
    ObjectEncryption,
    customer_blob_key,
    customer_key_check,
    customer_key_matches,
    open_headers,
    seal_headers,
)
from andromede.storage.errors import (
    BlobError,
    ChecksumMismatch,
    CustomerKeyMismatch,
    CustomerKeyNotApplicable,
    CustomerKeyRequired,
    EncryptionError,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
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
    ObjectCorrupted,
)
from andromede.storage.integrity import (
    BodyIntegrity,
    checksum_base,
    full_checksum,
    multipart_checksum,
    normal_etag,
    source_integrity,
    update_all,
    verify_body,
)
from andromede.storage.model import (
    RECORD_FORMAT_VERSION,
    Bucket,
    BucketEncryption,
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    MultipartUpload,
    ObjectOwnership,
    ObjectRecord,
    ObjectSummary,
    Part,
    PublicAccessBlock,
    SealedHeaders,
    Segment,
    SegmentKey,
)
from andromede.storage.store import MetadataStore

__all__ = [
    "BodyIntegrity",
    "CompletedPart",
    "ObjectListing",
    "ObjectService",
    "StorageLimits",
    "UploadListing",
]

_log = logging.getLogger(__name__)

# Sorts after any character a key can continue with: seeking to ``common_prefix + _SENTINEL``
# skips every key under a common prefix already returned (a key continuing with U+10FFFF itself
# is skipped by the listing loop).
_SENTINEL = "\U0010ffff"


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


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One <Part> of a CompleteMultipartUpload request body."""

    part_number: int
    etag: str  # as the client sent it, quotes stripped
    checksums: dict[ChecksumAlgorithm, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectListing:
    objects: tuple[ObjectSummary, ...]
    common_prefixes: tuple[str, ...]
    truncated: bool
    next_marker: str | None  # last key or common prefix returned, when truncated


@dataclass(frozen=True, slots=True)
class UploadListing:
    uploads: tuple[MultipartUpload, ...]
    common_prefixes: tuple[str, ...]
    truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


_THREADED_HASH_MIN = 1024 * 1024
_HASH_BLOCK = 1024 * 1024


class ObjectService:
    def __init__(
        self,
        store: MetadataStore,
        blobs: BlobStore,
        limits: StorageLimits,
        cipher: ObjectCipher,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._cipher = cipher
        self._limits = limits
        self._clock = clock

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
    ) -> Bucket:
        """Validate the name (S3 rules: InvalidBucketName) and create the bucket.

        New buckets have Block Public Access fully on, as on AWS since April 2023.
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
        )
        await self._store.create_bucket(bucket)
        return bucket

    async def get_bucket(self, name: str) -> Bucket:
        """NoSuchBucket if absent."""
        bucket = await self._store.get_bucket(name)
        if bucket is None:
            raise NoSuchBucket(name)
        return bucket

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        return await self._store.list_buckets(tenant_id)

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

    async def set_bucket_encryption(self, name: str, encryption: BucketEncryption | None) -> Bucket:
        """Store (or, with None, remove) the bucket's default encryption. NoSuchBucket."""
        return await self._store.update_bucket_access(name, encryption=encryption)

    async def delete_bucket(self, name: str) -> None:
        """NoSuchBucket, BucketNotEmpty."""
        parts = await self._store.delete_bucket(name)
        await self._queue_deletion(p.blob_id for p in parts)

    # -- objects ----------------------------------------------------------------------------
    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterable[bytes],
        *,
        size: int,
        headers: ContentHeaders,
        owner_id: str,
        integrity: BodyIntegrity,
        encryption: ObjectEncryption | None = None,
        acl: AccessControlList | None = None,
    ) -> ObjectRecord:
        """Store a whole object, encrypted as ``encryption`` says. ``size`` is the decoded
        length the client announced: EntityTooLarge above the limit, IncompleteBody if the body
        ends short of it, and the stream is not read past it. BadDigest / ChecksumMismatch leave
        nothing behind."""
        self._check_key(key)
        self._check_metadata(headers)
        if size > self._limits.max_object_size:
            raise EntityTooLarge(f"{size} bytes exceed the {self._limits.max_object_size} limit")
        algorithm = integrity.checksum_algorithm
        keys = await self._blob_keys(bucket, encryption)
        try:
            blob_id, hasher = await self._write_blob(body, size, algorithm, integrity, keys)
            record = ObjectRecord(
                bucket=bucket,
                key=key,
                size=hasher.size,
                etag=hasher.md5_hex(),
                last_modified=self._clock(),
                headers=headers,
                segments=(
                    Segment(
                        blob_id=blob_id,
                        size=hasher.size,
                        etag=hasher.md5_hex(),
                        key=keys.segment_key,
                    ),
                ),
                owner_id=owner_id,
                checksum=full_checksum(algorithm, hasher),
                acl=acl,
                sealed_headers=keys.seal(bucket, key, headers),
            )
        finally:
            keys.forget()
        return await self._commit_record(record, blob_id)

    async def set_object_acl(
        self, bucket: str, key: str, acl: AccessControlList | None
    ) -> ObjectRecord:
        """NoSuchBucket, NoSuchKey."""
        record = await self._store.set_object_acl(bucket, key, acl)
        if record is None:
            await self.get_bucket(bucket)
            raise NoSuchKey(key)
        return await self._open_record(record)

    async def head_object(self, bucket: str, key: str) -> ObjectRecord:
        """NoSuchBucket, NoSuchKey."""
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
        await self._check_customer(key.wrapped if key else b"", check, customer)

    async def _check_customer(
        self, wrapped: bytes, check: bytes | None, customer: CustomerKey | None
    ) -> None:
        if check is None:
            if customer is not None:
                raise CustomerKeyNotApplicable(
                    "The encryption parameters are not applicable to this object."
                )
            return
        if customer is None:
            raise CustomerKeyRequired(
                "The object was stored using a form of Server Side Encryption. The correct "
                "parameters must be provided to retrieve the object."
            )
        data_key = await self._cipher.open_data_key(wrapped)
        try:
            if not customer_key_matches(data_key, customer, check):
                raise CustomerKeyMismatch("The provided customer key does not match the object's.")
        finally:
            _zero(data_key)

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
        return self._stream(record, start, end, customer_key)

    async def _stream(
        self, record: ObjectRecord, start: int, end: int, customer: CustomerKey | None
    ) -> AsyncIterator[bytes]:
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
            async for chunk in self._read_segment(segment, lo, hi + 1, customer):
                yield chunk

    async def _read_segment(
        self, segment: Segment, start: int, stop: int, customer: CustomerKey | None
    ) -> AsyncIterator[bytes]:
        """Plaintext ``[start, stop)`` of one segment, decrypting only the chunks it touches."""
        if segment.key is None:
            if self._cipher.encrypts:
                # Every blob is encrypted; a plaintext one is a legacy row that the start-up
                # re-encryption has not reached, or a row written by the benchmark switch.
                raise ObjectCorrupted("the object is stored without encryption")
            async for chunk in self._read_blob(
                segment.blob_id, start, stop - start, self._limits.read_chunk_size
            ):
                yield chunk
            return
        data_key = await self._cipher.open_data_key(segment.key.wrapped)
        blob_key = data_key
        if segment.key.customer_key_check is not None:
            if customer is None or not customer_key_matches(
                data_key, customer, segment.key.customer_key_check
            ):
                _zero(data_key)
                raise CustomerKeyMismatch("The provided customer key does not match the object's.")
            blob_key = customer_blob_key(data_key, customer)
            _zero(data_key)
        cipher = self._cipher
        plan = cipher.plan(segment.size, start, stop)
        header_size = cipher.header_size
        try:
            if plan.ciphertext_start == header_size:
                # The range starts at the first chunk: one read holds the header too.
                first_read = 0
                header = b""
            else:
                first_read = plan.ciphertext_start
                header = await self._read_all(segment.blob_id, 0, header_size)
            opener = None
            stream = self._read_blob(
                segment.blob_id,
                first_read,
                plan.ciphertext_end - first_read,
                cipher.read_block_size,
            )
            async for block in stream:
                if opener is None:
                    if not header:
                        if len(block) < header_size:
                            raise ObjectCorrupted("the object's stored bytes are truncated")
                        header, block = block[:header_size], block[header_size:]
                    opener = cipher.opener(blob_key, segment.blob_id, header, plan)
                if block:
                    out = opener.update(block)
                    if out:
                        # A fresh buffer per call, never reused: handed on without a copy
                        # (ASGI servers write any bytes-like body).
                        yield out  # type: ignore[misc]
            if opener is None:
                raise ObjectCorrupted("the object's stored bytes are truncated")
            opener.finish()
        finally:
            _zero(blob_key)

    async def _read_all(self, blob_id: str, offset: int, length: int) -> bytes:
        pieces = [piece async for piece in self._read_blob(blob_id, offset, length, length)]
        return b"".join(pieces)

    async def _read_blob(
        self, blob_id: str, offset: int, length: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        stream = self._blobs.read(blob_id, offset, length, chunk_size)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            # Close the blob now, not whenever the garbage collector finalises it.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def delete_object(self, bucket: str, key: str) -> ObjectRecord | None:
        """Delete if present (S3 answers 204 either way). NoSuchBucket."""
        removed = await self._store.delete_object(bucket, key)
        if removed is None:
            await self.get_bucket(bucket)
            return None
        await self._queue_deletion(s.blob_id for s in removed.segments)
        return removed

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
    ) -> ObjectRecord:
        """Copy ``source`` (already fetched and checked by the caller, its SSE-C key too) to
        bucket/key, re-encrypted as ``encryption`` says. ``headers`` None keeps the source's
        (COPY directive). The copy has a single segment; its checksum is recomputed with
        ``checksum_algorithm`` or the source's algorithm."""
        self._check_key(key)
        if headers is not None:
            self._check_metadata(headers)
        if source.size > self._limits.max_object_size:
            raise EntityTooLarge(f"{source.size} bytes exceed the copy limit")
        algorithm = checksum_algorithm or (source.checksum.algorithm if source.checksum else None)
        body = self.read_object(source, 0, source.size - 1, customer_key=source_customer_key)
        new_headers = source.headers if headers is None else headers
        keys = await self._blob_keys(bucket, encryption)
        try:
            blob_id, hasher = await self._write_blob(
                body, source.size, algorithm, source_integrity(source, algorithm), keys
            )
            record = ObjectRecord(
                bucket=bucket,
                key=key,
                size=hasher.size,
                etag=hasher.md5_hex(),
                last_modified=self._clock(),
                headers=new_headers,
                segments=(
                    Segment(
                        blob_id=blob_id,
                        size=hasher.size,
                        etag=hasher.md5_hex(),
                        key=keys.segment_key,
                    ),
                ),
                owner_id=owner_id,
                acl=acl,
                checksum=full_checksum(algorithm, hasher),
                sealed_headers=keys.seal(bucket, key, new_headers),
            )
        finally:
            keys.forget()
        return await self._commit_record(record, blob_id)

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
        if max_keys <= 0:
            return ObjectListing((), (), False, None)
        if not delimiter:
            page = await self._store.list_objects(
                bucket, prefix=prefix, after=after, limit=max_keys
            )
            marker = page.items[-1].key if page.truncated and page.items else None
            return ObjectListing(page.items, (), page.truncated, marker)

        objects: list[ObjectSummary] = []
        prefixes: list[str] = []
        cursor = _seek_past_prefix(after, prefix, delimiter)
        # The last common prefix returned, on this page or (the marker) on the previous one.
        skip = after if cursor != after else None
        last_marker: str | None = None
        truncated = False
        while not truncated:
            remaining = max_keys - len(objects) - len(prefixes)
            page = await self._store.list_objects(
                bucket, prefix=prefix, after=cursor, limit=remaining + 1
            )
            seek = False
            for record in page.items:
                common = _common_prefix(record.key, prefix, delimiter)
                if common is not None and common == skip:
                    cursor = record.key  # a key past the sentinel, still under this prefix
                    continue
                if len(objects) + len(prefixes) == max_keys:
                    truncated = True
                    break
                if common is None:
                    objects.append(record)
                    cursor = last_marker = record.key
                else:
                    # Emit the prefix once, then seek past every key under it.
                    prefixes.append(common)
                    last_marker = skip = common
                    cursor = common + _SENTINEL
                    seek = True
                    break
            if not seek and not page.truncated:
                break
        return ObjectListing(
            tuple(objects), tuple(prefixes), truncated, last_marker if truncated else None
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
    ) -> MultipartUpload:
        """NoSuchBucket; InvalidChecksumRequest for a checksum type the algorithm
        cannot have (FULL_OBJECT with SHA, COMPOSITE with CRC64NVME) or a type without one."""
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
        keys = await self._blob_keys(bucket, encryption)
        try:
            upload = MultipartUpload(
                bucket=bucket,
                key=key,
                upload_id=secrets.token_urlsafe(24),
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
            )
        finally:
            keys.forget()
        await self._store.create_upload(_stored_form(upload))
        return upload

    async def upload_part(
        self,
        bucket: str,
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
        SSE-C upload the part needs the upload's customer key (CustomerKeyRequired/Mismatch)."""
        self._check_part_number(part_number)
        if size > self._limits.max_part_size:
            raise EntityTooLarge(f"{size} bytes exceed the {self._limits.max_part_size} limit")
        upload = await self._upload(bucket, key, upload_id)
        await self._check_upload_customer(upload, encryption.customer_key if encryption else None)
        algorithm = upload.checksum_algorithm
        if integrity.checksum_algorithm is not None:
            if algorithm is not None and integrity.checksum_algorithm is not algorithm:
                raise InvalidChecksumRequest(
                    f"Checksum Type mismatch occurred, expected checksum Type: "
                    f"{algorithm.value.lower()}, actual checksum Type: "
                    f"{integrity.checksum_algorithm.value.lower()}"
                )
            algorithm = integrity.checksum_algorithm
        keys = await self._blob_keys(bucket, encryption)
        try:
            blob_id, hasher = await self._write_blob(body, size, algorithm, integrity, keys)
        finally:
            keys.forget()
        return await self._commit_part(upload, part_number, blob_id, hasher, keys.segment_key)

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
        body = self.read_object(source, start, end, customer_key=source_customer_key)
        keys = await self._blob_keys(bucket, encryption)
        try:
            blob_id, hasher = await self._write_blob(
                body, size, upload.checksum_algorithm, BodyIntegrity(), keys
            )
        finally:
            keys.forget()
        return await self._commit_part(upload, part_number, blob_id, hasher, keys.segment_key)

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        *,
        expected_checksum: Checksum | None = None,
    ) -> ObjectRecord:
        """InvalidPartOrder (not ascending), InvalidPart (missing or ETag/checksum mismatch),
        EntityTooSmall (a part other than the last below min_part_size), NoSuchUpload.
        ETag is md5-of-md5s-N; checksum composite or full-object as the upload declared."""
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
                )
                for p in chosen
            ),
            owner_id=upload.owner_id,
            checksum=checksum,
            sealed_headers=upload.sealed_headers,
        )
        # Shielded: once the transaction runs, a client disconnect must not leave us unsure
        # whether the object exists while its replaced blobs are still unqueued.
        replaced, unused = await asyncio.shield(
            self._store.complete_upload(upload_id, _stored_form(record))
        )
        await self._queue_deletion(
            [p.blob_id for p in unused]
            + ([s.blob_id for s in replaced.segments] if replaced is not None else [])
        )
        return record

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """NoSuchUpload."""
        await self._upload(bucket, key, upload_id)
        parts = await self._store.abort_upload(upload_id)
        await self._queue_deletion(p.blob_id for p in parts)

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
        if max_uploads <= 0:
            return UploadListing((), (), False, None, None)
        uploads: list[MultipartUpload] = []
        prefixes: list[str] = []
        cursor_key = key_marker
        cursor_id = upload_id_marker if key_marker is not None else None
        skip: str | None = None  # the last common prefix returned
        if delimiter and key_marker is not None:
            seek = _seek_past_prefix(key_marker, prefix, delimiter)
            if seek != key_marker:
                cursor_key, cursor_id, skip = seek, None, key_marker
        last: tuple[str, str | None] | None = None
        truncated = False
        while not truncated:
            remaining = max_uploads - len(uploads) - len(prefixes)
            page = await self._store.list_uploads(
                bucket,
                prefix=prefix,
                after_key=cursor_key,
                after_upload_id=cursor_id,
                limit=remaining + 1,
            )
            seek_ahead = False
            for upload in page.items:
                common = _common_prefix(upload.key, prefix, delimiter) if delimiter else None
                if common is not None and common == skip:
                    cursor_key, cursor_id = upload.key, upload.upload_id
                    continue
                if len(uploads) + len(prefixes) == max_uploads:
                    truncated = True
                    break
                if common is None:
                    uploads.append(upload)
                    cursor_key, cursor_id = upload.key, upload.upload_id
                    last = (upload.key, upload.upload_id)
                else:
                    prefixes.append(common)
                    skip = common
                    last = (common, None)
                    cursor_key, cursor_id = common + _SENTINEL, None
                    seek_ahead = True
                    break
            if not seek_ahead and not page.truncated:
                break
        next_key, next_id = last if truncated and last is not None else (None, None)
        return UploadListing(tuple(uploads), tuple(prefixes), truncated, next_key, next_id)

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
                except (EncryptionError, ObjectCorrupted, BlobError) as exc:
                    _log.warning(
                        "an object of bucket %s stays unconverted: %s",
                        record.bucket,
                        type(exc).__name__,
                    )

    async def _reencrypt(self, record: ObjectRecord, encryption: ObjectEncryption) -> bool:
        segments: list[Segment] = []
        written: list[str] = []
        try:
            for segment in record.segments:
                if segment.key is not None:
                    segments.append(segment)
                    continue
                plain = self._read_blob(
                    segment.blob_id, 0, segment.size, self._limits.read_chunk_size
                )
                keys = await self._blob_keys(record.bucket, encryption)
                try:
                    blob_id, _ = await self._write_blob(
                        plain, segment.size, None, BodyIntegrity(), keys
                    )
                finally:
                    keys.forget()
                written.append(blob_id)
                segments.append(dataclasses.replace(segment, blob_id=blob_id, key=keys.segment_key))
            keys = await self._blob_keys(record.bucket, encryption)
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
            swapped = await self._store.replace_object_segments(record, _stored_form(new))
        except BaseException:
            for blob_id in written:
                await self._delete_quietly(blob_id)
            raise
        if swapped:
            await self._queue_deletion(
                s.blob_id for s in record.segments if s.blob_id not in {x.blob_id for x in segments}
            )
        else:
            for blob_id in written:
                await self._delete_quietly(blob_id)
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
                upload, headers=await self._open_headers(upload.sealed_headers, bucket, key)
            )
        return upload

    async def _check_upload_customer(
        self, upload: MultipartUpload, customer: CustomerKey | None
    ) -> None:
        wrapped = upload.sealed_headers.wrapped if upload.sealed_headers else b""
        await self._check_customer(wrapped, upload.customer_key_check, customer)

    async def _write_blob(
        self,
        body: AsyncIterable[bytes],
        size: int,
        algorithm: ChecksumAlgorithm | None,
        integrity: BodyIntegrity,
        keys: _BlobKeys,
    ) -> tuple[str, BodyHasher]:
        """Stream ``body`` through the hashes and the encryption into a new blob, check it,
        commit it (durable). The hashes are of the plaintext: ETag and checksums are the
        object's, as S3 shows them for SSE-S3.

        On any failure, cancellation included, the writer is aborted and nothing is left.
        """
        blob_id = uuid.uuid4().hex
        sealer = self._cipher.sealer(keys.blob_key, blob_id)
        writer = await self._blobs.create(blob_id)
        # Large bodies are hashed in a worker thread a block at a time (hashlib releases the
        # GIL): MD5 on the event loop was half the CPU of a 64 MiB PUT and kept the loop from
        # reading the other uploads' bytes. Small bodies are hashed inline, cheaper than a hop.
        threaded = size > _THREADED_HASH_MIN
        try:
            hasher = BodyHasher(algorithm)
            received = 0
            batch: list[bytes] = []
            batch_size = 0
            async for chunk in body:
                if not chunk:
                    continue
                received += len(chunk)
                if received > size:
                    # The caller's framing is wrong (more bytes than announced): stop here.
                    raise IncompleteBody(f"the body is longer than the announced {size} bytes")
                if not threaded:
                    hasher.update(chunk)
                    sealed = sealer.update(chunk)
                    if sealed:
                        await writer.write(sealed)
                    continue
                batch.append(chunk)
                batch_size += len(chunk)
                if batch_size >= _HASH_BLOCK:
                    await self._hash_and_write(hasher, sealer, writer, batch)
                    batch, batch_size = [], 0
            if batch:
                await self._hash_and_write(hasher, sealer, writer, batch)
            if hasher.size < size:
                raise IncompleteBody(f"{hasher.size} bytes received, {size} announced")
            verify_body(hasher, integrity)  # after the body: a trailer may carry the checksum
            await writer.write(sealer.finish())
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return blob_id, hasher

    @staticmethod
    async def _hash_and_write(
        hasher: BodyHasher, sealer: BlobSealer, writer: BlobWriter, batch: list[bytes]
    ) -> None:
        for sealed in await asyncio.to_thread(_hash_and_seal, hasher, sealer, batch):
            await writer.write(sealed)

    async def _blob_keys(self, bucket: str, encryption: ObjectEncryption | None) -> _BlobKeys:
        """A fresh data key for one blob (and its headers), with what to store beside it.
        ``encryption`` None: SSE-S3 under the tenant that owns ``bucket``."""
        if not self._cipher.encrypts:
            return _BlobKeys(bytearray(), bytearray(), None)
        if encryption is None:
            encryption = ObjectEncryption((await self.get_bucket(bucket)).tenant_id)
        data_key, wrapped = await self._cipher.new_data_key(encryption.tenant_id)
        customer = encryption.customer_key
        if customer is None:
            return _BlobKeys(data_key, data_key, SegmentKey(wrapped))
        check = customer_key_check(data_key, customer)
        return _BlobKeys(
            data_key, customer_blob_key(data_key, customer), SegmentKey(wrapped, check)
        )

    async def _open_headers(self, sealed: SealedHeaders, bucket: str, key: str) -> ContentHeaders:
        data_key = await self._cipher.open_data_key(sealed.wrapped)
        try:
            return open_headers(data_key, sealed, bucket, key)
        finally:
            _zero(data_key)

    async def _open_record(self, record: ObjectRecord) -> ObjectRecord:
        """The record as the store keeps it, with its sealed headers opened."""
        if record.sealed_headers is None:
            return record
        headers = await self._open_headers(record.sealed_headers, record.bucket, record.key)
        return dataclasses.replace(record, headers=headers)

    async def _commit_record(self, record: ObjectRecord, blob_id: str) -> ObjectRecord:
        """Commit the metadata row of a freshly committed blob; queue what it replaced."""
        try:
            # Shielded: a disconnect must not cut the transaction (and the queueing of the
            # replaced blobs) in the middle; the client simply does not hear the answer.
            replaced = await asyncio.shield(self._store.put_object(_stored_form(record)))
        except (NoSuchBucket, NoSuchUpload):
            # The row was certainly not written: the blob is nobody's.
            await self._delete_quietly(blob_id)
            raise
        # Other failures leave the blob to the sweeper, which checks references first: the
        # row might have committed before the error surfaced.
        if replaced is not None:
            await self._queue_deletion(s.blob_id for s in replaced.segments)
        return record

    async def _commit_part(
        self,
        upload: MultipartUpload,
        part_number: int,
        blob_id: str,
        hasher: BodyHasher,
        key: SegmentKey | None,
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
        )
        try:
            replaced = await asyncio.shield(self._store.put_part(part))
        except NoSuchUpload:
            await self._delete_quietly(blob_id)
            raise
        if replaced is not None:
            await self._queue_deletion([replaced.blob_id])
        return part

    async def _queue_deletion(self, blob_ids: Iterable[str]) -> None:
        ids = list(blob_ids)
        if ids:
            not_before = self._clock() + timedelta(seconds=self._limits.deletion_grace)
            await self._store.queue_blob_deletion(ids, not_before)

    async def _delete_quietly(self, blob_id: str) -> None:
        try:
            await self._blobs.delete(blob_id)
        except BlobError:
            _log.warning("blob %s left for the sweeper: cannot delete it", blob_id, exc_info=True)


@dataclass(slots=True)
class _BlobKeys:
    """The keys of one blob being written: zeroed (``forget``) once the blob is sealed."""

    data_key: bytearray  # the tenant data key (it also seals the headers)
    blob_key: bytearray  # what the chunks are derived from: the data key, or SSE-C's mix
    segment_key: SegmentKey | None  # what the segment stores; None only with encryption off

    def seal(self, bucket: str, key: str, headers: ContentHeaders) -> SealedHeaders | None:
        if self.segment_key is None:
            return None
        return seal_headers(self.data_key, self.segment_key.wrapped, bucket, key, headers)

    def forget(self) -> None:
        _zero(self.data_key)
        _zero(self.blob_key)


_StoredT = TypeVar("_StoredT", ObjectRecord, MultipartUpload)
_PLAINTEXT_FORMAT_VERSION = 1  # records before encryption at rest: plaintext blobs and headers


def _stored_form(record: _StoredT) -> _StoredT:
    """What the store keeps: sealed headers only. Without them (the benchmark switch) the row
    is a plaintext one, format 1, which the start-up re-encryption converts later."""
    if record.sealed_headers is None:
        return dataclasses.replace(record, format_version=_PLAINTEXT_FORMAT_VERSION)
    return dataclasses.replace(record, headers=ContentHeaders())


def _zero(key: bytearray) -> None:
    key[:] = bytes(len(key))


def _hash_and_seal(
    hasher: BodyHasher, sealer: BlobSealer, batch: list[bytes]
) -> list[bytes | bytearray]:
    """Hash and encrypt a batch in a worker thread (hashlib and AES-GCM release the GIL)."""
    update_all(hasher, batch)
    return [sealed for chunk in batch if (sealed := sealer.update(chunk))]


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into under ``prefix``, or None if it stands alone."""
    if not key.startswith(prefix):
        return None
    index = key.find(delimiter, len(prefix))
    if index < 0:
        return None
    return key[: index + len(delimiter)]


def _seek_past_prefix(after: str | None, prefix: str, delimiter: str) -> str | None:
    """Where a delimited listing resumes: a marker that is itself a common prefix (the last
    entry of the previous page) means "after every key under it"."""
    if after is not None and _common_prefix(after, prefix, delimiter) == after:
        return after + _SENTINEL
    return after
