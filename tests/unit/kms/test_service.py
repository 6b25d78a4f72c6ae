"""KeyService over the key-file provider: data keys, rotation, caching, object encryption."""

from __future__ import annotations

import hmac
import os
from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms import asymmetric
from andromede.kms import service as service_module
from andromede.kms.chunks import ChunkDecryptor, blob_salt, derive_chunk_key, format_of_salt
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.model import TenantKeyRing, WrappedDataKey, context_digest
from andromede.kms.providers import MaterialMismatch
from andromede.kms.service import (
    IntegrityError,
    InvalidWrappedKey,
    KeyDestroyed,
    KeyNotFound,
    KeyService,
    KeyWithdrawn,
)


class CountingProvider(LocalKeyFileProvider):
    """The real key-file provider, counting how often a data key is opened."""

    opens = 0

    def open(self, tenant_id: str, kek_version: int, sealed: bytes, aad: bytes) -> bytearray:
        self.opens += 1
        return super().open(tenant_id, kek_version, sealed, aad)


@pytest.fixture
def provider(tmp_path: Path) -> CountingProvider:
    return CountingProvider(tmp_path / "keys")


@pytest.fixture
def keys(provider: CountingProvider) -> KeyService:
    service = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100, chunk_size=64)
    service.create_tenant_key("tenant-a")
    return service


def uncached(provider: CountingProvider) -> KeyService:
    return KeyService(provider, cache_ttl_seconds=0, cache_max_entries=0, chunk_size=64)


def test_a_new_data_key_unwraps_to_itself(keys: KeyService, provider: CountingProvider) -> None:
    data_key, wrapped, _ = keys.new_data_key("tenant-a")
    assert len(data_key) == 32
    assert bytes(data_key) not in wrapped
    parsed = WrappedDataKey.decode(wrapped)
    assert (parsed.tenant_id, parsed.kek_version) == ("tenant-a", 1)
    assert uncached(provider).unwrap_data_key("tenant-a", wrapped) == data_key
    assert keys.new_data_key("tenant-a").plaintext != data_key


def test_unwrapping_is_cached(keys: KeyService, provider: CountingProvider) -> None:
    _, wrapped, _ = keys.new_data_key("tenant-a")
    fresh = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100)
    first = fresh.unwrap_data_key("tenant-a", wrapped)
    assert fresh.unwrap_data_key("tenant-a", wrapped) == first
    assert provider.opens == 1


def test_a_wrapped_key_of_another_tenant_is_refused(
    keys: KeyService, provider: CountingProvider
) -> None:
    keys.create_tenant_key("tenant-b")
    _, wrapped, _ = keys.new_data_key("tenant-a")
    with pytest.raises(InvalidWrappedKey, match="another tenant"):
        uncached(provider).unwrap_data_key("tenant-b", wrapped)
    # Relabelled as tenant-b's: the AAD still names tenant-a, so it does not open.
    parsed = WrappedDataKey.decode(wrapped)
    relabelled = WrappedDataKey("tenant-b", parsed.kek_version, parsed.sealed).encode()
    with pytest.raises(InvalidWrappedKey):
        uncached(provider).unwrap_data_key("tenant-b", relabelled)


def test_damaged_wrapped_keys_are_refused(keys: KeyService, provider: CountingProvider) -> None:
    _, wrapped, _ = keys.new_data_key("tenant-a")
    service = uncached(provider)
    damaged = [wrapped[:-1], wrapped + b"\x00", b"", b"\x02" + wrapped[1:]]
    for position in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[position] ^= 0x01
        damaged.append(bytes(flipped))
    for blob in damaged:
        # A flipped version byte may name a version that does not exist: also a refusal.
        with pytest.raises((InvalidWrappedKey, KeyNotFound)):
            service.unwrap_data_key("tenant-a", blob)


def test_rotation_wraps_new_keys_under_the_new_version(
    keys: KeyService, provider: CountingProvider
) -> None:
    old_key, old, _ = keys.new_data_key("tenant-a")
    assert keys.rotate_tenant_key("tenant-a") == TenantKeyRing("tenant-a", (1, 2))
    _, new, _ = keys.new_data_key("tenant-a")
    assert WrappedDataKey.decode(new).kek_version == 2
    service = uncached(provider)
    assert service.unwrap_data_key("tenant-a", old) == old_key
    rewrapped = service.rewrap_data_key("tenant-a", old)
    assert WrappedDataKey.decode(rewrapped).kek_version == 2
    assert service.unwrap_data_key("tenant-a", rewrapped) == old_key
    assert service.rewrap_data_key("tenant-a", rewrapped) == rewrapped


