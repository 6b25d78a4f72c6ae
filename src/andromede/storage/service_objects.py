"""The object path of unversioned and versioned buckets alike: PUT, the look-up for a HEAD or
GET, DELETE, copy, listing, and the re-encryption of rows stored before encryption at rest.

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size. A body
is streamed through the integrity checks and the blob's encryption into a blob, the blob
committed (durable) before the metadata row (the moment the object exists): see
:meth:`~andromede.storage.service_core.ServiceCore._commit_record`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime

from andromede.storage.acl import AccessControlList
from andromede.storage.encryption import CustomerKey, ObjectEncryption
from andromede.storage.errors import (
    BlobError,
    EncryptionError,
    EntityTooLarge,
    NoSuchBucket,
    ObjectCorrupted,
    RegionNotServed,
)
from andromede.storage.integrity import BodyIntegrity, full_checksum, source_integrity
from andromede.storage.listing import ObjectListing, page_objects
from andromede.storage.model import (
    RECORD_FORMAT_VERSION,
    Bucket,
    ChecksumAlgorithm,
    ContentHeaders,
    ExpectedObject,
    ObjectLookup,
    ObjectRecord,
    Segment,
)
from andromede.storage.notification import EventSource
from andromede.storage.object_lock import ObjectLock
from andromede.storage.sealed_blobs import stored_form
from andromede.storage.service_core import (
    ServiceCore,
    _events_of,
    _replication_target,
    _whole_object_segment,
)

__all__ = ["ObjectsMixin"]

# The facade's logger name, as before the split: log settings and readers name it.
_log = logging.getLogger("andromede.storage.service")


class ObjectsMixin(ServiceCore):
    """The object path: PUT, HEAD, DELETE, copy, list (mixed into ObjectService)."""

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

    async def put_delivered_object(
        self,
        bucket: Bucket,
        key: str,
        body: bytes,
        content_type: str,
        encryption: ObjectEncryption | None = None,
    ) -> ObjectRecord:
        """An object a service delivers into an account's bucket (access logs, flow logs,
        log exports, a function's failure record, a pipe's log): ``body`` whole, owned by the
        bucket's owner and sealed under ``encryption``, by default the key ring of the
        bucket's account, as though the owner had put it."""

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        return await self.put_object(
            bucket,
            key,
            chunks(),
            size=len(body),
            headers=ContentHeaders(content_type=content_type),
            owner_id=bucket.owner_id,
            integrity=BodyIntegrity(),
            encryption=(
                ObjectEncryption(tenant_id=bucket.tenant_id) if encryption is None else encryption
            ),
        )

    async def look_up_object(self, bucket: str, key: str) -> ObjectLookup:
        """The bucket and its object ``key`` in one read, for :meth:`head_object`. NoSuchBucket."""
        found, record = await self._store.get_bucket_and_object(bucket, key)
        if found is None:
            raise NoSuchBucket(bucket)
        return ObjectLookup(found, record)

    async def check_customer_key(self, record: ObjectRecord, customer: CustomerKey | None) -> None:
        """What a read of ``record`` needs: its SSE-C key if it has one (CustomerKeyRequired,
        CustomerKeyMismatch), no customer key otherwise (CustomerKeyNotApplicable)."""
        key = record.segments[0].key if record.segments else None
        check = key.customer_key_check if key is not None else None
        await self._sealed.check_customer(key.wrapped if key else b"", check, customer)

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
