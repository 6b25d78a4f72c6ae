"""The two-layer wrapped data key of external key stores (kms/external_keys.py, decision 0094),
with the real key service over a key file and AES-GCM standing in for the proxy's layer (the
proxy's own AES-GCM is tested in tests/unit/xks): round trip, every byte authenticated by one
layer or the other, a one-layer form of such a ring refused, format 1 unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.ciphertext import ExternalLayer
from andromede.kms.errors import ExternalLayerNeeded, InvalidWrappedKey, KmsError
from andromede.kms.external_keys import ExternalWrappedKey, data_key_aad, is_external_form
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.model import context_digest, encode_wrapped_key, parse_wrapped_key
from andromede.kms.service import KeyService

RING = "6f1c1d8e-3b9a-4c55-9a53-0d2c2a1f7e01"
BOUND = context_digest({"aws:s3:arn": "arn:aws:s3:::vault/o"})


class Proxy:
    """AES-GCM under an "external key", with the spec's AAD: what a proxy does."""

    def __init__(self) -> None:
        self.key = AESGCM(os.urandom(32))

    def wrap(self, inner: bytes, aad: bytes) -> ExternalLayer:
        iv = os.urandom(12)
        sealed = self.key.encrypt(iv, inner, aad)
        return ExternalLayer(iv=iv, tag=sealed[-16:], metadata=b"", ciphertext=sealed[:-16])

    def unwrap(self, layer: ExternalLayer, aad: bytes) -> bytes:
        return self.key.decrypt(layer.iv, layer.ciphertext + layer.tag, aad)


def make(keys: KeyService, proxy: Proxy, bound: bytes = BOUND) -> tuple[bytearray, bytes]:
    plaintext, version, inner = keys.new_external_data_key(RING, bound)
    layer = proxy.wrap(inner, data_key_aad(RING, version, bound))
    return plaintext, ExternalWrappedKey(RING, version, layer).encode()


def open_(keys: KeyService, proxy: Proxy, wrapped: bytes, bound: bytes = BOUND) -> bytearray:
    """What the object cipher does: the key service asks, the proxy opens, the service again."""
    try:
        return keys.unwrap_data_key(RING, wrapped, bound)
    except ExternalLayerNeeded as need:
        parsed = ExternalWrappedKey.decode(need.wrapped)
        inner = proxy.unwrap(parsed.layer, data_key_aad(RING, parsed.kek_version, bound))
        keys.open_external_data_key(RING, need.wrapped, bound, inner)
    return keys.unwrap_data_key(RING, wrapped, bound)


@pytest.fixture
def keys(tmp_path: Path) -> KeyService:
    service = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=0)
    service.create_tenant_key(RING)
    service.mark_external(RING)
    return service


def test_round_trip_needs_the_proxy_and_the_ring(keys: KeyService) -> None:
    proxy = Proxy()
    plaintext, wrapped = make(keys, proxy)
    assert is_external_form(wrapped) and wrapped[0] == 2
    with pytest.raises(ExternalLayerNeeded) as needed:
        keys.unwrap_data_key(RING, wrapped, BOUND)
    assert (needed.value.ring, needed.value.wrapped) == (RING, wrapped)
    assert open_(keys, proxy, wrapped) == plaintext
    # No cache here (ttl 0): the next use asks the proxy again.
    with pytest.raises(ExternalLayerNeeded):
        keys.unwrap_data_key(RING, wrapped, BOUND)
    with pytest.raises(InvalidTag):  # another context: the proxy refuses the layer
        open_(keys, proxy, wrapped, context_digest({"aws:s3:arn": "arn:aws:s3:::vault/other"}))
    with pytest.raises(InvalidTag):  # another external key: nothing opens
        open_(keys, Proxy(), wrapped)


def test_every_byte_is_authenticated(keys: KeyService) -> None:
    proxy = Proxy()
    _, wrapped = make(keys, proxy)
    damaged = [wrapped[:-1], wrapped + b"\x00", wrapped[:6]]
    for position in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[position] ^= 0x01
        damaged.append(bytes(flipped))
    for blob in damaged:
        with pytest.raises((KmsError, InvalidTag, ValueError)):
            open_(keys, proxy, blob)


def test_the_layers_cannot_be_swapped_or_peeled(keys: KeyService, tmp_path: Path) -> None:
    proxy = Proxy()
    _, first = make(keys, proxy)
    _, second = make(keys, proxy)
    a, b = ExternalWrappedKey.decode(first), ExternalWrappedKey.decode(second)
    # One key's proxy layer with the other's tag, or IV: refused by the proxy.
    for layer in (
        ExternalLayer(a.layer.iv, b.layer.tag, b"", a.layer.ciphertext),
        ExternalLayer(b.layer.iv, a.layer.tag, b"", a.layer.ciphertext),
    ):
        swapped = ExternalWrappedKey(RING, a.kek_version, layer).encode()
        with pytest.raises(InvalidTag):
            open_(keys, proxy, swapped)
    # The inner form, once the proxy opened it, as a one-layer key: never opens, even for a
    # key service that has not met the ring as external.
    inner = proxy.unwrap(a.layer, data_key_aad(RING, a.kek_version, BOUND))
    one_layer = encode_wrapped_key(RING, a.kek_version, inner)
    unaware = KeyService(LocalKeyFileProvider(tmp_path / "keys"), cache_ttl_seconds=0)
    with pytest.raises(InvalidWrappedKey):
        unaware.unwrap_data_key(RING, one_layer, BOUND)
    # And a one-layer key that ring made (by a service that had not met it): refused here.
    made_alone = unaware.new_data_key(RING, BOUND).wrapped
    with pytest.raises(InvalidWrappedKey, match="two layers"):
        keys.unwrap_data_key(RING, made_alone, BOUND)
    with pytest.raises(ExternalLayerNeeded):
        keys.new_data_key(RING, BOUND)
    unaware.close()


def test_format_1_is_unchanged_and_refuses_format_2(keys: KeyService) -> None:
    keys.create_tenant_key("tenant-a")
    plain, wrapped, _ = keys.new_data_key("tenant-a")
    assert wrapped[0] == 1 and keys.unwrap_data_key("tenant-a", wrapped) == plain
    # A ring's ciphertext blobs (no bound context) still use one-layer keys (decision 0090).
    assert keys.new_data_key(RING).wrapped[0] == 1
    _, two = make(keys, Proxy())
    with pytest.raises(InvalidWrappedKey):
        parse_wrapped_key(two)
    with pytest.raises(InvalidWrappedKey):
        keys.data_key_cipher(RING, two)
    with pytest.raises(InvalidWrappedKey):  # named for another ring
        keys.unwrap_data_key("tenant-a", two, BOUND)