def test_destroying_drops_cached_keys_at_once(keys: KeyService) -> None:
    _, wrapped, _ = keys.new_data_key("tenant-a")
    keys.unwrap_data_key("tenant-a", wrapped)
    keys.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        keys.unwrap_data_key("tenant-a", wrapped)
    with pytest.raises(KeyDestroyed):
        keys.new_data_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        keys.ensure_tenant_key("tenant-a")


def test_a_rings_private_key_is_made_and_used_by_the_provider(keys: KeyService) -> None:
    message = b"a message"
    for ring in ("signing", "decrypting", "hmac"):
        keys.create_tenant_key(ring)
    signing_public = keys.create_private_key("signing", "ECC_NIST_P256")
    decrypting_public = keys.create_private_key("decrypting", "RSA_2048", rsa_decrypt=True)
    assert keys.create_private_key("hmac", "HMAC_256") == b""
    signature = keys.sign("signing", "ECDSA_SHA_256", message, digest=False)
    asymmetric.verify(
        "ECC_NIST_P256", signing_public, "ECDSA_SHA_256", message, signature, digest=False
    )
    ciphertext = asymmetric.rsa_encrypt(decrypting_public, "RSAES_OAEP_SHA_256", b"secret")
    assert keys.decrypt_private("decrypting", "RSAES_OAEP_SHA_256", ciphertext) == b"secret"
    tag = keys.mac("hmac", "HMAC_SHA_256", message)
    assert len(tag) == 32 and keys.mac("hmac", "HMAC_SHA_256", message) == tag
    for call in (
        partial(keys.create_private_key, "a/b", "HMAC_256"),
        partial(keys.sign, "a/b", "ECDSA_SHA_256", message, digest=False),
        partial(keys.decrypt_private, "a/b", "RSAES_OAEP_SHA_256", ciphertext),
        partial(keys.mac, "a/b", "HMAC_SHA_256", message),
    ):
        with pytest.raises(ValueError, match="tenant id"):
            call()
    keys.destroy_tenant_key("signing")
    keys.withdraw_tenant_key("hmac")
    with pytest.raises(KeyDestroyed):
        keys.sign("signing", "ECDSA_SHA_256", message, digest=False)
    with pytest.raises(KeyWithdrawn):
        keys.mac("hmac", "HMAC_SHA_256", message)


def test_a_rings_private_key_may_be_imported(keys: KeyService) -> None:
    message = b"a message"
    private = ec.generate_private_key(ec.SECP256K1())
    material = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys.create_tenant_key("signing")
    keys.create_tenant_key("hmac")
    assert keys.import_private_key("signing", "ECC_SECG_P256K1", material) == public_der
    signature = keys.sign("signing", "ECDSA_SHA_256", message, digest=False)
    asymmetric.verify(
        "ECC_SECG_P256K1", public_der, "ECDSA_SHA_256", message, signature, digest=False
    )
    secret = os.urandom(48)
    with pytest.raises(MaterialMismatch):
        keys.import_private_key("hmac", "HMAC_384", secret[:47])
    assert keys.import_private_key("hmac", "HMAC_384", secret) == b""
    assert keys.mac("hmac", "HMAC_SHA_384", message) == hmac.new(secret, message, "sha384").digest()
    with pytest.raises(ValueError, match="tenant id"):
        keys.import_private_key("a/b", "HMAC_384", secret)


def test_withdrawing_drops_cached_keys_until_the_material_comes_back(keys: KeyService) -> None:
    material = os.urandom(32)
    assert keys.import_tenant_key("ext", material).versions == (1,)
    data_key, wrapped, _ = keys.new_data_key("ext")
    bucket_key = keys.new_bucket_data_key("ext", b"bucket", b"object")
    assert keys.unwrap_data_key("ext", wrapped) == data_key  # cached from here on
    keys.withdraw_tenant_key("ext")
    assert "ext" not in keys._fresh_keys
    with pytest.raises(KeyWithdrawn):
        keys.unwrap_data_key("ext", wrapped)
    with pytest.raises(KeyWithdrawn):
        keys.data_key_cipher("ext", wrapped)
    with pytest.raises(KeyWithdrawn):
        keys.unwrap_bucket_data_key(
            "ext", bucket_key.bucket_key, b"bucket", bucket_key.wrapped, b"object"
        )
    with pytest.raises(KeyWithdrawn):
        keys.new_data_key("ext")
    with pytest.raises(KeyWithdrawn):
        keys.check_usable("ext")
    keys.unwrap_data_key("tenant-a", keys.new_data_key("tenant-a").wrapped)  # others untouched

    keys.import_tenant_key("ext", material)
    assert keys.unwrap_data_key("ext", wrapped) == data_key
    assert (
        keys.unwrap_bucket_data_key(
            "ext", bucket_key.bucket_key, b"bucket", bucket_key.wrapped, b"object"
        )
        == bucket_key.plaintext
    )


