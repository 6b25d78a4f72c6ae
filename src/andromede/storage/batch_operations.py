"""What one S3 Batch Operations task does to its object (decision 0152 and its addenda): each
operation goes through the object service's own call for it — the one the single-object S3
call uses — so the rules (ACLs under Object Ownership and Block Public Access, Object Lock's
retention and legal hold, replication's queue) are written once.

- ``S3PutObjectTagging`` / ``S3DeleteObjectTagging``: ``set_object_tags``.
- ``S3PutObjectCopy``: ``copy_object`` (the source read, the target written).
- ``S3PutObjectAcl``: the ACL asked (canned, or the policy's grants) as
  :func:`~andromede.storage.acl.acl_refusal` lets the bucket take it, then ``set_object_acl``.
- ``S3PutObjectRetention`` / ``S3PutObjectLegalHold``: ``set_version_lock`` on the version
  named (or the current one); bypassing GOVERNANCE needs ``s3:BypassGovernanceRetention``.
- ``S3ReplicateObject`` (Batch Replication): the version queued for the bucket's replication
  configuration's rule that selects it (whether or not the rule replicates existing objects),
  as a new version's copy is; replication's worker copies it (retries, FAILED, another
  tenant's consent, replica keys all its own). A replica is not replicated again.

``authorise(bucket, action, key)`` is the runner's: the bucket must be the job's account's
and the job's role allowed the action; it raises when not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

from andromede.errors import AndromedeError
from andromede.storage.acl import AccessControlList, Grant, GranteeType, Permission, canned_acl
from andromede.storage.acl import acl_refusal as _acl_refusal
from andromede.storage.batch_jobs import BatchJob, ManifestLine
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.model import EncryptionMode, ObjectRecord, VersioningStatus
from andromede.storage.object_lock import LockChange, LockMode
from andromede.storage.replication import ReplicationStatus
from andromede.storage.replication_queue import ReplicationQueue, ReplicationTask
from andromede.storage.service import ObjectService

__all__ = ["OPERATION_ACTIONS", "Authorise", "RoleRefused", "TaskRefused", "run_task"]

# The S3 action each operation performs, as its tasks are audited and its role is asked.
OPERATION_ACTIONS: Final = {
    "S3PutObjectTagging": "s3:PutObjectTagging",
    "S3DeleteObjectTagging": "s3:DeleteObjectTagging",
    "S3PutObjectCopy": "s3:PutObject",
    "S3PutObjectAcl": "s3:PutObjectAcl",
    "S3PutObjectRetention": "s3:PutObjectRetention",
    "S3PutObjectLegalHold": "s3:PutObjectLegalHold",
    "S3ReplicateObject": "s3:InitiateReplication",
}

Authorise = Callable[[str, str, str], Awaitable[None]]


class RoleRefused(AndromedeError):
    """AccessDenied: a bucket that is not the job's account's, or an action the job's role
    is not allowed."""


class TaskRefused(AndromedeError):
    """A task S3 would refuse with ``code`` (its HTTP ``status``) for this object."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


async def run_task(
    objects: ObjectService,
    job: BatchJob,
    line: ManifestLine,
    authorise: Authorise,
    *,
    queue: ReplicationQueue | None,
    now: datetime,
) -> None:
    """Do the job's operation on ``line``'s object; raises the object service's errors,
    the runner's refusal, or :class:`TaskRefused`."""
    operation: dict[str, Any] = job.document["operation"]
    name = operation["name"]
    if name == "S3PutObjectCopy":
        await _copy(objects, operation, line, authorise)
        return
    await authorise(line.bucket, OPERATION_ACTIONS[name], line.key)
    if name in ("S3PutObjectTagging", "S3DeleteObjectTagging"):
        tags = tuple((k, v) for k, v in operation.get("tags", []))
        await objects.set_object_tags(line.bucket, line.key, tags, version_id=line.version_id)
    elif name == "S3PutObjectAcl":
        await _acl(objects, operation, line)
    elif name in ("S3PutObjectRetention", "S3PutObjectLegalHold"):
        await _lock(objects, operation, line, authorise, now)
    elif name == "S3ReplicateObject":
        await _replicate(objects, line, queue, now)
    else:  # refused at CreateJob; a job stored by a later release is not run blind
        raise TaskRefused("InvalidRequest", 400, f"The {name} operation is not supported")


async def _version(objects: ObjectService, line: ManifestLine) -> ObjectRecord:
    if line.version_id:
        return await objects.get_version(line.bucket, line.key, line.version_id)
    return await objects.head_object(line.bucket, line.key)


