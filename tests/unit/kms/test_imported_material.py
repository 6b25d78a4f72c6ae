"""Imported key material (origin EXTERNAL) on the service: each wrapping algorithm as a client
does it with ``cryptography`` from the public key alone; the key's states; deleting the
material (crypto-shredding the customer controls, undone only by the same material); expiry;
the import token's bindings; and the refusals, with AWS's error types."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from andromede.kms.ciphertext import CiphertextBlob
from andromede.kms.customer_keys import ImportedMaterial, ImportParameters
from andromede.kms.errors import KeyNotFound
from andromede.kms.importing import IMPORT_TOKEN_RING, ImportToken, material_id
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    ExpiredImportToken,
    IncorrectKeyMaterial,
    InvalidCiphertext,
    InvalidImportToken,
    InvalidKeyParameter,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_model import CustomerKey, KeyState, MaterialState, RotationType
from support.kmskit import ACCOUNT_A, ACCOUNT_B, Kit, root, user

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)
DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
EXPIRES = "KEY_MATERIAL_EXPIRES"


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """What a customer does with GetParametersForImport's public key (AWS's procedure)."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    digest: hashes.HashAlgorithm = (
        hashes.SHA1() if algorithm.endswith("_SHA_1") else hashes.SHA256()  # noqa: S303
    )
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


async def external_key(kit: Kit) -> CustomerKey:
    key = await kit.service.create_key(A, origin="EXTERNAL", description="bring your own")
    assert (key.state, key.origin, key.has_material) == (KeyState.PENDING_IMPORT, "EXTERNAL", False)
    return key


async def parameters(
    kit: Kit, key: CustomerKey, algorithm: str = "RSAES_OAEP_SHA_256", spec: str = "RSA_2048"
) -> ImportParameters:
    return await kit.service.get_parameters_for_import(A, key.key_id, algorithm, spec)


async def import_material(
    kit: Kit,
    key: CustomerKey,
    material: bytes,
    *,
    algorithm: str = "RSAES_OAEP_SHA_256",
    model: str = DOES_NOT_EXPIRE,
    days: float | None = None,
    import_type: str | None = None,
    description: str | None = None,
    material_id: str | None = None,
) -> CustomerKey:
    params = await parameters(kit, key, algorithm)
    imported = await kit.service.import_key_material(
        A,
        key.key_id,
        params.import_token,
        wrap(params.public_key, algorithm, material),
        expiration_model=model,
        valid_to=None if days is None else kit.clock() + timedelta(days=days),
        import_type=import_type,
        material_description=description,
        expected_material_id=material_id,
    )
    return imported.key


@pytest.mark.parametrize(
    "algorithm",
    [
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
    ],
)
async def test_each_wrapping_algorithm_imports_material_that_then_encrypts(
    kit: Kit, algorithm: str
) -> None:
    key = await external_key(kit)
    with pytest.raises(CmkInvalidState):  # no material yet
        await kit.service.encrypt(A, key.key_id, b"x", {})
    material = os.urandom(32)
    imported = await import_material(kit, key, material, algorithm=algorithm)
    assert imported.state is KeyState.ENABLED
    assert imported.key_material_id == material_id(key.key_id, material)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"under my own key", {"app": "ledger"})
    opened, _ = await kit.service.decrypt(A, blob, {"app": "ledger"}, None)
    assert opened == b"under my own key"


async def test_the_wrapping_key_specs(kit: Kit) -> None:
    key = await external_key(kit)
    for spec, bits in (("RSA_3072", 3072), ("RSA_4096", 4096)):
        made = await parameters(kit, key, "RSA_AES_KEY_WRAP_SHA_256", spec)
        public = serialization.load_der_public_key(made.public_key)
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == bits
        assert made.valid_to == kit.clock().replace(microsecond=0) + timedelta(hours=24)
    for algorithm, spec in (
        ("RSAES_PKCS1_V1_5", "RSA_2048"),  # deprecated by AWS: padding oracles
        ("SM2PKE", "SM2"),  # AWS's China regions only
        ("RSAES_OAEP_SHA_256", "SM2"),
    ):
        with pytest.raises(UnsupportedKeyOperation):
            await kit.service.get_parameters_for_import(A, key.key_id, algorithm, spec)


