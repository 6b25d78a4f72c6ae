"""One contract, every root-key provider: the local key file and PKCS#11 (SoftHSM2).

Includes crypto-shredding at the key layer: a copy of everything that is not the provider's
own key store (what a database backup holds: wrapped data keys, encrypted blobs) cannot be
read after the tenant's key is destroyed, even when that copy is restored.

And the private keys a ring holds (KMS signing, RSA decryption and HMAC keys, decision 0048):
what they sign verifies with ``cryptography`` from the public key alone, what they decrypt is
what RSAES-OAEP encrypted, the secret a key-agreement key derives by ECDH is the one the other
party derives with ``cryptography``, and they go with their ring. A private key or HMAC secret
imported by the customer (made here with ``cryptography``, so its public key and MACs are
known) works as a generated one, and material that does not fit its spec is refused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms import asymmetric, mac
from andromede.kms.asymmetric import (
    DecapsulationFailed,
    DigestLengthMismatch,
    EncapsulationMismatch,
    EncryptionAlgorithmMismatch,
    KeyAgreementMismatch,
    PeerPublicKeyInvalid,
    SignatureMismatch,
    SigningAlgorithmMismatch,
)
from andromede.kms.chunks import decrypt_blob
from andromede.kms.errors import (
    AlgorithmNotOffered,
    InvalidWrappedKey,
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.hsm import Pkcs11Provider
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.mac import MacAlgorithmMismatch
from andromede.kms.model import data_key_aad
from andromede.kms.providers import MaterialMismatch, RootKeyProvider
from andromede.kms.service import KeyService
from support.softhsm import SoftHsm

# RSA and ECDSA signing keys; Ed25519 and ML-DSA (no DIGEST) and ML-KEM (no signing) have
# tests of their own.
CLASSICAL_SPECS = (
    asymmetric.ASYMMETRIC_KEY_SPECS
    - asymmetric.ML_DSA_KEY_SPECS
    - asymmetric.ML_KEM_KEY_SPECS
    - {"ECC_NIST_EDWARDS25519"}
)
OpenProvider = Callable[[], RootKeyProvider]
AAD = data_key_aad("tenant-a", 1)


@pytest.fixture(params=["keyfile", "pkcs11"])
def open_provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenProvider]:
    """Opens a provider over one store; every call is a new instance (another process)."""
    opened: list[RootKeyProvider] = []
    if request.param == "keyfile":

        def factory() -> RootKeyProvider:
            return LocalKeyFileProvider(tmp_path / "data" / "keys")

    else:
        token = request.getfixturevalue("softhsm").new_token()

        def factory() -> RootKeyProvider:
            return Pkcs11Provider(token.library, token.label, token.pin)

    def opener() -> RootKeyProvider:
        provider = factory()
        opened.append(provider)
        return provider

    yield opener
    for provider in opened:
        provider.close()


@pytest.fixture
def provider(open_provider: OpenProvider) -> RootKeyProvider:
    return open_provider()


def test_a_new_tenant_key_is_version_one(provider: RootKeyProvider) -> None:
    ring = provider.create_tenant_key("tenant-a")
    assert ring.versions == (1,) and ring.current == 1
    assert provider.tenant_key_ring("tenant-a") == ring
    assert provider.list_tenants() == ["tenant-a"]


def test_creating_twice_is_refused(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    with pytest.raises(KeyAlreadyExists):
        provider.create_tenant_key("tenant-a")


def test_an_unknown_tenant_has_no_key(provider: RootKeyProvider) -> None:
    with pytest.raises(KeyNotFound):
        provider.tenant_key_ring("nobody")
    with pytest.raises(KeyNotFound):
        provider.rotate_tenant_key("nobody")
    with pytest.raises(KeyNotFound):
        provider.seal("nobody", 1, os.urandom(32), AAD)


def test_the_current_version_is_the_rings(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    assert provider.current_version("tenant-a") == 1
    provider.rotate_tenant_key("tenant-a")
    assert provider.current_version("tenant-a") == 2 == provider.tenant_key_ring("tenant-a").current
    with pytest.raises(KeyNotFound):
        provider.current_version("nobody")
    with pytest.raises(ValueError, match="tenant id"):
        provider.current_version("a/b")
    provider.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.current_version("tenant-a")


def test_invalid_tenant_ids_are_refused(provider: RootKeyProvider) -> None:
    for bad in ("", "a/b", "x" * 65, "é", "a b"):
        with pytest.raises(ValueError, match="tenant id"):
            provider.create_tenant_key(bad)


def test_seal_then_open_returns_the_key(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    data_key = os.urandom(32)
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    assert data_key not in sealed
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key
    # A fresh nonce each time: sealing twice never gives the same bytes.
    assert provider.seal("tenant-a", 1, data_key, AAD) != sealed


def test_sealing_many_seals_each_with_its_own_nonce(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    data_keys = [os.urandom(32) for _ in range(5)] + [b"\x00" * 32] * 2
    sealed = provider.seal_many("tenant-a", 1, data_keys, AAD)
    assert len(sealed) == len(data_keys)
    assert [provider.open("tenant-a", 1, one, AAD) for one in sealed] == data_keys
    assert len({one[:12] for one in sealed}) == len(sealed)  # the same key twice: two nonces
    assert provider.seal_many("tenant-a", 1, [], AAD) == []
    with pytest.raises(KeyNotFound):
        provider.seal_many("tenant-a", 2, data_keys, AAD)
    provider.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.seal_many("tenant-a", 1, data_keys, AAD)


def test_opening_with_other_aad_or_altered_bytes_fails(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-a", 1, sealed, data_key_aad("tenant-a", 2))
    for position in (0, 12, len(sealed) - 1):
        altered = bytearray(sealed)
        altered[position] ^= 1
        with pytest.raises(InvalidWrappedKey):
            provider.open("tenant-a", 1, bytes(altered), AAD)
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-a", 1, sealed[:20], AAD)


def test_another_tenants_kek_does_not_open(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    provider.create_tenant_key("tenant-b")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-b", 1, sealed, AAD)


def test_rotation_adds_a_version_and_old_versions_still_open(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    old_key = os.urandom(32)
    old = provider.seal("tenant-a", 1, old_key, AAD)
    ring = provider.rotate_tenant_key("tenant-a")
    assert ring.versions == (1, 2) and ring.current == 2
    assert provider.rotate_tenant_key("tenant-a").current == 3
    assert provider.open("tenant-a", 1, old, AAD) == old_key
    new_aad = data_key_aad("tenant-a", 3)
    new_key = os.urandom(32)
    assert (
        provider.open("tenant-a", 3, provider.seal("tenant-a", 3, new_key, new_aad), new_aad)
        == new_key
    )
    # Versions are distinct keys: what version 1 sealed does not open under version 3.
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-a", 3, old, AAD)
    with pytest.raises(KeyNotFound):
        provider.open("tenant-a", 4, old, AAD)


def test_destroying_removes_every_version_for_good(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    provider.create_tenant_key("tenant-b")
    provider.rotate_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    other_key = os.urandom(32)
    other = provider.seal("tenant-b", 1, other_key, data_key_aad("tenant-b", 1))
    provider.destroy_tenant_key("tenant-a")
    assert provider.list_tenants() == ["tenant-b"]
    for call in (
        lambda: provider.tenant_key_ring("tenant-a"),
        lambda: provider.open("tenant-a", 1, sealed, AAD),
        lambda: provider.seal("tenant-a", 2, os.urandom(32), AAD),
        lambda: provider.rotate_tenant_key("tenant-a"),
        lambda: provider.create_tenant_key("tenant-a"),  # a destroyed id is not reused
    ):
        with pytest.raises(KeyDestroyed):
            call()
    provider.destroy_tenant_key("tenant-a")  # idempotent
    assert provider.open("tenant-b", 1, other, data_key_aad("tenant-b", 1)) == other_key


def test_changes_are_seen_by_another_instance(open_provider: OpenProvider) -> None:
    first, second = open_provider(), open_provider()
    first.create_tenant_key("tenant-a")
    data_key = os.urandom(32)
    sealed = first.seal("tenant-a", 1, data_key, AAD)
    assert second.open("tenant-a", 1, sealed, AAD) == data_key
    assert second.rotate_tenant_key("tenant-a").current == 2
    # What the new version sealed opens at once in the other instance (its current version
    # may show up later, within the PKCS#11 provider's lookup TTL).
    new_key = os.urandom(32)
    new_aad = data_key_aad("tenant-a", 2)
    assert (
        first.open("tenant-a", 2, second.seal("tenant-a", 2, new_key, new_aad), new_aad) == new_key
    )
    assert first.seal("tenant-a", 1, data_key, AAD)
    second.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        first.open("tenant-a", 1, sealed, AAD)


def test_check_usable_sees_another_instance_destroy_at_once(open_provider: OpenProvider) -> None:
    first, second = open_provider(), open_provider()
    first.create_tenant_key("tenant-a")
    first.create_tenant_key("tenant-b")
    first.check_usable("tenant-a")  # looked up (PKCS#11: handles cached for the lookup TTL)
    second.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        first.check_usable("tenant-a")
    first.check_usable("tenant-b")
    with pytest.raises(KeyDestroyed):
        second.check_usable("tenant-a")


def test_keys_survive_a_restart(open_provider: OpenProvider) -> None:
    first = open_provider()
    first.create_tenant_key("tenant-a")
    data_key = os.urandom(32)
    sealed = first.seal("tenant-a", 1, data_key, AAD)
    first.close()
    assert open_provider().open("tenant-a", 1, sealed, AAD) == data_key


def test_crypto_shredding_survives_restoring_a_database_backup(
    open_provider: OpenProvider, tmp_path: Path
) -> None:
    service = KeyService(open_provider(), cache_ttl_seconds=300, cache_max_entries=100)
    service.create_tenant_key("tenant-a")
    data_key, wrapped, _ = service.new_data_key("tenant-a")
    plaintext = os.urandom(5000)
    encryptor = service.object_encryptor(data_key, "blob-1")
    blob = encryptor.update(plaintext) + encryptor.finish()

    # "The database" and the object data: everything except the root-key provider's store.
    database = tmp_path / "data" / "metadata"
    database.mkdir(parents=True)
    (database / "wrapped-key").write_bytes(wrapped)
    (database / "blob-1").write_bytes(blob)
    backup = tmp_path / "backup"
    shutil.copytree(database, backup)
    assert decrypt_blob(service.unwrap_data_key("tenant-a", wrapped), "blob-1", blob) == plaintext

    service.destroy_tenant_key("tenant-a")
    shutil.rmtree(database)
    shutil.copytree(backup, database)  # the backup is restored, wrapped key and all

    restored_wrapped = (database / "wrapped-key").read_bytes()
    with pytest.raises(KeyDestroyed):
        service.unwrap_data_key("tenant-a", restored_wrapped)  # the cache was dropped too
    later = KeyService(open_provider(), cache_ttl_seconds=300, cache_max_entries=100)
    with pytest.raises(KeyDestroyed):
        later.unwrap_data_key("tenant-a", restored_wrapped)  # and a fresh process agrees


# --- imported key material (KMS keys of Origin EXTERNAL) --------------------------------------


def test_imported_material_is_version_one_and_seals(provider: RootKeyProvider) -> None:
    ring = provider.import_tenant_key("tenant-a", os.urandom(32))
    assert ring.versions == (1,) and provider.tenant_key_ring("tenant-a") == ring
    assert provider.current_version("tenant-a") == 1
    assert provider.list_tenants() == ["tenant-a"]
    provider.check_usable("tenant-a")
    data_key = os.urandom(32)
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key
    assert provider.seal_many("tenant-a", 1, [data_key], AAD)[0] != sealed


def test_imported_material_is_the_kek_itself(provider: RootKeyProvider) -> None:
    # Used as a generated KEK is: AES-256-GCM, nonce | ciphertext | tag, nothing derived.
    material = os.urandom(32)
    provider.import_tenant_key("tenant-a", material)
    data_key, nonce = os.urandom(32), os.urandom(12)
    outside = nonce + AESGCM(material).encrypt(nonce, data_key, AAD)
    assert provider.open("tenant-a", 1, outside, AAD) == data_key
    inside = provider.seal("tenant-a", 1, data_key, AAD)
    assert AESGCM(material).decrypt(inside[:12], inside[12:], AAD) == data_key


def test_withdrawn_material_imported_again_opens_what_it_sealed(
    provider: RootKeyProvider,
) -> None:
    material, data_key = os.urandom(32), os.urandom(32)
    provider.import_tenant_key("tenant-a", material)
    provider.create_tenant_key("tenant-b")
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    provider.withdraw_tenant_key("tenant-a")
    assert provider.list_tenants() == ["tenant-b"]
    with pytest.raises(KeyWithdrawn):
        provider.check_usable("tenant-a")
    for call in (
        lambda: provider.open("tenant-a", 1, sealed, AAD),
        lambda: provider.seal("tenant-a", 1, data_key, AAD),
        lambda: provider.tenant_key_ring("tenant-a"),
        lambda: provider.current_version("tenant-a"),
        lambda: provider.rotate_tenant_key("tenant-a"),
    ):
        with pytest.raises(KeyNotFound):
            call()
    provider.check_usable("tenant-b")  # other rings are untouched

    assert provider.import_tenant_key("tenant-a", material).versions == (1,)
    provider.check_usable("tenant-a")
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key


def test_other_material_imported_after_a_withdrawal_does_not_open(
    provider: RootKeyProvider,
) -> None:
    provider.import_tenant_key("tenant-a", os.urandom(32))
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    provider.withdraw_tenant_key("tenant-a")
    provider.import_tenant_key("tenant-a", os.urandom(32))
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-a", 1, sealed, AAD)


def test_importing_into_a_ring_with_keys_is_refused(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    provider.import_tenant_key("tenant-b", os.urandom(32))
    for tenant in ("tenant-a", "tenant-b"):
        with pytest.raises(KeyAlreadyExists):
            provider.import_tenant_key(tenant, os.urandom(32))
    with pytest.raises(KeyAlreadyExists):
        provider.create_tenant_key("tenant-b")


def test_importing_into_a_destroyed_ring_is_refused(provider: RootKeyProvider) -> None:
    provider.import_tenant_key("tenant-a", material := os.urandom(32))
    provider.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.import_tenant_key("tenant-a", material)
    provider.withdraw_tenant_key("tenant-a")  # nothing to withdraw: the tombstone stays
    with pytest.raises(KeyDestroyed):
        provider.check_usable("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.import_tenant_key("tenant-a", material)


def test_withdrawing_is_idempotent_and_leaves_no_tombstone(provider: RootKeyProvider) -> None:
    provider.withdraw_tenant_key("tenant-a")  # never made: nothing to do
    provider.import_tenant_key("tenant-a", os.urandom(32))
    provider.withdraw_tenant_key("tenant-a")
    provider.withdraw_tenant_key("tenant-a")
    assert provider.list_tenants() == []
    with pytest.raises(KeyWithdrawn):
        provider.check_usable("tenant-a")
    # The provider keeps no trace of a withdrawal: the ring is as if never made, so a generated
    # key may be made in it too (whether a ring is imported is the KMS key's record, not ours).
    assert provider.create_tenant_key("tenant-a").versions == (1,)
    # A generated ring can be withdrawn too: every version goes.
    provider.rotate_tenant_key("tenant-a")
    provider.withdraw_tenant_key("tenant-a")
    with pytest.raises(KeyNotFound):
        provider.tenant_key_ring("tenant-a")
    assert provider.import_tenant_key("tenant-a", os.urandom(32)).versions == (1,)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_material_of_the_wrong_size_is_refused(provider: RootKeyProvider, size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        provider.import_tenant_key("tenant-a", os.urandom(size))
    with pytest.raises(KeyNotFound):
        provider.tenant_key_ring("tenant-a")
    with pytest.raises(ValueError, match="tenant id"):
        provider.import_tenant_key("a/b", os.urandom(32))


def test_another_instance_withdrawal_and_import_are_seen_at_once(
    open_provider: OpenProvider,
) -> None:
    first, second = open_provider(), open_provider()
    material, data_key = os.urandom(32), os.urandom(32)
    first.import_tenant_key("tenant-a", material)
    first.create_tenant_key("tenant-b")
    sealed = first.seal("tenant-a", 1, data_key, AAD)
    assert first.open("tenant-a", 1, sealed, AAD) == data_key  # KEK opened, handle cached
    first.check_usable("tenant-a")
    second.withdraw_tenant_key("tenant-a")
    with pytest.raises(KeyWithdrawn):
        first.check_usable("tenant-a")
    with pytest.raises(KeyNotFound):
        first.open("tenant-a", 1, sealed, AAD)
    with pytest.raises(KeyNotFound):
        first.seal("tenant-a", 1, data_key, AAD)
    first.check_usable("tenant-b")
    # Imported again over there: usable here at once, though this instance found it empty.
    second.import_tenant_key("tenant-a", material)
    first.check_usable("tenant-a")
    assert first.open("tenant-a", 1, sealed, AAD) == data_key
    assert first.tenant_key_ring("tenant-a").versions == (1,)


def test_imported_material_survives_a_restart(open_provider: OpenProvider) -> None:
    first = open_provider()
    first.import_tenant_key("tenant-a", os.urandom(32))
    data_key = os.urandom(32)
    sealed = first.seal("tenant-a", 1, data_key, AAD)
    first.close()
    assert open_provider().open("tenant-a", 1, sealed, AAD) == data_key


# --- several imported materials per ring, one staged (pending) ---------------------------------


def sealed_by(material: bytes, data_key: bytes, aad: bytes) -> bytes:
    """What a provider's seal under KEK ``material`` gives (``nonce | ciphertext | tag``),
    made outside it."""
    nonce = os.urandom(12)
    return nonce + AESGCM(material).encrypt(nonce, data_key, aad)


def opens_under(material: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(material).decrypt(sealed[:12], sealed[12:], aad)


def refused_as_unknown(call: Callable[[], object]) -> None:
    """``call`` fails as a version the ring does not hold does: ``KeyNotFound``, not
    ``KeyWithdrawn`` (the ring has live versions)."""
    with pytest.raises(KeyNotFound) as missing:
        call()
    assert not isinstance(missing.value, KeyWithdrawn)


def test_a_pending_version_is_staged_and_used_for_nothing(provider: RootKeyProvider) -> None:
    first, second, data_key = os.urandom(32), os.urandom(32), os.urandom(32)
    aad_2 = data_key_aad("tenant-a", 2)
    provider.import_tenant_key("tenant-a", first)
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    assert provider.import_tenant_key("tenant-a", second, version=2, pending=True).versions == (1,)
    assert provider.tenant_key_ring("tenant-a").versions == (1,)
    assert provider.current_version("tenant-a") == 1
    assert provider.list_tenants() == ["tenant-a"]
    provider.check_usable("tenant-a")
    refused_as_unknown(lambda: provider.seal("tenant-a", 2, data_key, aad_2))
    refused_as_unknown(lambda: provider.seal_many("tenant-a", 2, [data_key], aad_2))
    refused_as_unknown(
        lambda: provider.open("tenant-a", 2, sealed_by(second, data_key, aad_2), aad_2)
    )
    # Version 1 works on as before.
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key
    assert opens_under(first, provider.seal("tenant-a", 1, data_key, AAD), AAD) == data_key


def test_staging_is_refused_where_it_cannot_be_promoted(provider: RootKeyProvider) -> None:
    provider.import_tenant_key("tenant-a", os.urandom(32))
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
    # A version number is held once, live or pending.
    for version, pending in ((2, True), (1, True), (2, False), (1, False)):
        with pytest.raises(KeyAlreadyExists):
            provider.import_tenant_key("tenant-a", os.urandom(32), version=version, pending=pending)
    # Below a live version: it would not be current once promoted.
    provider.import_tenant_key("tenant-a", os.urandom(32), version=5)
    for version in (3, 4):
        with pytest.raises(ValueError, match="not above"):
            provider.import_tenant_key("tenant-a", os.urandom(32), version=version, pending=True)
    with pytest.raises(ValueError, match="not above"):
        provider.promote_tenant_key("tenant-a", 2)  # staged before version 5 was imported
    # A ring without a live version: never made, or every live version withdrawn.
    with pytest.raises(KeyWithdrawn):
        provider.import_tenant_key("tenant-b", os.urandom(32), version=2, pending=True)
    provider.import_tenant_key("tenant-b", os.urandom(32))
    provider.withdraw_tenant_key("tenant-b", 1)
    with pytest.raises(KeyWithdrawn):
        provider.import_tenant_key("tenant-b", os.urandom(32), version=2, pending=True)
    for version in (0, -1, 2**32):
        with pytest.raises(ValueError, match="version"):
            provider.import_tenant_key("tenant-c", os.urandom(32), version=version)
        with pytest.raises(ValueError, match="version"):
            provider.import_tenant_key("tenant-a", os.urandom(32), version=version, pending=True)
    with pytest.raises(ValueError, match="32 bytes"):
        provider.import_tenant_key("tenant-a", os.urandom(31), version=6, pending=True)
    assert provider.tenant_key_ring("tenant-a").versions == (1, 5)
    with pytest.raises(KeyNotFound):
        provider.tenant_key_ring("tenant-c")


def test_promoting_makes_the_pending_version_current(provider: RootKeyProvider) -> None:
    first, second, old_key, new_key = (os.urandom(32) for _ in range(4))
    aad_2 = data_key_aad("tenant-a", 2)
    provider.import_tenant_key("tenant-a", first)
    old = provider.seal("tenant-a", 1, old_key, AAD)
    provider.import_tenant_key("tenant-a", second, version=2, pending=True)
    ring = provider.promote_tenant_key("tenant-a", 2)
    assert ring.versions == (1, 2) and ring.current == 2
    assert provider.tenant_key_ring("tenant-a") == ring
    assert provider.current_version("tenant-a") == 2
    # The new current version is the material staged, and the older one opens what it sealed.
    assert opens_under(second, provider.seal("tenant-a", 2, new_key, aad_2), aad_2) == new_key
    assert provider.open("tenant-a", 2, sealed_by(second, new_key, aad_2), aad_2) == new_key
    assert provider.open("tenant-a", 1, old, AAD) == old_key
    with pytest.raises(InvalidWrappedKey):
        provider.open("tenant-a", 2, old, AAD)
    # Promoting again (a retry), or a live version, changes nothing.
    assert provider.promote_tenant_key("tenant-a", 2) == ring
    assert provider.promote_tenant_key("tenant-a", 1) == ring
    assert provider.open("tenant-a", 2, sealed_by(second, new_key, aad_2), aad_2) == new_key
    for unknown in (3, 0):
        with pytest.raises(KeyWithdrawn):
            provider.promote_tenant_key("tenant-a", unknown)
    with pytest.raises(KeyWithdrawn):
        provider.promote_tenant_key("nobody", 1)
    with pytest.raises(ValueError, match="tenant id"):
        provider.promote_tenant_key("a/b", 2)
    # A third material, the same way.
    third = os.urandom(32)
    provider.import_tenant_key("tenant-a", third, version=3, pending=True)
    assert provider.promote_tenant_key("tenant-a", 3).versions == (1, 2, 3)
    aad_3 = data_key_aad("tenant-a", 3)
    assert opens_under(third, provider.seal("tenant-a", 3, new_key, aad_3), aad_3) == new_key


def test_withdrawing_one_version_leaves_the_others(provider: RootKeyProvider) -> None:
    first, second, key_1, key_2 = (os.urandom(32) for _ in range(4))
    aad_2 = data_key_aad("tenant-a", 2)
    provider.import_tenant_key("tenant-a", first)
    provider.import_tenant_key("tenant-a", second, version=2, pending=True)
    provider.promote_tenant_key("tenant-a", 2)
    sealed_1 = provider.seal("tenant-a", 1, key_1, AAD)
    sealed_2 = provider.seal("tenant-a", 2, key_2, aad_2)

    provider.withdraw_tenant_key("tenant-a", 1)
    provider.withdraw_tenant_key("tenant-a", 1)  # idempotent
    provider.withdraw_tenant_key("tenant-a", 7)  # never made: nothing to do
    assert provider.tenant_key_ring("tenant-a").versions == (2,)
    assert provider.current_version("tenant-a") == 2
    provider.check_usable("tenant-a")
    refused_as_unknown(lambda: provider.open("tenant-a", 1, sealed_1, AAD))
    refused_as_unknown(lambda: provider.seal("tenant-a", 1, key_1, AAD))
    assert provider.open("tenant-a", 2, sealed_2, aad_2) == key_2
    assert opens_under(second, provider.seal("tenant-a", 2, key_2, aad_2), aad_2) == key_2

    # Imported again below the current version: it opens what it sealed, and 2 stays current.
    assert provider.import_tenant_key("tenant-a", first).versions == (1, 2)
    assert provider.current_version("tenant-a") == 2
    assert provider.open("tenant-a", 1, sealed_1, AAD) == key_1

    # Withdrawing the current version makes the next live one below it current...
    provider.withdraw_tenant_key("tenant-a", 2)
    assert provider.tenant_key_ring("tenant-a").versions == (1,)
    assert provider.current_version("tenant-a") == 1
    refused_as_unknown(lambda: provider.open("tenant-a", 2, sealed_2, aad_2))
    assert provider.open("tenant-a", 1, sealed_1, AAD) == key_1
    # ... and importing it again (live) makes it current again.
    assert provider.import_tenant_key("tenant-a", second, version=2).current == 2
    assert provider.current_version("tenant-a") == 2
    assert provider.open("tenant-a", 2, sealed_2, aad_2) == key_2


def test_a_withdrawn_pending_version_is_gone(provider: RootKeyProvider) -> None:
    provider.import_tenant_key("tenant-a", os.urandom(32))
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
    provider.withdraw_tenant_key("tenant-a", 2)
    with pytest.raises(KeyWithdrawn):
        provider.promote_tenant_key("tenant-a", 2)
    assert provider.tenant_key_ring("tenant-a").versions == (1,)
    # Staged again, with other material: that is the one promoted.
    material = os.urandom(32)
    provider.import_tenant_key("tenant-a", material, version=2, pending=True)
    provider.promote_tenant_key("tenant-a", 2)
    aad_2 = data_key_aad("tenant-a", 2)
    assert opens_under(material, provider.seal("tenant-a", 2, b"k" * 32, aad_2), aad_2) == b"k" * 32


def test_withdrawing_the_last_live_version_keeps_pending_ones_staged(
    provider: RootKeyProvider,
) -> None:
    first, second, data_key = os.urandom(32), os.urandom(32), os.urandom(32)
    aad_2 = data_key_aad("tenant-a", 2)
    provider.import_tenant_key("tenant-a", first)
    provider.create_tenant_key("tenant-b")
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    provider.import_tenant_key("tenant-a", second, version=2, pending=True)
    provider.withdraw_tenant_key("tenant-a", 1)
    # No live version: the ring is withdrawn, its pending version or not.
    assert provider.list_tenants() == ["tenant-b"]
    for call in (
        lambda: provider.check_usable("tenant-a"),
        lambda: provider.tenant_key_ring("tenant-a"),
        lambda: provider.current_version("tenant-a"),
        lambda: provider.open("tenant-a", 1, sealed, AAD),
        lambda: provider.seal("tenant-a", 2, data_key, aad_2),
        lambda: provider.promote_tenant_key("tenant-a", 2),
        lambda: provider.import_tenant_key("tenant-a", os.urandom(32), version=3, pending=True),
    ):
        with pytest.raises(KeyWithdrawn):
            call()
    with pytest.raises(KeyAlreadyExists):  # still staged
        provider.import_tenant_key("tenant-a", second, version=2, pending=True)
    # A live version imported again makes the ring usable, and the staged one promotable.
    assert provider.import_tenant_key("tenant-a", first).versions == (1,)
    provider.check_usable("tenant-a")
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key
    assert provider.promote_tenant_key("tenant-a", 2).current == 2
    assert opens_under(second, provider.seal("tenant-a", 2, data_key, aad_2), aad_2) == data_key


def test_withdrawing_the_ring_takes_its_pending_versions(provider: RootKeyProvider) -> None:
    provider.import_tenant_key("tenant-a", material := os.urandom(32))
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
    provider.withdraw_tenant_key("tenant-a")
    with pytest.raises(KeyWithdrawn):
        provider.check_usable("tenant-a")
    provider.import_tenant_key("tenant-a", material)
    with pytest.raises(KeyWithdrawn):
        provider.promote_tenant_key("tenant-a", 2)  # gone with its ring
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)


def test_a_rotation_goes_above_a_pending_version(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("tenant-a")
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
    assert provider.rotate_tenant_key("tenant-a").versions == (1, 3)  # 2 keeps its number
    with pytest.raises(ValueError, match="not above"):
        provider.promote_tenant_key("tenant-a", 2)


def test_a_destroyed_ring_refuses_every_version_call(provider: RootKeyProvider) -> None:
    material = os.urandom(32)
    provider.import_tenant_key("tenant-a", material)
    provider.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
    provider.destroy_tenant_key("tenant-a")
    for call in (
        lambda: provider.import_tenant_key("tenant-a", material),
        lambda: provider.import_tenant_key("tenant-a", material, version=3),
        lambda: provider.import_tenant_key("tenant-a", material, version=3, pending=True),
        lambda: provider.promote_tenant_key("tenant-a", 2),
        lambda: provider.promote_tenant_key("tenant-a", 1),
        lambda: provider.seal("tenant-a", 2, material, data_key_aad("tenant-a", 2)),
    ):
        with pytest.raises(KeyDestroyed):
            call()
    provider.withdraw_tenant_key("tenant-a", 2)  # nothing to withdraw: the tombstone stays
    provider.withdraw_tenant_key("tenant-a", 1)
    with pytest.raises(KeyDestroyed):
        provider.check_usable("tenant-a")


def test_another_instance_sees_each_change_of_versions(open_provider: OpenProvider) -> None:
    here, there = open_provider(), open_provider()
    first, second, key_1, key_2 = (os.urandom(32) for _ in range(4))
    aad_2 = data_key_aad("tenant-a", 2)
    here.import_tenant_key("tenant-a", first)
    sealed_1 = here.seal("tenant-a", 1, key_1, AAD)  # KEK opened, handle cached
    # Staged over there: nothing changes here, and version 2 is not usable.
    there.import_tenant_key("tenant-a", second, version=2, pending=True)
    assert here.tenant_key_ring("tenant-a").versions == (1,)
    refused_as_unknown(lambda: here.seal("tenant-a", 2, key_2, aad_2))
    with pytest.raises(KeyAlreadyExists):
        here.import_tenant_key("tenant-a", second, version=2, pending=True)
    # Promoted over there: version 2 seals and opens here at once (a version not found is
    # looked up again; the ring's current version may show up later, within the PKCS#11
    # provider's lookup TTL), and promoting it here is a retry.
    there.promote_tenant_key("tenant-a", 2)
    sealed_2 = here.seal("tenant-a", 2, key_2, aad_2)
    assert there.open("tenant-a", 2, sealed_2, aad_2) == key_2
    assert here.promote_tenant_key("tenant-a", 2).versions == (1, 2)
    # Version 1 withdrawn over there: it stops opening here, version 2 goes on.
    there.withdraw_tenant_key("tenant-a", 1)
    refused_as_unknown(lambda: here.open("tenant-a", 1, sealed_1, AAD))
    here.check_usable("tenant-a")
    assert here.open("tenant-a", 2, sealed_2, aad_2) == key_2
    # Imported again over there: it opens here at once.
    there.import_tenant_key("tenant-a", first)
    assert here.open("tenant-a", 1, sealed_1, AAD) == key_1
    # Every live version withdrawn over there: the ring is withdrawn here too.
    there.withdraw_tenant_key("tenant-a", 2)
    there.withdraw_tenant_key("tenant-a", 1)
    with pytest.raises(KeyWithdrawn):
        here.check_usable("tenant-a")
    with pytest.raises(KeyWithdrawn):
        here.open("tenant-a", 2, sealed_2, aad_2)


def test_pending_versions_survive_a_restart(open_provider: OpenProvider) -> None:
    first = open_provider()
    first.import_tenant_key("tenant-a", os.urandom(32))
    first.import_tenant_key("tenant-a", material := os.urandom(32), version=2, pending=True)
    first.close()
    later = open_provider()
    assert later.tenant_key_ring("tenant-a").versions == (1,)
    assert later.promote_tenant_key("tenant-a", 2).current == 2
    aad_2 = data_key_aad("tenant-a", 2)
    assert opens_under(material, later.seal("tenant-a", 2, b"k" * 32, aad_2), aad_2) == b"k" * 32


# --- private keys held in a ring (KMS asymmetric and HMAC keys) ------------------------------

MESSAGE = b"the message a KMS key signs"
_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_CURVES = {
    "ECC_NIST_P256": "secp256r1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
    "ECC_SECG_P256K1": "secp256k1",
}


def signed_message(algorithm: str, *, digest: bool) -> bytes:
    """``MESSAGE`` as Sign takes it: itself (RAW), or its hash (DIGEST)."""
    if not digest:
        return MESSAGE
    return hashlib.new("sha" + algorithm.rsplit("_", 1)[1], MESSAGE).digest()


def verify_with_cryptography(
    public_der: bytes, algorithm: str, message: bytes, signature: bytes, *, digest: bool
) -> None:
    """AWS's signing algorithms spelt out in ``cryptography``, apart from asymmetric.py."""
    chosen = _HASHES[algorithm.rsplit("_", 1)[1]]
    hashed: hashes.HashAlgorithm | utils.Prehashed = utils.Prehashed(chosen) if digest else chosen
    public = serialization.load_der_public_key(public_der)
    if algorithm.startswith("ECDSA"):
        assert isinstance(public, ec.EllipticCurvePublicKey)
        utils.decode_dss_signature(signature)  # DER, as AWS answers it
        public.verify(signature, message, ec.ECDSA(hashed))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            if algorithm.startswith("RSASSA_PSS")
            else padding.PKCS1v15()
        )
        public.verify(signature, message, pad, hashed)


