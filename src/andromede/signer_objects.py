"""Where AWS Signer's jobs meet the object store (decision 0386): the
:class:`~andromede.signer.service.ObjectAccess` port over the object service, as the caller
of StartSigningJob. The source object version is read with ``s3:GetObjectVersion`` and the
signed ZIP written with ``s3:PutObject``, each decided by the S3 authoriser (the caller's
identity policies and the bucket's policy), the buckets the caller's account's, as AWS
Signer wants them in the job's account. The signed ZIP is written as every object: owned by
the bucket's owner and sealed under its key ring. A refusal is the job's failure reason, in
S3's words, never why the authoriser refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

from andromede.errors import AndromedeError
from andromede.iam.model import Principal
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.signer.errors import InvalidSignerInput
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.service import ObjectService

__all__ = ["SignerObjects"]


class SignerObjects:
    def __init__(self, objects: ObjectService, authoriser: S3Authoriser) -> None:
        self._objects = objects
        self._authoriser = authoriser

    async def _bucket(
        self, caller: object, tenant_id: str, name: str, operation: S3Operation, key: str,
        action: str | None,
    ) -> Bucket:  # fmt: skip
        refused = InvalidSignerInput(f"Access Denied to s3://{name[:64]}/{key[:256]}")
        if not isinstance(caller, Principal):
            raise refused
        try:
            bucket = await self._objects.get_bucket(name)
            if bucket.tenant_id != tenant_id:
                raise refused
            await self._authoriser.authorise(
                caller,
                operation,
                bucket=bucket,
                bucket_name=name,
                key=key,
                keys={},
                source_ip=None,
                secure=True,
                action=action,
            )
        except InvalidSignerInput:
            raise
        except AndromedeError:
            raise refused from None
        return bucket

    async def read(
        self, caller: object, tenant_id: str, bucket: str, key: str, version: str, limit: int
    ) -> bytes:
        await self._bucket(
            caller, tenant_id, bucket, S3Operation.GetObject, key, "s3:GetObjectVersion"
        )
        try:
            record = await self._objects.get_version(bucket, key, version)
            await self._objects.check_customer_key(record, None)
            if record.size > limit:
                raise InvalidSignerInput(f"The object to sign is larger than {limit} bytes")
            chunks = [c async for c in self._objects.read_object(record, 0, record.size - 1)]
        except InvalidSignerInput:
            raise
        except AndromedeError:
            raise InvalidSignerInput(
                f"The object s3://{bucket[:64]}/{key[:256]} version {version[:64]} cannot be read"
            ) from None
        return b"".join(chunks)

    async def write(
        self, caller: object, tenant_id: str, bucket: str, key: str, data: bytes
    ) -> None:
        found = await self._bucket(caller, tenant_id, bucket, S3Operation.PutObject, key, None)

        async def body() -> AsyncIterator[bytes]:
            yield data

        try:
            await self._objects.put_object(
                found,
                key,
                body(),
                size=len(data),
                headers=ContentHeaders(content_type="application/zip"),
                owner_id=found.owner_id,
                integrity=BodyIntegrity(),
                encryption=ObjectEncryption(tenant_id=found.tenant_id),
            )
        except AndromedeError as exc:
            raise InvalidSignerInput(
                f"The signed object could not be written: {type(exc).__name__}"
            ) from None