async def test_deleting_the_material_shreds_until_the_same_material_returns(kit: Kit) -> None:
    key = await external_key(kit)
    material = os.urandom(32)
    await import_material(kit, key, material)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"payroll", {})
    deleted = await kit.service.delete_imported_key_material(A, key.key_id)
    assert (deleted.state, deleted.has_material) == (KeyState.PENDING_IMPORT, False)
    assert deleted.key_material_id == material_id(key.key_id, material)  # kept: same must return
    with pytest.raises(KeyNotFound):  # gone from the root-key provider, not only marked
        kit.keys.tenant_key_ring(key.key_id)
    with pytest.raises(CmkInvalidState):
        await kit.service.decrypt(A, blob, {}, None)
    with pytest.raises(IncorrectKeyMaterial):
        await import_material(kit, key, os.urandom(32))
    again = await import_material(kit, key, material, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert again.state is KeyState.ENABLED
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"payroll"


async def test_a_restored_database_copy_does_not_bring_deleted_material_back(kit: Kit) -> None:
    key = await external_key(kit)
    await import_material(kit, key, os.urandom(32))
    blob, _ = await kit.service.encrypt(A, key.key_id, b"payroll", {})
    before = await kit.store.get_key(key.key_id)
    assert before is not None
    await kit.service.delete_imported_key_material(A, key.key_id)
    # A backup taken before the deletion, restored: the record says Enabled, with material.
    kit.store._keys[key.key_id] = before
    for attempt in (
        kit.service.decrypt(A, blob, {}, None),
        kit.service.encrypt(A, key.key_id, b"new", {}),
    ):
        with pytest.raises(CmkNotFound, match="material of this key is missing"):
            await attempt


async def test_material_must_be_256_bits(kit: Kit) -> None:
    key = await external_key(kit)
    for size in (16, 24, 33):
        with pytest.raises(IncorrectKeyMaterial):
            await import_material(kit, key, os.urandom(size))
    assert (await kit.service.describe_key(A, key.key_id)).state is KeyState.PENDING_IMPORT


async def test_import_tokens_are_bound_to_their_key_and_parameters(kit: Kit) -> None:
    key = await external_key(kit)
    other = await external_key(kit)
    material = os.urandom(32)
    params = await parameters(kit, key)
    wrapped = wrap(params.public_key, "RSAES_OAEP_SHA_256", material)
    service = kit.service

    async def attempt(token: bytes, encrypted: bytes = wrapped, key_id: str = key.key_id) -> None:
        await service.import_key_material(
            A, key_id, token, encrypted, expiration_model=DOES_NOT_EXPIRE
        )

    with pytest.raises(InvalidImportToken):  # another key's import
        await attempt(params.import_token, key_id=other.key_id)
    token = ImportToken.decode(params.import_token)
    for forged in (
        replace(token, valid_to=token.valid_to + timedelta(days=30)),
        replace(token, algorithm="RSAES_OAEP_SHA_1"),
        replace(token, key_spec="RSA_4096"),
    ):
        with pytest.raises(InvalidImportToken):
            await attempt(forged.encode())
    tampered = bytearray(params.import_token)
    tampered[-1] ^= 1
    for bad in (bytes(tampered), b"\x01", b"garbage" * 20, params.import_token[:40]):
        with pytest.raises(InvalidImportToken):
            await attempt(bad)
    with pytest.raises(InvalidCiphertext):  # wrapped under another wrapping key
        other_params = await parameters(kit, key)
        await attempt(
            params.import_token, wrap(other_params.public_key, "RSAES_OAEP_SHA_256", material)
        )
    with pytest.raises(InvalidCiphertext):  # wrapped with another algorithm than the token's
        await attempt(params.import_token, wrap(params.public_key, "RSAES_OAEP_SHA_1", material))
    kit.clock.advance(hours=24)
    with pytest.raises(ExpiredImportToken):
        await attempt(params.import_token)
    # The wrapping private key travels as a ciphertext of the platform's import ring.
    assert CiphertextBlob.decode(token.sealed_private_key).key_id == IMPORT_TOKEN_RING


async def test_material_expires_and_upkeep_deletes_it(kit: Kit) -> None:
    key = await external_key(kit)
    material = os.urandom(32)
    imported = await import_material(kit, key, material, model=EXPIRES, days=2)
    assert imported.valid_to == kit.clock() + timedelta(days=2)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"short-lived", {})
    kit.clock.advance(days=2)
    with pytest.raises(CmkInvalidState):  # refused at once, before upkeep has run
        await kit.service.decrypt(A, blob, {}, None)
    report = await kit.service.upkeep()
    assert report.expired == (key.key_id,)
    expired = await kit.service.describe_key(A, key.key_id)
    assert (expired.state, expired.has_material, expired.valid_to) == (
        KeyState.PENDING_IMPORT,
        False,
        None,
    )
    with pytest.raises(KeyNotFound):
        kit.keys.tenant_key_ring(key.key_id)
    assert (await kit.service.upkeep()).expired == ()
    await import_material(kit, key, material)  # the same material, now without expiry
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"short-lived"