def offers_oaep_sha256(provider: RootKeyProvider) -> bool:
    # SoftHSM2 2.6 takes only SHA-1 (and MGF1-SHA-1) in CKM_RSA_PKCS_OAEP's parameters: it
    # answers CKR_ARGUMENTS_BAD to SHA-256, which the provider says as ProviderError. A token
    # that offers it decrypts as the key file does: a SoftHSM2 that learns it fails the test
    # below, and this exception goes.
    return not isinstance(provider, Pkcs11Provider)


@pytest.mark.parametrize("spec", sorted(CLASSICAL_SPECS))
def test_a_private_key_signs_with_each_of_its_algorithms(
    provider: RootKeyProvider, spec: str
) -> None:
    provider.create_tenant_key("kms-key")
    public_der = provider.create_private_key("kms-key", spec)
    public = serialization.load_der_public_key(public_der)
    if spec in asymmetric.RSA_KEY_SPECS:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == int(spec.rsplit("_", 1)[1])
        assert public.public_numbers().e == 65537
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.name == _CURVES[spec]
    for algorithm in asymmetric.signing_algorithms(spec):
        for digest in (False, True):
            message = signed_message(algorithm, digest=digest)
            signature = provider.sign("kms-key", algorithm, message, digest=digest)
            asymmetric.verify(spec, public_der, algorithm, message, signature, digest=digest)
            verify_with_cryptography(public_der, algorithm, message, signature, digest=digest)
            # The RAW and DIGEST forms of one message are one signature's input.
            asymmetric.verify(spec, public_der, algorithm, MESSAGE, signature, digest=False)
            with pytest.raises(SignatureMismatch):
                asymmetric.verify(
                    spec, public_der, algorithm, MESSAGE + b"!", signature, digest=False
                )
    algorithm = asymmetric.signing_algorithms(spec)[0]
    with pytest.raises(DigestLengthMismatch):
        provider.sign("kms-key", algorithm, b"\x00" * 20, digest=True)
    others = {
        other
        for other_spec in asymmetric.ASYMMETRIC_KEY_SPECS
        for other in asymmetric.signing_algorithms(other_spec)
    } - set(asymmetric.signing_algorithms(spec))
    for other in sorted(others):
        with pytest.raises(SigningAlgorithmMismatch):
            provider.sign("kms-key", other, MESSAGE, digest=False)
    # A signing key does nothing else.
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)
    with pytest.raises(MacAlgorithmMismatch):
        provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)


