"""The credentials issuer over identity: an instance's profile gives it its role's credentials
(named after the instance, valid on every API), and nothing when the profile, its role or the
role's trust in EC2 is missing."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta

import pytest

from andromede.iam.model import PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.imds.identity import IdentityCredentialsIssuer
from support.clock import Clock
from support.metadata import WEB


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture
def identity() -> IdentityService:
    return IdentityService(
        MemoryIdentityStore(), SecretSealer(os.urandom(32)), limits=IdentityLimits(), clock=Clock()
    )


async def test_an_instance_gets_its_role_s_credentials(identity: IdentityService) -> None:
    account = (await identity.create_tenant("acme")).tenant.id
    await identity.create_role(account, "web-role", trust("ec2.amazonaws.com"))
    profile = await identity.create_instance_profile(account, "web")
    await identity.add_role_to_instance_profile(account, "web", "web-role")
    instance = replace(WEB, account_id=account, instance_profile=profile.arn)
    issuer = IdentityCredentialsIssuer(identity, duration=1800)
    given = await issuer(instance)
    assert given is not None
    assert (given.role_name, given.instance_profile_arn) == ("web-role", profile.arn)
    assert given.instance_profile_id == profile.id
    assert given.expiration - given.issued_at == timedelta(minutes=30)
    assert given.issued_at == identity._now()
    assert "secret" not in repr(given).lower() and given.session_token not in repr(given)
    _, principal = await identity.resolve_access_key(given.access_key_id, given.session_token)
    assert principal.kind is PrincipalKind.ROLE_SESSION
    assert principal.arn == f"arn:aws:sts::{account}:assumed-role/web-role/{WEB.instance_id}"
    by_name = await issuer(replace(instance, instance_profile="web"))
    assert by_name is not None and by_name.access_key_id != given.access_key_id


async def test_nothing_without_a_profile_a_role_or_trust(identity: IdentityService) -> None:
    account = (await identity.create_tenant("acme")).tenant.id
    issuer = IdentityCredentialsIssuer(identity, duration=3600)
    instance = replace(WEB, account_id=account, instance_profile="web")
    assert await issuer(replace(instance, instance_profile=None)) is None
    assert await issuer(instance) is None  # no such profile
    await identity.create_instance_profile(account, "web")
    assert await issuer(instance) is None  # no role in it
    await identity.create_role(account, "web-role", trust("lambda.amazonaws.com"))
    await identity.add_role_to_instance_profile(account, "web", "web-role")
    assert await issuer(instance) is None  # the role does not trust EC2
    await identity.update_assume_role_policy(account, "web-role", trust("ec2.amazonaws.com"))
    assert await issuer(instance) is not None
