"""Where DynamoDB's exports and imports (decision 0261) meet the object store: the
:class:`~andromede.dynamodb.exports.ExportBuckets` port over the object service, as the caller.

As AWS's, an export writes and an import reads with the permissions of the principal that
called ExportTableToPointInTime or ImportTable: ``s3:PutObject`` on each key written,
``s3:ListBucket`` on the bucket and ``s3:GetObject`` on each key read, decided by the S3
authoriser (the caller's identity policies and the bucket's policy: another account's bucket
must grant them). ``S3BucketOwner``, when given, must be the bucket's account. The objects
are written as every object, owned by the bucket's owner and sealed under its key ring
(SSE-S3); a body is streamed, never held whole. A refusal is :class:`BucketRefused` with
AWS's FailureCode (``S3NoSuchBucket``, ``S3AccessDenied``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

from andromede.dynamodb.exports import BucketRefused
from andromede.errors import AndromedeError
from andromede.iam.model import Principal
from andromede.s3.authorise import S3Authoriser
from andromede.s3.errors import S3Error
from andromede.s3.operations import S3Operation
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.service import ObjectService

__all__ = ["CallerBuckets"]

_NO_BUCKET: Final = "The specified bucket does not exist"
_DENIED: Final = "Access Denied"


class CallerBuckets:
    def __init__(
        self,
        objects: ObjectService,
        authoriser: S3Authoriser,
        max_object_size: int,
        max_import_objects: int,
    ) -> None:
        self._objects = objects
        self._authoriser = authoriser
        self._max_object_size = max_object_size
        self._max_keys = max_import_objects

    async def _bucket(
        self, caller: object, name: str, owner: str | None, operation: S3Operation, key: str | None
    ) -> Bucket:
        if not isinstance(caller, Principal):
            raise BucketRefused("S3AccessDenied", _DENIED)
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            raise BucketRefused("S3NoSuchBucket", _NO_BUCKET) from None
        if owner is not None and owner != bucket.tenant_id:
            raise BucketRefused("S3AccessDenied", _DENIED)
        try:
            await self._authoriser.authorise(
                caller,
                operation,
                bucket=bucket,
                bucket_name=name,
                key=key,
                keys={},
                source_ip=None,
                secure=True,
            )
        except S3Error:
            raise BucketRefused("S3AccessDenied", _DENIED) from None
        return bucket

    async def write(
        self, caller: object, bucket: str, owner: str | None, key: str, body: AsyncIterable[bytes]
    ) -> str:
        found = await self._bucket(caller, bucket, owner, S3Operation.PutObject, key)
        content_type = "application/gzip" if key.endswith(".gz") else "application/json"
        try:
            record = await self._objects.put_object(
                found,
                key,
                body,
                size=self._max_object_size,
                exact_size=False,  # streamed: its length is known at its end
                headers=ContentHeaders(content_type=content_type),
                owner_id=found.owner_id,
                integrity=BodyIntegrity(),
                encryption=ObjectEncryption(tenant_id=found.tenant_id),
            )
        except BucketRefused:
            raise
        except AndromedeError as exc:
            raise BucketRefused("S3WriteError", type(exc).__name__) from None
        return record.etag

    async def keys(self, caller: object, bucket: str, owner: str | None, prefix: str) -> list[str]:
        await self._bucket(caller, bucket, owner, S3Operation.ListObjectsV2, None)
        found: list[str] = []
        after: str | None = None
        while len(found) <= self._max_keys:
            listing = await self._objects.list_objects(
                bucket, prefix=prefix, after=after, max_keys=1000
            )
            found += [o.key for o in listing.objects]
            if not listing.truncated or not listing.objects:
                break
            after = listing.objects[-1].key
        if len(found) > self._max_keys:
            raise BucketRefused(
                "S3LimitExceeded",
                f"More than {self._max_keys} objects under the prefix: import fewer at once",
            )
        return found

    async def read(
        self, caller: object, bucket: str, owner: str | None, key: str
    ) -> AsyncIterator[bytes]:
        await self._bucket(caller, bucket, owner, S3Operation.GetObject, key)
        try:
            record = await self._objects.head_object(bucket, key)
            await self._objects.check_customer_key(record, None)
        except AndromedeError:
            raise BucketRefused(
                "S3AccessDenied", f"The object {key[:512]} cannot be read"
            ) from None
        async for chunk in self._objects.read_object(record, 0, record.size - 1):
            yield chunk
