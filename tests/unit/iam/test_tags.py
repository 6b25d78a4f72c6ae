"""IAM users' and roles' tags (decision 0067): IAM's validation, keys unique regardless of case,
merging, the quota, and the tags of a principal's requests (``aws:PrincipalTag``)."""

from __future__ import annotations

import pytest

from andromede.iam.errors import InvalidInput, LimitExceeded, NoSuchEntity
from andromede.iam.service import BootstrapResult, IdentityService

TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
    '"Action": "sts:AssumeRole"}]}'
)


async def test_tags_are_set_merged_regardless_of_case_and_removed(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    user = await identity.create_user(acct, "alice", tags=(("team", "blue"), ("cost", "4711")))
    assert user.tags == (("team", "blue"), ("cost", "4711"))
    await identity.tag_user(acct, "alice", (("Team", "red"), ("project", "été")))
    assert await identity.list_user_tags(acct, "alice") == (
        ("Team", "red"),  # the same key, in IAM's eyes: replaced in its place
        ("cost", "4711"),
        ("project", "été"),
    )
    await identity.untag_user(acct, "alice", ["TEAM", "absent"])
    assert await identity.list_user_tags(acct, "alice") == (("cost", "4711"), ("project", "été"))
    role = await identity.create_role(acct, "ci", TRUST, tags=(("team", "ops"),))
    assert role.tags == (("team", "ops"),)
    await identity.tag_role(acct, "ci", (("env", ""),))
    assert await identity.list_role_tags(acct, "ci") == (("team", "ops"), ("env", ""))
    await identity.untag_role(acct, "ci", ["team"])
    assert await identity.list_role_tags(acct, "ci") == (("env", ""),)
    with pytest.raises(NoSuchEntity):
        await identity.tag_user(acct, "nobody", (("a", "b"),))
    with pytest.raises(NoSuchEntity):  # the root user is not reached by name
        await identity.list_user_tags(acct, "root")


@pytest.mark.parametrize(
    "tags",
    [
        (("aws:owner", "me"),),
        (("", "v"),),
        (("k" * 129, "v"),),
        (("k", "v" * 257),),
        (("semi;colon", "v"),),
        (("team", "a"), ("TEAM", "b")),
    ],
)
async def test_what_iam_refuses_is_refused(
    identity: IdentityService, tenant: BootstrapResult, tags: tuple[tuple[str, str], ...]
) -> None:
    acct = tenant.tenant.id
    with pytest.raises(InvalidInput):
        await identity.create_user(acct, "bob", tags=tags)
    await identity.create_user(acct, "carol", tags=(("kept", "yes"),))
    with pytest.raises(InvalidInput):
        await identity.tag_user(acct, "carol", tags)
    assert await identity.list_user_tags(acct, "carol") == (("kept", "yes"),)


async def test_fifty_tags_at_most(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    fifty = tuple((f"k{i}", "v") for i in range(50))
    await identity.create_user(acct, "full", tags=fifty)
    with pytest.raises(LimitExceeded):
        await identity.tag_user(acct, "full", (("one-more", "v"),))
    await identity.tag_user(acct, "full", (("K0", "replaced"),))  # a replacement fits
    with pytest.raises(LimitExceeded):
        await identity.create_user(acct, "over", tags=(*fifty, ("k50", "v")))


async def test_a_principals_policies_carry_its_tags(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice", tags=(("team", "blue"),))
    key = await identity.create_access_key(acct, "alice")
    _, alice = await identity.resolve_access_key(key.key.access_key_id)
    assert (await identity.policies_for(alice)).tags == (("team", "blue"),)
    await identity.tag_user(acct, "alice", (("team", "red"),))  # a change shows at once
    assert (await identity.policies_for(alice)).tags == (("team", "red"),)
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    assert (await identity.policies_for(root)).tags == ()
