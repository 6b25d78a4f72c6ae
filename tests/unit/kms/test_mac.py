"""HMAC keys (KeyUsage GENERATE_VERIFY_MAC): MACs checked against RFC 4231's published
vectors, every spec, the refusals, and the secret, which the root-key provider makes and keeps
(decision 0048; a key made before keeps it sealed in its record)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from andromede.kms import mac
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkNotFound,
    InvalidKeyUsage,
    InvalidMac,
    UnsupportedKeyOperation,
)
from support.kmskit import ACCOUNT_A, Kit, root, user

A = root(ACCOUNT_A)

# RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
RFC4231_KEY = b"Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231 = {
    "HMAC_224": "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
    "HMAC_256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "HMAC_384": "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
    "8e2240ca5e69e2c78b3239ecfab21649",
    "HMAC_512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
}


@pytest.mark.parametrize("spec", sorted(mac.MAC_KEY_SPECS))
def test_macs_match_rfc_4231(spec: str) -> None:
    # The key file provider makes its MACs with these functions (the root-key provider
    # contract tests check it); a token makes them with its own HMAC mechanisms.
    (algorithm,) = mac.mac_algorithms(spec)
    made = mac.make_mac(spec, RFC4231_KEY, algorithm, RFC4231_DATA)
    assert made.hex() == RFC4231[spec]
    mac.verify_mac(spec, RFC4231_KEY, algorithm, RFC4231_DATA, made)


async def test_a_generated_key_has_its_spec_length_and_macs_verify(kit: Kit) -> None:
    assert len(mac.generate_mac_key("HMAC_384")) == 48
    key = await kit.service.create_key(A, key_usage="GENERATE_VERIFY_MAC", key_spec="HMAC_256")
    made, _ = await kit.service.generate_mac(A, key.key_id, b"token", "HMAC_SHA_256")
    await kit.service.verify_mac(A, key.key_id, b"token", made, "HMAC_SHA_256")
    with pytest.raises(InvalidMac):
        await kit.service.verify_mac(A, key.key_id, b"other", made, "HMAC_SHA_256")
    with pytest.raises(InvalidMac):
        await kit.service.verify_mac(A, key.key_id, b"token", made[:-1], "HMAC_SHA_256")
    with pytest.raises(InvalidKeyUsage):
        await kit.service.generate_mac(A, key.key_id, b"token", "HMAC_SHA_512")
    for refused in (
        kit.service.encrypt(A, key.key_id, b"x", {}),
        kit.service.sign(A, key.key_id, b"x", "ECDSA_SHA_256", digest=False),
    ):
        with pytest.raises(InvalidKeyUsage):
            await refused
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.get_public_key(A, key.key_id)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.rotate_key_on_demand(A, key.key_id)
    with pytest.raises(CmkAccessDenied):
        await kit.service.generate_mac(user(ACCOUNT_A, "nobody"), key.key_id, b"t", "HMAC_SHA_256")
    symmetric = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.generate_mac(A, symmetric.key_id, b"t", "HMAC_SHA_256")


async def test_the_secret_stays_in_the_root_key_provider_and_dies_with_the_key(
    kit: Kit,
) -> None:
    # Decision 0048: the provider makes and keeps it; the record holds nothing of it.
    key = await kit.service.create_key(A, key_usage="GENERATE_VERIFY_MAC", key_spec="HMAC_512")
    stored = await kit.store.get_key(key.key_id)
    assert stored is not None and (stored.sealed_private_key, stored.public_key) == (None, None)
    tag, _ = await kit.service.generate_mac(A, key.key_id, b"t", "HMAC_SHA_512")
    assert len(tag) == 64
    await kit.service.verify_mac(A, key.key_id, b"t", tag, "HMAC_SHA_512")
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=8)
    await kit.service.upkeep()
    await kit.store.insert_key(stored)  # a database copy taken before
    with pytest.raises(CmkNotFound, match="destroyed"):
        await kit.service.generate_mac(A, key.key_id, b"t", "HMAC_SHA_512")


async def test_a_key_made_before_0048_keeps_its_sealed_secret(kit: Kit) -> None:
    made = await kit.service.create_key(A)
    key = replace(
        made, key_id=str(uuid.uuid4()), key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC"
    )
    kit.keys.create_tenant_key(key.key_id)
    secret = b"\x0b" * 32
    sealed = await kit.service._seal(key, secret, {"andromede:private-key": key.key_id})
    await kit.store.insert_key(replace(key, sealed_private_key=sealed))
    tag, _ = await kit.service.generate_mac(A, key.key_id, b"legacy", "HMAC_SHA_256")
    assert tag == mac.make_mac("HMAC_256", secret, "HMAC_SHA_256", b"legacy")
    await kit.service.verify_mac(A, key.key_id, b"legacy", tag, "HMAC_SHA_256")
    with pytest.raises(InvalidKeyUsage):  # Decrypt never opens it
        await kit.service.decrypt(A, sealed, {"andromede:private-key": key.key_id})