def test_an_rsa_decryption_key_decrypts_oaep(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("kms-key")
    public_der = provider.create_private_key("kms-key", "RSA_2048", rsa_decrypt=True)
    assert isinstance(serialization.load_der_public_key(public_der), rsa.RSAPublicKey)
    for algorithm in asymmetric.RSA_ENCRYPTION_ALGORITHMS:
        plaintext = os.urandom(190)
        ciphertext = asymmetric.rsa_encrypt(public_der, algorithm, plaintext)
        if algorithm == "RSAES_OAEP_SHA_256" and not offers_oaep_sha256(provider):
            with pytest.raises(AlgorithmNotOffered, match="does not offer RSAES_OAEP_SHA_256"):
                provider.decrypt_private("kms-key", algorithm, ciphertext)
            continue
        assert provider.decrypt_private("kms-key", algorithm, ciphertext) == plaintext
        for position in (0, 100, len(ciphertext) - 1):
            tampered = bytearray(ciphertext)
            tampered[position] ^= 1
            with pytest.raises(InvalidWrappedKey):
                provider.decrypt_private("kms-key", algorithm, bytes(tampered))
        for damaged in (ciphertext[:-1], b"", ciphertext + b"\x00"):
            with pytest.raises(InvalidWrappedKey):
                provider.decrypt_private("kms-key", algorithm, damaged)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "SYMMETRIC_DEFAULT", ciphertext)
    # A decryption key does nothing else, and a signing key does not decrypt.
    for algorithm in asymmetric.signing_algorithms("RSA_2048"):
        with pytest.raises(SigningAlgorithmMismatch):
            provider.sign("kms-key", algorithm, MESSAGE, digest=False)
    with pytest.raises(MacAlgorithmMismatch):
        provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)
    provider.create_tenant_key("signing-key")
    signing_public = provider.create_private_key("signing-key", "RSA_2048")
    ciphertext = asymmetric.rsa_encrypt(signing_public, "RSAES_OAEP_SHA_1", b"secret")
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("signing-key", "RSAES_OAEP_SHA_1", ciphertext)


