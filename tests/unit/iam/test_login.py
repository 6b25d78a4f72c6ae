"""Console login: password policy, argon2id, TOTP second factor, backoff, session expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from andromede.iam import totp
from andromede.iam.errors import (
    EntityAlreadyExists,
    InvalidConsoleSession,
    LoginFailed,
    LoginLocked,
    NoSuchEntity,
    PasswordPolicyViolation,
)
from andromede.iam.login import check_password_policy
from andromede.iam.model import PrincipalKind
from andromede.iam.service import BootstrapResult, IdentityService
from andromede.iam.service_core import user_principal
from support.clock import Clock
from support.passwords import PRODUCTION_HASHER

GOOD = "Correct-Horse-42"


@pytest.mark.parametrize(
    "password",
    ["Short-1a", "lowercaseonly", "ALLUPPER12345", "Alice12345!!", "x" * 129],
)
def test_policy_refuses(password: str) -> None:
    with pytest.raises(PasswordPolicyViolation) as caught:
        check_password_policy(password, "alice12345!!", 12)
    assert password not in str(caught.value)


@pytest.mark.parametrize("password", [GOOD, "correct horse battery", "lower-and-digits-1"])
def test_policy_accepts(password: str) -> None:
    check_password_policy(password, "alice", 12)


async def test_login_and_sessions(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    with pytest.raises(PasswordPolicyViolation):
        await identity.create_login_profile(acct, "alice", "short")
    await identity.create_login_profile(acct, "alice", GOOD)
    assert await identity.get_login_profile(acct, "alice") == datetime.fromtimestamp(clock.now, UTC)
    with pytest.raises(NoSuchEntity):
        await identity.get_login_profile(acct, "root")
    with pytest.raises(EntityAlreadyExists):
        await identity.create_login_profile(acct, "alice", GOOD)
    stored = await identity._store.get_login_profile((await identity.get_user(acct, "alice")).id)
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert GOOD not in stored.password_hash
    login = await identity.console_login("acme", "alice", GOOD)
    assert login.principal.kind is PrincipalKind.USER and not login.principal.mfa_present
    assert len(login.token) >= 43
    principal = await identity.resolve_console_session(login.token)
    assert principal.user_name == "alice" and principal.session_expires_at == login.expires_at
    by_id = await identity.console_login(acct, "ALICE", GOOD)  # account id, any case of name
    await identity.revoke_console_session(by_id.token)
    with pytest.raises(InvalidConsoleSession):
        await identity.resolve_console_session(by_id.token)
    # Idle expiry: 30 minutes without use.
    clock.now += 1799
    await identity.resolve_console_session(login.token)
    clock.now += 1799
    await identity.resolve_console_session(login.token)  # touched a minute ago at the latest
    clock.now += 1800
    with pytest.raises(InvalidConsoleSession):
        await identity.resolve_console_session(login.token)


async def test_absolute_expiry(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    await identity.create_login_profile(tenant.tenant.id, "root", GOOD)
    login = await identity.console_login("acme", "root", GOOD)
    assert login.principal.is_root
    for _ in range(43200 // 1200 - 1):
        clock.now += 1200
        await identity.resolve_console_session(login.token)
    clock.now += 1200
    with pytest.raises(InvalidConsoleSession):
        await identity.resolve_console_session(login.token)


async def test_wrong_inputs_get_one_error(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    await identity.create_user(tenant.tenant.id, "alice")
    await identity.create_login_profile(tenant.tenant.id, "alice", GOOD)
    attempts = [
        ("acme", "alice", "Wrong-Password-1"),
        ("acme", "bob", GOOD),
        ("nobody", "alice", GOOD),
        ("acme", "alice", ""),
    ]
    messages = set()
    for account, user, password in attempts:
        with pytest.raises(LoginFailed) as caught:
            await identity.console_login(account, user, password)
        messages.add(str(caught.value))
    assert len(messages) == 1


async def test_backoff_after_repeated_failures(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    await identity.create_user(tenant.tenant.id, "alice")
    await identity.create_login_profile(tenant.tenant.id, "alice", GOOD)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            await identity.console_login("acme", "alice", "Wrong-Password-1")
    with pytest.raises(LoginFailed):  # the fifth failure starts the backoff
        await identity.console_login("acme", "alice", "Wrong-Password-1")
    with pytest.raises(LoginLocked) as locked:  # even the right password waits
        await identity.console_login("acme", "alice", GOOD)
    assert locked.value.retry_after == pytest.approx(2.0)
    clock.now += 2
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "alice", "Wrong-Password-1")
    with pytest.raises(LoginLocked) as locked:
        await identity.console_login("acme", "alice", GOOD)
    assert locked.value.retry_after == pytest.approx(4.0)  # doubled
    clock.now += 4
    await identity.console_login("acme", "alice", GOOD)  # success resets the counter
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "alice", "Wrong-Password-1")
    await identity.console_login("acme", "alice", GOOD)


async def test_totp_second_factor(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    await identity.create_login_profile(acct, "alice", GOOD)
    created = await identity.create_virtual_mfa_device(acct, "alice")
    seed = totp.seed_from_base32(created.base32_string_seed)
    step = totp.time_step(clock.now)
    await identity.enable_mfa_device(
        acct, "alice", created.device.serial, totp.totp(seed, step - 1), totp.totp(seed, step)
    )
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "alice", GOOD)
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "alice", GOOD, "123456")
    clock.now += 30
    login = await identity.console_login("acme", "alice", GOOD, totp.totp(seed, step + 1))
    assert login.principal.mfa_present
    assert (await identity.resolve_console_session(login.token)).mfa_present
    with pytest.raises(LoginFailed):  # replayed code
        await identity.console_login("acme", "alice", GOOD, totp.totp(seed, step + 1))


async def test_new_password_ends_sessions_and_deleting_the_profile(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    with pytest.raises(NoSuchEntity):
        await identity.update_login_profile(acct, "alice", GOOD)
    await identity.create_login_profile(acct, "alice", GOOD)
    login = await identity.console_login("acme", "alice", GOOD)
    await identity.update_login_profile(acct, "alice", "Another-Pass-99")
    with pytest.raises(InvalidConsoleSession):
        await identity.resolve_console_session(login.token)
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "alice", GOOD)
    login = await identity.console_login("acme", "alice", "Another-Pass-99")
    assert await identity.revoke_console_sessions(acct, "alice") == 1
    await identity.delete_login_profile(acct, "alice")
    with pytest.raises(NoSuchEntity):
        await identity.delete_login_profile(acct, "alice")
    await identity.delete_user(acct, "alice")


async def test_suspended_tenant_cannot_log_in(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    await identity.create_login_profile(tenant.tenant.id, "root", GOOD)
    login = await identity.console_login("acme", "root", GOOD)
    await identity.suspend_tenant("acme")
    with pytest.raises(LoginFailed):
        await identity.console_login("acme", "root", GOOD)
    with pytest.raises(InvalidConsoleSession):
        await identity.resolve_console_session(login.token)


def test_the_products_password_hasher_is_rfc_9106s_low_memory_argon2id() -> None:
    """In-process tests hash with cheaper parameters (tests/support/passwords.py); the product
    keeps RFC 9106's second recommended profile."""
    profile = RFC_9106_LOW_MEMORY
    hasher = PRODUCTION_HASHER
    assert (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        Type.ID,
        profile.time_cost,
        profile.memory_cost,
        profile.parallelism,
    )
    assert hasher.hash("Correct-Horse-42").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_a_federated_console_session_lasts_no_longer_than_its_credentials(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    """The federation endpoint's sign-in token: 15 minutes, once; the console session it
    opens ends with the credentials (an hour here), whatever the console's own lifetime."""
    acct = tenant.tenant.id
    trust = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
        f'{{"AWS": "arn:aws:iam::{acct}:root"}}, "Action": "sts:AssumeRole"}}]}}'
    )
    role = await identity.create_role(acct, "broker", trust)
    root = user_principal(await identity.get_user(acct, "root"))
    issued = await identity.assume_role(root, role, "carol", duration_seconds=3600)
    parts = (issued.access_key_id, issued.secret_access_key, issued.session_token)
    late = await identity.console_signin_token(*parts)
    clock.now += 901
    with pytest.raises(InvalidConsoleSession):
        await identity.console_login_with_signin_token(late)
    token = await identity.console_signin_token(*parts)
    login = await identity.console_login_with_signin_token(token)
    assert login.principal.kind is PrincipalKind.ROLE_SESSION
    assert login.expires_at == issued.expiration
    with pytest.raises(InvalidConsoleSession):  # once
        await identity.console_login_with_signin_token(token)
    shortened = await identity.console_login_with_signin_token(
        await identity.console_signin_token(*parts, session_duration=900)
    )
    assert (shortened.expires_at - shortened.principal.session_expires_at).total_seconds() < 0
    for _ in range(2):  # touched on the way, never idle
        clock.now += 1000
        await identity.resolve_console_session(login.token)
    clock.now += 1000
    with pytest.raises(InvalidConsoleSession):  # past the credentials' hour
        await identity.resolve_console_session(login.token)
    with pytest.raises(InvalidConsoleSession):
        await identity.console_login_with_signin_token("A" * 40)