def test_promoting_or_withdrawing_a_version_drops_the_rings_cached_keys(
    keys: KeyService, provider: CountingProvider
) -> None:
    first, second = os.urandom(32), os.urandom(32)
    keys.import_tenant_key("ext", first)
    data_key_1, wrapped_1, _ = keys.new_data_key("ext")  # a batch of fresh keys is held
    assert keys.unwrap_data_key("ext", wrapped_1) == data_key_1  # cached from here on
    _, kept, _ = keys.new_data_key("tenant-a")
    # Staged: nothing changes, new keys are still wrapped under version 1.
    assert keys.import_tenant_key("ext", second, version=2, pending=True).versions == (1,)
    assert WrappedDataKey.decode(keys.new_data_key("ext").wrapped).kek_version == 1
    # Promoted: the fresh keys of version 1 go, and so do the cached keys.
    assert keys.promote_tenant_key("ext", 2).current == 2
    assert "ext" not in keys._fresh_keys
    opens = provider.opens
    assert keys.unwrap_data_key("ext", wrapped_1) == data_key_1  # opened again, and cached
    assert provider.opens == opens + 1
    data_key_2, wrapped_2, _ = keys.new_data_key("ext")
    assert WrappedDataKey.decode(wrapped_2).kek_version == 2
    # Version 1 withdrawn: its cached key goes with the others (check_usable asks about the
    # ring, which is still usable, so a cached key of version 1 would otherwise be used).
    keys.withdraw_tenant_key("ext", 1)
    assert "ext" not in keys._fresh_keys
    with pytest.raises(KeyNotFound) as missing:
        keys.unwrap_data_key("ext", wrapped_1)
    assert not isinstance(missing.value, KeyWithdrawn)
    opens = provider.opens
    assert keys.unwrap_data_key("ext", wrapped_2) == data_key_2
    assert provider.opens == opens + 1
    assert keys.unwrap_data_key("tenant-a", kept)  # other rings are untouched
    # The same material imported again as version 1 opens what it wrapped.
    keys.import_tenant_key("ext", first)
    assert keys.unwrap_data_key("ext", wrapped_1) == data_key_1
    assert WrappedDataKey.decode(keys.new_data_key("ext").wrapped).kek_version == 2
    for call in (
        partial(keys.promote_tenant_key, "a/b", 2),
        partial(keys.withdraw_tenant_key, "a/b", 2),
        partial(keys.import_tenant_key, "a/b", first, version=2, pending=True),
    ):
        with pytest.raises(ValueError, match="tenant id"):
            call()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def two_workers(tmp_path: Path, clock: Clock) -> tuple[KeyService, KeyService]:
    """Two worker processes: each its own provider instance over one keystore, its own cache;
    the first rechecks the keystore at most every second of ``clock``."""
    worker = KeyService(
        LocalKeyFileProvider(tmp_path / "keys", recheck_seconds=1.0, clock=clock),
        cache_ttl_seconds=300,
        cache_max_entries=100,
    )
    return worker, KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300)