async def test_expiry_parameters(kit: Kit) -> None:
    key = await external_key(kit)
    material = os.urandom(32)
    for model, days in ((EXPIRES, None), (EXPIRES, -1), (EXPIRES, 366), (DOES_NOT_EXPIRE, 10)):
        with pytest.raises(InvalidKeyParameter):
            await import_material(kit, key, material, model=model, days=days)
    assert (await import_material(kit, key, material, model=EXPIRES, days=365)).valid_to


async def test_reimporting_changes_the_expiry_and_keeps_a_disabled_key_disabled(kit: Kit) -> None:
    key = await external_key(kit)
    material = os.urandom(32)
    await import_material(kit, key, material, model=EXPIRES, days=1)
    await kit.service.disable_key(A, key.key_id)
    again = await import_material(kit, key, material)
    assert (again.state, again.expiration_model, again.valid_to) == (
        KeyState.DISABLED,
        DOES_NOT_EXPIRE,
        None,
    )
    with pytest.raises(IncorrectKeyMaterial):  # material never replaces material
        await import_material(kit, key, os.urandom(32))


async def test_states_without_material(kit: Kit) -> None:
    key = await external_key(kit)
    for move in (kit.service.enable_key, kit.service.disable_key):
        with pytest.raises(CmkInvalidState):
            await move(A, key.key_id)
    pending = await kit.service.schedule_key_deletion(A, key.key_id, 7)
    assert pending.state is KeyState.PENDING_DELETION
    with pytest.raises(CmkInvalidState):
        await parameters(kit, key)
    cancelled = await kit.service.cancel_key_deletion(A, key.key_id)
    assert cancelled.state is KeyState.PENDING_IMPORT  # not Disabled: it has no material
    material = os.urandom(32)
    await import_material(kit, key, material)
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    still = await kit.service.delete_imported_key_material(A, key.key_id)
    assert (still.state, still.has_material) == (KeyState.PENDING_DELETION, False)
    kit.clock.advance(days=7)
    assert (await kit.service.upkeep()).destroyed == (key.key_id,)
    with pytest.raises(CmkNotFound):
        await kit.service.describe_key(A, key.key_id)


async def test_keys_of_origin_aws_kms_take_no_material_and_external_keys_rotate_only_on_demand(
    kit: Kit,
) -> None:
    generated = await kit.service.create_key(A)
    with pytest.raises(UnsupportedKeyOperation):
        await parameters(kit, generated)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.delete_imported_key_material(A, generated.key_id)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.create_key(A, origin="AWS_CLOUDHSM")
    key = await external_key(kit)
    await import_material(kit, key, os.urandom(32))
    with pytest.raises(UnsupportedKeyOperation):  # automatic rotation: generated material
        await kit.service.enable_key_rotation(A, key.key_id, None)
    with pytest.raises(CmkInvalidState):  # on demand, to new material imported first
        await kit.service.rotate_key_on_demand(A, key.key_id)


