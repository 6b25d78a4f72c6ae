"""Instance profiles (the IAM actions, in the service) and the credentials an instance gets
from its profile's role: only when the role trusts ec2.amazonaws.com, named after the instance,
bounded by the role's maximum session, and acting as the role wherever they are resolved."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from andromede.iam.errors import (
    AccessDenied,
    DeleteConflict,
    EntityAlreadyExists,
    ExpiredToken,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from andromede.iam.model import PrincipalKind, SessionSource
from andromede.iam.service import BootstrapResult, IdentityService
from support.clock import Clock

INSTANCE = "i-0123456789abcdef0"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}


EC2_TRUST = document(trust({"Service": "ec2.amazonaws.com"}))


@pytest.fixture
def account(tenant: BootstrapResult) -> str:
    return tenant.tenant.id


async def profile_with_role(
    identity: IdentityService, account: str, trust_document: str = EC2_TRUST, **role: Any
) -> None:
    await identity.create_role(account, "reader", trust_document, **role)
    await identity.create_instance_profile(account, "web")
    await identity.add_role_to_instance_profile(account, "web", "reader")


async def test_profiles_are_created_listed_and_named_by_arn(
    identity: IdentityService, account: str
) -> None:
    web = await identity.create_instance_profile(account, "Web", "/apps/")
    assert web.id.startswith("AIPA") and web.roles == ()
    assert web.arn == f"arn:aws:iam::{account}:instance-profile/apps/Web"
    with pytest.raises(EntityAlreadyExists):
        await identity.create_instance_profile(account, "WEB")
    with pytest.raises(InvalidInput):
        await identity.create_instance_profile(account, "no spaces")
    with pytest.raises(InvalidInput):
        await identity.create_instance_profile(account, "x", "no-slash")
    for name in ("a", "b", "c"):
        await identity.create_instance_profile(account, name)
    first = await identity.list_instance_profiles(account, max_items=2)
    assert [p.name for p in first.items] == ["a", "b"] and first.is_truncated
    rest = await identity.list_instance_profiles(account, marker=first.marker)
    assert [p.name for p in rest.items] == ["c", "Web"] and not rest.is_truncated
    only = await identity.list_instance_profiles(account, "/apps/")
    assert [p.name for p in only.items] == ["Web"]
    assert await identity.get_instance_profile_by_arn(account, web.arn) == web
    for wrong in (
        f"arn:aws:iam::{account}:instance-profile/Web",  # path differs
        "arn:aws:iam::999999999999:instance-profile/apps/Web",  # another account
        "arn:aws:iam::nothing",
    ):
        with pytest.raises(NoSuchEntity):
            await identity.get_instance_profile_by_arn(account, wrong)


async def test_a_profile_holds_one_role_and_both_refuse_deletion_meanwhile(
    identity: IdentityService, account: str
) -> None:
    await profile_with_role(identity, account)
    await identity.create_role(account, "writer", EC2_TRUST)
    with pytest.raises(LimitExceeded):
        await identity.add_role_to_instance_profile(account, "web", "writer")
    with pytest.raises(NoSuchEntity):
        await identity.add_role_to_instance_profile(account, "web", "nobody")
    (role,) = (await identity.get_instance_profile(account, "WEB")).roles
    assert role.name == "reader"
    found = await identity.list_instance_profiles_for_role(account, "reader")
    assert [p.name for p in found.items] == ["web"]
    with pytest.raises(DeleteConflict):
        await identity.delete_role(account, "reader")
    with pytest.raises(DeleteConflict):
        await identity.delete_instance_profile(account, "web")
    with pytest.raises(NoSuchEntity):
        await identity.remove_role_from_instance_profile(account, "web", "writer")
    await identity.remove_role_from_instance_profile(account, "web", "reader")
    assert (await identity.list_instance_profiles_for_role(account, "reader")).items == []
    await identity.delete_instance_profile(account, "web")
    await identity.delete_role(account, "reader")
    with pytest.raises(NoSuchEntity):
        await identity.get_instance_profile(account, "web")


async def test_an_instance_gets_credentials_of_the_role_named_after_it(
    identity: IdentityService, account: str, clock: Clock
) -> None:
    await profile_with_role(identity, account)
    given = await identity.issue_instance_credentials(account, "web", INSTANCE)
    assert given.role.name == "reader" and given.profile.name == "web"
    issued = given.credentials
    assert issued.access_key_id.startswith("ASIA")
    assert issued.expiration - identity._now() == timedelta(hours=1)
    principal = issued.principal
    assert principal.kind is PrincipalKind.ROLE_SESSION
    assert principal.arn == f"arn:aws:sts::{account}:assumed-role/reader/{INSTANCE}"
    assert principal.aws_user_id == f"{given.role.id}:{INSTANCE}"
    secret, resolved = await identity.resolve_access_key(issued.access_key_id, issued.session_token)
    assert secret == issued.secret_access_key and resolved == principal
    found = await identity._store.get_session(issued.access_key_id)
    assert found is not None and found[0].source is SessionSource.INSTANCE_PROFILE
    # By ARN too, as RunInstances may name the profile.
    by_arn = await identity.issue_instance_credentials(account, given.profile.arn, INSTANCE)
    assert by_arn.credentials.access_key_id != issued.access_key_id
    identity.invalidate_caches()
    clock.now += 3600
    with pytest.raises(ExpiredToken):
        await identity.resolve_access_key(issued.access_key_id, issued.session_token)


async def test_the_session_is_bounded_by_the_role(identity: IdentityService, account: str) -> None:
    await profile_with_role(identity, account, max_session_duration=7200)
    longer = await identity.issue_instance_credentials(account, "web", INSTANCE, 10_800)
    assert longer.credentials.expiration - identity._now() == timedelta(hours=2)
    shorter = await identity.issue_instance_credentials(account, "web", INSTANCE, 1800)
    assert shorter.credentials.expiration - identity._now() == timedelta(minutes=30)
    with pytest.raises(InvalidInput):
        await identity.issue_instance_credentials(account, "web", INSTANCE, 60)
    with pytest.raises(InvalidInput):
        await identity.issue_instance_credentials(account, "web", "i")  # not a session name


@pytest.mark.parametrize(
    "trust_document",
    [
        document(trust({"AWS": "arn:aws:iam::123456789012:root"})),  # an account, no service
        document(trust({"Service": "lambda.amazonaws.com"})),
        document(
            trust({"Service": "ec2.amazonaws.com"}),
            trust({"Service": "ec2.amazonaws.com"}, effect="Deny"),
        ),
    ],
    ids=["aws-principals", "another-service", "explicit-deny"],
)
async def test_no_credentials_unless_the_role_trusts_ec2(
    identity: IdentityService, account: str, trust_document: str
) -> None:
    await profile_with_role(identity, account, trust_document)
    with pytest.raises(AccessDenied):
        await identity.issue_instance_credentials(account, "web", INSTANCE)


async def test_no_credentials_without_a_profile_or_a_role(
    identity: IdentityService, account: str
) -> None:
    with pytest.raises(NoSuchEntity):
        await identity.issue_instance_credentials(account, "web", INSTANCE)
    await identity.create_instance_profile(account, "web")
    with pytest.raises(NoSuchEntity):
        await identity.issue_instance_credentials(account, "web", INSTANCE)
    other = await identity.create_tenant("other")
    await profile_with_role(identity, other.tenant.id)
    with pytest.raises(NoSuchEntity):  # the profile of another account is not the tenant's
        await identity.issue_instance_credentials(
            account, f"arn:aws:iam::{other.tenant.id}:instance-profile/web", INSTANCE
        )


async def test_a_suspended_account_gets_no_credentials(
    identity: IdentityService, account: str
) -> None:
    await profile_with_role(identity, account)
    await identity.suspend_tenant(account)
    with pytest.raises(AccessDenied):
        await identity.issue_instance_credentials(account, "web", INSTANCE)
