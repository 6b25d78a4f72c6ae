"""KMS grants on the service: what a grant allows and what still wins over it, constraints,
grants made through grants, retiring and revoking, names, the quota, and listings."""

from __future__ import annotations

import json

import pytest

from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkInvalidState,
    CmkNotFound,
    InvalidGrantId,
    InvalidKeyParameter,
    KeyLimitExceeded,
)
from support.kmskit import ACCOUNT_A, ACCOUNT_B, Kit, root, user

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)
ALICE = user(ACCOUNT_A, "alice")
ALICE_ARN = f"arn:aws:iam::{ACCOUNT_A}:user/alice"
B_ROOT = f"arn:aws:iam::{ACCOUNT_B}:root"


def session(account: str, role: str, name: str) -> Caller:
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{name}"
    principal = Principal(account, None, None, PrincipalKind.ROLE_SESSION, arn)
    return Caller(account_id=account, arn=arn, principal=principal)


async def test_a_grant_allows_its_operations_only_and_needs_no_policy(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"secret", {})
    with pytest.raises(CmkAccessDenied):
        await kit.service.decrypt(ALICE, blob, {})
    grant = await kit.service.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt"])
    assert (await kit.service.decrypt(ALICE, blob, {}))[0] == b"secret"
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(ALICE, key.key_id, b"x", {})
    with pytest.raises(CmkAccessDenied):
        await kit.service.disable_key(ALICE, key.key_id)
    await kit.service.revoke_grant(A, key.key_id, grant.grant_id)
    with pytest.raises(CmkAccessDenied):
        await kit.service.decrypt(ALICE, blob, {})


async def test_an_explicit_deny_wins_over_a_grant(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt"])
    await kit.service.encrypt(ALICE, key.key_id, b"x", {})
    kit.policies.by_user["AIDAALICE"] = [
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}],
            }
        )
    ]
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(ALICE, key.key_id, b"x", {})


async def test_encryption_context_constraints(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt"], context_subset={"app": "pay"}
    )
    await kit.service.encrypt(ALICE, key.key_id, b"x", {"app": "pay", "extra": "1"})
    for context in ({}, {"app": "hr"}):
        with pytest.raises(CmkAccessDenied):
            await kit.service.encrypt(ALICE, key.key_id, b"x", context)
    await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt"], context_equals={"app": "pay"}
    )
    blob, _ = await kit.service.encrypt(A, key.key_id, b"x", {"app": "pay"})
    assert (await kit.service.decrypt(ALICE, blob, {"app": "pay"}))[0] == b"x"
    wider, _ = await kit.service.encrypt(A, key.key_id, b"x", {"app": "pay", "extra": "1"})
    with pytest.raises(CmkAccessDenied):
        await kit.service.decrypt(ALICE, wider, {"app": "pay", "extra": "1"})
    with pytest.raises(InvalidKeyParameter):
        await kit.service.create_grant(
            A,
            key.key_id,
            grantee=ALICE_ARN,
            operations=["Decrypt"],
            context_subset={"a": "1"},
            context_equals={"a": "1"},
        )
    # The constraint not given, sent as an empty map (Terraform's provider does): none.
    made = await kit.service.create_grant(
        A,
        key.key_id,
        grantee=ALICE_ARN,
        operations=["GenerateDataKey"],
        context_subset={"app": "pay"},
        context_equals={},
    )
    assert made.constraints.equals is None and made.constraints.subset == (("app", "pay"),)


