"""Virtual MFA devices: creation, enabling with two consecutive codes, replay, removal."""

from __future__ import annotations

import pytest

from andromede.iam import totp
from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    InvalidInput,
    NoSuchEntity,
)
from andromede.iam.service import BootstrapResult, IdentityService
from support.clock import Clock


async def test_create_shows_the_seed_once_and_stores_it_sealed(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    acct = tenant.tenant.id
    created = await identity.create_virtual_mfa_device(acct, "phone", "/people/")
    assert created.device.serial == f"arn:aws:iam::{acct}:mfa/people/phone"
    assert created.base32_string_seed not in created.device.seed_sealed
    assert f"secret={created.base32_string_seed}" in created.otpauth_uri
    assert len(totp.seed_from_base32(created.base32_string_seed)) == 20
    with pytest.raises(EntityAlreadyExists):
        await identity.create_virtual_mfa_device(acct, "phone", "/people/")
    with pytest.raises(InvalidInput):
        await identity.create_virtual_mfa_device(acct, "bad name")


async def test_enable_needs_two_consecutive_codes(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    created = await identity.create_virtual_mfa_device(acct, "alice-phone")
    serial, seed = created.device.serial, totp.seed_from_base32(created.base32_string_seed)
    step = totp.time_step(clock.now)
    code = lambda s: totp.totp(seed, s)  # noqa: E731
    for first, second in [
        (code(step), code(step)),
        (code(step - 2), code(step)),
        (code(step), code(step - 1)),
        ("000000", code(step)),
        (code(step + 1), code(step + 3)),
    ]:
        with pytest.raises(InvalidAuthenticationCode):
            await identity.enable_mfa_device(acct, "alice", serial, first, second)
    await identity.enable_mfa_device(acct, "alice", serial, code(step), code(step + 1))
    with pytest.raises(EntityAlreadyExists):
        await identity.enable_mfa_device(acct, "alice", serial, code(step), code(step + 1))
    (device,) = await identity.list_mfa_devices(acct, "alice")
    assert device.serial == serial and device.enabled_at is not None
    assert await identity.list_mfa_devices(acct, "root") == []
    alice = (await identity.get_user(acct, "alice")).id
    with pytest.raises(InvalidAuthenticationCode):  # step + 1 was used to enable it
        await identity.verify_mfa_code(acct, alice, serial, code(step + 1))
    clock.now += 60
    await identity.verify_mfa_code(acct, alice, serial, code(step + 2))
    with pytest.raises(InvalidAuthenticationCode):
        await identity.verify_mfa_code(acct, alice, serial, code(step + 2))
    root = (await identity.get_user(acct, "root")).id
    with pytest.raises(InvalidAuthenticationCode):  # not root's device
        await identity.verify_mfa_code(acct, root, serial, code(step + 3))


async def test_list_deactivate_delete(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    one = await identity.create_virtual_mfa_device(acct, "one")
    await identity.create_virtual_mfa_device(acct, "two")
    seed = totp.seed_from_base32(one.base32_string_seed)
    step = totp.time_step(identity._clock())
    await identity.enable_mfa_device(
        acct, "alice", one.device.serial, totp.totp(seed, step - 1), totp.totp(seed, step)
    )
    names = lambda devices: [d.name for d in devices]  # noqa: E731
    assert names(await identity.list_virtual_mfa_devices(acct)) == ["one", "two"]
    assert names(await identity.list_virtual_mfa_devices(acct, "Assigned")) == ["one"]
    assert names(await identity.list_virtual_mfa_devices(acct, "Unassigned")) == ["two"]
    with pytest.raises(InvalidInput):
        await identity.list_virtual_mfa_devices(acct, "Some")
    with pytest.raises(DeleteConflict):
        await identity.delete_virtual_mfa_device(acct, one.device.serial)
    with pytest.raises(NoSuchEntity):
        await identity.deactivate_mfa_device(acct, "root", one.device.serial)
    await identity.deactivate_mfa_device(acct, "alice", one.device.serial)
    with pytest.raises(NoSuchEntity):
        await identity.deactivate_mfa_device(acct, "alice", one.device.serial)
    await identity.delete_virtual_mfa_device(acct, one.device.serial)
    other = await identity.create_tenant("other")
    with pytest.raises(NoSuchEntity):  # another tenant's device
        await identity.delete_virtual_mfa_device(other.tenant.id, f"arn:aws:iam::{acct}:mfa/two")


POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
    '"Resource": "*"}]}'
)


async def test_account_summary(identity: IdentityService, tenant: BootstrapResult) -> None:
    acct = tenant.tenant.id
    await identity.create_user(acct, "alice")
    await identity.create_group(acct, "g")
    await identity.create_policy(acct, "p", POLICY)
    summary = await identity.get_account_summary(acct)
    assert summary["Users"] == 1 and summary["Groups"] == 1 and summary["Policies"] == 1
    assert summary["AccountAccessKeysPresent"] == 1 and summary["AccountMFAEnabled"] == 0
    assert summary["AccessKeysPerUserQuota"] == 2 and summary["VersionsPerPolicyQuota"] == 5
    assert summary["AttachedPoliciesPerUserQuota"] == 10
