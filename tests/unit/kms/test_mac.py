"""HMAC keys (KeyUsage GENERATE_VERIFY_MAC): MACs checked against RFC 4231's published
vectors, every spec, the refusals, and the secret, stored only sealed under the key's ring."""

from __future__ import annotations

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
async def test_macs_match_rfc_4231(kit: Kit, spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mac, "generate_mac_key", lambda _spec: RFC4231_KEY)
    key = await kit.service.create_key(A, key_usage="GENERATE_VERIFY_MAC", key_spec=spec)
    (algorithm,) = mac.mac_algorithms(spec)
    made, _ = await kit.service.generate_mac(A, key.key_id, RFC4231_DATA, algorithm)
    assert made.hex() == RFC4231[spec]
    await kit.service.verify_mac(A, key.key_id, RFC4231_DATA, made, algorithm)


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


async def test_the_secret_is_sealed_and_dies_with_the_key(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = b"\x5a" * 64
    monkeypatch.setattr(mac, "generate_mac_key", lambda _spec: secret)
    key = await kit.service.create_key(A, key_usage="GENERATE_VERIFY_MAC", key_spec="HMAC_512")
    stored = await kit.store.get_key(key.key_id)
    assert stored is not None and stored.sealed_private_key is not None
    assert secret[:16] not in stored.sealed_private_key
    with pytest.raises(InvalidKeyUsage):  # Decrypt never opens it
        await kit.service.decrypt(
            A, stored.sealed_private_key, {"andromede:private-key": key.key_id}
        )
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=8)
    await kit.service.upkeep()
    await kit.store.insert_key(stored)
    with pytest.raises(CmkNotFound, match="destroyed"):
        await kit.service.generate_mac(A, key.key_id, b"t", "HMAC_SHA_512")