def test_a_destruction_by_another_process_makes_its_cached_keys_unusable(tmp_path: Path) -> None:
    clock = Clock()
    worker, other = two_workers(tmp_path, clock)
    worker.create_tenant_key("tenant-a")
    worker.create_tenant_key("tenant-b")
    _, wrapped, _ = worker.new_data_key("tenant-a")
    _, kept, _ = worker.new_data_key("tenant-b")
    bucket_key = worker.new_bucket_data_key("tenant-a", b"bucket", b"object")
    assert worker.unwrap_data_key("tenant-a", wrapped)  # cached from here on
    other.destroy_tenant_key("tenant-a")
    # Within key_file_recheck_interval the worker has not looked at the keystore again...
    assert worker.unwrap_data_key("tenant-a", wrapped)
    clock.now += 1.5
    # ... after it, the cached key is refused and dropped, well before the cache TTL.
    with pytest.raises(KeyDestroyed):
        worker.unwrap_data_key("tenant-a", wrapped)
    with pytest.raises(KeyDestroyed):
        worker.unwrap_bucket_data_key(
            "tenant-a", bucket_key.bucket_key, b"bucket", bucket_key.wrapped, b"object"
        )
    with pytest.raises(KeyDestroyed):
        worker.new_bucket_data_key("tenant-a", b"bucket", b"object")
    assert worker.unwrap_data_key("tenant-b", kept)  # other tenants are untouched


def test_a_withdrawal_by_another_process_makes_its_cached_keys_unusable(tmp_path: Path) -> None:
    clock = Clock()
    worker, other = two_workers(tmp_path, clock)
    material = os.urandom(32)
    worker.import_tenant_key("ext", material)
    worker.create_tenant_key("tenant-b")
    data_key, wrapped, _ = worker.new_data_key("ext")
    _, kept, _ = worker.new_data_key("tenant-b")
    bucket_key = worker.new_bucket_data_key("ext", b"bucket", b"object")
    assert worker.unwrap_data_key("ext", wrapped)  # cached from here on
    other.withdraw_tenant_key("ext")
    # Within key_file_recheck_interval the worker has not looked at the keystore again...
    assert worker.unwrap_data_key("ext", wrapped)
    clock.now += 1.5
    # ... after it, the cached keys are refused and dropped, well before the cache TTL.
    with pytest.raises(KeyWithdrawn):
        worker.unwrap_data_key("ext", wrapped)
    with pytest.raises(KeyWithdrawn):
        worker.unwrap_bucket_data_key(
            "ext", bucket_key.bucket_key, b"bucket", bucket_key.wrapped, b"object"
        )
    with pytest.raises(KeyWithdrawn):
        worker.new_bucket_data_key("ext", b"bucket", b"object")
    with pytest.raises(KeyWithdrawn):
        worker.new_data_key("ext")
    assert worker.unwrap_data_key("tenant-b", kept)  # other rings are untouched
    # The same material imported again (by either process): what it wrapped opens again, from
    # the provider (the cache was dropped), without waiting for a recheck.
    other.import_tenant_key("ext", material)
    opens = worker.provider_calls["ext"]
    assert worker.unwrap_data_key("ext", wrapped) == data_key
    assert worker.provider_calls["ext"] == opens + 1


def test_a_cached_key_is_checked_on_every_hit(tmp_path: Path) -> None:
    worker = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300)
    other = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300)
    worker.create_tenant_key("tenant-a")
    _, wrapped, _ = worker.new_data_key("tenant-a")
    other.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        worker.unwrap_data_key("tenant-a", wrapped)


def test_ensure_creates_once(keys: KeyService) -> None:
    assert keys.ensure_tenant_key("tenant-b").versions == (1,)
    keys.rotate_tenant_key("tenant-b")
    assert keys.ensure_tenant_key("tenant-b").current == 2
    assert keys.list_tenants() == ["tenant-a", "tenant-b"]


def test_a_tenant_without_a_key_gets_no_data_key(keys: KeyService) -> None:
    with pytest.raises(KeyNotFound):
        keys.new_data_key("tenant-z")


def test_objects_round_trip_through_the_service(keys: KeyService) -> None:
    data_key, wrapped, _ = keys.new_data_key("tenant-a")
    plaintext = os.urandom(1000)
    encryptor = keys.object_encryptor(data_key, "blob-7")
    blob = bytes(encryptor.update(plaintext) + encryptor.finish())
    assert len(blob) == keys.stored_size(len(plaintext))
    assert keys.plaintext_size(len(blob)) == len(plaintext)
    assert keys.read_block_size == 16 * (64 + 16)

    key = keys.unwrap_data_key("tenant-a", wrapped)
    plan = keys.plan_range(len(plaintext), 100, 300)
    decryptor = keys.object_decryptor(key, "blob-7", blob[: keys.header_size], plan)
    got = decryptor.update(blob[plan.ciphertext_start : plan.ciphertext_end])
    decryptor.finish()
    assert got == plaintext[100:300]
    with pytest.raises(IntegrityError):
        keys.object_decryptor(key, "blob-8", blob[: keys.header_size], plan).update(
            blob[plan.ciphertext_start : plan.ciphertext_end]
        )


