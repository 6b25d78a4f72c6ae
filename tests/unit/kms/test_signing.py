"""Signing keys (KeyUsage SIGN_VERIFY) on the service: every key spec and signing algorithm,
checked against ``cryptography`` from the public key alone; RAW and DIGEST messages; the
refusals (wrong algorithm, wrong key usage, tampered signatures); and the private key, which the
root-key provider makes and keeps in the key's ring and which dies with it (decision 0048; a key
made before keeps it sealed in its record)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from andromede.kms import asymmetric
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkNotFound,
    InvalidCiphertext,
    InvalidKeyParameter,
    InvalidKeyUsage,
    InvalidSignature,
    UnsupportedKeyOperation,
)
from support.kmskit import ACCOUNT_A, Kit, independently_verify, root, user

# RSA and ECDSA signing keys; Ed25519 and ML-DSA (no DIGEST) and ML-KEM (no signing) have
# tests of their own.
CLASSICAL_SPECS = (
    asymmetric.ASYMMETRIC_KEY_SPECS
    - asymmetric.ML_DSA_KEY_SPECS
    - asymmetric.ML_KEM_KEY_SPECS
    - {"ECC_NIST_EDWARDS25519"}
)
A = root(ACCOUNT_A)
MESSAGE = b"release v1.2.3, sha256 of the tarball"


@pytest.mark.parametrize("spec", sorted(CLASSICAL_SPECS))
async def test_every_spec_signs_with_each_of_its_algorithms(kit: Kit, spec: str) -> None:
    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec=spec)
    assert (key.key_spec, key.key_usage) == (spec, "SIGN_VERIFY")
    public = await kit.service.get_public_key(A, key.key_id)
    assert public.public_key is not None
    for algorithm in asymmetric.signing_algorithms(spec):
        signature, _ = await kit.service.sign(A, key.key_id, MESSAGE, algorithm, digest=False)
        independently_verify(public.public_key, algorithm, MESSAGE, signature)
        await kit.service.verify(A, key.key_id, MESSAGE, signature, algorithm, digest=False)
        # DIGEST: the caller hashed the message; the same signature verifies either way.
        digest = hashlib.new("sha" + algorithm.rsplit("_", 1)[1], MESSAGE).digest()
        by_digest, _ = await kit.service.sign(A, key.key_id, digest, algorithm, digest=True)
        independently_verify(public.public_key, algorithm, MESSAGE, by_digest)
        await kit.service.verify(A, key.key_id, digest, signature, algorithm, digest=True)


async def test_refusals(kit: Kit) -> None:
    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256")
    signature, _ = await kit.service.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    with pytest.raises(InvalidSignature):
        await kit.service.verify(
            A, key.key_id, b"another", signature, "ECDSA_SHA_256", digest=False
        )
    tampered = signature[:-1] + bytes([signature[-1] ^ 1])
    with pytest.raises(InvalidSignature):
        await kit.service.verify(A, key.key_id, MESSAGE, tampered, "ECDSA_SHA_256", digest=False)
    with pytest.raises(InvalidKeyUsage):  # an RSA algorithm on an ECC key
        await kit.service.sign(A, key.key_id, MESSAGE, "RSASSA_PSS_SHA_256", digest=False)
    with pytest.raises(InvalidKeyParameter):  # a "digest" of the wrong length
        await kit.service.sign(A, key.key_id, b"short", "ECDSA_SHA_256", digest=True)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.sign(A, key.key_id, b"x" * 4097, "ECDSA_SHA_256", digest=False)
    # A signing key encrypts nothing, rotates not; a symmetric key signs nothing.
    with pytest.raises(InvalidKeyUsage):
        await kit.service.encrypt(A, key.key_id, b"x", {})
    with pytest.raises(InvalidKeyUsage):
        await kit.service.generate_data_key(A, key.key_id, 32, {})
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.rotate_key_on_demand(A, key.key_id)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.enable_key_rotation(A, key.key_id, None)
    symmetric = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.sign(A, symmetric.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.get_public_key(A, symmetric.key_id)
    for usage, spec in (("SIGN_VERIFY", "SYMMETRIC_DEFAULT"), ("ENCRYPT_DECRYPT", "ECC_NIST_P256")):
        with pytest.raises(InvalidKeyParameter):
            await kit.service.create_key(A, key_usage=usage, key_spec=spec)
    # Policies decide as for any key use.
    with pytest.raises(CmkAccessDenied):
        await kit.service.sign(
            user(ACCOUNT_A, "nobody"), key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False
        )


async def test_the_private_key_stays_in_the_root_key_provider(kit: Kit) -> None:
    # Decision 0048: the provider makes and keeps it; the record holds the public key only.
    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="RSA_2048")
    stored = await kit.store.get_key(key.key_id)
    assert stored is not None and stored.sealed_private_key is None
    assert stored.public_key == key.public_key is not None
    signature, _ = await kit.service.sign(
        A, key.key_id, MESSAGE, "RSASSA_PSS_SHA_256", digest=False
    )
    independently_verify(key.public_key, "RSASSA_PSS_SHA_256", MESSAGE, signature)


@pytest.mark.parametrize(
    ("spec", "usage"), [("ECC_NIST_P256", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT")]
)
async def test_keys_made_before_0048_keep_working_from_their_sealed_record(
    kit: Kit, spec: str, usage: str
) -> None:
    # Such a key's record holds its private key sealed under the key's own ring.
    made = await kit.service.create_key(A)
    key = replace(made, key_id=str(uuid.uuid4()), key_spec=spec, key_usage=usage)
    kit.keys.create_tenant_key(key.key_id)
    private_der, public_der = asymmetric.generate_key_pair(spec)
    sealed = await kit.service._seal(key, private_der, {"andromede:private-key": key.key_id})
    await kit.store.insert_key(replace(key, public_key=public_der, sealed_private_key=sealed))
    if usage == "SIGN_VERIFY":
        signature, _ = await kit.service.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
        independently_verify(public_der, "ECDSA_SHA_256", MESSAGE, signature)
    else:
        ciphertext, _ = await kit.service.encrypt(
            A, key.key_id, b"legacy", {}, algorithm="RSAES_OAEP_SHA_256"
        )
        opened, _ = await kit.service.decrypt(
            A, ciphertext, {}, key.key_id, algorithm="RSAES_OAEP_SHA_256"
        )
        assert opened == b"legacy"
    # The sealed private key is a KMS ciphertext under the key's ring: Decrypt, given it and
    # its context, refuses before unwrapping anything.
    with pytest.raises(InvalidKeyUsage):
        await kit.service.decrypt(A, sealed, {"andromede:private-key": key.key_id})


async def test_destroying_the_key_shreds_its_private_key(kit: Kit) -> None:
    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P384")
    record = await kit.store.get_key(key.key_id)
    assert record is not None
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=8)
    assert (await kit.service.upkeep()).destroyed == (key.key_id,)
    # A database copy taken before brings the record (and its sealed private key) back, not
    # the ring that opens it.
    await kit.store.insert_key(replace(record, revision=0))
    with pytest.raises(CmkNotFound, match="destroyed"):
        await kit.service.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_384", digest=False)


async def test_a_grant_may_allow_signing(kit: Kit) -> None:
    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256")
    alice = user(ACCOUNT_A, "alice")
    await kit.service.create_grant(
        A, key.key_id, grantee=f"arn:aws:iam::{ACCOUNT_A}:user/alice", operations=["Sign"]
    )
    signature, _ = await kit.service.sign(alice, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    await kit.service.verify(A, key.key_id, MESSAGE, signature, "ECDSA_SHA_256", digest=False)


@pytest.mark.parametrize("pair_spec", ["ECC_NIST_P256", "RSA_2048"])
async def test_data_key_pairs_are_sealed_under_a_symmetric_key(kit: Kit, pair_spec: str) -> None:
    wrapping = await kit.service.create_key(A)
    context = {"app": "signer"}
    made = await kit.service.generate_data_key_pair(A, wrapping.key_id, pair_spec, context)
    assert made.private_plaintext is not None
    opened, _ = await kit.service.decrypt(A, made.private_ciphertext, context)
    assert opened == made.private_plaintext
    private = serialization.load_der_private_key(opened, password=None)
    assert isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_der == made.public_key
    bare = await kit.service.generate_data_key_pair(
        A, wrapping.key_id, pair_spec, {}, with_plaintext=False
    )
    assert bare.private_plaintext is None
    with pytest.raises(InvalidKeyParameter):
        await kit.service.generate_data_key_pair(A, wrapping.key_id, "SYMMETRIC_DEFAULT", {})
    signing = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256")
    with pytest.raises(InvalidKeyUsage):  # only a symmetric key seals a data key pair
        await kit.service.generate_data_key_pair(A, signing.key_id, pair_spec, {})


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
async def test_rsa_encryption_keys(kit: Kit, algorithm: str) -> None:
    key = await kit.service.create_key(A, key_usage="ENCRYPT_DECRYPT", key_spec="RSA_2048")
    # What a client does: encrypt locally with GetPublicKey's answer; KMS decrypts.
    public = serialization.load_der_public_key(
        (await kit.service.get_public_key(A, key.arn)).public_key or b""
    )
    assert isinstance(public, rsa.RSAPublicKey)
    # RSAES_OAEP_SHA_1 is AWS's algorithm name: OAEP with SHA-1 is still sound.
    chosen = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()  # noqa: S303
    oaep = padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
    local = public.encrypt(b"wrapped locally", oaep)
    opened, _ = await kit.service.decrypt(A, local, {}, key.key_id, algorithm)
    assert opened == b"wrapped locally"
    sealed, _ = await kit.service.encrypt(A, key.key_id, b"by kms", {}, algorithm)
    assert len(sealed) == 256
    assert (await kit.service.decrypt(A, sealed, {}, key.arn, algorithm))[0] == b"by kms"
    room = 256 - 2 * chosen.digest_size - 2  # 214 or 190 bytes, AWS's limits for RSA_2048
    await kit.service.encrypt(A, key.key_id, b"x" * room, {}, algorithm)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.encrypt(A, key.key_id, b"x" * (room + 1), {}, algorithm)
    with pytest.raises(InvalidKeyParameter):  # RSA ciphertexts bind no context
        await kit.service.encrypt(A, key.key_id, b"x", {"a": "b"}, algorithm)
    with pytest.raises(InvalidKeyParameter):  # a raw RSA ciphertext names no key
        await kit.service.decrypt(A, sealed, {}, None, algorithm)
    with pytest.raises(InvalidCiphertext):
        await kit.service.decrypt(
            A, sealed[:-1] + bytes([sealed[-1] ^ 1]), {}, key.key_id, algorithm
        )
    with pytest.raises(InvalidKeyUsage):  # it neither signs nor makes data keys nor seals blobs
        await kit.service.sign(A, key.key_id, b"m", "RSASSA_PSS_SHA_256", digest=False)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.generate_data_key(A, key.key_id, 32, {})
    with pytest.raises(InvalidKeyUsage):
        await kit.service.encrypt(A, key.key_id, b"x", {})  # SYMMETRIC_DEFAULT
    symmetric = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.encrypt(A, symmetric.key_id, b"x", {}, algorithm)


async def test_re_encrypt_between_symmetric_and_rsa_keys(kit: Kit) -> None:
    rsa_key = await kit.service.create_key(A, key_usage="ENCRYPT_DECRYPT", key_spec="RSA_2048")
    symmetric = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, symmetric.key_id, b"moving", {"a": "1"})
    to_rsa, source, destination = await kit.service.re_encrypt(
        A, blob, {"a": "1"}, rsa_key.key_id, {}, destination_algorithm="RSAES_OAEP_SHA_256"
    )
    assert (source.key_id, destination.key_id) == (symmetric.key_id, rsa_key.key_id)
    opened, _ = await kit.service.decrypt(A, to_rsa, {}, rsa_key.key_id, "RSAES_OAEP_SHA_256")
    assert opened == b"moving"
    back, _, _ = await kit.service.re_encrypt(
        A,
        to_rsa,
        {},
        symmetric.key_id,
        {"b": "2"},
        source_ref=rsa_key.arn,
        source_algorithm="RSAES_OAEP_SHA_256",
    )
    assert (await kit.service.decrypt(A, back, {"b": "2"}))[0] == b"moving"
    with pytest.raises(InvalidKeyParameter):  # a raw RSA ciphertext names no source key
        await kit.service.re_encrypt(
            A, to_rsa, {}, symmetric.key_id, {}, source_algorithm="RSAES_OAEP_SHA_256"
        )
    with pytest.raises(InvalidKeyUsage):  # RSAES-OAEP on a symmetric destination
        await kit.service.re_encrypt(
            A, blob, {"a": "1"}, symmetric.key_id, {}, destination_algorithm="RSAES_OAEP_SHA_1"
        )


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_DSA_KEY_SPECS))
async def test_ml_dsa_keys_sign_raw_and_external_mu_messages(kit: Kit, spec: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import mldsa

    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec=spec)
    public_der = (await kit.service.get_public_key(A, key.key_id)).public_key
    assert public_der is not None
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, asymmetric.MlDsaPublicKey)
    signature, _ = await kit.service.sign(A, key.key_id, MESSAGE, "ML_DSA_SHAKE_256", digest=False)
    public.verify(signature, MESSAGE)  # what any FIPS 204 verifier checks, from the public key
    await kit.service.verify(A, key.key_id, MESSAGE, signature, "ML_DSA_SHAKE_256", digest=False)
    hasher = mldsa.MLDSAMuHasher(public)
    hasher.update(MESSAGE)
    mu = hasher.finalize()
    by_mu, _ = await kit.service.sign(A, key.key_id, mu, "ML_DSA_SHAKE_256", digest=True)
    public.verify(by_mu, MESSAGE)
    await kit.service.verify(A, key.key_id, mu, signature, "ML_DSA_SHAKE_256", digest=True)
    with pytest.raises(InvalidSignature):
        await kit.service.verify(
            A, key.key_id, b"other", signature, "ML_DSA_SHAKE_256", digest=False
        )
    with pytest.raises(InvalidKeyParameter):  # μ is 64 bytes
        await kit.service.sign(A, key.key_id, mu + b"!", "ML_DSA_SHAKE_256", digest=True)
    with pytest.raises(InvalidKeyUsage):
        await kit.service.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    with pytest.raises(InvalidKeyParameter):  # no ML-DSA data key pairs, as on AWS
        await kit.service.generate_data_key_pair(
            A, (await kit.service.create_key(A)).key_id, spec, {}
        )


async def test_the_message_type_condition_sees_external_mu(kit: Kit) -> None:
    import json

    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ML_DSA_44")
    alice = user(ACCOUNT_A, "alice")
    kit.policies.by_user["AIDAALICE"] = [
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "kms:Sign",
                        "Resource": key.arn,
                        "Condition": {"StringEquals": {"kms:MessageType": "EXTERNAL_MU"}},
                    }
                ],
            }
        )
    ]
    await kit.service.sign(alice, key.key_id, b"\x00" * 64, "ML_DSA_SHAKE_256", digest=True)
    with pytest.raises(CmkAccessDenied):
        await kit.service.sign(alice, key.key_id, MESSAGE, "ML_DSA_SHAKE_256", digest=False)


async def test_ed25519_keys_sign_raw_messages_and_make_data_key_pairs(kit: Kit) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_EDWARDS25519")
    public_der = (await kit.service.get_public_key(A, key.key_id)).public_key
    assert public_der is not None
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signature, _ = await kit.service.sign(A, key.key_id, MESSAGE, "ED25519_SHA_512", digest=False)
    public.verify(signature, MESSAGE)
    await kit.service.verify(A, key.key_id, MESSAGE, signature, "ED25519_SHA_512", digest=False)
    with pytest.raises(InvalidSignature):
        await kit.service.verify(
            A, key.key_id, b"other", signature, "ED25519_SHA_512", digest=False
        )
    with pytest.raises(InvalidKeyParameter):  # no DIGEST for pure Ed25519
        await kit.service.sign(
            A, key.key_id, hashlib.sha512(MESSAGE).digest(), "ED25519_SHA_512", digest=True
        )
    with pytest.raises(InvalidKeyParameter):  # signing only
        await kit.service.create_key(A, key_usage="KEY_AGREEMENT", key_spec="ECC_NIST_EDWARDS25519")
    wrapping = await kit.service.create_key(A)
    pair = await kit.service.generate_data_key_pair(A, wrapping.key_id, "ECC_NIST_EDWARDS25519", {})
    assert pair.private_plaintext is not None
    private = serialization.load_der_private_key(pair.private_plaintext, None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
