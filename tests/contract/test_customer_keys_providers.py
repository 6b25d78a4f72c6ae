"""Customer-managed signing, RSA encryption and HMAC keys over each root-key provider (the key
file, and a real SoftHSM2 token), through the KMS service: the provider makes and keeps the
private key or secret (decision 0048; Ed25519 keys too, decision 0135), the signatures verify
with ``cryptography`` from the public key alone, and destroying the key (its deletion date
reached, or its account closed) shreds what the provider held; a multi-Region key's one ring,
its generated or imported material shared by its related keys."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import KeyDestroyed, KeyWithdrawn
from andromede.kms.hsm import Pkcs11Provider
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_errors import (
    CmkNotFound,
    InvalidCiphertext,
    InvalidMac,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_errors import InvalidSignature as KmsInvalidSignature
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.providers import RootKeyProvider
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names
from support.kmskit import (
    ACCOUNT_A,
    REGION,
    IdentityPolicies,
    ManualClock,
    independently_verify,
    root,
)

A = root(ACCOUNT_A)
MESSAGE = b"firmware 4.2, sha256 of the image"
OTHER_REGION = "eu-fr-2"


@dataclass
class Service:
    keys: CustomerKeyService
    store: MemoryCustomerKeyStore
    clock: ManualClock
    provider: RootKeyProvider


@pytest.fixture(params=["keyfile", "pkcs11"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    provider: RootKeyProvider
    if request.param == "keyfile":
        provider = LocalKeyFileProvider(tmp_path / "keys")
    else:
        token = request.getfixturevalue("softhsm").new_token()
        provider = Pkcs11Provider(token.library, token.label, token.pin)
    keys = KeyService(provider)
    store = MemoryCustomerKeyStore()
    clock = ManualClock()
    made = CustomerKeyService(
        store,
        keys,
        KmsAuthoriser(IdentityPolicies(), REGION, key_aliases=alias_names(store)),
        region=REGION,
        clock=clock,
        regions=(REGION, OTHER_REGION),
    )
    yield Service(made, store, clock, provider)
    keys.close()


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
    ],
)
async def test_signing_keys_sign_in_the_provider(
    service: Service, spec: str, algorithm: str
) -> None:
    key = await service.keys.create_key(A, key_usage="SIGN_VERIFY", key_spec=spec)
    stored = await service.store.get_key(key.key_id)
    assert stored is not None and stored.sealed_private_key is None
    assert key.public_key is not None
    signature, _ = await service.keys.sign(A, key.key_id, MESSAGE, algorithm, digest=False)
    independently_verify(key.public_key, algorithm, MESSAGE, signature)
    await service.keys.verify(A, key.key_id, MESSAGE, signature, algorithm, digest=False)
    await shred(service, key.key_id)
    with pytest.raises(CmkNotFound, match="destroyed"):
        await service.keys.sign(A, key.key_id, MESSAGE, algorithm, digest=False)


async def test_rsa_encryption_keys_decrypt_in_the_provider(
    service: Service, request: pytest.FixtureRequest
) -> None:
    key = await service.keys.create_key(A, key_usage="ENCRYPT_DECRYPT", key_spec="RSA_2048")
    blob, _ = await service.keys.encrypt(A, key.key_id, b"rsa", {}, "RSAES_OAEP_SHA_1")
    opened, _ = await service.keys.decrypt(A, blob, {}, key.key_id, "RSAES_OAEP_SHA_1")
    assert opened == b"rsa"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidCiphertext):
        await service.keys.decrypt(A, tampered, {}, key.key_id, "RSAES_OAEP_SHA_1")
    sha256, _ = await service.keys.encrypt(A, key.key_id, b"rsa", {}, "RSAES_OAEP_SHA_256")
    if request.node.callspec.params["service"] == "pkcs11":
        # SoftHSM2 2.6 does OAEP with SHA-1 only: refused as the request's, never a 500.
        with pytest.raises(UnsupportedKeyOperation, match="does not offer RSAES_OAEP_SHA_256"):
            await service.keys.decrypt(A, sha256, {}, key.key_id, "RSAES_OAEP_SHA_256")
    else:
        opened, _ = await service.keys.decrypt(A, sha256, {}, key.key_id, "RSAES_OAEP_SHA_256")
        assert opened == b"rsa"
    await shred(service, key.key_id)
    with pytest.raises(CmkNotFound, match="destroyed"):
        await service.keys.decrypt(A, blob, {}, key.key_id, "RSAES_OAEP_SHA_1")


async def test_hmac_keys_mac_in_the_provider(service: Service) -> None:
    key = await service.keys.create_key(A, key_usage="GENERATE_VERIFY_MAC", key_spec="HMAC_384")
    tag, _ = await service.keys.generate_mac(A, key.key_id, MESSAGE, "HMAC_SHA_384")
    assert len(tag) == 48
    assert (await service.keys.generate_mac(A, key.key_id, MESSAGE, "HMAC_SHA_384"))[0] == tag
    await service.keys.verify_mac(A, key.key_id, MESSAGE, tag, "HMAC_SHA_384")
    with pytest.raises(InvalidMac):
        await service.keys.verify_mac(A, key.key_id, b"other", tag, "HMAC_SHA_384")
    await shred(service, key.key_id)
    with pytest.raises(CmkNotFound, match="destroyed"):
        await service.keys.generate_mac(A, key.key_id, MESSAGE, "HMAC_SHA_384")


async def test_ed25519_keys_sign_in_the_provider_as_rfc_8032_says(service: Service) -> None:
    """With either provider (the token signs with CKM_EDDSA, decision 0135): GetPublicKey's
    SubjectPublicKeyInfo verifies the signature offline, and Ed25519 being deterministic, the
    same message signed again gives the same bytes."""
    key = await service.keys.create_key(
        A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_EDWARDS25519"
    )
    stored = await service.store.get_key(key.key_id)
    assert stored is not None and stored.sealed_private_key is None  # held by the provider
    published = (await service.keys.get_public_key(A, key.key_id)).public_key
    assert published is not None
    public = serialization.load_der_public_key(published)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signature, _ = await service.keys.sign(A, key.key_id, MESSAGE, "ED25519_SHA_512", digest=False)
    public.verify(signature, MESSAGE)
    again, _ = await service.keys.sign(A, key.key_id, MESSAGE, "ED25519_SHA_512", digest=False)
    assert again == signature
    with pytest.raises(InvalidSignature):
        public.verify(signature, MESSAGE + b"!")
    with pytest.raises(KmsInvalidSignature):
        await service.keys.verify(
            A, key.key_id, MESSAGE + b"!", signature, "ED25519_SHA_512", digest=False
        )


async def test_closing_an_account_destroys_its_ed25519_keys(service: Service) -> None:
    key = await service.keys.create_key(
        A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_EDWARDS25519"
    )
    await service.keys.sign(A, key.key_id, MESSAGE, "ED25519_SHA_512", digest=False)
    record = await service.store.get_key(key.key_id)
    assert record is not None
    assert await service.keys.destroy_account_keys(ACCOUNT_A) == (key.key_id,)
    await service.store.insert_key(record)  # a database copy taken before the closure
    with pytest.raises(CmkNotFound, match="destroyed"):
        await service.keys.sign(A, key.key_id, MESSAGE, "ED25519_SHA_512", digest=False)
    with pytest.raises(KeyDestroyed):
        service.provider.sign(key.key_id, "ED25519_SHA_512", MESSAGE, digest=False)


async def test_a_multi_region_key_is_one_ring_shredded_with_its_last_key(
    service: Service,
) -> None:
    """Decision 0138: a primary and its replica share one ring of the provider (in the token
    with PKCS#11); deleting the replica keeps it, deleting the last related key shreds it."""
    here, there = service.keys, service.keys.in_region(OTHER_REGION)
    key = await here.create_key(
        A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256", multi_region=True
    )
    symmetric = await here.create_key(A, multi_region=True)
    for made in (key, symmetric):
        await here.multi_region.replicate_key(A, made.key_id, OTHER_REGION)
    assert sorted(service.provider.list_tenants()) == sorted([key.key_id, symmetric.key_id])
    signature, _ = await there.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    assert key.public_key is not None
    independently_verify(key.public_key, "ECDSA_SHA_256", MESSAGE, signature)
    blob, _ = await here.encrypt(A, symmetric.key_id, b"secret", {})
    assert (await there.decrypt(A, blob, {}))[0] == b"secret"
    await there.schedule_key_deletion(A, key.key_id, 7)
    service.clock.advance(days=8)
    assert (await here.upkeep()).destroyed == (key.key_id,)
    await here.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)  # the ring stays
    record = await service.store.get_key(f"{key.key_id}@{REGION}")
    assert record is not None
    await here.schedule_key_deletion(A, key.key_id, 7)
    service.clock.advance(days=8)
    assert (await here.upkeep()).destroyed == (key.key_id,)
    assert service.provider.list_tenants() == [symmetric.key_id]
    with pytest.raises(KeyDestroyed):
        service.provider.sign(key.key_id, "ECDSA_SHA_256", MESSAGE, digest=False)
    await service.store.insert_key(record)  # a database copy taken before
    with pytest.raises(CmkNotFound, match="destroyed"):
        await here.sign(A, key.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)


