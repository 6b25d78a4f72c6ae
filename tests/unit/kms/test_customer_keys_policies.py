"""Authorisation of CMK calls: key policies evaluated together with IAM policies as AWS KMS
does (the key policy is authoritative), cross-tenant isolation, and the identity-only actions."""

from __future__ import annotations

import json

import pytest

from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_errors import CmkAccessDenied, CmkNotFound, MalformedKeyPolicy
from andromede.kms.keys_model import CustomerKey
from andromede.kmsapi.authorise import KmsAuthoriser
from support.kmskit import ACCOUNT_A, ACCOUNT_B, REGION, Kit, root, user

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)


def allow(actions: str | list[str], resource: str = "*", **condition: object) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def deny(actions: str, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": actions, "Resource": resource}],
        }
    )


def key_policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: str, actions: str | list[str] = "kms:*") -> dict[str, object]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"}


ACCOUNT_ROOT_A = f"arn:aws:iam::{ACCOUNT_A}:root"


async def test_default_policy_delegates_to_iam(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    key = await kit.service.create_key(A)
    assert '"kms:*"' in key.policy and ACCOUNT_ROOT_A in key.policy
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {})
    kit.policies.by_user["AIDAALICE"] = [allow("kms:Encrypt", key.arn)]
    await kit.service.encrypt(alice, key.key_id, b"x", {})
    with pytest.raises(CmkAccessDenied):  # Encrypt only
        await kit.service.disable_key(alice, key.key_id)


async def test_without_the_account_statement_iam_alone_grants_nothing(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    bob = user(ACCOUNT_A, "bob")
    policy = key_policy(
        grant(f"arn:aws:iam::{ACCOUNT_A}:user/bob", ["kms:Encrypt", "kms:DescribeKey"])
    )
    with pytest.raises(MalformedKeyPolicy, match="will not allow you"):  # lockout check
        await kit.service.create_key(A, policy=policy)
    key = await kit.service.create_key(A, policy=policy, bypass_lockout_check=True)
    kit.policies.by_user["AIDAALICE"] = [allow("kms:*")]
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {})
    # Bob is named by the key policy: no IAM policy needed within the account.
    await kit.service.encrypt(bob, key.key_id, b"x", {})
    # Nor is the root user allowed: the key policy does not name the account.
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(A, key.key_id, b"x", {})


async def test_explicit_deny_in_iam_or_key_policy_wins(kit: Kit) -> None:
    bob = user(ACCOUNT_A, "bob")
    bob_arn = f"arn:aws:iam::{ACCOUNT_A}:user/bob"
    key = await kit.service.create_key(A, policy=key_policy(grant(bob_arn), grant(ACCOUNT_ROOT_A)))
    await kit.service.encrypt(bob, key.key_id, b"x", {})
    kit.policies.by_user["AIDABOB"] = [deny("kms:Encrypt")]
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(bob, key.key_id, b"x", {})
    kit.policies.by_user.clear()
    denying = key_policy(
        grant(ACCOUNT_ROOT_A),
        {"Effect": "Deny", "Principal": {"AWS": bob_arn}, "Action": "kms:Encrypt", "Resource": "*"},
    )
    await kit.service.put_key_policy(A, key.key_id, "default", denying)
    kit.policies.by_user["AIDABOB"] = [allow("kms:*")]
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(bob, key.key_id, b"x", {})
    await kit.service.decrypt(bob, (await kit.service.encrypt(A, key.key_id, b"y", {}))[0], {})


async def test_encryption_context_condition_keys(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    key = await kit.service.create_key(A)
    kit.policies.by_user["AIDAALICE"] = [
        allow("kms:Encrypt", key.arn, StringEquals={"kms:EncryptionContext:team": "blue"})
    ]
    await kit.service.encrypt(alice, key.key_id, b"x", {"team": "blue"})
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {"team": "red"})


async def test_other_tenants_keys_are_not_found(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"x", {})
    for reference in (key.key_id, key.arn):
        with pytest.raises(CmkNotFound):
            await kit.service.describe_key(B, reference)
        with pytest.raises(CmkNotFound):
            await kit.service.disable_key(B, reference)
    with pytest.raises(CmkNotFound):
        await kit.service.decrypt(B, blob, {})
    keys, _ = await kit.service.list_keys(B, limit=10, marker=None)
    assert keys == []


