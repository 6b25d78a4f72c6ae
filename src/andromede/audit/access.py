"""Operator access requests, pure: what an operator asks of a tenant, its states, its scope.

A platform operator reads no tenant data, except under an access request the tenant approved
(decision 0107). The request names the tenant, the buckets (or all of them), read-only or
read-write, a reason and a duration; it is *pending* until the tenant approves or
refuses it. Approval starts the clock: the request grants until ``expires_at``, unless the
tenant revokes it first. An *expired* request is an approved one past its end: the state is
derived from the time, never written, so no job has to run for access to end. A *pending*
request the tenant leaves undecided past its time to live lapses: it is stored as expired
(decision 0114), by whichever reads it first or by the sweeper, and its lapse is an event of
the tenant's log — written once, so the state is.

The transitions are a table; anything else is :class:`InvalidAccessTransition`. What the
scope allows is a set of S3 actions (:data:`READ_ACTIONS`, :data:`WRITE_ACTIONS`): object data
and listings, never a bucket's configuration, policy, ACL, lock or deletion. A request opened
with ``include_kms`` also lets the gateway decrypt the scope's SSE-KMS objects
(:data:`KMS_DECRYPT_ACTION`), where the KMS key's policy allows it too (decision 0114).
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = [
    "ACCESS_TRANSITIONS",
    "KMS_DECRYPT_ACTION",
    "LIST_BUCKETS_ACTION",
    "READ_ACTIONS",
    "WRITE_ACTIONS",
    "AccessMode",
    "AccessRequest",
    "AccessState",
    "Actor",
    "new_access_request_id",
]


class AccessMode(enum.StrEnum):
    READ_ONLY = "read-only"
    READ_WRITE = "read-write"


class AccessState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"
    EXPIRED = "expired"  # derived: approved, and its end has passed


# Who may move a request from each stored state, and where. Expired, refused and revoked are
# final: a new need is a new request, which the tenant sees and decides again.
ACCESS_TRANSITIONS: Final[dict[AccessState, frozenset[AccessState]]] = {
    AccessState.PENDING: frozenset(
        {AccessState.APPROVED, AccessState.REFUSED, AccessState.EXPIRED}  # expired: lapsed
    ),
    AccessState.APPROVED: frozenset({AccessState.REVOKED}),
    AccessState.REFUSED: frozenset(),
    AccessState.REVOKED: frozenset(),
    AccessState.EXPIRED: frozenset(),
}

# What a read-only request allows: reading objects (current and past versions, their tags and
# attributes) and listing them. A bucket's configuration is none of it.
READ_ACTIONS: Final = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:GetBucketLocation",
    }
)
# What a read-write request allows besides: writing and deleting objects and their tags.
WRITE_ACTIONS: Final = frozenset(
    {
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
)
# Listing the tenant's buckets names them all: only a request on all of them allows it.
LIST_BUCKETS_ACTION: Final = "s3:ListAllMyBuckets"
# Decrypting an SSE-KMS object of the scope on the S3 path: only with the tenant's consent of
# ``include_kms``, shown to it when it approves; the key's policy must allow it as well.
KMS_DECRYPT_ACTION: Final = "kms:Decrypt"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a request, as the audit context sees a principal: a platform operator
    (``operator_id``), or a principal of a tenant (``tenant_id``), whose IAM policies the
    management API has checked (decision 0113)."""

    arn: str
    operator_id: str | None = None
    operator_name: str | None = None
    tenant_id: str | None = None


def new_access_request_id() -> str:
    return "oar-" + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: str
    tenant_id: str
    operator_id: str
    operator_name: str
    buckets: tuple[str, ...] | None  # None: every bucket of the tenant
    mode: AccessMode
    reason: str
    duration_seconds: int
    status: AccessState  # as stored: EXPIRED only when it lapsed pending (see ``state``)
    created_at: datetime
    decided_at: datetime | None = None  # approved, refused, or when it lapsed undecided
    decided_by: str | None = None  # the ARN of who approved or refused
    expires_at: datetime | None = None  # approval + duration
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    include_kms: bool = False  # SSE-KMS objects of the scope may be decrypted (0114)

    @property
    def operator_arn(self) -> str:
        return f"arn:andromede:platform::operator/{self.operator_name}"

    def state(self, now: datetime) -> AccessState:
        if (
            self.status is AccessState.APPROVED
            and self.expires_at is not None
            and now >= self.expires_at
        ):
            return AccessState.EXPIRED
        return self.status

    def lapses_at(self, ttl_seconds: int) -> datetime | None:
        """When a pending request lapses if the tenant does not decide (None: decided)."""
        if self.status is not AccessState.PENDING:
            return None
        return self.created_at + timedelta(seconds=ttl_seconds)

    def lapsed(self, now: datetime, ttl_seconds: int) -> bool:
        """Pending and past its time to live: it must be stored expired before anything."""
        lapses_at = self.lapses_at(ttl_seconds)
        return lapses_at is not None and now >= lapses_at

    def grants(self, now: datetime) -> bool:
        return self.state(now) is AccessState.APPROVED

    def allows(self, action: str, bucket: str | None) -> bool:
        """Whether the scope covers ``action`` on ``bucket`` (None: no bucket, ListBuckets)."""
        if bucket is None:
            return action == LIST_BUCKETS_ACTION and self.buckets is None
        if self.buckets is not None and bucket not in self.buckets:
            return False
        if action == KMS_DECRYPT_ACTION:
            return self.include_kms
        if action in READ_ACTIONS:
            return True
        return self.mode is AccessMode.READ_WRITE and action in WRITE_ACTIONS