async def _copy(
    objects: ObjectService, operation: dict[str, Any], line: ManifestLine, authorise: Authorise
) -> None:
    """CopyObject of the line's object (or version) to the target bucket, its key behind
    the target prefix: the source's metadata kept (COPY), its tags replaced when the
    operation names new ones; sealed under the target account's keys."""
    target = operation["target"].removeprefix("arn:aws:s3:::")
    key = f"{operation.get('prefix') or ''}{line.key}"
    await authorise(line.bucket, "s3:GetObject", line.key)
    await authorise(target, "s3:PutObject", key)
    source = await _version(objects, line)
    headers = None
    if operation.get("tags") is not None:
        headers = source.headers.with_tags(tuple((k, v) for k, v in operation["tags"]))
    bucket = await objects.get_bucket(target)
    await objects.copy_object(
        source,
        target,
        key,
        headers=headers,
        owner_id=bucket.owner_id,
        checksum_algorithm=None,
        encryption=ObjectEncryption(tenant_id=bucket.tenant_id),
    )


async def _acl(objects: ObjectService, operation: dict[str, Any], line: ManifestLine) -> None:
    bucket = await objects.get_bucket(line.bucket)
    record = await _version(objects, line)
    acl: AccessControlList
    if operation.get("canned"):
        acl = canned_acl(operation["canned"], record.owner_id, bucket.owner_id)
    else:
        if operation.get("owner") not in (None, record.owner_id):
            # As PutObjectAcl: an ACL cannot change the object's owner.
            raise TaskRefused("AccessDenied", 403, "An ACL cannot change the object's owner")
        acl = AccessControlList(
            record.owner_id,
            tuple(Grant(GranteeType(t), g, Permission(p)) for t, g, p in operation["grants"]),
        )
    block = bucket.effective_public_access_block
    refusal = _acl_refusal(
        acl,
        bucket_owner_id=bucket.owner_id,
        acls_enabled=bucket.acls_enabled,
        block_public_acls=block is not None and block.block_public_acls,
    )
    if refusal == "AccessControlListNotSupported":
        raise TaskRefused(refusal, 400, "The bucket does not allow ACLs")
    if refusal == "AccessDenied":
        raise TaskRefused(refusal, 403, "Block Public Access refuses a public ACL")
    await objects.set_object_acl(
        line.bucket,
        line.key,
        None if refusal == "owner-only" else acl,
        version_id=line.version_id,
        read=record,
    )


async def _lock(
    objects: ObjectService,
    operation: dict[str, Any],
    line: ManifestLine,
    authorise: Authorise,
    now: datetime,
) -> None:
    bucket = await objects.get_bucket(line.bucket)
    if bucket.object_lock is None:
        raise TaskRefused("InvalidRequest", 400, "Bucket is missing Object Lock Configuration")
    record = await _version(objects, line)
    if operation["name"] == "S3PutObjectLegalHold":
        change = LockChange.hold(operation["legal_hold"] == "ON")
    else:
        mode = LockMode(operation["mode"]) if operation.get("mode") else None
        until = (
            datetime.fromisoformat(operation["retain_until"])
            if operation.get("retain_until")
            else None
        )
        if until is not None and until <= now:
            raise TaskRefused("InvalidArgument", 400, "The retain until date must be in the future")
        bypass = bool(operation.get("bypass_governance"))
        if bypass:
            # As the single call: asking to bypass without the right is AccessDenied.
            await authorise(line.bucket, "s3:BypassGovernanceRetention", line.key)
        change = LockChange.retention(mode, until, bypass_governance=bypass)
    await objects.set_version_lock(
        line.bucket, line.key, record.version_id or "null", change, read=record
    )


async def _replicate(
    objects: ObjectService, line: ManifestLine, queue: ReplicationQueue | None, now: datetime
) -> None:
    bucket = await objects.get_bucket(line.bucket)
    config = bucket.replication
    if queue is None or config is None or bucket.versioning is not VersioningStatus.ENABLED:
        raise TaskRefused(
            "InvalidRequest", 400, "The bucket has no replication configuration to follow"
        )
    record = await _version(objects, line)
    if record.version_id is None or ReplicationStatus.is_replica(record.replication_status):
        raise TaskRefused("InvalidRequest", 400, "A replica or a null version is not replicated")
    if record.encryption is EncryptionMode.SSE_C:
        # As for new writes: an SSE-C version cannot be sealed anew (decision 0112).
        raise TaskRefused("InvalidRequest", 400, "An SSE-C object is not replicated")
    target = config.target_for(
        record.key,
        record.headers.tags,
        bucket.region,
        kms_encrypted=record.kms_key_arn is not None,
    )
    if target is None:
        raise TaskRefused("InvalidRequest", 400, "No replication rule selects the object")
    try:
        destination_region: str | None = (
            await objects.get_bucket(target.destination_bucket)
        ).region
    except AndromedeError:
        destination_region = None  # gone: replication's worker fails the task
    await queue.enqueue(
        [
            ReplicationTask.of_version(
                target, line.bucket, record.key, record.version_id, destination_region
            )
        ],
        now,
    )