@pytest.mark.parametrize("spec", sorted(mac.MAC_KEY_SPECS))
def test_an_hmac_key_makes_its_macs(provider: RootKeyProvider, spec: str) -> None:
    provider.create_tenant_key("kms-key")
    provider.create_tenant_key("other-key")
    assert provider.create_private_key("kms-key", spec) == b""
    provider.create_private_key("other-key", spec)
    [algorithm] = mac.mac_algorithms(spec)
    tag = provider.mac("kms-key", algorithm, MESSAGE)
    assert len(tag) == hashlib.new("sha" + spec.rsplit("_", 1)[1]).digest_size
    assert provider.mac("kms-key", algorithm, MESSAGE) == tag
    assert provider.mac("kms-key", algorithm, MESSAGE + b"!") != tag
    assert provider.mac("other-key", algorithm, MESSAGE) != tag  # each ring its own secret
    assert provider.mac("kms-key", algorithm, b"\x00" * 4096) != tag
    for other in sorted(mac.MAC_KEY_SPECS - {spec}):
        with pytest.raises(MacAlgorithmMismatch):
            provider.mac("kms-key", mac.mac_algorithms(other)[0], MESSAGE)
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", "ECDSA_SHA_256", hashlib.sha256(MESSAGE).digest(), digest=True)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)


def test_an_hmac_secret_is_no_kek_version(provider: RootKeyProvider) -> None:
    # Both are secret keys of the ring (PKCS#11: CKO_SECRET_KEY with the ring's CKA_ID).
    provider.create_tenant_key("kms-key")
    provider.create_private_key("kms-key", "HMAC_256")
    assert provider.tenant_key_ring("kms-key").versions == (1,)
    assert provider.current_version("kms-key") == 1
    assert provider.list_tenants() == ["kms-key"]
    data_key = os.urandom(32)
    aad = data_key_aad("kms-key", 1)
    assert provider.open("kms-key", 1, provider.seal("kms-key", 1, data_key, aad), aad) == data_key
    with pytest.raises(KeyNotFound):
        provider.seal("kms-key", 2, data_key, aad)
    assert provider.rotate_tenant_key("kms-key").versions == (1, 2)
    provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)


def test_a_private_key_needs_a_ring_and_is_made_once(provider: RootKeyProvider) -> None:
    with pytest.raises(KeyNotFound):
        provider.create_private_key("kms-key", "ECC_NIST_P256")  # no KEK: no ring
    provider.create_tenant_key("kms-key")
    with pytest.raises(KeyNotFound):
        provider.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)
    with pytest.raises(KeyNotFound):
        provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)
    with pytest.raises(KeyNotFound):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)
    for spec, rsa_decrypt in (("RSA_1024", False), ("SYMMETRIC_DEFAULT", False), ("", False)):
        with pytest.raises(ValueError, match="key spec"):
            provider.create_private_key("kms-key", spec, rsa_decrypt=rsa_decrypt)
    for spec in ("ECC_NIST_P256", "HMAC_256"):
        with pytest.raises(ValueError, match="does not decrypt"):
            provider.create_private_key("kms-key", spec, rsa_decrypt=True)
    with pytest.raises(ValueError, match="tenant id"):
        provider.create_private_key("a/b", "ECC_NIST_P256")
    with pytest.raises(ValueError, match="tenant id"):
        provider.sign("a/b", "ECDSA_SHA_256", MESSAGE, digest=False)
    public_der = provider.create_private_key("kms-key", "ECC_NIST_P256")
    for spec in ("ECC_NIST_P256", "HMAC_256", "RSA_2048"):
        with pytest.raises(KeyAlreadyExists):
            provider.create_private_key("kms-key", spec)
    signature = provider.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)
    asymmetric.verify(
        "ECC_NIST_P256", public_der, "ECDSA_SHA_256", MESSAGE, signature, digest=False
    )


def test_destroying_the_ring_destroys_its_private_key(open_provider: OpenProvider) -> None:
    first, second = open_provider(), open_provider()
    rings = {
        "signing": "ECC_NIST_P256",
        "ed25519": "ECC_NIST_EDWARDS25519",
        "decrypting": "RSA_2048",
        "hmac": "HMAC_256",
    }
    public = {}
    for ring, spec in (*rings.items(), ("kept", "ECC_NIST_P256")):
        first.create_tenant_key(ring)
        public[ring] = first.create_private_key(ring, spec, rsa_decrypt=ring == "decrypting")
    # Used once here: the key file has its keystore loaded, the token its handles cached.
    first.sign("signing", "ECDSA_SHA_256", MESSAGE, digest=False)
    first.sign("ed25519", "ED25519_SHA_512", MESSAGE, digest=False)
    first.mac("hmac", "HMAC_SHA_256", MESSAGE)
    ciphertext = asymmetric.rsa_encrypt(public["decrypting"], "RSAES_OAEP_SHA_1", b"secret")
    assert first.decrypt_private("decrypting", "RSAES_OAEP_SHA_1", ciphertext) == b"secret"
    for ring in rings:
        second.destroy_tenant_key(ring)
    second.destroy_tenant_key("signing")  # idempotent
    assert first.list_tenants() == ["kept"]
    later = open_provider()  # a process started after the destruction
    for provider in (first, second, later):
        for call in (
            partial(provider.sign, "signing", "ECDSA_SHA_256", MESSAGE, digest=False),
            partial(provider.sign, "ed25519", "ED25519_SHA_512", MESSAGE, digest=False),
            partial(provider.mac, "hmac", "HMAC_SHA_256", MESSAGE),
            partial(provider.decrypt_private, "decrypting", "RSAES_OAEP_SHA_1", ciphertext),
            partial(provider.create_private_key, "signing", "ECC_NIST_P256"),
        ):
            with pytest.raises(KeyDestroyed):
                call()
        signature = provider.sign("kept", "ECDSA_SHA_256", MESSAGE, digest=False)
        asymmetric.verify(
            "ECC_NIST_P256", public["kept"], "ECDSA_SHA_256", MESSAGE, signature, digest=False
        )


