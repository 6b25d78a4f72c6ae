"""``andromede xks-proxy serve`` as a process over HTTPS, called as AWS KMS calls it: botocore's
SigV4 (service kms-xks-proxy), JSON over TLS to ``https://localhost:<port>/tenant-a/kms/xks/v1``,
its keys managed by the ``xks-proxy`` commands while it serves."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.xks.auditlog import verify_chain
from andromede.xks.model import cdiv
from support.launcher import run_command
from support.xks import ANDROMEDE, RunningXksProxy, running_xks_proxy, sign

pytestmark = pytest.mark.e2e

METADATA = {
    "awsPrincipalArn": "arn:aws:iam::111122223333:role/Orders",
    "kmsKeyArn": "arn:aws:kms:eu-fr-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "kmsOperation": "GenerateDataKey",
    "kmsRequestId": "9d3c1a52-3f0e-4a8e-9d1e-000000000001",
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningXksProxy]:
    with running_xks_proxy(tmp_path_factory.mktemp("xks")) as running:
        yield running


@pytest.fixture(scope="module")
def tls(proxy: RunningXksProxy) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(proxy.ca_bundle))


def call(
    proxy: RunningXksProxy,
    tls: ssl.SSLContext,
    path: str,
    body: dict[str, Any],
    *,
    credential: tuple[str, str] | None = None,
    service: str = "kms-xks-proxy",
) -> httpx.Response:
    url = proxy.endpoint + proxy.uri_path + path
    raw = json.dumps(body).encode()
    key_id, secret = credential or (proxy.access_key_id, proxy.secret_access_key)
    headers = sign(url, raw, access_key_id=key_id, secret_access_key=secret,
                   region=proxy.region, service=service)  # fmt: skip
    return httpx.post(url, content=raw, headers=headers, verify=tls, timeout=10)


def encrypt(proxy: RunningXksProxy, tls: ssl.SSLContext, key_id: str, data: bytes,
            aad: bytes) -> httpx.Response:  # fmt: skip
    return call(proxy, tls, f"/keys/{key_id}/encrypt", {
        "requestMetadata": METADATA, "plaintext": base64.b64encode(data).decode(),
        "encryptionAlgorithm": "AES_GCM",
        "additionalAuthenticatedData": base64.b64encode(aad).decode(),
        "ciphertextDataIntegrityValueAlgorithm": "SHA_256",
    })  # fmt: skip


def decrypt(proxy: RunningXksProxy, tls: ssl.SSLContext, key_id: str, sealed: dict[str, str],
            aad: bytes) -> httpx.Response:  # fmt: skip
    return call(proxy, tls, f"/keys/{key_id}/decrypt", {
        "requestMetadata": {**METADATA, "kmsOperation": "Decrypt"},
        "encryptionAlgorithm": "AES_GCM", "ciphertext": sealed["ciphertext"],
        "initializationVector": sealed["initializationVector"],
        "authenticationTag": sealed["authenticationTag"],
        "additionalAuthenticatedData": base64.b64encode(aad).decode(),
    })  # fmt: skip


def test_a_key_made_while_serving_encrypts_and_decrypts(
    proxy: RunningXksProxy, tls: ssl.SSLContext
) -> None:
    key_id = proxy.create_key("orders-key")
    assert key_id == "orders-key"
    metadata = call(proxy, tls, f"/keys/{key_id}/metadata", {"requestMetadata": METADATA})
    assert metadata.json() == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"],
                               "keyStatus": "ENABLED"}  # fmt: skip
    data_key, aad = b"\x01" * 32, b"kms-ciphertext-header"
    answer = encrypt(proxy, tls, key_id, data_key, aad)
    assert answer.status_code == 200, answer.text
    sealed = answer.json()
    parts = [base64.b64decode(sealed[n]) for n in
             ("initializationVector", "ciphertext", "authenticationTag")]  # fmt: skip
    assert sealed["ciphertextDataIntegrityValue"] == cdiv(aad, None, *parts)
    opened = decrypt(proxy, tls, key_id, sealed, aad)
    assert base64.b64decode(opened.json()["plaintext"]) == data_key
    wrong = decrypt(proxy, tls, key_id, sealed, b"another header")
    assert (wrong.status_code, wrong.json()["errorName"]) == (400, "InvalidCiphertextException")


def test_health_status(proxy: RunningXksProxy, tls: ssl.SSLContext) -> None:
    answer = call(proxy, tls, "/health", {"requestMetadata": {
        "kmsRequestId": "h-1", "kmsOperation": "KmsHealthCheck"}})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"


def test_get_is_405_on_the_four_uris(proxy: RunningXksProxy, tls: ssl.SSLContext) -> None:
    for path in ("/health", "/keys/k/metadata", "/keys/k/encrypt", "/keys/k/decrypt"):
        answer = httpx.get(proxy.endpoint + proxy.uri_path + path, verify=tls)
        assert answer.status_code == 405
        assert answer.headers["allow"] == "POST"


def test_wrong_credentials_are_authentication_failures(
    proxy: RunningXksProxy, tls: ssl.SSLContext
) -> None:
    body = {"requestMetadata": {"kmsRequestId": "h-2", "kmsOperation": "KmsHealthCheck"}}
    for credential, service in (
        ((proxy.access_key_id, "x" * 44), "kms-xks-proxy"),
        (("ZZZZZZZZZZZZZZZZZZZZ", proxy.secret_access_key), "kms-xks-proxy"),
        ((proxy.access_key_id, proxy.secret_access_key), "kms"),
    ):
        answer = call(proxy, tls, "/health", body, credential=credential, service=service)
        assert (answer.status_code, answer.json()["errorName"]) == (
            401, "AuthenticationFailedException")  # fmt: skip


def test_credential_rotation_without_a_restart(proxy: RunningXksProxy, tls: ssl.SSLContext) -> None:
    """The spec's sequence: add the new credential, both work; remove the old, only the new."""
    body = {"requestMetadata": {"kmsRequestId": "rot", "kmsOperation": "UpdateCustomKeyStore"}}
    old = (proxy.access_key_id, proxy.secret_access_key)
    new = proxy.add_credential()
    assert call(proxy, tls, "/health", body, credential=new).status_code == 200
    assert call(proxy, tls, "/health", body, credential=old).status_code == 200
    proxy.remove_credential(old[0])
    assert call(proxy, tls, "/health", body, credential=new).status_code == 200
    refused = call(proxy, tls, "/health", body, credential=old)
    assert refused.json()["errorName"] == "AuthenticationFailedException"
    # Back to the fixture's credential, for the other tests of the module.
    proxy.credentials_file.write_text(
        f'[[credentials]]\naccess_key_id = "{old[0]}"\nsecret_access_key = "{old[1]}"\n'
    )
    assert call(proxy, tls, "/health", body, credential=old).status_code == 200


