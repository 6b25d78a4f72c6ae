"""Multipart uploads: create, upload a part (or copy one), complete, abort, list parts and
uploads, and :class:`CompletedPart`, one part named by a CompleteMultipartUpload request.

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size. Each
part is a blob of its own with a data key of its own, bound to the upload's SSE-KMS context
and layers; the completed object's segments are the chosen parts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field

from andromede.storage.acl import AccessControlList
from andromede.storage.checksums import BodyHasher, default_checksum_type, validate_checksum_type
from andromede.storage.encryption import CustomerKey, ObjectEncryption
from andromede.storage.errors import (
    ChecksumMismatch,
    EntityTooLarge,
    EntityTooSmall,
    InvalidChecksumRequest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    NoSuchUpload,
    ObjectSizeMismatch,
)
from andromede.storage.integrity import (
    BodyIntegrity,
    checksum_base,
    full_checksum,
    multipart_checksum,
    normal_etag,
)
from andromede.storage.listing import UploadListing, page_uploads
from andromede.storage.model import (
    Bucket,
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    ExpectedObject,
    MultipartUpload,
    ObjectRecord,
    Part,
    Segment,
    SegmentKey,
)
from andromede.storage.notification import EventSource
from andromede.storage.object_lock import ObjectLock
from andromede.storage.sealed_blobs import stored_form
from andromede.storage.service_core import ServiceCore, _events_of, _replication_target
from andromede.storage.versioning import VersionedWrite

__all__ = ["CompletedPart", "MultipartMixin", "new_upload_id"]


def new_upload_id() -> str:
    """A multipart upload's id: 192 random bits, URL-safe, never starting with ``-``. The
    aws CLI takes ``--upload-id -abc`` for an option and refuses the command, so one upload in
    64 could not be continued from it."""
    while True:
        upload_id = secrets.token_urlsafe(24)
        if not upload_id.startswith("-"):
            return upload_id


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One <Part> of a CompleteMultipartUpload request body."""

    part_number: int
    etag: str  # as the client sent it, quotes stripped
    checksums: dict[ChecksumAlgorithm, str] = field(default_factory=dict)


class MultipartMixin(ServiceCore):
    """Multipart uploads (mixed into ObjectService)."""

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