def test_destroying_drops_cached_chunk_keys_too(keys: KeyService) -> None:
    data_key, _, _ = keys.new_data_key("tenant-a")
    encryptor = keys.object_encryptor(data_key, "blob")
    encryptor.update(b"x" * 10)
    encryptor.finish()
    assert len(keys._chunk_keys) == 1
    keys.destroy_tenant_key("tenant-a")
    assert len(keys._chunk_keys) == 0


def test_an_object_reads_back_through_cached_chunk_keys(keys: KeyService) -> None:
    data_key, _, _ = keys.new_data_key("tenant-a")
    encryptor = keys.object_encryptor(data_key, "blob")
    blob = encryptor.update(b"y" * 200) + encryptor.finish()
    for _ in range(2):  # the first read hits the key the PUT cached, the second too
        plan = keys.plan_range(200, 0, 200)
        decryptor = keys.object_decryptor(data_key, "blob", blob[: keys.header_size], plan)
        assert decryptor.update(blob[plan.ciphertext_start : plan.ciphertext_end]) == b"y" * 200
        decryptor.finish()
    assert len(keys._chunk_keys) == 1
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    plan = keys.plan_range(200, 0, 200)
    decryptor = keys.object_decryptor(data_key, "blob", tampered[: keys.header_size], plan)
    with pytest.raises(IntegrityError):
        decryptor.update(tampered[plan.ciphertext_start : plan.ciphertext_end])


def test_a_bound_data_key_opens_only_with_its_context(
    keys: KeyService, provider: CountingProvider
) -> None:
    bound = context_digest({"aws:s3:arn": "arn:aws:s3:::b/k", "team": "blue"})
    assert bound == context_digest({"team": "blue", "aws:s3:arn": "arn:aws:s3:::b/k"})
    assert context_digest({}) == b""  # no context: wrapped as before
    data_key, wrapped, _ = keys.new_data_key("tenant-a", bound)
    other = context_digest({"aws:s3:arn": "arn:aws:s3:::b/k", "team": "red"})
    for context in (b"", other):
        with pytest.raises(IntegrityError):
            uncached(provider).unwrap_data_key("tenant-a", wrapped, context)
        # The cache is filed by context too: a cached key is no way around the check.
        with pytest.raises(IntegrityError):
            keys.unwrap_data_key("tenant-a", wrapped, context)
    assert uncached(provider).unwrap_data_key("tenant-a", wrapped, bound) == data_key
    assert keys.unwrap_data_key("tenant-a", wrapped, bound) == data_key
    assert keys.provider_calls["tenant-a"] == 3  # the wrap and the two refused unwraps


class CheckCountingProvider(LocalKeyFileProvider):
    checks = 0

    def check_usable(self, tenant_id: str) -> None:
        self.checks += 1
        super().check_usable(tenant_id)


def _one_blob(keys: KeyService, size: int, *, fresh: bool = True) -> tuple[bytes, bytes, bytes]:
    """A blob's wrapped key, its stored bytes and its salt (``NO_SALT`` in format 2)."""
    new = keys.new_data_key("tenant-a")
    if fresh:  # as the object path writes: format 2 under the new key's own AES-GCM object
        encryptor = keys.fresh_blob_encryptor(new.cipher, "blob")
    else:
        encryptor = keys.object_encryptor(new.plaintext, "blob")
    wrapped = new.wrapped
    blob = bytes(encryptor.update(os.urandom(size)) + encryptor.finish())
    return wrapped, blob, blob_salt(blob[: keys.header_size], keys.chunk_size)


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-key", "salted"])
def test_a_blob_chunk_key_is_the_blob_s_and_checked_on_every_hit(
    tmp_path: Path, fresh: bool
) -> None:
    provider = CheckCountingProvider(tmp_path / "keys")
    keys = KeyService(provider, cache_ttl_seconds=300, chunk_size=64)
    keys.create_tenant_key("tenant-a")
    wrapped, blob, salt = _one_blob(keys, 100, fresh=fresh)
    version = format_of_salt(salt)
    plan = keys.plan_range(100, 0, 100)
    for _ in range(2):
        aead = keys.blob_chunk_key("tenant-a", wrapped, b"", salt)
        decryptor = ChunkDecryptor.with_chunk_key(aead, "blob", plan, version)
        decryptor.update(blob[plan.ciphertext_start : plan.ciphertext_end])
        decryptor.finish()
    assert provider.checks == 2
    # The caller's own check of the ring, made for this use, stands for the provider's.
    keys.blob_chunk_key("tenant-a", wrapped, b"", salt, ring_checked=True)
    assert provider.checks == 2
    with pytest.raises(IntegrityError):  # another blob's id: its chunks do not open
        ChunkDecryptor.with_chunk_key(aead, "other", plan, version).update(
            blob[plan.ciphertext_start : plan.ciphertext_end]
        )