async def shred(service: Service, key_id: str) -> None:
    """Delete the key, and bring its record back as a database copy taken before would."""
    record = await service.store.get_key(key_id)
    assert record is not None
    await service.keys.schedule_key_deletion(A, key_id, 7)
    service.clock.advance(days=8)
    assert (await service.keys.upkeep()).destroyed == (key_id,)
    await service.store.insert_key(record)


async def test_an_ml_dsa_key_is_made_where_the_provider_offers_it(service: Service) -> None:
    provider = service.provider
    if isinstance(provider, Pkcs11Provider):
        # A PKCS#11 2.40 token has no ML-DSA mechanism: CreateKey says so, and leaves nothing.
        with pytest.raises(UnsupportedKeyOperation, match="ML_DSA_65"):
            await service.keys.create_key(A, key_usage="SIGN_VERIFY", key_spec="ML_DSA_65")
        assert await service.store.list_keys(ACCOUNT_A, after=None, limit=10) == []
        assert provider.list_tenants() == []
        return
    key = await service.keys.create_key(A, key_usage="SIGN_VERIFY", key_spec="ML_DSA_65")
    signature, _ = await service.keys.sign(A, key.key_id, MESSAGE, "ML_DSA_SHAKE_256", digest=False)
    await service.keys.verify(A, key.key_id, MESSAGE, signature, "ML_DSA_SHAKE_256", digest=False)


