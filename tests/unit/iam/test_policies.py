"""Managed and inline policies through the service, and what applies to a principal."""

from __future__ import annotations

import pytest

from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from andromede.iam.model import EntityType
from andromede.iam.service import BootstrapResult, IdentityService, PolicyKind
from andromede.iam.service import validate_policy_document as validate


def doc(n: int) -> str:
    return (
        f'{{"Version": "2012-10-17", "Statement": [{{"Sid": "s{n}", "Effect": "Allow", '
        '"Action": "s3:GetObject", "Resource": "*"}]}'
    )


TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
    '"Action": "sts:AssumeRole"}]}'
)


def test_validation_accepts_objects_only() -> None:
    assert validate(doc(1), PolicyKind.IDENTITY) == doc(1)
    for bad in ("", "{", "[]", '"x"', "null", "1", "{" * 10 + "}" * 10, " " * 200_000):
        with pytest.raises(MalformedPolicyDocument):
            validate(bad, PolicyKind.IDENTITY)


async def test_managed_policy_life(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    policy = await identity.create_policy(acct, "ReadOnly", doc(1), "/team/", "reads")
    arn = f"arn:aws:iam::{acct}:policy/team/ReadOnly"
    assert policy.arn == arn and policy.id.startswith("ANPA")
    assert (await identity.get_policy(acct, arn)).default_version_id == "v1"
    with pytest.raises(EntityAlreadyExists):
        await identity.create_policy(acct, "readonly", doc(1))
    with pytest.raises(MalformedPolicyDocument):
        await identity.create_policy(acct, "Bad", "{nope")
    with pytest.raises(NoSuchEntity):
        await identity.get_policy(acct, f"arn:aws:iam::{acct}:policy/ReadOnly")  # path differs
    other = await identity.create_tenant("other")
    with pytest.raises(NoSuchEntity):  # another tenant's ARN
        await identity.get_policy(other.tenant.id, arn)
    for n in range(2, 6):
        version = await identity.create_policy_version(acct, arn, doc(n), set_as_default=n == 3)
        assert version.version_id == f"v{n}"
    with pytest.raises(LimitExceeded):  # five versions at most
        await identity.create_policy_version(acct, arn, doc(6))
    versions = await identity.list_policy_versions(acct, arn)
    assert [v.version_id for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v.is_default for v in versions] == [False, False, True, False, False]
    assert (await identity.get_policy_version(acct, arn, "v3")).document == doc(3)
    with pytest.raises(DeleteConflict):
        await identity.delete_policy_version(acct, arn, "v3")
    with pytest.raises(DeleteConflict):
        await identity.delete_policy(acct, arn)
    await identity.set_default_policy_version(acct, arn, "v5")
    for n in range(1, 5):
        await identity.delete_policy_version(acct, arn, f"v{n}")
    with pytest.raises(NoSuchEntity):
        await identity.get_policy_version(acct, arn, "v1")
    await identity.delete_policy(acct, arn)
    with pytest.raises(NoSuchEntity):
        await identity.get_policy(acct, arn)


async def test_attachments_and_quota(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    await identity.create_group(acct, "devs")
    await identity.create_role(acct, "ci", TRUST)
    arns = [(await identity.create_policy(acct, f"p{n:02}", doc(n))).arn for n in range(11)]
    for arn in arns[:10]:
        await identity.attach_user_policy(acct, "alice", arn)
    with pytest.raises(LimitExceeded):
        await identity.attach_user_policy(acct, "alice", arns[10])
    await identity.attach_group_policy(acct, "devs", arns[0])
    await identity.attach_role_policy(acct, "ci", arns[0])
    attached = await identity.list_attached_user_policies(acct, "alice")
    assert [p.name for p in attached] == [f"p{n:02}" for n in range(10)]
    assert attached[0].attachment_count == 3
    assert [p.arn for p in await identity.list_attached_group_policies(acct, "devs")] == arns[:1]
    assert [p.arn for p in await identity.list_attached_role_policies(acct, "ci")] == arns[:1]
    assert await identity.list_attached_role_policies(acct, "ci", path_prefix="/x/") == []
    assert await identity.list_entities_for_policy(acct, arns[0]) == {
        EntityType.USER: ["alice"],
        EntityType.GROUP: ["devs"],
        EntityType.ROLE: ["ci"],
    }
    only = await identity.list_policies(acct, only_attached=True, max_items=5)
    assert len(only.items) == 5 and only.is_truncated
    rest = await identity.list_policies(acct, only_attached=True, marker=only.marker)
    assert len(rest.items) == 5 and not rest.is_truncated
    assert len((await identity.list_policies(acct)).items) == 11
    with pytest.raises(DeleteConflict):
        await identity.delete_policy(acct, arns[0])
    await identity.detach_group_policy(acct, "devs", arns[0])
    await identity.detach_role_policy(acct, "ci", arns[0])
    with pytest.raises(NoSuchEntity):
        await identity.detach_role_policy(acct, "ci", arns[0])
    for arn in arns[:10]:
        await identity.detach_user_policy(acct, "alice", arn)
    with pytest.raises(NoSuchEntity):
        await identity.attach_user_policy(acct, "root", arns[0])  # root takes no policies
    with pytest.raises(NoSuchEntity):
        await identity.attach_user_policy(acct, "nobody", arns[0])


async def test_inline_policies(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    await identity.create_group(acct, "devs")
    await identity.put_user_policy(acct, "alice", "b", doc(1))
    await identity.put_user_policy(acct, "alice", "a", doc(2))
    await identity.put_user_policy(acct, "alice", "a", doc(3))
    await identity.put_group_policy(acct, "devs", "g", doc(4))
    assert await identity.list_user_policies(acct, "alice") == ["a", "b"]
    assert await identity.get_user_policy(acct, "alice", "a") == doc(3)
    assert await identity.list_group_policies(acct, "devs") == ["g"]
    assert await identity.get_group_policy(acct, "devs", "g") == doc(4)
    with pytest.raises(NoSuchEntity):
        await identity.get_user_policy(acct, "alice", "zzz")
    with pytest.raises(MalformedPolicyDocument):
        await identity.put_user_policy(acct, "alice", "bad", "[]")
    with pytest.raises(DeleteConflict):
        await identity.delete_user(acct, "alice")
    await identity.delete_user_policy(acct, "alice", "a")
    await identity.delete_user_policy(acct, "alice", "b")
    await identity.delete_group_policy(acct, "devs", "g")
    with pytest.raises(NoSuchEntity):
        await identity.delete_group_policy(acct, "devs", "g")
    await identity.delete_user(acct, "alice")


async def test_policies_for_a_user_include_its_groups(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    key = await identity.create_access_key(acct, "alice")
    _, alice = await identity.resolve_access_key(key.key.access_key_id)
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    assert (await identity.policies_for(alice)).documents == ()
    assert (await identity.policies_for(root)).documents == ()
    await identity.create_group(acct, "devs")
    await identity.add_user_to_group(acct, "devs", "alice")
    managed = await identity.create_policy(acct, "m", doc(1))
    await identity.create_policy_version(acct, managed.arn, doc(2), set_as_default=True)
    await identity.attach_group_policy(acct, "devs", managed.arn)
    await identity.put_user_policy(acct, "alice", "own", doc(3))
    await identity.put_group_policy(acct, "devs", "team", doc(4))
    assert sorted((await identity.policies_for(alice)).documents) == sorted(
        [doc(2), doc(3), doc(4)]
    )
    # Cached: a change made by another gateway shows after the cache time.
    await identity._store.delete_inline_policy(EntityType.USER, alice.user_id or "", "own")
    assert len((await identity.policies_for(alice)).documents) == 3
    identity.invalidate_caches()
    assert sorted((await identity.policies_for(alice)).documents) == sorted([doc(2), doc(4)])
    # A change made through this service shows at once.
    await identity.remove_user_from_group(acct, "devs", "alice")
    assert (await identity.policies_for(alice)).documents == ()