def test_a_cached_blob_chunk_key_is_refused_once_another_process_destroys_the_ring(
    tmp_path: Path,
) -> None:
    worker = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300)
    other = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300)
    worker.create_tenant_key("tenant-a")
    wrapped, _, salt = _one_blob(worker, 10)
    assert worker.blob_chunk_key("tenant-a", wrapped, b"", salt)  # cached a moment before
    other.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        worker.blob_chunk_key("tenant-a", wrapped, b"", salt)
    # ... and the refusal dropped what the worker held: not even a checked use finds it.
    assert len(worker._cache) == 0
    with pytest.raises(KeyDestroyed):
        worker.blob_chunk_key("tenant-a", wrapped, b"", salt, ring_checked=True)


def test_a_blob_chunk_key_needs_the_context_its_data_key_is_bound_to(keys: KeyService) -> None:
    bound = context_digest({"purpose": "test"})
    data_key, wrapped, _ = keys.new_data_key("tenant-a", bound)
    encryptor = keys.object_encryptor(data_key, "blob")
    blob = bytes(encryptor.update(b"z" * 10) + encryptor.finish())
    salt = blob_salt(blob[: keys.header_size], keys.chunk_size)
    assert keys.blob_chunk_key("tenant-a", wrapped, bound, salt)
    keys._cache.clear()
    with pytest.raises(InvalidWrappedKey):
        keys.blob_chunk_key("tenant-a", wrapped, b"", salt)
    assert keys.blob_chunk_key("tenant-a", wrapped, bound, salt)  # unwrapped, then cached


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-key", "salted"])
def test_a_blob_s_first_read_takes_the_chunk_key_its_write_derived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: bool
) -> None:
    # A GET right after the PUT (what benchmarks and many clients do) must not derive the
    # blob's chunk key again: its write left it in a cache (format 1: the chunk-key cache;
    # format 2: the new key's object, filed with the data key, is never derived at all).
    derived: list[bytes] = []

    def counting(data_key: bytes, salt: bytes) -> AESGCM:
        derived.append(salt)
        return derive_chunk_key(data_key, salt)

    monkeypatch.setattr(service_module, "derive_chunk_key", counting)
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=300, chunk_size=64)
    keys.create_tenant_key("tenant-a")
    wrapped, blob, salt = _one_blob(keys, 100, fresh=fresh)
    written = [] if fresh else [salt]
    assert derived == written
    plan = keys.plan_range(100, 0, 100)
    aead = keys.blob_chunk_key("tenant-a", wrapped, b"", salt)
    decryptor = ChunkDecryptor.with_chunk_key(aead, "blob", plan, format_of_salt(salt))
    assert len(decryptor.update(blob[plan.ciphertext_start : plan.ciphertext_end])) == 100
    assert derived == written
    # Destruction still reaches it: the ring's data keys go, and with them the way to it.
    keys.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        keys.blob_chunk_key("tenant-a", wrapped, b"", salt, ring_checked=True)


def test_a_data_key_cipher_opens_in_another_process_once_then_from_the_cache(
    keys: KeyService, provider: CountingProvider
) -> None:
    new = keys.new_data_key("tenant-a")
    sealed = new.cipher.encrypt(b"\x00" * 12, b"headers", b"aad")
    reader = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100)
    aead = reader.data_key_cipher("tenant-a", new.wrapped)  # the first read: unwrapped
    assert aead.decrypt(b"\x00" * 12, sealed, b"aad") == b"headers"
    assert provider.opens == 1
    assert reader.data_key_cipher("tenant-a", new.wrapped) is aead  # then the cached object
    # The body's chunk key is that same object, filed with the cached data key.
    assert reader.blob_chunk_key("tenant-a", new.wrapped, b"", b"") is aead
    assert provider.opens == 1
    assert reader.unwrap_data_key("tenant-a", new.wrapped) == new.plaintext