async def test_the_first_import_decides_the_material_under_concurrency(kit: Kit) -> None:
    key = await external_key(kit)
    first, second = os.urandom(32), os.urandom(32)
    one, two = await parameters(kit, key), await parameters(kit, key)
    results = await asyncio.gather(
        kit.service.import_key_material(
            A,
            key.key_id,
            one.import_token,
            wrap(one.public_key, "RSAES_OAEP_SHA_256", first),
            expiration_model=DOES_NOT_EXPIRE,
        ),
        kit.service.import_key_material(
            A,
            key.key_id,
            two.import_token,
            wrap(two.public_key, "RSAES_OAEP_SHA_256", second),
            expiration_model=DOES_NOT_EXPIRE,
        ),
        return_exceptions=True,
    )
    won = [r.key for r in results if isinstance(r, ImportedMaterial)]
    lost = [r for r in results if isinstance(r, IncorrectKeyMaterial)]
    assert len(won) == 1 and len(lost) == 1, results
    winner = first if won[0].key_material_id == material_id(key.key_id, first) else second
    blob, _ = await kit.service.encrypt(A, key.key_id, b"which one?", {})
    # The ring holds the winner's material: deleting it and bringing the winner's back opens.
    await kit.service.delete_imported_key_material(A, key.key_id)
    await import_material(kit, key, winner)
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"which one?"


async def test_other_accounts_and_users_without_policy_cannot_touch_the_material(
    kit: Kit,
) -> None:
    key = await external_key(kit)
    material = os.urandom(32)
    await import_material(kit, key, material)
    params = await parameters(kit, key)
    wrapped = wrap(params.public_key, "RSAES_OAEP_SHA_256", material)
    for caller, refused in ((B, CmkNotFound), (user(ACCOUNT_A, "mallory"), CmkAccessDenied)):
        with pytest.raises(refused):
            await kit.service.delete_imported_key_material(caller, key.arn)
        with pytest.raises(refused):
            await kit.service.get_parameters_for_import(
                caller, key.arn, "RSAES_OAEP_SHA_256", "RSA_2048"
            )
        with pytest.raises(refused):
            await kit.service.import_key_material(
                caller, key.arn, params.import_token, wrapped, expiration_model=DOES_NOT_EXPIRE
            )
    assert (await kit.service.describe_key(A, key.key_id)).state is KeyState.ENABLED


async def test_policies_see_the_import_condition_keys(kit: Kit) -> None:
    key = await external_key(kit)
    alice = user(ACCOUNT_A, "alice")
    kit.policies.by_user["AIDAALICE"] = [
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "kms:GetParametersForImport",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"kms:WrappingKeySpec": "RSA_4096"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "kms:ImportKeyMaterial",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"}
                        },
                    },
                ],
            }
        )
    ]
    with pytest.raises(CmkAccessDenied):
        await kit.service.get_parameters_for_import(
            alice, key.arn, "RSAES_OAEP_SHA_256", "RSA_2048"
        )
    params = await kit.service.get_parameters_for_import(
        alice, key.arn, "RSAES_OAEP_SHA_256", "RSA_4096"
    )
    wrapped = wrap(params.public_key, "RSAES_OAEP_SHA_256", os.urandom(32))
    with pytest.raises(CmkAccessDenied):
        await kit.service.import_key_material(
            alice, key.arn, params.import_token, wrapped, expiration_model=DOES_NOT_EXPIRE
        )
    imported = await kit.service.import_key_material(
        alice,
        key.arn,
        params.import_token,
        wrapped,
        expiration_model=EXPIRES,
        valid_to=kit.clock() + timedelta(days=30),
    )
    assert imported.key.state is KeyState.ENABLED


