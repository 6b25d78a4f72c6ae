"""ML-KEM keys (KeyUsage ENCAPSULATE_DECAPSULATE, FIPS 203) on the service: Encapsulate with the
public key, Decapsulate with the private key the root-key provider keeps, the other party's
side with ``cryptography`` alone; implicit rejection; the refusals; ML-KEM data key pairs; and a
grant for the two operations."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from andromede.kms import asymmetric
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    InvalidCiphertext,
    InvalidKeyParameter,
    InvalidKeyUsage,
)
from support.kmskit import ACCOUNT_A, Kit, root, user

A = root(ACCOUNT_A)
CIPHERTEXT_SIZES = {"ML_KEM_768": 1088, "ML_KEM_1024": 1568}  # FIPS 203, table 3


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_KEM_KEY_SPECS))
async def test_both_sides_of_a_key_encapsulation_agree(kit: Kit, spec: str) -> None:
    key = await kit.service.create_key(A, key_usage="ENCAPSULATE_DECAPSULATE", key_spec=spec)
    public_der = (await kit.service.get_public_key(A, key.key_id)).public_key
    assert public_der is not None
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, asymmetric.MlKemPublicKey)
    # The other party encapsulates with the public key alone; KMS decapsulates.
    secret, ciphertext = public.encapsulate()
    assert len(ciphertext) == CIPHERTEXT_SIZES[spec]
    assert (await kit.service.decapsulate(A, key.key_id, ciphertext, "ML_KEM"))[0] == secret
    # KMS encapsulates; its own Decapsulate opens it.
    made, blob, _ = await kit.service.encapsulate(A, key.arn, "ML_KEM")
    assert len(made) == 32 and len(blob) == CIPHERTEXT_SIZES[spec]
    assert (await kit.service.decapsulate(A, key.arn, blob, "ML_KEM"))[0] == made
    # Implicit rejection: another 32 bytes for an altered ciphertext, never an error.
    altered = bytes([blob[0] ^ 1]) + blob[1:]
    rejected, _ = await kit.service.decapsulate(A, key.key_id, altered, "ML_KEM")
    assert len(rejected) == 32 and rejected != made
    with pytest.raises(InvalidCiphertext):  # a length that is no ciphertext of this key
        await kit.service.decapsulate(A, key.key_id, blob + b"!", "ML_KEM")


async def test_refusals(kit: Kit) -> None:
    kem = await kit.service.create_key(
        A, key_usage="ENCAPSULATE_DECAPSULATE", key_spec="ML_KEM_768"
    )
    for usage, spec in (
        ("ENCAPSULATE_DECAPSULATE", "ML_KEM_512"),  # not offered here
        ("ENCAPSULATE_DECAPSULATE", "ECC_NIST_P256"),
        ("SIGN_VERIFY", "ML_KEM_768"),
    ):
        with pytest.raises(InvalidKeyParameter):
            await kit.service.create_key(A, key_usage=usage, key_spec=spec)
    signing = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256")
    with pytest.raises(InvalidKeyUsage):
        await kit.service.encapsulate(A, signing.key_id, "ML_KEM")
    with pytest.raises(InvalidKeyUsage):
        await kit.service.decapsulate(A, signing.key_id, bytes(1088), "ML_KEM")
    with pytest.raises(InvalidKeyUsage):
        await kit.service.sign(A, kem.key_id, b"x", "ML_DSA_SHAKE_256", digest=False)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.encrypt(A, kem.key_id, b"x", {})
    await kit.service.disable_key(A, kem.key_id)
    with pytest.raises(CmkDisabled):
        await kit.service.encapsulate(A, kem.key_id, "ML_KEM")


async def test_ml_kem_data_key_pairs_decapsulate(kit: Kit) -> None:
    wrapping = await kit.service.create_key(A)
    pair = await kit.service.generate_data_key_pair(A, wrapping.key_id, "ML_KEM_1024", {})
    assert pair.private_plaintext is not None
    private = serialization.load_der_private_key(pair.private_plaintext, None)
    assert isinstance(private, mlkem.MLKEM1024PrivateKey)
    public = serialization.load_der_public_key(pair.public_key)
    assert isinstance(public, mlkem.MLKEM1024PublicKey)
    secret, ciphertext = public.encapsulate()
    assert private.decapsulate(ciphertext) == secret
    opened, _ = await kit.service.decrypt(A, pair.private_ciphertext, {})
    assert opened == pair.private_plaintext


async def test_a_grant_allows_encapsulating_and_decapsulating(kit: Kit) -> None:
    key = await kit.service.create_key(
        A, key_usage="ENCAPSULATE_DECAPSULATE", key_spec="ML_KEM_768"
    )
    alice = user(ACCOUNT_A, "alice")
    with pytest.raises(CmkAccessDenied):
        await kit.service.encapsulate(alice, key.key_id, "ML_KEM")
    await kit.service.create_grant(
        A,
        key.key_id,
        grantee=f"arn:aws:iam::{ACCOUNT_A}:user/alice",
        operations=["Encapsulate", "Decapsulate"],
    )
    secret, ciphertext, _ = await kit.service.encapsulate(alice, key.key_id, "ML_KEM")
    assert (await kit.service.decapsulate(alice, key.key_id, ciphertext, "ML_KEM"))[0] == secret
    with pytest.raises(InvalidKeyParameter):  # what an ML-KEM key cannot do
        await kit.service.create_grant(
            A, key.key_id, grantee=f"arn:aws:iam::{ACCOUNT_A}:user/alice", operations=["Sign"]
        )