def test_a_data_key_cipher_refuses_what_it_must_not_open(
    keys: KeyService, provider: CountingProvider
) -> None:
    keys.create_tenant_key("tenant-b")
    wrapped = keys.new_data_key("tenant-a").wrapped
    reader = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100)
    with pytest.raises(InvalidWrappedKey, match="another tenant"):
        reader.data_key_cipher("tenant-b", wrapped)
    with pytest.raises(KeyNotFound):  # the ring is checked first: that name has none
        reader.data_key_cipher("not a tenant id!", wrapped)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(InvalidWrappedKey):
        reader.data_key_cipher("tenant-a", bytes(tampered))
    with pytest.raises(InvalidWrappedKey):
        reader.data_key_cipher("tenant-a", wrapped[:-1])
    assert len(reader._cache) == 0  # nothing refused was cached
    keys.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        reader.data_key_cipher("tenant-a", wrapped)


def test_a_key_not_met_yet_opens_for_the_tenant_it_names_parsed_once(
    keys: KeyService, provider: CountingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = keys.new_data_key("tenant-a")
    sealed = new.cipher.encrypt(b"\x00" * 12, b"headers", b"aad")
    parsed: list[bytes] = []
    real_parse = service_module.parse_wrapped_key

    def counting(blob: bytes) -> tuple[str, int, bytes]:
        parsed.append(blob)
        return real_parse(blob)

    monkeypatch.setattr(service_module, "parse_wrapped_key", counting)
    reader = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100)
    tenant_id, aead = reader.owned_data_key_cipher(new.wrapped)  # a first read: unwrapped
    assert tenant_id == "tenant-a"
    assert aead.decrypt(b"\x00" * 12, sealed, b"aad") == b"headers"
    assert parsed == [new.wrapped]
    assert provider.opens == 1
    # Then the cached object, as data_key_cipher would give it.
    assert reader.owned_data_key_cipher(new.wrapped) == ("tenant-a", aead)
    assert reader.data_key_cipher("tenant-a", new.wrapped) is aead
    assert provider.opens == 1


def test_a_key_not_met_yet_is_refused_as_data_key_cipher_refuses_it(
    keys: KeyService, provider: CountingProvider
) -> None:
    wrapped = keys.new_data_key("tenant-a").wrapped
    reader = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100)
    # Relabelled for another tenant (whose name is bound in the wrap's AAD): it does not open.
    keys.create_tenant_key("tenant-b")
    relabelled = WrappedDataKey.decode(wrapped)
    other = WrappedDataKey("tenant-b", relabelled.kek_version, relabelled.sealed).encode()
    with pytest.raises(InvalidWrappedKey):
        reader.owned_data_key_cipher(other)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(InvalidWrappedKey):
        reader.owned_data_key_cipher(bytes(tampered))
    with pytest.raises(InvalidWrappedKey):
        reader.owned_data_key_cipher(wrapped[:-1])
    assert len(reader._cache) == 0  # nothing refused was cached
    keys.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        reader.owned_data_key_cipher(wrapped)


# --- fresh keys made a batch at a time (decision 0035) ----------------------------------------


def waiting(service: KeyService, tenant_id: str = "tenant-a") -> list[service_module.NewDataKey]:
    """The fresh keys made for ``tenant_id`` and not handed out yet."""
    return list(service._fresh_keys[tenant_id][2])


def zeroed(keys: list[service_module.NewDataKey]) -> bool:
    return bool(keys) and all(not any(new.plaintext) for new in keys)


def test_fresh_keys_come_a_batch_at_a_time_each_its_own(
    keys: KeyService, provider: CountingProvider
) -> None:
    batch = service_module.FRESH_KEY_BATCH
    made = [keys.new_data_key("tenant-a") for _ in range(2 * batch + 1)]
    assert keys.provider_calls["tenant-a"] == 3 * batch  # three batches, the third begun
    assert len({bytes(new.plaintext) for new in made}) == len(made)
    assert len({new.wrapped for new in made}) == len(made)
    assert len({WrappedDataKey.decode(new.wrapped).sealed[:12] for new in made}) == len(made)
    opener = uncached(provider)
    for new in made:
        assert opener.unwrap_data_key("tenant-a", new.wrapped) == new.plaintext
        assert new.cipher.decrypt(b"n" * 12, AESGCM(bytes(new.plaintext)).encrypt(
            b"n" * 12, b"x", None
        ), None) == b"x"  # fmt: skip
    # Filed in the cache as they were made: their first reads open nothing.
    opens = provider.opens
    for new in made:
        assert keys.unwrap_data_key("tenant-a", new.wrapped) == new.plaintext
    assert provider.opens == opens


