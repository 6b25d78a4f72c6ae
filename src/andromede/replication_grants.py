"""Replication into another tenant's bucket (decision 0112, increment 4): who may copy there.

Storage and identity are separate bounded contexts; this adapter, at the composition root, is
where they meet for ``storage.replication.ReplicationGrants``. S3 copies into another
account's bucket as the configuration's ``Role``, and AWS lets it when three owners agree:

- the **role's owner**: the role exists in the source bucket's account and its trust policy
  lets ``s3.amazonaws.com`` assume it (S3 assumes it to replicate), seeing the source bucket
  as ``aws:SourceArn`` and its account as ``aws:SourceAccount`` (decision 0321; a Batch
  Operations job gives its account alone);
- the **source account**: the role's identity policies (with its permissions boundary)
  allow the action on the destination's objects;
- the **destination's owner**: the destination's bucket policy allows the role the action
  (``s3:ReplicateObject`` for versions, ``s3:ReplicateDelete`` for delete markers) — the
  consent AWS asks of the destination account, and what keeps a tenant from writing into a
  bucket it cannot write to.

All three are decided by the S3 authoriser (the same policy engine as every request) for a
session of the role named ``s3-replication``; a refusal is False, never an error. Each copy's
decision is recorded in the destination tenant's trail (data arriving from another account,
allowed or refused, is its owner's to see); the configuration's own check is audited with the
PutBucketReplication request that made it.

S3 Batch Operations (decision 0152's addendum) decide their job's role by the same engine
(:meth:`S3ReplicationGrants.for_batch_operations`), except that the role must trust AWS's
Batch Operations principal, ``batchoperations.s3.amazonaws.com``, as on AWS, and its session
is named ``s3-batch-operations``: a role written for AWS's Batch Operations works unchanged,
and a replication role is not, by that alone, a Batch Operations one.
"""

from __future__ import annotations

import uuid
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import TrustSource, service_role_session
from andromede.s3.authorise import S3Authoriser
from andromede.s3.errors import S3Error
from andromede.s3.operations import S3Operation
from andromede.storage.model import Bucket

__all__ = [
    "BATCH_OPERATIONS_SERVICE",
    "BATCH_OPERATIONS_SESSION",
    "REPLICATION_SESSION",
    "S3ReplicationGrants",
]

# The session name of the role's sessions that copy (what the destination's trail shows).
REPLICATION_SESSION: Final = "s3-replication"
BATCH_OPERATIONS_SESSION: Final = "s3-batch-operations"
_S3_SERVICE: Final = "s3.amazonaws.com"
# The principal a Batch Operations job's role must trust (AWS's S3 Batch Operations guide).
BATCH_OPERATIONS_SERVICE: Final = "batchoperations.s3.amazonaws.com"


class S3ReplicationGrants:
    def __init__(
        self,
        identity: IdentityService,
        authoriser: S3Authoriser,
        audit: AuditService | None,
        *,
        service: str = _S3_SERVICE,
        session_name: str = REPLICATION_SESSION,
        via: str = "replication",
    ) -> None:
        self._identity = identity
        self._authoriser = authoriser
        self._audit = audit
        self._service = service
        self._session_name = session_name
        self._via = via

    def for_batch_operations(self) -> S3ReplicationGrants:
        """The same decisions for a Batch Operations job's role, which must trust
        ``batchoperations.s3.amazonaws.com``."""
        return S3ReplicationGrants(
            self._identity,
            self._authoriser,
            self._audit,
            service=BATCH_OPERATIONS_SERVICE,
            session_name=BATCH_OPERATIONS_SESSION,
            via="batch-operations",
        )

    async def allows(
        self,
        role_arn: str | None,
        source_tenant: str,
        destination: Bucket,
        action: str,
        key: str,
        *,
        audited: bool = False,
        source_bucket: str | None = None,
    ) -> bool:
        """Whether the role ``role_arn`` of ``source_tenant`` may do ``action`` on
        ``destination``/``key`` (``key`` may end in ``*``: a rule's prefix, checked when the
        configuration is put). ``audited``: recorded in the destination tenant's trail."""
        source = TrustSource(
            account=source_tenant,
            arn=None if source_bucket is None else f"arn:aws:s3:::{source_bucket}",
        )
        allowed = await self._decide(role_arn, source, destination, action, key)
        if audited and self._audit is not None:
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=destination.tenant_id,
                principal=_session_arn(role_arn, source_tenant, self._session_name),
                action=action,
                resource=f"arn:aws:s3:::{destination.name}/{key}"[:2048],
                outcome=Outcome.SUCCESS if allowed else Outcome.FAILURE,
                details={"via": self._via, "source_account": source_tenant},
            )
        return allowed

    async def _decide(
        self, role_arn: str | None, source: TrustSource, destination: Bucket, action: str, key: str
    ) -> bool:
        session = await service_role_session(
            self._identity,
            source.account or "",
            role_arn,
            self._service,
            self._session_name,
            source,
        )
        if session is None:
            return False
        try:
            await self._authoriser.authorise(
                session,
                S3Operation.PutObject,
                bucket=destination,
                bucket_name=destination.name,
                key=key,
                keys={},
                source_ip=None,
                secure=True,
                action=action,
            )
        except S3Error:
            return False
        return True


def _session_arn(role_arn: str | None, account: str, session_name: str) -> str:
    """The ARN of the role's session (what the trail names); the account's S3 service
    principal when the configuration names no role."""
    if role_arn is None or ":role/" not in role_arn:
        return f"{_S3_SERVICE} for {account}"[:256]
    name = role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/{session_name}"[:256]
