"""S3 ACL values: canned ACLs as AWS defines them, grant checks, public detection, JSON."""

from __future__ import annotations

import pytest

from andromede.storage.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    AccessControlList,
    Grant,
    GranteeType,
    Permission,
    canned_acl,
)

OWNER = "a" * 64
BUCKET_OWNER = "b" * 64
OTHER = "c" * 64
P = Permission


def test_canned_acls_grant_what_aws_documents() -> None:
    # "Canned ACL" table of the S3 user guide's ACL overview.
    def summary(name: str) -> set[tuple[str, Permission]]:
        return {(g.grantee, g.permission) for g in canned_acl(name, OWNER, BUCKET_OWNER).grants}

    assert summary("private") == {(OWNER, P.FULL_CONTROL)}
    assert summary("public-read") == {(OWNER, P.FULL_CONTROL), (ALL_USERS, P.READ)}
    assert summary("public-read-write") == {
        (OWNER, P.FULL_CONTROL),
        (ALL_USERS, P.READ),
        (ALL_USERS, P.WRITE),
    }
    assert summary("authenticated-read") == {
        (OWNER, P.FULL_CONTROL),
        (AUTHENTICATED_USERS, P.READ),
    }
    assert summary("bucket-owner-read") == {(OWNER, P.FULL_CONTROL), (BUCKET_OWNER, P.READ)}
    assert summary("bucket-owner-full-control") == {
        (OWNER, P.FULL_CONTROL),
        (BUCKET_OWNER, P.FULL_CONTROL),
    }
    assert summary("log-delivery-write") == {
        (OWNER, P.FULL_CONTROL),
        (LOG_DELIVERY, P.WRITE),
        (LOG_DELIVERY, P.READ_ACP),
    }


def test_bucket_owner_acls_mean_private_when_the_writer_owns_the_bucket() -> None:
    assert canned_acl("bucket-owner-full-control", OWNER, OWNER) == AccessControlList.private(OWNER)


def test_unknown_canned_acl_is_refused() -> None:
    with pytest.raises(ValueError, match="everyone"):
        canned_acl("everyone", OWNER)


@pytest.mark.parametrize(
    ("acl_name", "caller", "permission", "expected"),
    [
        ("private", OWNER, P.READ, True),  # FULL_CONTROL implies every permission
        ("private", OWNER, P.WRITE_ACP, True),
        ("private", OTHER, P.READ, False),
        ("private", None, P.READ, False),
        ("public-read", None, P.READ, True),  # AllUsers includes anonymous callers
        ("public-read", OTHER, P.READ, True),
        ("public-read", None, P.WRITE, False),
        ("public-read-write", None, P.WRITE, True),
        ("authenticated-read", OTHER, P.READ, True),
        ("authenticated-read", None, P.READ, False),  # anonymous is not authenticated
        ("bucket-owner-read", BUCKET_OWNER, P.READ, True),
        ("bucket-owner-read", BUCKET_OWNER, P.WRITE, False),
    ],
)
def test_grants_permission(
    acl_name: str, caller: str | None, permission: Permission, expected: bool
) -> None:
    acl = canned_acl(acl_name, OWNER, BUCKET_OWNER)
    assert acl.grants_permission(caller, permission) is expected


def test_ignore_public_acls_drops_group_grants_only() -> None:
    acl = AccessControlList(
        OWNER,
        (
            Grant(GranteeType.GROUP, ALL_USERS, P.READ),
            Grant(GranteeType.GROUP, AUTHENTICATED_USERS, P.WRITE),
            Grant(GranteeType.CANONICAL_USER, OTHER, P.READ),
        ),
    )
    assert acl.grants_permission(None, P.READ)
    assert not acl.grants_permission(None, P.READ, ignore_public=True)
    assert not acl.grants_permission(BUCKET_OWNER, P.WRITE, ignore_public=True)
    assert acl.grants_permission(OTHER, P.READ, ignore_public=True)


@pytest.mark.parametrize(
    ("acl_name", "public"),
    [
        ("private", False),
        ("public-read", True),
        ("public-read-write", True),
        ("authenticated-read", True),  # AWS counts every authenticated user as public
        ("bucket-owner-full-control", False),
        ("log-delivery-write", False),
    ],
)
def test_is_public(acl_name: str, public: bool) -> None:
    assert canned_acl(acl_name, OWNER, BUCKET_OWNER).is_public is public


def test_json_round_trip() -> None:
    acl = canned_acl("public-read-write", OWNER)
    assert AccessControlList.from_json(acl.to_json()) == acl
