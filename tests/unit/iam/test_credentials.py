"""Tenants, operators, access keys, key resolution (cached), last use, and STS credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.iam import totp
from andromede.iam.errors import (
    AccessDenied,
    ExpiredToken,
    InvalidAccessKeyId,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
    InvalidInput,
    InvalidTenantTransition,
    LimitExceeded,
    NoSuchEntity,
    NoSuchTenant,
    TenantAlreadyExists,
)
from andromede.iam.model import AccessKeyStatus, PrincipalKind, PrincipalPolicies, TenantStatus
from andromede.iam.service import BootstrapResult, IdentityService
from support.clock import START, Clock

TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
    '"Action": "sts:AssumeRole"}]}'
)
ROLE_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
    '"Resource": "*"}]}'
)


async def test_create_tenant_gives_a_root_key(identity: IdentityService) -> None:
    created = await identity.create_tenant("acme")
    assert len(created.tenant.id) == 12 and created.tenant.id.isdigit()
    assert created.tenant.status is TenantStatus.ACTIVE
    secret, principal = await identity.resolve_access_key(created.access_key_id)
    assert secret == created.secret_access_key
    assert principal.kind is PrincipalKind.ROOT and principal.is_root
    assert principal.arn == f"arn:aws:iam::{created.tenant.id}:root"
    assert principal.aws_user_id == created.tenant.id
    with pytest.raises(TenantAlreadyExists):
        await identity.create_tenant("acme")
    with pytest.raises(InvalidInput):
        await identity.create_tenant("Not A Name")
    assert await identity.get_tenant("acme") == created.tenant
    assert await identity.get_tenant(created.tenant.id) == created.tenant
    with pytest.raises(NoSuchTenant):
        await identity.get_tenant("nobody")


async def test_tenant_lifecycle_follows_the_transition_table(identity: IdentityService) -> None:
    created = await identity.create_tenant("acme")
    key = created.access_key_id
    assert (await identity.suspend_tenant("acme")).status is TenantStatus.SUSPENDED
    with pytest.raises(InvalidAccessKeyId):
        await identity.resolve_access_key(key)
    with pytest.raises(InvalidTenantTransition):
        await identity.suspend_tenant("acme")
    assert (await identity.reactivate_tenant("acme")).status is TenantStatus.ACTIVE
    await identity.resolve_access_key(key)
    assert (await identity.close_tenant(created.tenant.id)).status is TenantStatus.CLOSED
    with pytest.raises(InvalidAccessKeyId):
        await identity.resolve_access_key(key)
    (root_key,) = await identity.list_access_keys(created.tenant.id, "root")
    assert root_key.status is AccessKeyStatus.INACTIVE
    for move in (identity.reactivate_tenant, identity.suspend_tenant, identity.close_tenant):
        with pytest.raises(InvalidTenantTransition):
            await move("acme")


async def test_quota_is_stored(identity: IdentityService, tenant: BootstrapResult) -> None:
    quota = await identity.set_tenant_quota("acme", max_buckets=5, max_bytes=10**12)
    assert await identity.get_tenant_quota(tenant.tenant.id) == quota
    with pytest.raises(InvalidInput):
        await identity.set_tenant_quota("acme", max_buckets=-1, max_bytes=None)


async def test_tenant_regions_are_stored(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    assert await identity.get_tenant_regions("acme") == frozenset()
    assert await identity.set_tenant_regions("acme", ["eu-paris-1"]) == {"eu-paris-1"}
    assert await identity.allowed_regions(tenant.tenant.id) == {"eu-paris-1"}
    with pytest.raises(InvalidInput):
        await identity.set_tenant_regions("acme", ["Paris!"])
    assert await identity.get_tenant_regions(tenant.tenant.id) == {"eu-paris-1"}


async def test_operator_belongs_to_no_tenant(identity: IdentityService) -> None:
    created = await identity.bootstrap_operator()
    assert created is not None and await identity.bootstrap_operator() is None
    with pytest.raises(InvalidAccessKeyId):  # not a key of the tenant APIs (S3, IAM, STS)
        await identity.resolve_access_key(created.access_key_id)
    secret, principal = await identity.resolve_access_key(
        created.access_key_id, allow_operator=True
    )
    assert secret == created.secret_access_key
    assert principal.kind is PrincipalKind.OPERATOR and principal.is_operator
    assert principal.tenant_id is None and not principal.is_anonymous and not principal.is_root
    assert principal.arn == "arn:andromede:platform::operator/operator"
    assert await identity.policies_for(principal) == PrincipalPolicies()
    assert [o.name for o in await identity.list_operators()] == ["operator"]
    with pytest.raises(InvalidAccessKeyId):  # cached, and still refused without the flag
        await identity.resolve_access_key(created.access_key_id)


async def test_access_keys_two_per_user(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    first = await identity.create_access_key(acct, "alice")
    second = await identity.create_access_key(acct, "Alice")
    assert first.key.access_key_id.startswith("AKIA") and len(first.secret_access_key) == 40
    with pytest.raises(LimitExceeded):
        await identity.create_access_key(acct, "alice")
    keys = await identity.list_access_keys(acct, "alice")
    assert {k.access_key_id for k in keys} == {first.key.access_key_id, second.key.access_key_id}
    _, principal = await identity.resolve_access_key(first.key.access_key_id)
    assert principal.kind is PrincipalKind.USER
    assert principal.arn == f"arn:aws:iam::{acct}:user/alice"
    await identity.update_access_key(acct, "alice", first.key.access_key_id, "Inactive")
    with pytest.raises(InvalidAccessKeyId):
        await identity.resolve_access_key(first.key.access_key_id)
    with pytest.raises(InvalidInput):
        await identity.update_access_key(acct, "alice", first.key.access_key_id, "Off")
    with pytest.raises(NoSuchEntity):  # a key of another user
        await identity.delete_access_key(acct, "root", first.key.access_key_id)
    await identity.delete_access_key(acct, "alice", first.key.access_key_id)
    await identity.delete_access_key(acct, "alice", second.key.access_key_id)
    await identity.delete_user(acct, "alice")


async def test_resolution_is_cached_for_the_ttl(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    key = tenant.access_key_id
    await identity.resolve_access_key(key)
    store = identity._store
    await store.set_access_key_status(key, AccessKeyStatus.INACTIVE)  # another gateway did it
    await identity.resolve_access_key(key)  # still cached here
    identity.invalidate_caches()
    with pytest.raises(InvalidAccessKeyId):
        await identity.resolve_access_key(key)


async def test_last_use_is_batched(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct, key = tenant.tenant.id, tenant.access_key_id
    never = await identity.get_access_key_last_used(acct, key)
    assert (never.last_used_at, never.service_name, never.region) == (None, "N/A", "N/A")
    for _ in range(100):
        identity.note_access_key_use(key, "s3", "eu-fr-1")
    seen = await identity.get_access_key_last_used(acct, key)  # this worker's pending view
    assert seen.last_used_at == datetime.fromtimestamp(START, UTC) and seen.service_name == "s3"
    stored, _ = await identity._store.get_access_key(key) or (None, None)
    assert stored is not None and stored.last_used_at is None  # nothing written per request
    assert await identity.flush_key_usage() == 1
    assert await identity.flush_key_usage() == 0
    stored, _ = await identity._store.get_access_key(key) or (None, None)
    assert stored is not None and stored.last_used_at == datetime.fromtimestamp(START, UTC)
    assert (stored.last_used_service, stored.last_used_region) == ("s3", "eu-fr-1")
    other = await identity.create_tenant("other")
    with pytest.raises(NoSuchEntity):
        await identity.get_access_key_last_used(other.tenant.id, key)


async def test_get_session_token(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    key = await identity.create_access_key(acct, "alice")
    _, alice = await identity.resolve_access_key(key.key.access_key_id)
    issued = await identity.get_session_token(alice, duration_seconds=900)
    assert issued.access_key_id.startswith("ASIA")
    assert issued.expiration == datetime.fromtimestamp(START + 900, UTC)
    secret, principal = await identity.resolve_access_key(
        issued.access_key_id, issued.session_token
    )
    assert secret == issued.secret_access_key
    assert principal.arn == alice.arn and principal.kind is PrincipalKind.USER
    assert not principal.mfa_present and principal.session_expires_at == issued.expiration
    with pytest.raises(InvalidClientTokenId):
        await identity.resolve_access_key(issued.access_key_id)
    with pytest.raises(InvalidClientTokenId):
        await identity.resolve_access_key(issued.access_key_id, issued.session_token + "x")
    with pytest.raises(InvalidClientTokenId):
        await identity.resolve_access_key("ASIAUNKNOWNUNKNOWN00", "token")
    with pytest.raises(AccessDenied):  # temporary credentials cannot renew themselves
        await identity.get_session_token(principal)
    for bad in (899, 129601):
        with pytest.raises(InvalidInput):
            await identity.get_session_token(alice, duration_seconds=bad)
    clock.now += 900
    with pytest.raises(ExpiredToken):  # the cached resolution is checked too
        await identity.resolve_access_key(issued.access_key_id, issued.session_token)
    assert await identity.purge_expired_sessions() == 1


async def test_root_sessions_last_an_hour_at_most(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    issued = await identity.get_session_token(root)
    assert issued.expiration == datetime.fromtimestamp(START + 3600, UTC)
    with pytest.raises(InvalidInput):
        await identity.get_session_token(root, duration_seconds=3601)


async def test_session_token_with_mfa(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    created = await identity.create_virtual_mfa_device(acct, "phone")
    seed = totp.seed_from_base32(created.base32_string_seed)
    step = totp.time_step(clock.now)
    serial = created.device.serial
    await identity.enable_mfa_device(
        acct, "root", serial, totp.totp(seed, step - 1), totp.totp(seed, step)
    )
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    with pytest.raises(InvalidAuthenticationCode):  # the code enabling it is used up
        await identity.get_session_token(root, 900, serial, totp.totp(seed, step))
    clock.now += 30
    issued = await identity.get_session_token(root, 900, serial, totp.totp(seed, step + 1))
    assert issued.principal.mfa_present
    with pytest.raises(InvalidAuthenticationCode):  # replay
        await identity.get_session_token(root, 900, serial, totp.totp(seed, step + 1))
    with pytest.raises(InvalidAuthenticationCode):
        await identity.get_session_token(root, 900, serial, "000000")
    with pytest.raises(InvalidInput):
        await identity.get_session_token(root, 900, serial, None)


async def test_assume_role(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    role = await identity.create_role(acct, "Deploy", TRUST, max_session_duration=7200)
    await identity.put_role_policy(acct, "Deploy", "p", ROLE_POLICY)
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    issued = await identity.assume_role(root, role, "ci-run-1", duration_seconds=7200)
    session = issued.principal
    assert session.kind is PrincipalKind.ROLE_SESSION
    assert session.arn == f"arn:aws:sts::{acct}:assumed-role/Deploy/ci-run-1"
    assert session.aws_user_id == f"{role.id}:ci-run-1"
    assert session.tenant_id == acct and session.session_name == "ci-run-1"
    _, resolved = await identity.resolve_access_key(issued.access_key_id, issued.session_token)
    assert resolved == session
    assert (await identity.policies_for(session)).documents == (ROLE_POLICY,)
    with pytest.raises(InvalidInput):
        await identity.assume_role(root, role, "x")  # session names are 2 to 64 characters
    with pytest.raises(InvalidInput):
        await identity.assume_role(root, role, "ok", duration_seconds=7201)
    with pytest.raises(InvalidInput):  # role chaining: one hour at most
        await identity.assume_role(session, role, "chained", duration_seconds=3601)
    chained = await identity.assume_role(session, role, "chained")
    assert chained.expiration == datetime.fromtimestamp(START + 3600, UTC)
    await identity.delete_role_policy(acct, "Deploy", "p")
    await identity.delete_role(acct, "Deploy")
    identity.invalidate_caches()
    with pytest.raises(InvalidClientTokenId):  # the role is gone
        await identity.resolve_access_key(issued.access_key_id, issued.session_token)


async def test_suspending_a_tenant_stops_its_sessions(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    _, root = await identity.resolve_access_key(tenant.access_key_id)
    issued = await identity.get_session_token(root)
    await identity.suspend_tenant("acme")
    with pytest.raises(InvalidClientTokenId):
        await identity.resolve_access_key(issued.access_key_id, issued.session_token)