def pkcs8(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("spec", "usage", "algorithm"),
    [
        ("RSA_2048", "SIGN_VERIFY", "RSASSA_PSS_SHA_256"),
        ("ECC_NIST_P256", "SIGN_VERIFY", "ECDSA_SHA_256"),
    ],
)
async def test_signing_key_material_is_imported_and_shredded(
    kit: Kit, spec: str, usage: str, algorithm: str
) -> None:
    key = await kit.service.create_key(A, origin="EXTERNAL", key_spec=spec, key_usage=usage)
    assert key.state is KeyState.PENDING_IMPORT and key.public_key is None
    with pytest.raises(InvalidKeyParameter):  # a private key is too long for RSAES-OAEP
        await parameters(kit, key, "RSAES_OAEP_SHA_256")
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if spec.startswith("RSA")
        else ec.generate_private_key(ec.SECP256R1())
    )
    wrong = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(IncorrectKeyMaterial):  # not of the key's spec: refused before a claim
        await import_material(kit, key, pkcs8(wrong), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert (await kit.service.describe_key(A, key.key_id)).key_material_id is None
    imported = await import_material(kit, key, pkcs8(private), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    expected_public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (imported.state, imported.public_key) == (KeyState.ENABLED, expected_public)
    signature, _ = await kit.service.sign(A, key.key_id, b"release", algorithm, digest=False)
    await kit.service.verify(A, key.key_id, b"release", signature, algorithm, digest=False)
    await kit.service.delete_imported_key_material(A, key.key_id)
    with pytest.raises(CmkInvalidState):
        await kit.service.sign(A, key.key_id, b"release", algorithm, digest=False)
    with pytest.raises(IncorrectKeyMaterial):
        await import_material(kit, key, pkcs8(wrong), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    again = await import_material(kit, key, pkcs8(private), algorithm="RSA_AES_KEY_WRAP_SHA_1")
    assert again.public_key == expected_public
    await kit.service.verify(A, key.key_id, b"release", signature, algorithm, digest=False)
    resigned, _ = await kit.service.sign(A, key.key_id, b"release", algorithm, digest=False)
    await kit.service.verify(A, key.key_id, b"release", resigned, algorithm, digest=False)


async def test_an_inconsistent_rsa_key_is_refused_at_import(kit: Kit) -> None:
    """Signing and decrypting load the stored key without RSA's consistency check
    (``asymmetric.load_own_private_key``): import is where it is checked, once."""
    key = await kit.service.create_key(
        A, origin="EXTERNAL", key_spec="RSA_2048", key_usage="SIGN_VERIFY"
    )
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    broken = rsa.RSAPrivateNumbers(
        good.p, good.q, good.d + 2, good.dmp1, good.dmq1, good.iqmp, good.public_numbers
    ).private_key(unsafe_skip_rsa_key_validation=True)
    with pytest.raises(IncorrectKeyMaterial):
        await import_material(kit, key, pkcs8(broken), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert (await kit.service.describe_key(A, key.key_id)).key_material_id is None


async def test_hmac_key_material_is_imported(kit: Kit) -> None:
    key = await kit.service.create_key(
        A, origin="EXTERNAL", key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC"
    )
    with pytest.raises(IncorrectKeyMaterial):  # HMAC_256 takes 32 to 64 bytes
        await import_material(kit, key, os.urandom(16))
    secret = os.urandom(48)
    await import_material(kit, key, secret)
    tag, _ = await kit.service.generate_mac(A, key.key_id, b"token", "HMAC_SHA_256")
    assert tag == hmac.new(secret, b"token", hashlib.sha256).digest()
    await kit.service.verify_mac(A, key.key_id, b"token", tag, "HMAC_SHA_256")


# --- several materials per key, rotated on demand (decision 0085) -------------------------------

NEW = "NEW_KEY_MATERIAL"
EXISTING = "EXISTING_KEY_MATERIAL"


def kek_version(blob: bytes) -> int:
    return CiphertextBlob.decode(blob).kek_version


async def test_new_material_waits_for_a_rotation_then_wraps_while_the_old_still_decrypts(
    kit: Kit,
) -> None:
    key = await external_key(kit)
    first, second = os.urandom(32), os.urandom(32)
    await import_material(kit, key, first)
    before, _ = await kit.service.encrypt(A, key.key_id, b"before", {})
    staged = await import_material(kit, key, second, import_type=NEW, description="2027 key")
    pending = staged.pending_material
    assert pending is not None
    assert (pending.material_id, pending.version, pending.imported, pending.description) == (
        material_id(key.key_id, second),
        2,
        True,
        "2027 key",
    )
    # Staged, used for nothing: the current material still wraps.
    assert staged.key_material_id == material_id(key.key_id, first)
    assert kit.keys.tenant_key_ring(key.key_id).current == 1
    meanwhile, _ = await kit.service.encrypt(A, key.key_id, b"meanwhile", {})
    assert kek_version(meanwhile) == 1
    await kit.service.rotate_key_on_demand(A, key.key_id)
    rotated = await kit.service.describe_key(A, key.key_id)
    assert rotated.key_material_id == material_id(key.key_id, second)
    assert rotated.pending_material is None
    assert [(m.version, m.state) for m in rotated.imported_materials] == [
        (1, MaterialState.NON_CURRENT),
        (2, MaterialState.CURRENT),
    ]
    after, _ = await kit.service.encrypt(A, key.key_id, b"after", {})
    assert kek_version(after) == 2
    for blob, plaintext in ((before, b"before"), (meanwhile, b"meanwhile"), (after, b"after")):
        assert (await kit.service.decrypt(A, blob, {}, None))[0] == plaintext
    rotations, last = await kit.service.list_key_rotations(A, key.key_id, limit=10, after=None)
    assert last is None
    assert [
        (r.material_id, r.material_state, r.rotation_type, r.rotated_at) for r in rotations
    ] == [
        (
            material_id(key.key_id, second),
            MaterialState.CURRENT,
            RotationType.ON_DEMAND,
            kit.clock(),
        )
    ]
    everything, _ = await kit.service.list_key_rotations(
        A, key.key_id, limit=10, after=None, all_material=True
    )
    assert [(r.marker, r.material_state, r.rotated_at) for r in everything] == [
        (1, MaterialState.NON_CURRENT, None),
        (2, MaterialState.CURRENT, kit.clock()),
    ]
    page, marker = await kit.service.list_key_rotations(
        A, key.key_id, limit=1, after=None, all_material=True
    )
    assert (page, marker) == (everything[:1], 1)
    rest, end = await kit.service.list_key_rotations(
        A, key.key_id, limit=1, after=marker, all_material=True
    )
    assert (rest, end) == (everything[1:], None)


async def test_what_new_material_and_its_rotation_refuse(kit: Kit) -> None:
    key = await external_key(kit)
    first = os.urandom(32)
    await import_material(kit, key, first)
    with pytest.raises(CmkInvalidState):  # nothing pending to rotate to
        await kit.service.rotate_key_on_demand(A, key.key_id)
    with pytest.raises(IncorrectKeyMaterial):  # the key's own material is not new
        await import_material(kit, key, first, import_type=NEW)
    with pytest.raises(IncorrectKeyMaterial):  # other material without NEW_KEY_MATERIAL
        await import_material(kit, key, os.urandom(32))
    with pytest.raises(IncorrectKeyMaterial):
        await import_material(kit, key, os.urandom(32), import_type=EXISTING)
    with pytest.raises(InvalidKeyParameter):  # a material id names material imported before
        await import_material(
            kit, key, os.urandom(32), import_type=NEW, material_id=material_id(key.key_id, first)
        )
    await import_material(kit, key, os.urandom(32), import_type=NEW)
    with pytest.raises(CmkInvalidState):  # one pending material at a time
        await import_material(kit, key, os.urandom(32), import_type=NEW)
    await kit.service.disable_key(A, key.key_id)
    with pytest.raises(CmkDisabled):
        await kit.service.rotate_key_on_demand(A, key.key_id)
    await kit.service.enable_key(A, key.key_id)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    with pytest.raises(CmkInvalidState):  # the pending material was used
        await kit.service.rotate_key_on_demand(A, key.key_id)


async def test_asymmetric_and_hmac_keys_take_one_material(kit: Kit) -> None:
    for spec, usage in (("HMAC_256", "GENERATE_VERIFY_MAC"), ("RSA_2048", "SIGN_VERIFY")):
        key = await kit.service.create_key(A, origin="EXTERNAL", key_spec=spec, key_usage=usage)
        params = await parameters(kit, key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
        wrapped = wrap(params.public_key, "RSA_AES_KEY_WRAP_SHA_256", os.urandom(32))
        for extra in ({"import_type": NEW}, {"material_description": "mine"}):
            with pytest.raises(UnsupportedKeyOperation):
                await kit.service.import_key_material(
                    A,
                    key.key_id,
                    params.import_token,
                    wrapped,
                    expiration_model=DOES_NOT_EXPIRE,
                    **extra,  # type: ignore[arg-type]
                )


async def test_deleting_any_material_the_key_needs_suspends_it_until_that_material_returns(
    kit: Kit,
) -> None:
    key = await external_key(kit)
    first, second = os.urandom(32), os.urandom(32)
    first_id, second_id = material_id(key.key_id, first), material_id(key.key_id, second)
    await import_material(kit, key, first)
    old, _ = await kit.service.encrypt(A, key.key_id, b"old", {})
    await import_material(kit, key, second, import_type=NEW)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    new, _ = await kit.service.encrypt(A, key.key_id, b"new", {})
    # The non-current material: gone from the ring at once, and the key with it.
    deleted = await kit.service.delete_imported_key_material(A, key.key_id, first_id)
    assert (deleted.state, deleted.has_material, deleted.key_material_id) == (
        KeyState.PENDING_IMPORT,
        False,
        second_id,
    )
    assert [(m.version, m.imported) for m in deleted.imported_materials] == [(1, False), (2, True)]
    assert kit.keys.tenant_key_ring(key.key_id).versions == (2,)
    for blob in (old, new):
        with pytest.raises(CmkInvalidState):
            await kit.service.decrypt(A, blob, {}, None)
    with pytest.raises(CmkInvalidState):  # already deleted
        await kit.service.delete_imported_key_material(A, key.key_id, first_id)
    again = await import_material(kit, key, second)  # the other one: still incomplete
    assert again.state is KeyState.PENDING_IMPORT
    back = await import_material(kit, key, first, material_id=first_id)
    assert (back.state, back.key_material_id) == (KeyState.ENABLED, second_id)
    assert kit.keys.tenant_key_ring(key.key_id).current == 2
    for blob, plaintext in ((old, b"old"), (new, b"new")):
        assert (await kit.service.decrypt(A, blob, {}, None))[0] == plaintext
    # Without an id, the current material goes; the same comes back under it.
    current_gone = await kit.service.delete_imported_key_material(A, key.key_id)
    assert current_gone.state is KeyState.PENDING_IMPORT
    with pytest.raises(CmkNotFound):
        await kit.service.delete_imported_key_material(A, key.key_id, "cd" * 32)
    await import_material(kit, key, second)
    latest, _ = await kit.service.encrypt(A, key.key_id, b"latest", {})
    assert kek_version(latest) == 2


async def test_deleted_pending_material_leaves_the_key_as_it_was(kit: Kit) -> None:
    key = await external_key(kit)
    first, dropped, third = os.urandom(32), os.urandom(32), os.urandom(32)
    await import_material(kit, key, first)
    await import_material(kit, key, dropped, import_type=NEW)
    left = await kit.service.delete_imported_key_material(
        A, key.key_id, material_id(key.key_id, dropped)
    )
    assert (left.state, left.pending_material, len(left.imported_materials)) == (
        KeyState.ENABLED,
        None,
        1,
    )
    with pytest.raises(IncorrectKeyMaterial):  # never associated: it cannot come back
        await import_material(kit, key, dropped, import_type=EXISTING)
    staged = await import_material(kit, key, third, import_type=NEW)
    assert staged.pending_material is not None and staged.pending_material.version == 2
    await kit.service.rotate_key_on_demand(A, key.key_id)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"third", {})
    assert kek_version(blob) == 2
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"third"


async def test_each_material_expires_on_its_own(kit: Kit) -> None:
    key = await external_key(kit)
    first, second, third = os.urandom(32), os.urandom(32), os.urandom(32)
    await import_material(kit, key, first)
    await import_material(kit, key, second, import_type=NEW, model=EXPIRES, days=2)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"two days", {})
    kit.clock.advance(days=2)
    with pytest.raises(CmkInvalidState):  # refused at once, before upkeep has run
        await kit.service.decrypt(A, blob, {}, None)
    assert (await kit.service.upkeep()).expired == (key.key_id,)
    expired = await kit.service.describe_key(A, key.key_id)
    assert expired.state is KeyState.PENDING_IMPORT
    assert [(m.version, m.imported) for m in expired.imported_materials] == [(1, True), (2, False)]
    assert kit.keys.tenant_key_ring(key.key_id).versions == (1,)
    assert (await kit.service.upkeep()).expired == ()
    await import_material(kit, key, second)  # back, now without expiry
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"two days"
    # Pending material that expires is deleted, and the key goes on under its current one.
    await import_material(kit, key, third, import_type=NEW, model=EXPIRES, days=1)
    kit.clock.advance(days=1)
    with pytest.raises(CmkInvalidState):
        await kit.service.rotate_key_on_demand(A, key.key_id)
    assert (await kit.service.upkeep()).expired == (key.key_id,)
    still = await kit.service.describe_key(A, key.key_id)
    assert still.state is KeyState.ENABLED
    assert still.pending_material is not None and not still.pending_material.imported
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"two days"
    await import_material(kit, key, third)  # the staged material, back for its rotation
    await kit.service.rotate_key_on_demand(A, key.key_id)
    assert kit.keys.tenant_key_ring(key.key_id).current == 3


async def test_two_new_materials_at_once_stage_one(kit: Kit) -> None:
    key = await external_key(kit)
    await import_material(kit, key, os.urandom(32))
    one, two = await parameters(kit, key), await parameters(kit, key)
    results = await asyncio.gather(
        *(
            kit.service.import_key_material(
                A,
                key.key_id,
                params.import_token,
                wrap(params.public_key, "RSAES_OAEP_SHA_256", os.urandom(32)),
                expiration_model=DOES_NOT_EXPIRE,
                import_type=NEW,
            )
            for params in (one, two)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["CmkInvalidState", "ImportedMaterial"], (
        results
    )
    key_now = await kit.service.describe_key(A, key.key_id)
    assert [m.state for m in key_now.imported_materials] == [
        MaterialState.CURRENT,
        MaterialState.PENDING_ROTATION,
    ]


async def test_a_key_imported_before_materials_were_kept_rotates_too(kit: Kit) -> None:
    """A record as decision 0046 wrote it (the one material in the key's own fields)."""
    key = await external_key(kit)
    first = os.urandom(32)
    imported = await import_material(kit, key, first)
    assert await kit.store.replace_key(replace(imported, materials=()))
    assert (await kit.service.describe_key(A, key.key_id)).imported_materials[0].version == 1
    blob, _ = await kit.service.encrypt(A, key.key_id, b"legacy", {})
    await import_material(kit, key, os.urandom(32), import_type=NEW)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    assert (await kit.service.decrypt(A, blob, {}, None))[0] == b"legacy"
    assert [m.state for m in (await kit.service.describe_key(A, key.key_id)).materials] == [
        MaterialState.NON_CURRENT,
        MaterialState.CURRENT,
    ]
