"""S3 access control lists: grants of READ/WRITE/…_ACP/FULL_CONTROL to users and groups.

Pure values. ACLs only count on buckets whose Object Ownership is not ``BucketOwnerEnforced``
(the default), exactly as on AWS; the authoriser asks :meth:`AccessControlList.grants_permission`
and Block Public Access asks :meth:`AccessControlList.is_public`. Stored as compact JSON.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

__all__ = [
    "ALL_USERS",
    "AUTHENTICATED_USERS",
    "CANNED_ACLS",
    "LOG_DELIVERY",
    "AccessControlList",
    "Grant",
    "GranteeType",
    "Permission",
    "acl_refusal",
    "canned_acl",
]

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
_PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})


class Permission(enum.StrEnum):
    FULL_CONTROL = "FULL_CONTROL"
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"


class GranteeType(enum.StrEnum):
    CANONICAL_USER = "CanonicalUser"
    GROUP = "Group"


@dataclass(frozen=True, slots=True)
class Grant:
    grantee_type: GranteeType
    grantee: str  # a canonical user id, or a group URI
    permission: Permission


@dataclass(frozen=True, slots=True)
class AccessControlList:
    owner_id: str
    grants: tuple[Grant, ...]

    def grants_permission(
        self, canonical_id: str | None, permission: Permission, *, ignore_public: bool = False
    ) -> bool:
        """Whether a caller (None: anonymous) holds ``permission`` (or FULL_CONTROL) here.

        ``ignore_public``: Block Public Access's IgnorePublicAcls — grants to AllUsers and
        AuthenticatedUsers count for nobody.
        """
        for grant in self.grants:
            if grant.permission is not permission and grant.permission is not (
                Permission.FULL_CONTROL
            ):
                continue
            if grant.grantee_type is GranteeType.CANONICAL_USER:
                if canonical_id is not None and grant.grantee == canonical_id:
                    return True
                continue
            if ignore_public and grant.grantee in _PUBLIC_GROUPS:
                continue
            if grant.grantee == ALL_USERS:
                return True
            if grant.grantee == AUTHENTICATED_USERS and canonical_id is not None:
                return True
        return False

    @property
    def is_public(self) -> bool:
        """Grants anything to everyone or to every authenticated AWS-style user (AWS's test)."""
        return any(
            g.grantee_type is GranteeType.GROUP and g.grantee in _PUBLIC_GROUPS for g in self.grants
        )

    def to_json(self) -> str:
        return json.dumps(
            [
                self.owner_id,
                [[g.grantee_type.value, g.grantee, g.permission.value] for g in self.grants],
            ],
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> AccessControlList:
        owner_id, grants = json.loads(text)
        return cls(
            owner_id=owner_id,
            grants=tuple(Grant(GranteeType(t), grantee, Permission(p)) for t, grantee, p in grants),
        )

    @classmethod
    def private(cls, owner_id: str) -> AccessControlList:
        return cls(
            owner_id, (Grant(GranteeType.CANONICAL_USER, owner_id, Permission.FULL_CONTROL),)
        )


CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
    }
)


def canned_acl(name: str, owner_id: str, bucket_owner_id: str | None = None) -> AccessControlList:
    """The grants AWS defines for a canned ACL (``x-amz-acl``). ValueError for unknown names.

    ``bucket_owner_id`` matters for the bucket-owner-* ACLs of objects; on a bucket (or when the
    writer owns the bucket) they mean private, as on AWS.
    """
    if name not in CANNED_ACLS:
        raise ValueError(name)
    owner = Grant(GranteeType.CANONICAL_USER, owner_id, Permission.FULL_CONTROL)
    grants: list[Grant] = [owner]
    if name in ("public-read", "public-read-write"):
        grants.append(Grant(GranteeType.GROUP, ALL_USERS, Permission.READ))
    if name == "public-read-write":
        grants.append(Grant(GranteeType.GROUP, ALL_USERS, Permission.WRITE))
    if name == "authenticated-read":
        grants.append(Grant(GranteeType.GROUP, AUTHENTICATED_USERS, Permission.READ))
    if name == "log-delivery-write":
        grants.append(Grant(GranteeType.GROUP, LOG_DELIVERY, Permission.WRITE))
        grants.append(Grant(GranteeType.GROUP, LOG_DELIVERY, Permission.READ_ACP))
    if name.startswith("bucket-owner-") and bucket_owner_id and bucket_owner_id != owner_id:
        permission = Permission.READ if name == "bucket-owner-read" else Permission.FULL_CONTROL
        grants.append(Grant(GranteeType.CANONICAL_USER, bucket_owner_id, permission))
    return AccessControlList(owner_id, tuple(grants))


def acl_refusal(
    acl: AccessControlList,
    *,
    bucket_owner_id: str,
    acls_enabled: bool,
    block_public_acls: bool,
) -> str | None:
    """Whether a bucket takes ``acl`` for an object or itself, as S3 decides it for
    PutObjectAcl, PutBucketAcl, ACLs on writes and Batch Operations' S3PutObjectAcl alike:
    None when it does; ``"owner-only"`` when Object Ownership is BucketOwnerEnforced and the
    ACL grants nothing beyond the bucket owner's full control (accepted, and nothing kept);
    ``"AccessControlListNotSupported"`` for any other ACL on such a bucket; ``"AccessDenied"``
    for a public ACL under Block Public Access's BlockPublicAcls."""
    if not acls_enabled:
        if _owner_only(acl, bucket_owner_id):
            return "owner-only"
        return "AccessControlListNotSupported"
    if block_public_acls and acl.is_public:
        return "AccessDenied"
    return None


def _owner_only(acl: AccessControlList, bucket_owner_id: str) -> bool:
    """Grants nothing beyond full control to the bucket owner (what enforced buckets allow)."""
    return (
        all(
            g.grantee_type is GranteeType.CANONICAL_USER
            and g.grantee in (bucket_owner_id, acl.owner_id)
            and (g.permission is Permission.FULL_CONTROL or g.grantee != bucket_owner_id)
            for g in acl.grants
        )
        and acl.owner_id == bucket_owner_id
    )
