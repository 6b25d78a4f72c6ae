"""CloudWatch Logs' writes into a bucket, where the logs and storage contexts meet: the
export tasks' (decision 0186, session-49 addendum: ``logs.export_tasks.ExportDestination``)
and data protection's findings reports (decision 0211, session-51 addendum:
``logs.protection.FindingsBuckets``, :class:`FindingsBucketDestination`).

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

from typing import Final

from andromede.iam.policy.service_grants import service_may
from andromede.logs.errors import ExportRefused
from andromede.logs.exports import ExportTask, write_test_key
from andromede.logs.model import group_arn
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService

__all__ = [
    "FINDINGS_PRINCIPALS",
    "BucketExportDestination",
    "FindingsBucketDestination",
    "logs_principal",
]

FINDINGS_PRINCIPALS: Final = ("delivery.logs.amazonaws.com", "logs.amazonaws.com")

_ACL_REFUSED: Final = (
    "GetBucketAcl call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)
_FINDINGS_REFUSED: Final = (
    "The findings destination bucket does not let CloudWatch Logs write into it: a bucket of "
    "another account must allow delivery.logs.amazonaws.com s3:PutObject by its policy."
)
_PUT_REFUSED: Final = (
    "PutObject call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)


def logs_principal(region: str) -> str:
    return f"logs.{region}.amazonaws.com"


class _LogsBucketWriter:
    """Logs writing into a bucket of its Region as a service principal: the bucket looked up,
    the bucket policy asked, the object written owned by the bucket's owner and sealed as
    every object. The export tasks and the findings reports each say which bucket they may
    write and how a refusal reads."""

    def __init__(
        self, objects: ObjectService, region: str, kms_keys: ReplicaKeys | None = None
    ) -> None:
        self._objects = objects
        self._region = region
        self._kms_keys = kms_keys

    def _may(
        self,
        bucket: Bucket,
        principal: str,
        action: str,
        resource: str,
        source_arn: str,
        source_account: str,
    ) -> bool:
        return service_may(
            bucket.policy,
            service=principal,
            action=action,
            resource=resource,
            resource_account=bucket.tenant_id,
            source_arn=source_arn,
            source_account=source_account,
            region=self._region,
            keys={"s3:x-amz-acl": "bucket-owner-full-control"} if action == "s3:PutObject" else {},
        )

    async def _bucket(self, name: str, writing: str) -> Bucket:
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            raise ExportRefused("The specified bucket does not exist.") from None
        if bucket.region != self._region:
            raise ExportRefused(
                f"The specified bucket is in {bucket.region}: Logs {writing} into a bucket of "
                f"its own Region ({self._region})."
            )
        return bucket

    async def _write(
        self, bucket: Bucket, key: str, body: bytes, content_type: str, payer: str
    ) -> None:
        encryption = await self._encryption(bucket, key, payer)
        await self._objects.put_delivered_object(bucket, key, body, content_type, encryption)

    async def _encryption(self, bucket: Bucket, key: str, payer: str) -> ObjectEncryption:
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
            payer=payer,
        )


class BucketExportDestination(_LogsBucketWriter):
    def _task_may(self, task: ExportTask, bucket: Bucket, action: str, resource: str) -> bool:
        return self._may(
            bucket,
            logs_principal(self._region),
            action,
            resource,
            group_arn(self._region, task.tenant_id, task.group),
            task.tenant_id,
        )

    async def check(self, task: ExportTask) -> None:
        bucket = await self._bucket(task.bucket, "exports")
        if not self._task_may(task, bucket, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket.name}"):
            raise ExportRefused(_ACL_REFUSED)
        probe = f"arn:aws:s3:::{bucket.name}/{write_test_key(task.prefix)}"
        if not self._task_may(task, bucket, "s3:PutObject", probe):
            raise ExportRefused(_PUT_REFUSED)

    async def put(self, task: ExportTask, key: str, body: bytes, content_type: str) -> None:
        bucket = await self._bucket(task.bucket, "exports")
        if not self._task_may(task, bucket, "s3:PutObject", f"arn:aws:s3:::{bucket.name}/{key}"):
            raise ExportRefused(_PUT_REFUSED)
        await self._write(bucket, key, body, content_type, task.tenant_id)


class FindingsBucketDestination(_LogsBucketWriter):
    """Data protection's findings objects (decision 0211, session-51 addendum): into the
    account's own bucket, or another account's whose policy lets Logs' delivery principal
    (``delivery.logs.amazonaws.com``, AWS's for vended logs, or ``logs.amazonaws.com``)
    ``s3:PutObject`` the keys for the audited group (``aws:SourceArn``, the account policy's
    ``arn:aws:logs:<region>:<account>:*``) of the account (``aws:SourceAccount``)."""

    def _source(self, tenant_id: str, group: str | None) -> str:
        if group is None:
            return f"arn:aws:logs:{self._region}:{tenant_id}:*"
        return group_arn(self._region, tenant_id, group)

    def _allowed(self, tenant_id: str, bucket: Bucket, key: str, group: str | None) -> bool:
        if bucket.tenant_id == tenant_id:
            return True  # the account's own bucket: AWS adds the delivery grant itself
        resource = f"arn:aws:s3:::{bucket.name}/{key}"
        return any(
            self._may(
                bucket,
                principal,
                "s3:PutObject",
                resource,
                self._source(tenant_id, group),
                tenant_id,
            )
            for principal in FINDINGS_PRINCIPALS
        )

    async def check(self, tenant_id: str, bucket: str, group: str | None) -> None:
        found = await self._bucket(bucket, "writes findings")
        probe = f"AWSLogs/{tenant_id}/DataProtection/{self._region}/aws-logs-write-test"
        if not self._allowed(tenant_id, found, probe, group):
            raise ExportRefused(_FINDINGS_REFUSED)

    async def write(self, tenant_id: str, bucket: str, group: str, key: str, body: bytes) -> None:
        found = await self._bucket(bucket, "writes findings")
        if not self._allowed(tenant_id, found, key, group):
            raise ExportRefused(_FINDINGS_REFUSED)
        await self._write(found, key, body, "application/json", tenant_id)


def _key_arn(reference: str, bucket: Bucket) -> str:
    """A bucket default's key as an ARN: a bare key id or alias names the owner's."""
    if reference.startswith("arn:"):
        return reference
    kind = reference if reference.startswith("alias/") else f"key/{reference}"
    return f"arn:aws:kms:{bucket.region}:{bucket.tenant_id}:{kind}"