async def test_a_key_policy_can_open_a_key_to_another_account_by_arn(kit: Kit) -> None:
    policy = key_policy(
        grant(ACCOUNT_ROOT_A),
        grant(f"arn:aws:iam::{ACCOUNT_B}:root", ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]),
    )
    key = await kit.service.create_key(A, policy=policy)
    with pytest.raises(CmkNotFound):  # a bare key id names a key of the caller's account only
        await kit.service.describe_key(B, key.key_id)
    assert (await kit.service.describe_key(B, key.arn)).key_id == key.key_id
    blob, _ = await kit.service.encrypt(B, key.arn, b"shared", {})
    assert (await kit.service.decrypt(B, blob, {}))[0] == b"shared"
    with pytest.raises(CmkNotFound):  # not granted: still hidden
        await kit.service.disable_key(B, key.arn)
    # A user of B needs B's IAM policy as well as A's key policy.
    carol = user(ACCOUNT_B, "carol")
    with pytest.raises(CmkNotFound):
        await kit.service.encrypt(carol, key.arn, b"x", {})
    kit.policies.by_user["AIDACAROL"] = [allow("kms:Encrypt", key.arn)]
    await kit.service.encrypt(carol, key.arn, b"x", {})


async def test_identity_only_actions(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_key(alice)
    with pytest.raises(CmkAccessDenied):
        await kit.service.list_keys(alice, limit=10, marker=None)
    with pytest.raises(CmkAccessDenied):
        await kit.service.generate_random(alice, 8)
    kit.policies.by_user["AIDAALICE"] = [
        allow(["kms:CreateKey", "kms:ListKeys", "kms:ListAliases"])
    ]
    key = await kit.service.create_key(alice)
    assert key.tenant_id == ACCOUNT_A
    assert [k.key_id for k in (await kit.service.list_keys(alice, limit=10, marker=None))[0]] == [
        key.key_id
    ]
    await kit.service.list_aliases(alice, key_ref=None, limit=10, marker=None)


async def test_malformed_key_policies_are_refused(kit: Kit) -> None:
    with pytest.raises(MalformedKeyPolicy):
        await kit.service.create_key(A, policy="{not json")
    key = await kit.service.create_key(A)
    with pytest.raises(MalformedKeyPolicy):  # a key policy must name a principal
        await kit.service.put_key_policy(A, key.key_id, "default", allow("kms:*"))
    with pytest.raises(CmkNotFound):
        await kit.service.get_key_policy(A, key.key_id, "other")


async def test_sse_hook_checks_state_and_permission(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    key = await kit.service.create_key(A)
    await kit.service.create_alias(A, "alias/objects", key.key_id)
    usable = await kit.service.key_for_sse(A, "alias/objects", {"aws:s3:arn": "arn:aws:s3:::b/k"})
    assert usable.key_ring_id == key.key_id and usable.arn == key.arn
    with pytest.raises(CmkAccessDenied):
        await kit.service.key_for_sse(alice, key.key_id, {})
    with pytest.raises(CmkNotFound):
        await kit.service.key_for_sse(B, key.arn, {})
    await kit.service.disable_key(A, key.key_id)
    with pytest.raises(Exception, match="disabled"):
        await kit.service.key_for_sse(A, key.key_id, {})


async def test_policy_lockout_safety_check(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    bob_only = key_policy(grant(f"arn:aws:iam::{ACCOUNT_A}:user/bob"))
    with pytest.raises(MalformedKeyPolicy):
        await kit.service.put_key_policy(A, key.key_id, "default", bob_only)
    assert ACCOUNT_ROOT_A in await kit.service.get_key_policy(A, key.key_id, "default")
    await kit.service.put_key_policy(A, key.key_id, "default", bob_only, bypass_lockout_check=True)
    with pytest.raises(CmkAccessDenied):  # locked out, as AWS warns
        await kit.service.get_key_policy(A, key.key_id, "default")


async def test_resource_tags_decide_attribute_based_policies(kit: Kit) -> None:
    """ABAC: one IAM policy lets alice use every key tagged for her team and no other."""
    alice = user(ACCOUNT_A, "alice")
    ours = await kit.service.create_key(A, tags=[("team", "blue")])
    theirs = await kit.service.create_key(A, tags=[("team", "red")])
    untagged = await kit.service.create_key(A)
    kit.policies.by_user["AIDAALICE"] = [
        allow("kms:Encrypt", StringEquals={"aws:ResourceTag/team": "blue"})
    ]
    await kit.service.encrypt(alice, ours.key_id, b"x", {})
    for other in (theirs, untagged):
        with pytest.raises(CmkAccessDenied):
            await kit.service.encrypt(alice, other.key_id, b"x", {})
    # Retagged, the key follows its new tag at the next call.
    await kit.service.tag_resource(A, theirs.key_id, [("team", "blue")])
    await kit.service.encrypt(alice, theirs.key_id, b"x", {})


async def test_request_tags_and_tag_keys_condition_tagging(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    kit.policies.by_user["AIDAALICE"] = [
        allow(
            ["kms:CreateKey", "kms:TagResource", "kms:UntagResource"],
            StringEquals={"aws:RequestTag/team": "blue"},
            **{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        )
    ]
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_key(alice)  # no team tag: the condition's key is absent
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_key(alice, tags=[("team", "red")])
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_key(alice, tags=[("team", "blue"), ("cost", "1")])
    key = await kit.service.create_key(alice, tags=[("team", "blue")])
    with pytest.raises(CmkAccessDenied):
        await kit.service.tag_resource(alice, key.key_id, [("team", "red")])
    await kit.service.tag_resource(alice, key.key_id, [("team", "blue")])


async def test_key_attributes_and_request_parameters_as_condition_keys(kit: Kit) -> None:
    alice = user(ACCOUNT_A, "alice")
    key = await kit.service.create_key(A)
    await kit.service.create_alias(A, "alias/payroll", key.key_id)
    kit.policies.by_user["AIDAALICE"] = [
        allow(
            ["kms:Encrypt", "kms:Decrypt"],
            StringEquals={
                "kms:KeySpec": "SYMMETRIC_DEFAULT",
                "kms:KeyOrigin": "AWS_KMS",
                "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "kms:RequestAlias": "alias/payroll",
            },
        ),
        allow(
            "kms:ScheduleKeyDeletion",
            NumericGreaterThanEquals={"kms:ScheduleKeyDeletionPendingWindowInDays": "30"},
        ),
        allow("kms:EnableKeyRotation", NumericLessThanEquals={"kms:RotationPeriodInDays": "180"}),
    ]
    # Through the alias only: kms:RequestAlias is absent when the key is named by its id.
    blob, _ = await kit.service.encrypt(alice, "alias/payroll", b"x", {})
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {})
    assert (await kit.service.decrypt(alice, blob, {}, key_ref="alias/payroll"))[0] == b"x"
    with pytest.raises(CmkAccessDenied):
        await kit.service.enable_key_rotation(alice, key.key_id, 365)
    await kit.service.enable_key_rotation(alice, key.key_id, 180)
    with pytest.raises(CmkAccessDenied):
        await kit.service.schedule_key_deletion(alice, key.key_id, 7)
    await kit.service.schedule_key_deletion(alice, key.key_id, 30)


async def test_resource_aliases_decide_alias_based_policies(kit: Kit) -> None:
    """AWS's alias-based access: a policy on kms:ResourceAliases follows the key's aliases."""
    alice = user(ACCOUNT_A, "alice")
    key = await kit.service.create_key(A)
    other = await kit.service.create_key(A)
    kit.policies.by_user["AIDAALICE"] = [
        allow(
            "kms:Encrypt",
            **{"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/finance-*"}},
        )
    ]
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {})
    await kit.service.create_alias(A, "alias/finance-payroll", key.key_id)
    await kit.service.create_alias(A, "alias/hr", other.key_id)
    await kit.service.encrypt(alice, key.key_id, b"x", {})  # by id: the key's aliases count
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, other.key_id, b"x", {})
    await kit.service.delete_alias(A, "alias/finance-payroll")
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(alice, key.key_id, b"x", {})


async def test_the_aliases_are_read_only_for_policies_that_mention_them(kit: Kit) -> None:
    asked: list[str] = []

    async def aliases(key: CustomerKey) -> list[str]:
        asked.append(key.key_id)
        return []

    service = CustomerKeyService(
        kit.store,
        kit.keys,
        KmsAuthoriser(kit.policies, REGION, key_aliases=aliases),
        region=REGION,
        clock=kit.clock,
    )
    key = await service.create_key(A)
    await service.encrypt(A, key.key_id, b"x", {})
    assert asked == []
    mentioning = key_policy(
        grant(ACCOUNT_ROOT_A),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/frozen"}},
        },
    )
    await service.put_key_policy(A, key.key_id, "default", mentioning)
    asked.clear()
    await service.encrypt(A, key.key_id, b"x", {})
    assert asked == [key.key_id]


async def test_re_encryption_can_be_held_to_the_same_key(kit: Kit) -> None:
    # AWS's guard rail: re-encrypt (to refresh a ciphertext after a rotation), never move
    # data to another key.
    key = await kit.service.create_key(A)
    other = await kit.service.create_key(A)
    kit.policies.by_user["AIDAALICE"] = [
        allow("kms:Encrypt"),
        allow("kms:ReEncrypt*", Bool={"kms:ReEncryptOnSameKey": "true"}),
    ]
    alice = user(ACCOUNT_A, "alice")
    blob, _ = await kit.service.encrypt(alice, key.key_id, b"refresh me", {})
    moved, source, destination = await kit.service.re_encrypt(alice, blob, {}, key.arn, {})
    assert source.key_id == destination.key_id == key.key_id
    assert (await kit.service.decrypt(A, moved, {}, None))[0] == b"refresh me"
    with pytest.raises(CmkAccessDenied):
        await kit.service.re_encrypt(alice, blob, {}, other.key_id, {})