def test_disable_enable_and_delete_while_serving(
    proxy: RunningXksProxy, tls: ssl.SSLContext
) -> None:
    key_id = proxy.create_key("kill-switch")
    aad = b"h"
    sealed = encrypt(proxy, tls, key_id, b"data key", aad).json()
    proxy.disable_key(key_id)
    status = call(proxy, tls, f"/keys/{key_id}/metadata", {"requestMetadata": METADATA})
    assert status.json()["keyStatus"] == "DISABLED"
    assert decrypt(proxy, tls, key_id, sealed, aad).json()["errorName"] == "InvalidStateException"
    proxy.enable_key(key_id)
    assert decrypt(proxy, tls, key_id, sealed, aad).status_code == 200
    proxy.delete_key(key_id)
    gone = decrypt(proxy, tls, key_id, sealed, aad)
    assert (gone.status_code, gone.json()["errorName"]) == (404, "KeyNotFoundException")


def test_tls_is_1_2_or_later_with_forward_secret_aead(proxy: RunningXksProxy) -> None:
    port = int(proxy.endpoint.rsplit(":", 1)[1])
    for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(proxy.ca_bundle))
        context.maximum_version = maximum
        with socket.create_connection(("localhost", port)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as sock:
                name, version, _ = sock.cipher() or ("", "", 0)
                assert version == maximum.name.replace("v1_", "v1.")
                if maximum is ssl.TLSVersion.TLSv1_2:
                    assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)


def test_stopped_then_started_again(proxy: RunningXksProxy, tls: ssl.SSLContext) -> None:
    """What the KMS side tests as "proxy unreachable": the port refuses, then serves again
    with the same keys, and the audit log's chain goes on."""
    key_id = proxy.create_key("survives-restart")
    sealed = encrypt(proxy, tls, key_id, b"k", b"a").json()
    proxy.stop()
    with pytest.raises(httpx.ConnectError):
        encrypt(proxy, tls, key_id, b"k", b"a")
    proxy.start()
    assert decrypt(proxy, tls, key_id, sealed, b"a").status_code == 200
    lines = proxy.audit_log.read_bytes().splitlines(keepends=True)
    assert verify_chain(lines) == len(lines)
    last = json.loads(lines[-1])
    assert (last["operation"], last["externalKeyId"], last["kmsRequestId"]) == (
        "Decrypt", key_id, METADATA["kmsRequestId"])  # fmt: skip
    assert last["kmsKeyArn"] == METADATA["kmsKeyArn"]


def test_the_help_names_every_command(tmp_path: Path) -> None:
    shown = run_command([str(ANDROMEDE), "xks-proxy", "--help"], timeout=60).stdout
    for command in ("serve", "create-key", "list-keys", "disable-key", "enable-key",
                    "delete-key", "new-credential"):  # fmt: skip
        assert command in shown