def test_withdrawing_the_ring_takes_its_private_key(open_provider: OpenProvider) -> None:
    first, second = open_provider(), open_provider()
    material = os.urandom(32)
    first.import_tenant_key("kms-key", material)
    first.create_private_key("kms-key", "HMAC_256")
    tag = first.mac("kms-key", "HMAC_SHA_256", MESSAGE)
    second.withdraw_tenant_key("kms-key")
    for provider in (first, second):
        with pytest.raises(KeyWithdrawn):
            provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)
        with pytest.raises(KeyWithdrawn):
            provider.create_private_key("kms-key", "HMAC_256")
    # The same material imported again brings the KEK back, not the secret: it is gone.
    second.import_tenant_key("kms-key", material)
    with pytest.raises(KeyNotFound) as missing:
        first.mac("kms-key", "HMAC_SHA_256", MESSAGE)
    assert not isinstance(missing.value, KeyWithdrawn)
    first.create_private_key("kms-key", "HMAC_256")
    assert second.mac("kms-key", "HMAC_SHA_256", MESSAGE) != tag


def test_a_private_key_made_by_another_instance_is_found_at_once(
    open_provider: OpenProvider,
) -> None:
    first, second = open_provider(), open_provider()
    first.create_tenant_key("kms-key")
    with pytest.raises(KeyNotFound):
        first.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)  # looked up: none
    public_der = second.create_private_key("kms-key", "ECC_SECG_P256K1")
    signature = first.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)
    asymmetric.verify(
        "ECC_SECG_P256K1", public_der, "ECDSA_SHA_256", MESSAGE, signature, digest=False
    )


def test_private_keys_survive_a_restart(open_provider: OpenProvider) -> None:
    first = open_provider()
    first.create_tenant_key("signing")
    first.create_tenant_key("hmac")
    public_der = first.create_private_key("signing", "RSA_2048")
    first.create_private_key("hmac", "HMAC_512")
    tag = first.mac("hmac", "HMAC_SHA_512", MESSAGE)
    first.close()
    later = open_provider()
    signature = later.sign("signing", "RSASSA_PSS_SHA_256", MESSAGE, digest=False)
    asymmetric.verify(
        "RSA_2048", public_der, "RSASSA_PSS_SHA_256", MESSAGE, signature, digest=False
    )
    assert later.mac("hmac", "HMAC_SHA_512", MESSAGE) == tag


# --- imported private keys (AWS ImportKeyMaterial for asymmetric and HMAC keys) ---------------

CustomerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# AWS's bounds on imported HMAC material, in bytes: spec -> (shortest, longest).
HMAC_MATERIAL_BOUNDS = {
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}
_CURVE_OBJECTS: dict[str, ec.EllipticCurve] = {
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
    "ECC_SECG_P256K1": ec.SECP256K1(),
}


@functools.cache
def customer_key(spec: str, public_exponent: int = 65537) -> CustomerKey:
    """The customer's key of ``spec``, made outside the provider (one per spec and process)."""
    if spec in asymmetric.RSA_KEY_SPECS:
        bits = int(spec.rsplit("_", 1)[1])
        return rsa.generate_private_key(public_exponent=public_exponent, key_size=bits)
    return ec.generate_private_key(_CURVE_OBJECTS[spec])


def pkcs8(private: CustomerKey | ed25519.Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki(private: CustomerKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("spec", sorted(CLASSICAL_SPECS))
def test_an_imported_private_key_signs_as_a_generated_one(
    provider: RootKeyProvider, spec: str
) -> None:
    private = customer_key(spec)
    provider.create_tenant_key("kms-key")
    public_der = provider.import_private_key("kms-key", spec, pkcs8(private))
    assert public_der == spki(private)
    for algorithm in asymmetric.signing_algorithms(spec):
        for digest in (False, True):
            message = signed_message(algorithm, digest=digest)
            signature = provider.sign("kms-key", algorithm, message, digest=digest)
            verify_with_cryptography(public_der, algorithm, message, signature, digest=digest)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)


def test_an_imported_rsa_decryption_key_decrypts_oaep(provider: RootKeyProvider) -> None:
    private = customer_key("RSA_3072")
    provider.create_tenant_key("kms-key")
    public_der = provider.import_private_key(
        "kms-key", "RSA_3072", pkcs8(private), rsa_decrypt=True
    )
    assert public_der == spki(private)
    for algorithm in asymmetric.RSA_ENCRYPTION_ALGORITHMS:
        plaintext = os.urandom(190)
        ciphertext = asymmetric.rsa_encrypt(public_der, algorithm, plaintext)
        if algorithm == "RSAES_OAEP_SHA_256" and not offers_oaep_sha256(provider):
            with pytest.raises(AlgorithmNotOffered, match="does not offer RSAES_OAEP_SHA_256"):
                provider.decrypt_private("kms-key", algorithm, ciphertext)
            continue
        assert provider.decrypt_private("kms-key", algorithm, ciphertext) == plaintext
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", "RSASSA_PSS_SHA_256", MESSAGE, digest=False)


def test_an_imported_rsa_key_may_have_another_public_exponent(provider: RootKeyProvider) -> None:
    private = customer_key("RSA_2048", public_exponent=3)
    provider.create_tenant_key("kms-key")
    public_der = provider.import_private_key("kms-key", "RSA_2048", pkcs8(private))
    assert public_der == spki(private)
    signature = provider.sign("kms-key", "RSASSA_PKCS1_V1_5_SHA_256", MESSAGE, digest=False)
    verify_with_cryptography(
        public_der, "RSASSA_PKCS1_V1_5_SHA_256", MESSAGE, signature, digest=False
    )


@pytest.mark.parametrize("spec", sorted(mac.MAC_KEY_SPECS))
def test_an_imported_hmac_secret_makes_the_macs_of_hmac(
    provider: RootKeyProvider, spec: str
) -> None:
    [algorithm] = mac.mac_algorithms(spec)
    hash_name = "sha" + spec.rsplit("_", 1)[1]
    shortest, longest = HMAC_MATERIAL_BOUNDS[spec]
    for ring, size in (("shortest", shortest), ("longest", longest)):
        secret = os.urandom(size)
        provider.create_tenant_key(ring)
        assert provider.import_private_key(ring, spec, secret) == b""
        for message in (MESSAGE, b"", b"\x00" * 4096):
            expected = hmac.new(secret, message, hash_name).digest()
            assert provider.mac(ring, algorithm, message) == expected, (ring, size)
    provider.create_tenant_key("refused")
    for size in (0, 1, shortest - 1, longest + 1, 4096):
        with pytest.raises(MaterialMismatch, match=f"{shortest} to {longest} bytes"):
            provider.import_private_key("refused", spec, os.urandom(size))
    with pytest.raises(KeyNotFound):  # nothing was made
        provider.mac("refused", algorithm, MESSAGE)


def test_material_that_does_not_fit_the_spec_is_refused(provider: RootKeyProvider) -> None:
    rsa_2048, p256 = customer_key("RSA_2048"), customer_key("ECC_NIST_P256")
    encrypted = serialization.BestAvailableEncryption(b"a passphrase")
    cases = {
        "an EC key for an RSA spec": ("RSA_2048", pkcs8(p256)),
        "an RSA key for an EC spec": ("ECC_NIST_P256", pkcs8(rsa_2048)),
        "RSA-2048 for RSA_3072": ("RSA_3072", pkcs8(rsa_2048)),
        "RSA-3072 for RSA_2048": ("RSA_2048", pkcs8(customer_key("RSA_3072"))),
        "P-384 for P-256": ("ECC_NIST_P256", pkcs8(customer_key("ECC_NIST_P384"))),
        "P-256 for secp256k1": ("ECC_SECG_P256K1", pkcs8(p256)),
        "garbage": ("ECC_NIST_P256", os.urandom(138)),
        "nothing": ("RSA_2048", b""),
        "a truncated key": ("RSA_2048", pkcs8(rsa_2048)[:-1]),
        "trailing bytes": ("ECC_NIST_P256", pkcs8(p256) + b"\x00"),
        "an encrypted PKCS#8": (
            "RSA_2048",
            rsa_2048.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, encrypted
            ),
        ),
        "a PKCS#1 RSAPrivateKey": (
            "RSA_2048",
            rsa_2048.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        ),
        "a SEC1 ECPrivateKey": (
            "ECC_NIST_P256",
            p256.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        ),
        "a PEM PKCS#8": (
            "ECC_NIST_P256",
            p256.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
        "a public key": ("RSA_2048", spki(rsa_2048)),
        "a key pair's DER for an HMAC spec": ("HMAC_256", pkcs8(p256)),
    }
    provider.create_tenant_key("kms-key")
    for case, (spec, material) in cases.items():
        with pytest.raises(MaterialMismatch) as refused:
            provider.import_private_key("kms-key", spec, material)
        message = str(refused.value)
        assert spec in message or "key material" in message, case
        tail = material[-16:]  # never quoted, in any form
        assert not tail or all(form not in message for form in (tail.hex(), repr(tail)[2:-1]))
    # Nothing was made: the ring holds no private key, and still takes one.
    with pytest.raises(KeyNotFound):
        provider.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)
    # The spec's own errors are create_private_key's (a ValueError, no MaterialMismatch).
    for spec, rsa_decrypt, match in (
        ("RSA_1024", False, "key spec"),
        ("SYMMETRIC_DEFAULT", False, "key spec"),
        ("ECC_NIST_P256", True, "does not decrypt"),
        ("HMAC_256", True, "does not decrypt"),
    ):
        with pytest.raises(ValueError, match=match) as wrong_spec:
            provider.import_private_key("kms-key", spec, pkcs8(p256), rsa_decrypt=rsa_decrypt)
        assert not isinstance(wrong_spec.value, MaterialMismatch)
    with pytest.raises(ValueError, match="tenant id"):
        provider.import_private_key("a/b", "ECC_NIST_P256", pkcs8(p256))
    assert provider.import_private_key("kms-key", "ECC_NIST_P256", pkcs8(p256)) == spki(p256)


def test_an_imported_private_key_follows_the_rules_of_its_ring(
    open_provider: OpenProvider,
) -> None:
    first, second = open_provider(), open_provider()
    private = customer_key("ECC_NIST_P384")
    material, kek = pkcs8(private), os.urandom(32)

    def signs(provider: RootKeyProvider, ring: str) -> None:
        signature = provider.sign(ring, "ECDSA_SHA_384", MESSAGE, digest=False)
        verify_with_cryptography(spki(private), "ECDSA_SHA_384", MESSAGE, signature, digest=False)

    with pytest.raises(KeyNotFound):
        first.import_private_key("kms-key", "ECC_NIST_P384", material)  # no KEK: no ring
    first.import_tenant_key("kms-key", kek)
    assert first.import_private_key("kms-key", "ECC_NIST_P384", material) == spki(private)
    for spec, again in (("ECC_NIST_P384", material), ("HMAC_256", os.urandom(32))):
        with pytest.raises(KeyAlreadyExists):
            second.import_private_key("kms-key", spec, again)
    with pytest.raises(KeyAlreadyExists):
        second.create_private_key("kms-key", "ECC_NIST_P384")
    signs(second, "kms-key")
    # Withdrawn with its ring; the same material imported again (the KEK first) signs again.
    second.withdraw_tenant_key("kms-key")
    for provider in (first, second):
        with pytest.raises(KeyWithdrawn):
            provider.sign("kms-key", "ECDSA_SHA_384", MESSAGE, digest=False)
        with pytest.raises(KeyWithdrawn):
            provider.import_private_key("kms-key", "ECC_NIST_P384", material)
    first.import_tenant_key("kms-key", kek)
    with pytest.raises(KeyNotFound) as missing:
        second.sign("kms-key", "ECDSA_SHA_384", MESSAGE, digest=False)
    assert not isinstance(missing.value, KeyWithdrawn)
    assert second.import_private_key("kms-key", "ECC_NIST_P384", material) == spki(private)
    signs(first, "kms-key")
    # A ring whose KEK the provider generated, made again after a withdrawal, takes it too.
    first.create_tenant_key("generated")
    first.import_private_key("generated", "ECC_NIST_P384", material)
    first.withdraw_tenant_key("generated")
    second.create_tenant_key("generated")
    assert second.import_private_key("generated", "ECC_NIST_P384", material) == spki(private)
    signs(first, "generated")
    # Destroyed for good: nothing is imported again.
    second.destroy_tenant_key("kms-key")
    for provider in (first, second, open_provider()):
        with pytest.raises(KeyDestroyed):
            provider.import_private_key("kms-key", "ECC_NIST_P384", material)
        with pytest.raises(KeyDestroyed):
            provider.sign("kms-key", "ECDSA_SHA_384", MESSAGE, digest=False)