async def test_a_role_grant_covers_every_session_of_the_role(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    role_arn = f"arn:aws:iam::{ACCOUNT_A}:role/app"
    await kit.service.create_grant(A, key.key_id, grantee=role_arn, operations=["Encrypt"])
    await kit.service.encrypt(session(ACCOUNT_A, "app", "one"), key.key_id, b"x", {})
    with pytest.raises(CmkAccessDenied):
        await kit.service.encrypt(session(ACCOUNT_A, "other", "one"), key.key_id, b"x", {})


async def test_a_grant_opens_a_key_to_another_account(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    with pytest.raises(CmkNotFound):
        await kit.service.generate_data_key(B, key.arn, 32, {})
    await kit.service.create_grant(
        A, key.key_id, grantee=B_ROOT, operations=["GenerateDataKey", "Decrypt", "DescribeKey"]
    )
    made = await kit.service.generate_data_key(B, key.arn, 32, {})
    assert (await kit.service.decrypt(B, made.ciphertext, {}))[0] == made.plaintext
    assert (await kit.service.describe_key(B, key.arn)).key_id == key.key_id
    with pytest.raises(CmkNotFound):  # by id, a key of B's own account is meant
        await kit.service.describe_key(B, key.key_id)
    with pytest.raises(CmkNotFound):
        await kit.service.list_grants(B, key.arn, limit=10, after=None)


async def test_a_grant_made_through_a_grant_never_widens(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.create_grant(
        A,
        key.key_id,
        grantee=ALICE_ARN,
        operations=["CreateGrant", "Decrypt", "Encrypt"],
        context_subset={"app": "pay"},
    )
    bob = f"arn:aws:iam::{ACCOUNT_A}:user/bob"
    narrower = await kit.service.create_grant(
        ALICE,
        key.key_id,
        grantee=bob,
        operations=["Decrypt"],
        context_subset={"app": "pay", "team": "x"},
    )
    assert narrower.issuer == ALICE_ARN
    for operations, subset in (
        (["Decrypt", "DescribeKey"], {"app": "pay"}),  # an operation the parent lacks
        (["Decrypt"], None),  # no constraint: wider than the parent's
        (["Decrypt"], {"app": "hr"}),
    ):
        with pytest.raises(CmkAccessDenied):
            await kit.service.create_grant(
                ALICE, key.key_id, grantee=bob, operations=operations, context_subset=subset
            )


async def test_retiring_a_grant(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    carol = f"arn:aws:iam::{ACCOUNT_A}:user/carol"
    by_retirer = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt"], retiring=carol
    )
    with pytest.raises(CmkAccessDenied):  # the grantee, without RetireGrant in the grant
        await kit.service.retire_grant(ALICE, grant_id=by_retirer.grant_id)
    await kit.service.retire_grant(user(ACCOUNT_A, "carol"), grant_id=by_retirer.grant_id)
    by_grantee = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt", "RetireGrant"]
    )
    await kit.service.retire_grant(ALICE, grant_id=by_grantee.grant_id, key_ref=key.key_id)
    by_account = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt"]
    )
    with pytest.raises(CmkAccessDenied):
        await kit.service.retire_grant(B, grant_id=by_account.grant_id)
    await kit.service.retire_grant(A, grant_id=by_account.grant_id)
    with pytest.raises(CmkNotFound):
        await kit.service.retire_grant(A, grant_id=by_account.grant_id)
    with pytest.raises(InvalidGrantId):
        await kit.service.retire_grant(A, grant_id="not-a-grant")
    listed = await kit.service.list_grants(A, key.key_id, limit=10, after=None)
    assert listed[1] == []


async def test_named_grants_are_idempotent_and_listings_page(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    first = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt", "Decrypt"], name="app"
    )
    again = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt", "Encrypt"], name="app"
    )
    assert again == first
    other = await kit.service.create_grant(
        A, key.key_id, grantee=ALICE_ARN, operations=["Encrypt"], name="app"
    )
    assert other.grant_id != first.grant_id  # the same name with other terms: a new grant
    retirable = await kit.service.create_grant(
        A, key.key_id, grantee=B_ROOT, operations=["Decrypt"], retiring=ALICE_ARN
    )
    _, page, marker = await kit.service.list_grants(A, key.key_id, limit=2, after=None)
    _, rest, end = await kit.service.list_grants(A, key.key_id, limit=2, after=marker)
    assert end is None
    assert {g.grant_id for g in page + rest} == {
        first.grant_id,
        other.grant_id,
        retirable.grant_id,
    }
    _, by_grantee, _ = await kit.service.list_grants(
        A, key.key_id, limit=10, after=None, grantee=B_ROOT
    )
    assert by_grantee == [retirable]
    grants, _ = await kit.service.list_retirable_grants(A, ALICE_ARN, limit=10, after=None)
    assert grants == [retirable]
    with pytest.raises(CmkAccessDenied):  # a retiring principal of another account
        await kit.service.list_retirable_grants(B, ALICE_ARN, limit=10, after=None)


async def test_grant_checks_quota_and_key_state(kit: Kit) -> None:
    limited = kit.limited(grants_per_key=2)
    key = await limited.create_key(A)
    for bad in (
        {"grantee": "alice", "operations": ["Decrypt"]},
        {"grantee": ALICE_ARN, "operations": []},
        {"grantee": ALICE_ARN, "operations": ["Fly"]},
        {"grantee": ALICE_ARN, "operations": ["DeriveSharedSecret"]},  # not a symmetric key's
        {"grantee": ALICE_ARN, "operations": ["Decrypt", "Sign"]},
        {"grantee": ALICE_ARN, "operations": ["Decrypt"], "name": "spaces are not allowed"},
        {"grantee": ALICE_ARN, "operations": ["Decrypt"], "retiring": "arn:aws:s3:::bucket"},
    ):
        with pytest.raises(InvalidKeyParameter):
            await limited.create_grant(A, key.key_id, **bad)  # type: ignore[arg-type]
    for _ in range(2):
        await limited.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt"])
    with pytest.raises(KeyLimitExceeded):
        await limited.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt"])
    blob, _ = await limited.encrypt(A, key.key_id, b"x", {})
    await limited.schedule_key_deletion(A, key.key_id, 7)
    with pytest.raises(CmkInvalidState):  # a grant does not revive a key pending deletion
        await limited.decrypt(ALICE, blob, {})
    with pytest.raises(CmkInvalidState):
        await limited.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=["Decrypt"])
    kit.clock.advance(days=8)
    await limited.upkeep()
    assert await kit.store.list_grants(key.key_id, after=None, limit=10) == []


