"""External key stores' pure domain (decision 0090): every parameter's rules, the store id,
the connection state machine, and the ciphertext blob of format 2 with its tamper cases."""

from __future__ import annotations

import os
import struct
import uuid
from datetime import UTC, datetime

import pytest

from andromede.kms.ciphertext import (
    CiphertextBlob,
    ExternalLayer,
    external_aad,
    open_blob,
    seal_blob,
    seal_external_blob,
)
from andromede.kms.keys_errors import InvalidCiphertext
from andromede.kms.xks_errors import CustomKeyStoreInvalidState, InvalidCustomKeyStoreParameter
from andromede.kms.xks_model import (
    ConnectionErrorCode,
    ConnectionEvent,
    ConnectionState,
    CustomKeyStore,
    check_access_key_id,
    check_endpoint,
    check_secret,
    check_store_name,
    check_uri_path,
    check_xks_key_id,
    is_store_id,
    new_store_id,
)


@pytest.mark.parametrize(
    "endpoint",
    ["https://xks.example.com", "https://proxy-1.eu.example.org:8443", "https://localhost:9443"],
)
def test_endpoints_accepted_port_included(endpoint: str) -> None:
    assert check_endpoint(endpoint) == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://xks.example.com",  # https only
        "https://10.0.0.1",  # a name, never an address
        "https://xks.example.com/path",  # the path is XksProxyUriPath's
        "https://xks.example.com:0",
        "https://xks.example.com:70000",
        "https://-bad.example.com",
        "https://a..example.com",
        "https://x",  # shorter than 10
        "https://" + "a" * 125,  # longer than 128
        "https://user@xks.example.com",
    ],
)
def test_endpoints_refused(endpoint: str) -> None:
    with pytest.raises(InvalidCustomKeyStoreParameter):
        check_endpoint(endpoint)


@pytest.mark.parametrize("path", ["/kms/xks/v1", "/tenant-a/kms/xks/v1", "/a/b_c/kms/xks/v12"])
def test_uri_paths_accepted(path: str) -> None:
    assert check_uri_path(path) == path


@pytest.mark.parametrize(
    "path",
    ["/kms/xks/v", "kms/xks/v1", "/a/kms/xks/v123", "/a b/kms/xks/v1", "/a//kms/xks/v1", "/x" * 70],
)
def test_uri_paths_refused(path: str) -> None:
    with pytest.raises(InvalidCustomKeyStoreParameter):
        check_uri_path(path)


def test_the_credential_and_names_follow_awss_rules() -> None:
    check_access_key_id("A" * 20)
    check_access_key_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ2345")
    for bad in ("A" * 19, "A" * 31, "a" * 20, "ABCDEFGHIJKLMNOPQRS1"):
        with pytest.raises(InvalidCustomKeyStoreParameter):
            check_access_key_id(bad)
    check_secret("a" * 43)
    check_secret("A/+=" * 16)
    for bad in ("a" * 42, "a" * 65, "a" * 42 + "!"):
        with pytest.raises(InvalidCustomKeyStoreParameter) as refused:
            check_secret(bad)
        assert bad not in str(refused.value)  # a secret is never echoed
    check_store_name("x")
    for bad in ("", "n" * 257):
        with pytest.raises(InvalidCustomKeyStoreParameter):
            check_store_name(bad)
    check_xks_key_id("key-1.a_B")
    for bad in ("", "k" * 129, "a/b", "a b"):
        with pytest.raises(InvalidCustomKeyStoreParameter):
            check_xks_key_id(bad)


def test_store_ids_are_awss_form() -> None:
    made = {new_store_id() for _ in range(200)}
    assert len(made) == 200
    assert all(is_store_id(i) and len(i) == 21 for i in made)
    assert not is_store_id("cks-123")
    assert not is_store_id("cks-ABCDEF0123456789A")


def _store(state: ConnectionState = ConnectionState.DISCONNECTED) -> CustomKeyStore:
    return CustomKeyStore(
        store_id=new_store_id(),
        tenant_id="123456789012",
        name="s",
        created_at=datetime.now(UTC),
        endpoint="https://xks.example.com",
        uri_path="/kms/xks/v1",
        access_key_id="A" * 20,
        sealed_secret="v1:sealed-secret-material",
        state=state,
    )


