"""CloudWatch Logs export tasks' writes into a bucket (decision 0186, session-49 addendum),
where the logs and storage contexts meet: ``logs.export_tasks.ExportDestination``.

As AWS, Logs writes as its service principal ``logs.<region>.amazonaws.com``, which the
bucket's policy must allow ``s3:GetBucketAcl`` on the bucket and ``s3:PutObject`` on the
keys — with ``s3:x-amz-acl`` ``bucket-owner-full-control`` and the confused-deputy keys
``aws:SourceAccount`` (the task's account) and ``aws:SourceArn`` (its group's ARN), as AWS's
example policy asks. The same policy engine as every request decides
(``iam.policy.service_grants``); a bucket without a policy refuses, even its own account's
exports, as on AWS. A bucket of another Region refuses: Logs exports within its Region.
The objects are written through the object service, owned by the bucket's owner, sealed as
every object: under the owner's key ring (SSE-S3), or the bucket's default SSE-KMS key
(used for the owner as a replica's key is, audited and counted to the exporting account).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from andromede.iam.policy.service_grants import service_may
from andromede.logs.errors import ExportRefused
from andromede.logs.exports import ExportTask, write_test_key
from andromede.logs.model import group_arn
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService

__all__ = ["BucketExportDestination", "logs_principal"]

_ACL_REFUSED: Final = (
    "GetBucketAcl call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)
_PUT_REFUSED: Final = (
    "PutObject call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)


def logs_principal(region: str) -> str:
    return f"logs.{region}.amazonaws.com"


class BucketExportDestination:
    def __init__(
        self, objects: ObjectService, region: str, kms_keys: ReplicaKeys | None = None
    ) -> None:
        self._objects = objects
        self._region = region
        self._kms_keys = kms_keys

    def _may(self, task: ExportTask, bucket: Bucket, action: str, resource: str) -> bool:
        return service_may(
            bucket.policy,
            service=logs_principal(self._region),
            action=action,
            resource=resource,
            resource_account=bucket.tenant_id,
            source_arn=group_arn(self._region, task.tenant_id, task.group),
            source_account=task.tenant_id,
            region=self._region,
            keys={"s3:x-amz-acl": "bucket-owner-full-control"} if action == "s3:PutObject" else {},
        )

    async def _bucket(self, task: ExportTask) -> Bucket:
        try:
            bucket = await self._objects.get_bucket(task.bucket)
        except NoSuchBucket:
            raise ExportRefused("The specified bucket does not exist.") from None
        if bucket.region != self._region:
            raise ExportRefused(
                f"The specified bucket is in {bucket.region}: Logs exports into a bucket of "
                f"its own Region ({self._region})."
            )
        return bucket

    async def check(self, task: ExportTask) -> None:
        bucket = await self._bucket(task)
        if not self._may(task, bucket, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket.name}"):
            raise ExportRefused(_ACL_REFUSED)
        probe = f"arn:aws:s3:::{bucket.name}/{write_test_key(task.prefix)}"
        if not self._may(task, bucket, "s3:PutObject", probe):
            raise ExportRefused(_PUT_REFUSED)

    async def put(self, task: ExportTask, key: str, body: bytes, content_type: str) -> None:
        bucket = await self._bucket(task)
        if not self._may(task, bucket, "s3:PutObject", f"arn:aws:s3:::{bucket.name}/{key}"):
            raise ExportRefused(_PUT_REFUSED)
        encryption = await self._encryption(task, bucket, key)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        await self._objects.put_object(
            bucket,
            key,
            chunks(),
            size=len(body),
            headers=ContentHeaders(content_type=content_type),
            owner_id=bucket.owner_id,
            integrity=BodyIntegrity(),
            encryption=encryption,
        )

    async def _encryption(self, task: ExportTask, bucket: Bucket, key: str) -> ObjectEncryption:
        default = bucket.encryption
        if default is None or not default.algorithm.startswith("aws:kms"):
            return ObjectEncryption(tenant_id=bucket.tenant_id)
        if self._kms_keys is None or default.kms_key_id is None:
            return ObjectEncryption(tenant_id=bucket.tenant_id)
        return await self._kms_keys.replica_encryption(
            bucket.tenant_id,
            _key_arn(default.kms_key_id, bucket),
            bucket=bucket.name,
            key=key,
            dual_layer=default.algorithm == "aws:kms:dsse",
            region=bucket.region,
            payer=task.tenant_id,
        )


def _key_arn(reference: str, bucket: Bucket) -> str:
    """A bucket default's key as an ARN: a bare key id or alias names the owner's."""
    if reference.startswith("arn:"):
        return reference
    kind = reference if reference.startswith("alias/") else f"key/{reference}"
    return f"arn:aws:kms:{bucket.region}:{bucket.tenant_id}:{kind}"
