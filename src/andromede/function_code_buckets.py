"""Where Lambda's code meets S3 (decision 0286): the ``functions.service.CodeSource`` that
reads a CreateFunction's or UpdateFunctionCode's ``S3Bucket``/``S3Key`` (and
``S3ObjectVersion``) as the caller — ``s3:GetObject`` (``s3:GetObjectVersion``) judged by
the bucket's policy and the caller's, as S3 itself would — decrypted by the storage service,
bounded by the zip limit while it is read. The bucket must be the caller's account's, as AWS
requires a bucket in the function's account. Any refusal is AWS's words:
``InvalidParameterValueException`` naming the object, never why S3 refused."""

from __future__ import annotations

from andromede.errors import AndromedeError
from andromede.functions.errors import InvalidParameterValue, RequestTooLarge
from andromede.iam.model import Principal
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.storage.service import ObjectService

__all__ = ["BucketCode"]


class BucketCode:
    def __init__(self, objects: ObjectService, authoriser: S3Authoriser, max_bytes: int) -> None:
        self._objects = objects
        self._authoriser = authoriser
        self._max_bytes = max_bytes

    async def __call__(
        self, caller: object, tenant_id: str, bucket: str, key: str, version: str | None
    ) -> bytes:
        refused = InvalidParameterValue(
            f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
            f"object s3://{bucket[:64]}/{key[:256]} cannot be read"
        )
        if not isinstance(caller, Principal):
            raise refused
        try:
            found = await self._objects.get_bucket(bucket)
            if found.tenant_id != tenant_id:
                raise refused
            await self._authoriser.authorise(
                caller,
                S3Operation.GetObject,
                bucket=found,
                bucket_name=bucket,
                key=key,
                keys={},
                source_ip=None,
                secure=True,
                action=None if version is None else "s3:GetObjectVersion",
            )
            if version is None:
                record = await self._objects.head_object(bucket, key)
            else:
                record = await self._objects.get_version(bucket, key, version)
            await self._objects.check_customer_key(record, None)
            if record.size > self._max_bytes:
                raise RequestTooLarge(f"The code zip is larger than {self._max_bytes} bytes")
            chunks = [
                chunk async for chunk in self._objects.read_object(record, 0, record.size - 1)
            ]
        except (InvalidParameterValue, RequestTooLarge):
            raise
        except AndromedeError:
            raise refused from None
        return b"".join(chunks)