def test_a_rotation_ends_the_batch_made_under_the_old_kek(keys: KeyService) -> None:
    keys.new_data_key("tenant-a")  # a batch under version 1, mostly unused
    keys.rotate_tenant_key("tenant-a")
    assert WrappedDataKey.decode(keys.new_data_key("tenant-a").wrapped).kek_version == 2


def test_destroying_zeroes_the_fresh_keys_not_handed_out(keys: KeyService) -> None:
    keys.new_data_key("tenant-a")
    left = waiting(keys)
    assert left and all(any(new.plaintext) for new in left)
    keys.destroy_tenant_key("tenant-a")
    assert "tenant-a" not in keys._fresh_keys
    assert zeroed(left)
    with pytest.raises(KeyDestroyed):
        keys.new_data_key("tenant-a")


def test_fresh_keys_last_no_longer_than_cached_ones(provider: CountingProvider) -> None:
    clock = Clock()
    service = KeyService(provider, cache_ttl_seconds=60, cache_max_entries=100, clock=clock)
    service.create_tenant_key("tenant-a")
    service.new_data_key("tenant-a")
    clock.now += 30
    service.new_data_key("tenant-a")
    assert service.provider_calls["tenant-a"] == service_module.FRESH_KEY_BATCH
    left = waiting(service)  # not handed out (those that were are their callers' to zero)
    clock.now += 31
    service.new_data_key("tenant-a")  # the first batch is past its time: a new one
    assert service.provider_calls["tenant-a"] == 2 * service_module.FRESH_KEY_BATCH
    assert zeroed(left)


@pytest.mark.parametrize(("ttl", "size"), [(0, 0), (0, 100), (60, 0)])
def test_without_a_cache_each_fresh_key_is_made_alone(
    provider: CountingProvider, ttl: float, size: int
) -> None:
    service = KeyService(provider, cache_ttl_seconds=ttl, cache_max_entries=size)
    service.create_tenant_key("tenant-a")
    for calls in (1, 2):
        service.new_data_key("tenant-a")
        assert service.provider_calls["tenant-a"] == calls
    assert service._fresh_keys == {}


def test_keys_bound_to_a_context_are_made_one_at_a_time(keys: KeyService) -> None:
    bound = context_digest({"purpose": "test"})
    for calls in (1, 2):
        new = keys.new_data_key("tenant-a", bound)
        assert keys.provider_calls["tenant-a"] == calls
        assert keys.unwrap_data_key("tenant-a", new.wrapped, bound) == new.plaintext
    assert keys._fresh_keys == {}


def test_a_destruction_by_another_process_zeroes_the_fresh_keys_at_the_next_put(
    tmp_path: Path,
) -> None:
    clock = Clock()
    worker, other = two_workers(tmp_path, clock)
    worker.create_tenant_key("tenant-a")
    worker.new_data_key("tenant-a")
    left = waiting(worker)
    other.destroy_tenant_key("tenant-a")
    clock.now += 1.5  # past key_file_recheck_interval: the worker reads the keystore again
    with pytest.raises(KeyDestroyed):
        worker.new_data_key("tenant-a")
    assert "tenant-a" not in worker._fresh_keys
    assert zeroed(left)


def test_closing_zeroes_the_fresh_keys(keys: KeyService) -> None:
    keys.new_data_key("tenant-a")
    left = waiting(keys)
    keys.close()
    assert keys._fresh_keys == {}
    assert zeroed(left)


def test_a_forked_child_drops_the_fresh_keys_of_its_parent(keys: KeyService) -> None:
    # What os.register_at_fork runs in a child (the child itself is not forked here: forking
    # a multi-threaded test process is unsafe): a child handing out its parent's keys would
    # seal two blobs under one data key.
    keys.new_data_key("tenant-a")
    left = waiting(keys)
    service_module._drop_fresh_keys_in_child()
    assert keys._fresh_keys == {}
    assert zeroed(left)
    assert keys.new_data_key("tenant-a").wrapped not in {new.wrapped for new in left}