def test_the_connection_state_machine() -> None:
    store = _store()
    connected = store.moved(ConnectionEvent.CONNECTED)
    assert connected.state is ConnectionState.CONNECTED
    assert connected.moved(ConnectionEvent.CONNECTED).state is ConnectionState.CONNECTED
    failed = store.moved(ConnectionEvent.CONNECT_FAILED, ConnectionErrorCode.INVALID_CREDENTIALS)
    assert (failed.state, failed.error_code) == (
        ConnectionState.FAILED,
        ConnectionErrorCode.INVALID_CREDENTIALS,
    )
    # AWS: a FAILED store must be disconnected before it connects again.
    with pytest.raises(CustomKeyStoreInvalidState):
        failed.moved(ConnectionEvent.CONNECTED)
    back = failed.moved(ConnectionEvent.DISCONNECT)
    assert (back.state, back.error_code) == (ConnectionState.DISCONNECTED, None)
    with pytest.raises(CustomKeyStoreInvalidState):
        back.moved(ConnectionEvent.DISCONNECT)
    assert "sealed-secret" not in repr(store)


# --- the ciphertext blob of format 2 ----------------------------------------------------------

KEY_ID = str(uuid.uuid4())
CONTEXT = {"purpose": "test", "team": "a"}


def _layer() -> ExternalLayer:
    return ExternalLayer(
        iv=os.urandom(12), tag=os.urandom(16), metadata=b"v=1", ciphertext=os.urandom(60)
    )


def _sealed(layer: ExternalLayer, data_key: bytes) -> bytes:
    return seal_external_blob(KEY_ID, 3, layer, data_key, b"plain text", CONTEXT, os.urandom(12))


def test_format_2_round_trip_and_format_1_unchanged() -> None:
    data_key, layer = os.urandom(32), _layer()
    blob = _sealed(layer, data_key)
    assert blob[0] == 2
    parsed = CiphertextBlob.decode(blob)
    assert (parsed.key_id, parsed.kek_version, parsed.external) == (KEY_ID, 3, layer)
    assert parsed.sealed_key == b""
    assert parsed.encode() == blob
    assert open_blob(parsed, data_key, CONTEXT) == b"plain text"
    one = seal_blob(KEY_ID, 1, os.urandom(60), data_key, b"p", {}, os.urandom(12))
    assert one[0] == 1 and CiphertextBlob.decode(one).external is None
    assert open_blob(CiphertextBlob.decode(one), data_key, {}) == b"p"


def test_a_format_2_blob_tampered_anywhere_never_opens() -> None:
    data_key, layer = os.urandom(32), _layer()
    blob = _sealed(layer, data_key)
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidCiphertext):
            open_blob(CiphertextBlob.decode(bytes(tampered)), data_key, CONTEXT)
    with pytest.raises(InvalidCiphertext):  # another context
        open_blob(CiphertextBlob.decode(blob), data_key, {**CONTEXT, "team": "b"})
    with pytest.raises(InvalidCiphertext):  # truncated
        CiphertextBlob.decode(blob[:60])
    for version in (0, 4, 255):
        with pytest.raises(InvalidCiphertext):
            CiphertextBlob.decode(bytes([version]) + blob[1:])
    with pytest.raises(InvalidCiphertext):  # format 3 is a multi-Region key's (decision 0138)
        open_blob(CiphertextBlob.decode(b"\x03" + blob[1:]), data_key, CONTEXT)


def test_a_format_2_blob_relabelled_as_format_1_never_opens() -> None:
    data_key, layer = os.urandom(32), _layer()
    blob = _sealed(layer, data_key)
    with pytest.raises(InvalidCiphertext):
        open_blob(CiphertextBlob.decode(b"\x01" + blob[1:]), data_key, CONTEXT)


def test_the_proxys_aad_binds_key_version_and_context() -> None:
    base = external_aad(KEY_ID, 1, CONTEXT)
    assert base != external_aad(str(uuid.uuid4()), 1, CONTEXT)
    assert base != external_aad(KEY_ID, 2, CONTEXT)
    assert base != external_aad(KEY_ID, 1, {})
    assert base == external_aad(KEY_ID, 1, dict(reversed(list(CONTEXT.items()))))
    assert uuid.UUID(KEY_ID).bytes + struct.pack(">I", 1) in base
    assert len(external_aad(KEY_ID, 1, {"k": "v" * 100_000})) == len(base)  # bounded


def test_an_external_layer_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="wrong shape"):
        ExternalLayer(os.urandom(13), os.urandom(16), b"", os.urandom(60)).encode()
    with pytest.raises(ValueError, match="wrong shape"):
        ExternalLayer(os.urandom(12), os.urandom(16), b"m" * 21, os.urandom(60)).encode()