def test_an_imported_private_key_survives_a_restart(open_provider: OpenProvider) -> None:
    first = open_provider()
    private, secret = customer_key("RSA_2048"), os.urandom(40)
    first.create_tenant_key("signing")
    first.create_tenant_key("hmac")
    first.import_private_key("signing", "RSA_2048", pkcs8(private))
    first.import_private_key("hmac", "HMAC_256", secret)
    first.close()
    later = open_provider()
    signature = later.sign("signing", "RSASSA_PSS_SHA_512", MESSAGE, digest=False)
    verify_with_cryptography(spki(private), "RSASSA_PSS_SHA_512", MESSAGE, signature, digest=False)
    assert (
        later.mac("hmac", "HMAC_SHA_256", MESSAGE) == hmac.new(secret, MESSAGE, "sha256").digest()
    )


# --- what only the PKCS#11 provider promises -------------------------------------------------


def test_pkcs11_keks_never_leave_the_token_and_destruction_removes_them(softhsm: SoftHsm) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    try:
        provider.create_tenant_key("tenant-a")
        provider.rotate_tenant_key("tenant-a")
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:
            template = {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.ID: b"andromede-kek:tenant-a",
            }
            keys = list(session.get_objects(template))
            assert len(keys) == 2
            for key in keys:
                assert key[Attribute.TOKEN] and key[Attribute.SENSITIVE]
                assert not key[Attribute.EXTRACTABLE]
                with pytest.raises(AttributeSensitive):
                    key[Attribute.VALUE]
            provider.destroy_tenant_key("tenant-a")
            assert list(session.get_objects(template)) == []
    finally:
        provider.close()


def test_pkcs11_sees_another_instance_rotate_within_its_lookup_ttl(softhsm: SoftHsm) -> None:
    token = softhsm.new_token()
    slow = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=3600)
    fresh = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=0)
    try:
        slow.create_tenant_key("tenant-a")
        fresh.rotate_tenant_key("tenant-a")
        assert slow.tenant_key_ring("tenant-a").current == 1  # cached: new PUTs still use v1
        assert fresh.tenant_key_ring("tenant-a").current == 2
        # Destruction is never delayed: the cached handle is invalid, the provider re-checks.
        sealed = slow.seal("tenant-a", 1, os.urandom(32), AAD)
        fresh.destroy_tenant_key("tenant-a")
        with pytest.raises(KeyDestroyed):
            slow.open("tenant-a", 1, sealed, AAD)
        with pytest.raises(KeyDestroyed):
            slow.seal("tenant-a", 1, os.urandom(32), AAD)
    finally:
        slow.close()
        fresh.close()


def test_pkcs11_refuses_a_wrong_pin_or_token_without_echoing_the_pin(softhsm: SoftHsm) -> None:
    token = softhsm.new_token()
    with pytest.raises(ProviderError, match="PIN") as wrong_pin:
        Pkcs11Provider(token.library, token.label, "not-the-pin-0000")
    assert "not-the-pin-0000" not in str(wrong_pin.value)
    with pytest.raises(ProviderError, match="no PKCS#11 token"):
        Pkcs11Provider(token.library, "no-such-token", token.pin)


def test_pkcs11_imported_material_is_a_kek_object_like_a_generated_one(softhsm: SoftHsm) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    compared = (
        Attribute.CLASS, Attribute.KEY_TYPE, Attribute.VALUE_LEN, Attribute.TOKEN,
        Attribute.PRIVATE, Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ENCRYPT,
        Attribute.DECRYPT, Attribute.WRAP, Attribute.UNWRAP, Attribute.SIGN, Attribute.VERIFY,
        Attribute.DERIVE, Attribute.MODIFIABLE,
    )  # fmt: skip
    try:
        provider.create_tenant_key("generated")
        provider.import_tenant_key("imported", os.urandom(32))
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:

            def keys_of(tenant: str) -> list[pkcs11.Object]:
                template = {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.ID: b"andromede-kek:" + tenant.encode(),
                }
                return list(session.get_objects(template))

            [generated], [imported] = keys_of("generated"), keys_of("imported")
            assert imported[Attribute.LABEL] == "andromede-kek:imported:v1"
            assert {a: imported[a] for a in compared} == {a: generated[a] for a in compared}
            assert imported[Attribute.SENSITIVE] and not imported[Attribute.EXTRACTABLE]
            with pytest.raises(AttributeSensitive):
                imported[Attribute.VALUE]
            provider.withdraw_tenant_key("imported")
            assert keys_of("imported") == []
            tombstones = session.get_objects({Attribute.CLASS: ObjectClass.DATA})
            assert [t for t in tombstones if "imported" in str(t[Attribute.LABEL])] == []
    finally:
        provider.close()


def test_pkcs11_sees_another_instance_withdraw_and_import_within_its_lookup_ttl(
    softhsm: SoftHsm,
) -> None:
    token = softhsm.new_token()
    slow = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=3600)
    fresh = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=0)
    try:
        material, data_key = os.urandom(32), os.urandom(32)
        with pytest.raises(KeyWithdrawn):
            slow.check_usable("tenant-a")  # looked up empty: remembered for the TTL...
        fresh.import_tenant_key("tenant-a", material)
        slow.check_usable("tenant-a")  # ... but an empty ring is looked up again at once
        sealed = slow.seal("tenant-a", 1, data_key, AAD)
        fresh.withdraw_tenant_key("tenant-a")
        # The cached handle is invalid: the withdrawal is never delayed by the TTL.
        with pytest.raises(KeyWithdrawn):
            slow.check_usable("tenant-a")
        with pytest.raises(KeyNotFound):
            slow.open("tenant-a", 1, sealed, AAD)
        fresh.import_tenant_key("tenant-a", material)
        assert slow.open("tenant-a", 1, sealed, AAD) == data_key
        slow.check_usable("tenant-a")
    finally:
        slow.close()
        fresh.close()


def test_pkcs11_a_pending_version_is_a_kek_object_under_a_label_of_its_own(
    softhsm: SoftHsm,
) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    compared = (
        Attribute.CLASS, Attribute.KEY_TYPE, Attribute.VALUE_LEN, Attribute.TOKEN,
        Attribute.PRIVATE, Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ENCRYPT,
        Attribute.DECRYPT, Attribute.WRAP, Attribute.UNWRAP, Attribute.SIGN, Attribute.VERIFY,
        Attribute.DERIVE, Attribute.MODIFIABLE, Attribute.ID,
    )  # fmt: skip
    try:
        provider.import_tenant_key("kms-key", os.urandom(32))
        provider.import_tenant_key("kms-key", os.urandom(32), version=2, pending=True)
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:

            def keks() -> dict[str, pkcs11.Object]:
                template = {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.ID: b"andromede-kek:kms-key",
                }
                return {str(key[Attribute.LABEL]): key for key in session.get_objects(template)}

            found = keks()
            assert sorted(found) == ["andromede-kek-pending:kms-key:v2", "andromede-kek:kms-key:v1"]
            live, staged = (
                found["andromede-kek:kms-key:v1"],
                found["andromede-kek-pending:kms-key:v2"],
            )
            assert {a: staged[a] for a in compared} == {a: live[a] for a in compared}
            assert staged[Attribute.SENSITIVE] and not staged[Attribute.EXTRACTABLE]
            with pytest.raises(AttributeSensitive):
                staged[Attribute.VALUE]
            # Promotion renames that very object: no copy of the material is made.
            provider.promote_tenant_key("kms-key", 2)
            found = keks()
            assert sorted(found) == ["andromede-kek:kms-key:v1", "andromede-kek:kms-key:v2"]
            promoted = found["andromede-kek:kms-key:v2"]
            assert promoted.handle == staged.handle
            assert {a: promoted[a] for a in compared} == {a: live[a] for a in compared}
            # Withdrawing a version destroys its object alone, and leaves no tombstone.
            provider.import_tenant_key("kms-key", os.urandom(32), version=3, pending=True)
            provider.withdraw_tenant_key("kms-key", 1)
            assert sorted(keks()) == [
                "andromede-kek-pending:kms-key:v3",
                "andromede-kek:kms-key:v2",
            ]
            provider.withdraw_tenant_key("kms-key", 3)
            assert sorted(keks()) == ["andromede-kek:kms-key:v2"]
            tombstones = session.get_objects({Attribute.CLASS: ObjectClass.DATA})
            assert [t for t in tombstones if "kms-key" in str(t[Attribute.LABEL])] == []
            # A ring holding a pending version only is not listed as live.
            provider.import_tenant_key("kms-key", os.urandom(32), version=4, pending=True)
            provider.withdraw_tenant_key("kms-key", 2)
            assert sorted(keks()) == ["andromede-kek-pending:kms-key:v4"]
            assert provider.list_tenants() == []
    finally:
        provider.close()


def test_pkcs11_sees_another_instance_change_versions_within_its_lookup_ttl(
    softhsm: SoftHsm,
) -> None:
    token = softhsm.new_token()
    slow = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=3600)
    fresh = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=0)
    aad_2 = data_key_aad("tenant-a", 2)
    try:
        slow.import_tenant_key("tenant-a", os.urandom(32))
        sealed_1 = slow.seal("tenant-a", 1, os.urandom(32), AAD)  # handle of version 1 cached
        fresh.import_tenant_key("tenant-a", os.urandom(32), version=2, pending=True)
        fresh.promote_tenant_key("tenant-a", 2)
        # The current version shows up within the TTL, as a rotation's does...
        assert slow.tenant_key_ring("tenant-a").current == 1
        assert fresh.tenant_key_ring("tenant-a").current == 2
        # ... but version 2 seals and opens at once: a version not found is looked up again.
        sealed_2 = slow.seal("tenant-a", 2, b"k" * 32, aad_2)
        # A withdrawal is never delayed: the cached handle of version 1 is invalid now.
        fresh.withdraw_tenant_key("tenant-a", 1)
        with pytest.raises(KeyNotFound) as missing:
            slow.open("tenant-a", 1, sealed_1, AAD)
        assert not isinstance(missing.value, KeyWithdrawn)
        slow.check_usable("tenant-a")
        assert slow.open("tenant-a", 2, sealed_2, aad_2) == b"k" * 32
        fresh.withdraw_tenant_key("tenant-a", 2)  # the last live version
        with pytest.raises(KeyWithdrawn):
            slow.check_usable("tenant-a")
        with pytest.raises(KeyWithdrawn):
            slow.open("tenant-a", 2, sealed_2, aad_2)
    finally:
        slow.close()
        fresh.close()