async def test_an_ml_kem_key_is_made_where_the_provider_offers_it(service: Service) -> None:
    if isinstance(service.provider, Pkcs11Provider):
        with pytest.raises(UnsupportedKeyOperation, match="ML_KEM_768"):
            await service.keys.create_key(
                A, key_usage="ENCAPSULATE_DECAPSULATE", key_spec="ML_KEM_768"
            )
        assert await service.store.list_keys(ACCOUNT_A, after=None, limit=10) == []
        assert service.provider.list_tenants() == []
        return
    key = await service.keys.create_key(
        A, key_usage="ENCAPSULATE_DECAPSULATE", key_spec="ML_KEM_768"
    )
    secret, ciphertext, _ = await service.keys.encapsulate(A, key.key_id, "ML_KEM")
    assert (await service.keys.decapsulate(A, key.key_id, ciphertext, "ML_KEM"))[0] == secret


def wrap_for_import(public_der: bytes, material: bytes) -> bytes:
    """The customer's side of an import with RSA_AES_KEY_WRAP_SHA_256: RSAES-OAEP of a fresh AES
    key, then that key's AES key wrap with padding of the material."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


async def import_into(keys: CustomerKeyService, key_id: str, material: bytes) -> None:
    algorithm = "RSA_AES_KEY_WRAP_SHA_256"
    params = await keys.get_parameters_for_import(A, key_id, algorithm, "RSA_2048")
    await keys.import_key_material(
        A,
        key_id,
        params.import_token,
        wrap_for_import(params.public_key, material),
        expiration_model="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )


async def test_a_multi_region_key_takes_the_same_imported_material_in_each_region(
    service: Service,
) -> None:
    """Decision 0138 (2026-12-05): imported material goes into the one ring of a multi-Region
    key through each related key; the ring keeps it while a related key holds it, and the
    provider withdraws it with the last holder (in the token with PKCS#11)."""
    here, there = service.keys, service.keys.in_region(OTHER_REGION)
    symmetric = await here.create_key(A, origin="EXTERNAL", multi_region=True)
    signing = await here.create_key(
        A, origin="EXTERNAL", multi_region=True, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256"
    )
    secret = os.urandom(32)
    private = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for made, material in ((symmetric, secret), (signing, private)):
        await here.multi_region.replicate_key(A, made.key_id, OTHER_REGION)
        await import_into(here, made.key_id, material)
        await import_into(there, made.key_id, material)
    rings = [ring for ring in service.provider.list_tenants() if ring.startswith("mrk-")]
    assert sorted(rings) == sorted([symmetric.key_id, signing.key_id])  # one ring per key id
    blob, _ = await here.encrypt(A, symmetric.key_id, b"secret", {})
    assert (await there.decrypt(A, blob, {}))[0] == b"secret"
    signature, key = await there.sign(A, signing.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    assert key.public_key is not None
    independently_verify(key.public_key, "ECDSA_SHA_256", MESSAGE, signature)
    # The replica's deletion leaves the ring's material to the primary.
    await there.delete_imported_key_material(A, symmetric.key_id)
    await there.delete_imported_key_material(A, signing.key_id)
    assert (await here.decrypt(A, blob, {}))[0] == b"secret"
    await here.sign(A, signing.key_id, MESSAGE, "ECDSA_SHA_256", digest=False)
    # The last holder's deletion withdraws it from the provider; the same material returns.
    await here.delete_imported_key_material(A, symmetric.key_id)
    await here.delete_imported_key_material(A, signing.key_id)
    with pytest.raises(KeyWithdrawn):
        service.provider.sign(signing.key_id, "ECDSA_SHA_256", MESSAGE, digest=False)
    await import_into(there, symmetric.key_id, secret)
    assert (await there.decrypt(A, blob, {}))[0] == b"secret"