def policy(effect: str, action: str, resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


async def test_a_grant_to_an_account_reaches_its_users_through_their_iam_policies(
    kit: Kit,
) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"shared", {})
    await kit.service.create_grant(A, key.key_id, grantee=B_ROOT, operations=["Decrypt"])
    assert (await kit.service.decrypt(B, blob, {}))[0] == b"shared"  # the account itself
    carol, dave = user(ACCOUNT_B, "carol"), user(ACCOUNT_B, "dave")
    kit.policies.by_user["AIDACAROL"] = [policy("Allow", "kms:Decrypt", key.arn)]
    kit.policies.by_user["AIDADAVE"] = [policy("Allow", "kms:Encrypt", key.arn)]
    # The account delegates through IAM: carol's policy allows Decrypt on the key, dave's not.
    assert (await kit.service.decrypt(carol, blob, {}))[0] == b"shared"
    with pytest.raises(CmkNotFound):
        await kit.service.decrypt(dave, blob, {})
    with pytest.raises(CmkNotFound):  # IAM allows Encrypt, but the grant does not
        await kit.service.encrypt(dave, key.arn, b"x", {})
    with pytest.raises(CmkNotFound):  # a policy on another resource does not reach the key
        kit.policies.by_user["AIDACAROL"] = [
            policy("Allow", "kms:Decrypt", "arn:aws:kms:*:*:key/other")
        ]
        await kit.service.decrypt(carol, blob, {})
    kit.policies.by_user["AIDACAROL"] = [
        policy("Allow", "kms:Decrypt", "*"),
        policy("Deny", "kms:Decrypt", key.arn),
    ]
    with pytest.raises(CmkNotFound):  # an explicit deny of the account's own still wins
        await kit.service.decrypt(carol, blob, {})
    # The grant names account B: account A's users get nothing from it.
    with pytest.raises(CmkAccessDenied):
        await kit.service.decrypt(ALICE, blob, {})


async def test_a_grant_lets_another_account_derive_a_shared_secret(kit: Kit) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = await kit.service.create_key(A, key_spec="ECC_NIST_P256", key_usage="KEY_AGREEMENT")
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(CmkNotFound):
        await kit.service.derive_shared_secret(B, key.arn, "ECDH", peer_der)
    await kit.service.create_grant(A, key.key_id, grantee=B_ROOT, operations=["DeriveSharedSecret"])
    secret, used = await kit.service.derive_shared_secret(B, key.arn, "ECDH", peer_der)
    assert used.key_id == key.key_id
    assert key.public_key is not None
    own = serialization.load_der_public_key(key.public_key)
    assert isinstance(own, ec.EllipticCurvePublicKey)
    assert secret == peer.exchange(ec.ECDH(), own)
    with pytest.raises(CmkNotFound):  # the grant covers this one operation
        await kit.service.get_public_key(B, key.arn)


@pytest.mark.parametrize(
    ("spec", "usage", "fits", "unfit"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", ["GenerateDataKeyPair", "ReEncryptTo"], ["Sign"]),
        ("RSA_2048", "ENCRYPT_DECRYPT", ["Decrypt", "GetPublicKey"], ["GenerateDataKey"]),
        ("RSA_2048", "SIGN_VERIFY", ["Sign", "Verify", "GetPublicKey"], ["Decrypt"]),
        ("HMAC_256", "GENERATE_VERIFY_MAC", ["GenerateMac", "VerifyMac"], ["GetPublicKey"]),
        ("ECC_NIST_P256", "KEY_AGREEMENT", ["DeriveSharedSecret", "GetPublicKey"], ["Sign"]),
    ],
)
async def test_a_grant_allows_only_what_its_key_can_do(
    kit: Kit, spec: str, usage: str, fits: list[str], unfit: list[str]
) -> None:
    key = await kit.service.create_key(A, key_spec=spec, key_usage=usage)
    every_key = ["CreateGrant", "RetireGrant", "DescribeKey"]
    await kit.service.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=fits + every_key)
    with pytest.raises(InvalidKeyParameter, match=unfit[0]):
        await kit.service.create_grant(A, key.key_id, grantee=ALICE_ARN, operations=fits + unfit)
    # Not told to a caller who may not grant on the key.
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_grant(ALICE, key.key_id, grantee=ALICE_ARN, operations=unfit)