def test_pkcs11_private_keys_never_leave_the_token_and_go_with_their_ring(
    softhsm: SoftHsm,
) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    never_out = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.ALWAYS_SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.NEVER_EXTRACTABLE: True,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    try:
        rings = {
            "signing": ("ECC_NIST_P384", False),
            "ed25519": ("ECC_NIST_EDWARDS25519", False),
            "rsa-signing": ("RSA_2048", False),
            "decrypting": ("RSA_2048", True),
            "hmac": ("HMAC_384", False),
        }
        for ring, (spec, rsa_decrypt) in rings.items():
            provider.create_tenant_key(ring)
            provider.create_private_key(ring, spec, rsa_decrypt=rsa_decrypt)
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:

            def objects_of(ring: str) -> dict[str, pkcs11.Object]:
                found = session.get_objects({Attribute.ID: b"andromede-kek:" + ring.encode()})
                return {str(one[Attribute.LABEL]): one for one in found}

            # No public key object stays on the token: the KMS key's record keeps it.
            assert list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY})) == []
            for ring, (spec, rsa_decrypt) in rings.items():
                objects = objects_of(ring)
                key_label = (
                    f"andromede-secret:{ring}:{spec}"
                    if spec in mac.MAC_KEY_SPECS
                    else f"andromede-private:{ring}:{spec}" + (":decrypt" if rsa_decrypt else "")
                )
                assert sorted(objects) == sorted([f"andromede-kek:{ring}:v1", key_label])
                key = objects[key_label]
                assert {a: key[a] for a in never_out} == never_out, ring
                assert key[Attribute.SIGN] is (not rsa_decrypt)
                assert key[Attribute.DECRYPT] is rsa_decrypt
                secret_attribute = {
                    "signing": Attribute.VALUE,
                    "ed25519": Attribute.VALUE,
                    "rsa-signing": Attribute.PRIVATE_EXPONENT,
                    "decrypting": Attribute.PRIME_1,
                    "hmac": Attribute.VALUE,
                }[ring]
                with pytest.raises(AttributeSensitive):
                    key[secret_attribute]
            hmac_key = objects_of("hmac")["andromede-secret:hmac:HMAC_384"]
            assert hmac_key[Attribute.CLASS] == ObjectClass.SECRET_KEY
            assert hmac_key[Attribute.KEY_TYPE] == KeyType.GENERIC_SECRET
            assert hmac_key[Attribute.VALUE_LEN] == len(mac.generate_mac_key("HMAC_384"))
            assert not hmac_key[Attribute.ENCRYPT] and not hmac_key[Attribute.DECRYPT]
            ed25519_key = objects_of("ed25519")["andromede-private:ed25519:ECC_NIST_EDWARDS25519"]
            assert ed25519_key[Attribute.CLASS] == ObjectClass.PRIVATE_KEY
            assert ed25519_key[Attribute.KEY_TYPE] == KeyType.EC_EDWARDS
            # The curve, named by its OID or (SoftHSM2 on the private half) PKCS#11 3.0's string.
            assert bytes(ed25519_key[Attribute.EC_PARAMS]) in (
                bytes.fromhex("06032b6570"),
                b"\x13\x0cedwards25519",
            )

            provider.destroy_tenant_key("signing")
            provider.destroy_tenant_key("ed25519")
            provider.withdraw_tenant_key("hmac")
            assert objects_of("signing") == {} and objects_of("hmac") == {}
            assert objects_of("ed25519") == {}
            assert len(objects_of("decrypting")) == 2
    finally:
        provider.close()


def test_pkcs11_sees_another_instance_destroy_a_private_key_within_its_lookup_ttl(
    softhsm: SoftHsm,
) -> None:
    token = softhsm.new_token()
    slow = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=3600)
    fresh = Pkcs11Provider(token.library, token.label, token.pin, lookup_ttl_seconds=0)
    try:
        for ring, spec in (("signing", "ECC_NIST_P256"), ("hmac", "HMAC_256")):
            slow.create_tenant_key(ring)
            slow.create_private_key(ring, spec)
        slow.sign("signing", "ECDSA_SHA_256", MESSAGE, digest=False)  # handles cached
        slow.mac("hmac", "HMAC_SHA_256", MESSAGE)
        fresh.destroy_tenant_key("signing")
        fresh.withdraw_tenant_key("hmac")
        # Never delayed by the TTL: the cached handles are invalid, the provider looks again.
        with pytest.raises(KeyDestroyed):
            slow.sign("signing", "ECDSA_SHA_256", MESSAGE, digest=False)
        with pytest.raises(KeyWithdrawn):
            slow.mac("hmac", "HMAC_SHA_256", MESSAGE)
    finally:
        slow.close()
        fresh.close()


def test_pkcs11_imported_private_keys_are_token_objects_like_generated_ones(
    softhsm: SoftHsm,
) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    compared = (
        Attribute.CLASS, Attribute.KEY_TYPE, Attribute.TOKEN, Attribute.PRIVATE,
        Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.SIGN,
        Attribute.DECRYPT, Attribute.UNWRAP, Attribute.DERIVE,
    )  # fmt: skip
    rings = {  # ring -> (spec, rsa_decrypt, material, an attribute the token keeps secret)
        "signing": ("ECC_NIST_P521", False, pkcs8(customer_key("ECC_NIST_P521")), Attribute.VALUE),
        "ed25519": (
            "ECC_NIST_EDWARDS25519", False, pkcs8(ed25519.Ed25519PrivateKey.generate()),
            Attribute.VALUE,
        ),
        "rsa-signing": (
            "RSA_2048", False, pkcs8(customer_key("RSA_2048")), Attribute.PRIVATE_EXPONENT
        ),
        "decrypting": ("RSA_2048", True, pkcs8(customer_key("RSA_2048")), Attribute.PRIME_1),
        "hmac": ("HMAC_384", False, os.urandom(100), Attribute.VALUE),
    }  # fmt: skip
    try:
        for ring, (spec, rsa_decrypt, material, _) in rings.items():
            for prefix in ("imported-", "generated-"):
                provider.create_tenant_key(prefix + ring)
            provider.import_private_key("imported-" + ring, spec, material, rsa_decrypt=rsa_decrypt)
            provider.create_private_key("generated-" + ring, spec, rsa_decrypt=rsa_decrypt)
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:

            def private_key_of(ring: str) -> pkcs11.Object:
                found = session.get_objects({Attribute.ID: b"andromede-kek:" + ring.encode()})
                [key] = [
                    one
                    for one in found
                    if not str(one[Attribute.LABEL]).startswith("andromede-kek:")
                ]
                return key

            # No public key object is made: the public key is computed from the material.
            assert list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY})) == []
            for ring, (_, rsa_decrypt, _, secret_attribute) in rings.items():
                imported = private_key_of("imported-" + ring)
                generated = private_key_of("generated-" + ring)
                assert str(imported[Attribute.LABEL]) == str(generated[Attribute.LABEL]).replace(
                    "generated-", "imported-"
                )
                assert {a: imported[a] for a in compared} == {a: generated[a] for a in compared}
                assert imported[Attribute.SENSITIVE] and not imported[Attribute.EXTRACTABLE]
                assert imported[Attribute.SIGN] is (not rsa_decrypt)
                assert imported[Attribute.DECRYPT] is rsa_decrypt
                with pytest.raises(AttributeSensitive):
                    imported[secret_attribute]
            assert private_key_of("imported-hmac")[Attribute.VALUE_LEN] == 100
            provider.withdraw_tenant_key("imported-signing")
            found = session.get_objects({Attribute.ID: b"andromede-kek:imported-signing"})
            assert list(found) == []
    finally:
        provider.close()


# --- key agreement (KMS KeyUsage KEY_AGREEMENT, DeriveSharedSecret) ---------------------------


def ecdh_with_cryptography(private: ec.EllipticCurvePrivateKey, peer_der: bytes) -> bytes:
    """The other party's side of ECDH, with ``cryptography`` alone."""
    peer = serialization.load_der_public_key(peer_der)
    assert isinstance(peer, ec.EllipticCurvePublicKey)
    return private.exchange(ec.ECDH(), peer)


@pytest.mark.parametrize("spec", sorted(asymmetric.KEY_AGREEMENT_KEY_SPECS))
def test_a_key_agreement_key_derives_what_the_other_party_derives(
    provider: RootKeyProvider, spec: str
) -> None:
    provider.create_tenant_key("kms-key")
    public_der = provider.create_private_key("kms-key", spec, key_agreement=True)
    other = ec.generate_private_key(_CURVE_OBJECTS[spec])
    secret = provider.derive_shared_secret("kms-key", "ECDH", spki(other))
    assert secret == ecdh_with_cryptography(other, public_der)
    assert len(secret) == (_CURVE_OBJECTS[spec].key_size + 7) // 8  # the raw x coordinate
    # Another party, another secret; the same party, the same.
    assert provider.derive_shared_secret("kms-key", "ECDH", spki(other)) == secret
    third = ec.generate_private_key(_CURVE_OBJECTS[spec])
    assert provider.derive_shared_secret("kms-key", "ECDH", spki(third)) != secret
    # A key agreement key does nothing else.
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", asymmetric.signing_algorithms(spec)[0], MESSAGE, digest=False)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)
    with pytest.raises(MacAlgorithmMismatch):
        provider.mac("kms-key", "HMAC_SHA_256", MESSAGE)


def test_a_key_agreement_key_refuses_other_algorithms_and_public_keys(
    provider: RootKeyProvider,
) -> None:
    provider.create_tenant_key("kms-key")
    provider.create_private_key("kms-key", "ECC_NIST_P384", key_agreement=True)
    with pytest.raises(KeyAgreementMismatch):
        provider.derive_shared_secret(
            "kms-key", "ECDH_COFACTOR", spki(customer_key("ECC_NIST_P384"))
        )
    wrong_curve = spki(customer_key("ECC_NIST_P256"))
    rsa_key = spki(customer_key("RSA_2048"))
    truncated = spki(customer_key("ECC_NIST_P384"))[:-5]
    for peer in (wrong_curve, rsa_key, truncated, b"\x30\x00", b"not DER"):
        with pytest.raises(PeerPublicKeyInvalid):
            provider.derive_shared_secret("kms-key", "ECDH", peer)


def test_only_nist_curve_keys_agree_keys_and_other_keys_do_not(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("kms-key")
    for spec in ("ECC_SECG_P256K1", "RSA_2048", "HMAC_256"):
        with pytest.raises(ValueError, match="does not agree keys"):
            provider.create_private_key("kms-key", spec, key_agreement=True)
    with pytest.raises(ValueError, match="does not"):
        provider.create_private_key("kms-key", "RSA_2048", rsa_decrypt=True, key_agreement=True)
    provider.create_private_key("kms-key", "ECC_NIST_P256")  # a signing key
    with pytest.raises(KeyAgreementMismatch):
        provider.derive_shared_secret("kms-key", "ECDH", spki(customer_key("ECC_NIST_P256")))


@pytest.mark.parametrize("spec", sorted(asymmetric.KEY_AGREEMENT_KEY_SPECS))
def test_an_imported_key_agreement_key_derives_as_a_generated_one(
    provider: RootKeyProvider, spec: str
) -> None:
    private = customer_key(spec)
    provider.create_tenant_key("kms-key")
    public_der = provider.import_private_key("kms-key", spec, pkcs8(private), key_agreement=True)
    assert public_der == spki(private)
    other = ec.generate_private_key(_CURVE_OBJECTS[spec])
    expected = private.exchange(ec.ECDH(), other.public_key())  # type: ignore[union-attr]
    assert provider.derive_shared_secret("kms-key", "ECDH", spki(other)) == expected
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", asymmetric.signing_algorithms(spec)[0], MESSAGE, digest=False)


def test_key_agreement_keys_survive_a_restart_and_are_seen_by_another_instance(
    open_provider: OpenProvider,
) -> None:
    first = open_provider()
    try:
        first.create_tenant_key("kms-key")
        public_der = first.create_private_key("kms-key", "ECC_NIST_P521", key_agreement=True)
    finally:
        first.close()
    other = ec.generate_private_key(ec.SECP521R1())
    second = open_provider()
    try:
        secret = second.derive_shared_secret("kms-key", "ECDH", spki(other))
        assert secret == ecdh_with_cryptography(other, public_der)
        with pytest.raises(SigningAlgorithmMismatch):
            second.sign("kms-key", "ECDSA_SHA_512", MESSAGE, digest=False)
    finally:
        second.close()


def test_pkcs11_a_key_agreement_key_derives_in_the_token_and_leaves_no_secret_there(
    softhsm: SoftHsm,
) -> None:
    import pkcs11
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeSensitive

    token = softhsm.new_token()
    provider = Pkcs11Provider(token.library, token.label, token.pin)
    try:
        provider.create_tenant_key("agreeing")
        provider.create_private_key("agreeing", "ECC_NIST_P256", key_agreement=True)
        provider.derive_shared_secret("agreeing", "ECDH", spki(customer_key("ECC_NIST_P256")))
        with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:
            found = list(session.get_objects({Attribute.ID: b"andromede-kek:agreeing"}))
            labels = sorted(str(one[Attribute.LABEL]) for one in found)
            assert labels == [
                "andromede-kek:agreeing:v1",
                "andromede-private:agreeing:ECC_NIST_P256:derive",
            ]
            [key] = [one for one in found if str(one[Attribute.LABEL]).endswith(":derive")]
            assert key[Attribute.DERIVE] and not key[Attribute.SIGN]
            assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
            assert key[Attribute.NEVER_EXTRACTABLE]
            with pytest.raises(AttributeSensitive):
                key[Attribute.VALUE]
            # The derived secret was a session object of the provider's session, gone at once:
            # no generic secret is left on the token.
            from pkcs11 import KeyType, ObjectClass

            secrets_left = session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
                }
            )
            assert list(secrets_left) == []
    finally:
        provider.close()


# --- ML-DSA (FIPS 204): the key file signs, a PKCS#11 2.40 token does not offer it ----------


def ml_dsa_mu(public_der: bytes, message: bytes) -> bytes:
    """μ of ``message`` for the key, computed by the signer's side with ``cryptography``."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, asymmetric.MlDsaPublicKey)
    hasher = mldsa.MLDSAMuHasher(public)
    hasher.update(message)
    return hasher.finalize()


def verify_ml_dsa(public_der: bytes, message: bytes, signature: bytes) -> None:
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, asymmetric.MlDsaPublicKey)
    public.verify(signature, message)


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_DSA_KEY_SPECS))
def test_an_ml_dsa_key_signs_raw_and_external_mu_messages(
    provider: RootKeyProvider, spec: str
) -> None:
    provider.create_tenant_key("kms-key")
    if isinstance(provider, Pkcs11Provider):
        with pytest.raises(AlgorithmNotOffered, match=spec):
            provider.create_private_key("kms-key", spec)
        with pytest.raises(KeyNotFound):  # the ring holds no private key, and still seals
            provider.sign("kms-key", "ML_DSA_SHAKE_256", MESSAGE, digest=False)
        provider.seal("kms-key", 1, b"k" * 32, data_key_aad("kms-key", 1))
        return
    public_der = provider.create_private_key("kms-key", spec)
    sizes = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}  # FIPS 204, table 2
    signature = provider.sign("kms-key", "ML_DSA_SHAKE_256", MESSAGE, digest=False)
    assert len(signature) == sizes[spec]
    verify_ml_dsa(public_der, MESSAGE, signature)
    asymmetric.verify(spec, public_der, "ML_DSA_SHAKE_256", MESSAGE, signature, digest=False)
    # EXTERNAL_MU: the caller computed μ; the signature is one over the message itself.
    mu = ml_dsa_mu(public_der, MESSAGE)
    by_mu = provider.sign("kms-key", "ML_DSA_SHAKE_256", mu, digest=True)
    verify_ml_dsa(public_der, MESSAGE, by_mu)
    with pytest.raises(SignatureMismatch):
        asymmetric.verify(spec, public_der, "ML_DSA_SHAKE_256", MESSAGE + b"!", by_mu, digest=False)
    with pytest.raises(DigestLengthMismatch):
        provider.sign("kms-key", "ML_DSA_SHAKE_256", mu[:32], digest=True)
    for other in ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256"):
        with pytest.raises(SigningAlgorithmMismatch):
            provider.sign("kms-key", other, MESSAGE, digest=False)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", b"\x00" * 256)


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_DSA_KEY_SPECS))
def test_imported_ml_dsa_material_signs_as_a_generated_key(
    provider: RootKeyProvider, spec: str
) -> None:
    classes = {
        "ML_DSA_44": mldsa.MLDSA44PrivateKey,
        "ML_DSA_65": mldsa.MLDSA65PrivateKey,
        "ML_DSA_87": mldsa.MLDSA87PrivateKey,
    }
    private = classes[spec].generate()
    material = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    provider.create_tenant_key("kms-key")
    if isinstance(provider, Pkcs11Provider):
        with pytest.raises(AlgorithmNotOffered):
            provider.import_private_key("kms-key", spec, material)
        return
    other_set = next(name for name in classes if name != spec)
    with pytest.raises(MaterialMismatch):  # another parameter set
        provider.import_private_key("kms-key", other_set, material)
    public_der = provider.import_private_key("kms-key", spec, material)
    assert public_der == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verify_ml_dsa(
        public_der, MESSAGE, provider.sign("kms-key", "ML_DSA_SHAKE_256", MESSAGE, digest=False)
    )


# --- ML-KEM (FIPS 203): the key file decapsulates, a PKCS#11 2.40 token does not offer it ---

_ML_KEM_CLASSES = {"ML_KEM_768": mlkem.MLKEM768PrivateKey, "ML_KEM_1024": mlkem.MLKEM1024PrivateKey}


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_KEM_KEY_SPECS))
def test_an_ml_kem_key_decapsulates_what_its_public_key_encapsulated(
    provider: RootKeyProvider, spec: str
) -> None:
    provider.create_tenant_key("kms-key")
    if isinstance(provider, Pkcs11Provider):
        with pytest.raises(AlgorithmNotOffered, match=spec):
            provider.create_private_key("kms-key", spec)
        with pytest.raises(KeyNotFound):
            provider.decapsulate("kms-key", "ML_KEM", b"\x00" * 1088)
        return
    public_der = provider.create_private_key("kms-key", spec)
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, asymmetric.MlKemPublicKey)
    secret, ciphertext = public.encapsulate()  # the other party, with the public key alone
    assert provider.decapsulate("kms-key", "ML_KEM", ciphertext) == secret
    # Implicit rejection: an altered ciphertext gives another 32 bytes, never an error.
    altered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    rejected = provider.decapsulate("kms-key", "ML_KEM", altered)
    assert len(rejected) == 32 and rejected != secret
    with pytest.raises(DecapsulationFailed):
        provider.decapsulate("kms-key", "ML_KEM", ciphertext[:-1])
    with pytest.raises(EncapsulationMismatch):
        provider.decapsulate("kms-key", "RSAES_OAEP_SHA_256", ciphertext)
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", "ML_DSA_SHAKE_256", MESSAGE, digest=False)
    with pytest.raises(EncryptionAlgorithmMismatch):
        provider.decrypt_private("kms-key", "RSAES_OAEP_SHA_1", ciphertext)


def test_other_keys_do_not_decapsulate(provider: RootKeyProvider) -> None:
    provider.create_tenant_key("kms-key")
    provider.create_private_key("kms-key", "ECC_NIST_P256")
    with pytest.raises(EncapsulationMismatch):
        provider.decapsulate("kms-key", "ML_KEM", b"\x00" * 1088)


@pytest.mark.parametrize("spec", sorted(asymmetric.ML_KEM_KEY_SPECS))
def test_imported_ml_kem_material_decapsulates_as_a_generated_key(
    provider: RootKeyProvider, spec: str
) -> None:
    private = _ML_KEM_CLASSES[spec].generate()
    material = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    provider.create_tenant_key("kms-key")
    if isinstance(provider, Pkcs11Provider):
        with pytest.raises(AlgorithmNotOffered):
            provider.import_private_key("kms-key", spec, material)
        return
    other = next(name for name in _ML_KEM_CLASSES if name != spec)
    with pytest.raises(MaterialMismatch):
        provider.import_private_key("kms-key", other, material)
    provider.import_private_key("kms-key", spec, material)
    secret, ciphertext = private.public_key().encapsulate()
    assert provider.decapsulate("kms-key", "ML_KEM", ciphertext) == secret


# --- Ed25519: the key file signs, and so does the token (CKM_EDDSA, decision 0135) ----------


def test_an_ed25519_key_signs_raw_messages(open_provider: OpenProvider) -> None:
    provider = open_provider()
    provider.create_tenant_key("kms-key")
    public_der = provider.create_private_key("kms-key", "ECC_NIST_EDWARDS25519")
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signature = provider.sign("kms-key", "ED25519_SHA_512", MESSAGE, digest=False)
    assert len(signature) == 64
    public.verify(signature, MESSAGE)  # offline, from the public key alone
    with pytest.raises(InvalidSignature):
        public.verify(signature, MESSAGE + b"!")
    # RFC 8032 signatures are deterministic: the same message, the same signature, from this
    # instance and from one started later (another process: the key is found again).
    assert provider.sign("kms-key", "ED25519_SHA_512", MESSAGE, digest=False) == signature
    assert open_provider().sign("kms-key", "ED25519_SHA_512", MESSAGE, digest=False) == signature
    with pytest.raises(DigestLengthMismatch):  # pure Ed25519 takes no DIGEST
        provider.sign("kms-key", "ED25519_SHA_512", hashlib.sha512(MESSAGE).digest(), digest=True)
    with pytest.raises(SigningAlgorithmMismatch):
        provider.sign("kms-key", "ECDSA_SHA_256", MESSAGE, digest=False)


def test_imported_ed25519_material_signs_as_a_generated_key(provider: RootKeyProvider) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    material = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    provider.create_tenant_key("kms-key")
    with pytest.raises(MaterialMismatch):
        provider.import_private_key("kms-key", "ECC_NIST_P256", material)
    public_der = provider.import_private_key("kms-key", "ECC_NIST_EDWARDS25519", material)
    assert public_der == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Byte for byte the signature any RFC 8032 implementation makes with the customer's seed,
    # whether the seed is in a key file or in the token.
    for message in (MESSAGE, b"", os.urandom(4096)):
        signature = provider.sign("kms-key", "ED25519_SHA_512", message, digest=False)
        assert signature == private.sign(message)
