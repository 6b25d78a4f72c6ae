"""The XKS proxy in process, on a real SoftHSM2 token: every operation, every error of the
spec's table, the GCM AAD checked against an independent AES-GCM (cryptography's)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pkcs11
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.exceptions import UserAlreadyLoggedIn

from andromede.xks.app import XksApp, XksAppConfig
from andromede.xks.auditlog import AuditLog, verify_chain
from andromede.xks.authorization import Policy, load_policy
from andromede.xks.credentials import Credential, load_credentials, new_credential
from andromede.xks.model import cdiv, gcm_aad
from andromede.xks.service import XksService
from andromede.xks.token import Token
from andromede.xks.watched import WatchedFile
from support.softhsm import SoftHsm, SoftHsmToken
from support.xks import sign

REGION = "eu-fr-1"
PREFIX = "/tenant-a"
BASE = "https://localhost"
ALICE = "arn:aws:iam::111122223333:user/Alice"
KEY_ARN = "arn:aws:kms:eu-fr-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
METADATA = {
    "awsPrincipalArn": ALICE,
    "kmsKeyArn": KEY_ARN,
    "kmsOperation": "Encrypt",
    "kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
    "kmsViaService": "ebs",
}
SECRET_PLAINTEXT = b"the customer's data key: never logged"
NO_OTHER_USE = {Attribute.WRAP: False, Attribute.UNWRAP: False, Attribute.SIGN: False,
                Attribute.VERIFY: False, Attribute.DERIVE: False}  # fmt: skip


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Proxy:
    client: httpx.AsyncClient
    token: Token
    hsm_token: SoftHsmToken
    credential: Credential
    audit_path: Path

    async def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        credential: Credential | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = f"{BASE}{PREFIX}/kms/xks/v1{path}"
        signer = credential or self.credential
        signed = sign(url, raw, access_key_id=signer.access_key_id,
                      secret_access_key=signer.secret(), region=REGION,
                      content_type=content_type)  # fmt: skip
        return await self.client.post(url, content=raw, headers=signed)

    async def encrypt(self, key_id: str, plaintext: bytes, **extra: Any) -> httpx.Response:
        body = {"requestMetadata": METADATA, "plaintext": b64(plaintext),
                "encryptionAlgorithm": "AES_GCM", **extra}  # fmt: skip
        return await self.post(f"/keys/{key_id}/encrypt", body)

    async def decrypt(self, key_id: str, sealed: dict[str, str], **extra: Any) -> httpx.Response:
        body = {
            "requestMetadata": {**METADATA, "kmsOperation": "Decrypt"},
            "encryptionAlgorithm": "AES_GCM",
            "ciphertext": sealed["ciphertext"],
            "initializationVector": sealed["initializationVector"],
            "authenticationTag": sealed["authenticationTag"],
            **extra,
        }
        return await self.post(f"/keys/{key_id}/decrypt", {k: v for k, v in body.items()
                                                          if v is not None})  # fmt: skip

    async def metadata(self, key_id: str) -> httpx.Response:
        return await self.post(f"/keys/{key_id}/metadata", {"requestMetadata": METADATA})

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def session(self) -> Any:
        """A session of the test's own on the token, to make keys another tool would make."""
        token = pkcs11.lib(self.hsm_token.library).get_token(token_label=self.hsm_token.label)
        try:
            return token.open(rw=True, user_pin=self.hsm_token.pin)
        except UserAlreadyLoggedIn:  # the proxy's Token, in this process, is logged in
            return token.open(rw=True)


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) <= {"errorName", "errorMessage"}
    message = body.get("errorMessage", "")
    assert len(message) < 512 and all(" " <= ch <= "~" for ch in message)
    return response.status_code, body["errorName"]


@dataclass
class Built:
    app: XksApp
    service: XksService
    audit: AuditLog
    credential: Credential
    audit_path: Path

    def close(self) -> None:
        self.service.close()
        self.audit.close()


@pytest.fixture
def hsm_token(softhsm: SoftHsm) -> SoftHsmToken:
    return softhsm.new_token()


def make_proxy(
    tmp_path: Path,
    token: Token,
    *,
    policy: WatchedFile[Policy] | None = None,
    hsm_timeout: float = 5.0,
    max_in_flight: int = 64,
    max_body_size: int = 64 * 1024,
) -> Built:
    credential = new_credential()
    credentials_file = tmp_path / "credentials.json"
    credentials_file.write_text(
        json.dumps(
            {
                "credentials": [
                    {
                        "access_key_id": credential.access_key_id,
                        "secret_access_key": credential.secret(),
                    }
                ]
            }
        )
    )
    credentials_file.chmod(0o600)  # fmt: skip
    audit_path = tmp_path / "audit.log"
    service = XksService(token, hsm_timeout=hsm_timeout, max_in_flight=max_in_flight)
    audit = AuditLog(audit_path)
    app = XksApp(
        service,
        WatchedFile(credentials_file, load_credentials, "credentials file"),
        audit,
        XksAppConfig(PREFIX, REGION, max_body_size, body_read_timeout=5.0),
        policy=policy,
    )
    return Built(app, service, audit, credential, audit_path)


@pytest.fixture
async def proxy(tmp_path: Path, hsm_token: SoftHsmToken) -> AsyncIterator[Proxy]:
    token = Token(hsm_token.library, hsm_token.label, hsm_token.pin)
    built = make_proxy(tmp_path, token)
    transport = httpx.ASGITransport(app=built.app, client=("192.0.2.7", 4242))
    async with httpx.AsyncClient(transport=transport) as client:
        yield Proxy(client, token, hsm_token, built.credential, built.audit_path)
    built.close()


# --------------------------------------------------------------------------- round trips


async def test_encrypt_then_decrypt_with_aad_and_cdiv(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    aad = b"project=nile,department=marketing"
    answer = await proxy.encrypt("key-1", SECRET_PLAINTEXT, additionalAuthenticatedData=b64(aad),
                                 ciphertextDataIntegrityValueAlgorithm="SHA_256")  # fmt: skip
    assert answer.status_code == 200, answer.text
    sealed = answer.json()
    assert set(sealed) == {"ciphertext", "initializationVector", "authenticationTag",
                           "ciphertextDataIntegrityValue"}  # fmt: skip
    iv, ct, tag = (base64.b64decode(sealed[name]) for name in
                   ("initializationVector", "ciphertext", "authenticationTag"))  # fmt: skip
    assert (len(iv), len(ct), len(tag)) == (12, len(SECRET_PLAINTEXT), 16)
    assert sealed["ciphertextDataIntegrityValue"] == cdiv(aad, None, iv, ct, tag)
    opened = await proxy.decrypt("key-1", sealed, additionalAuthenticatedData=b64(aad))
    assert opened.status_code == 200
    assert base64.b64decode(opened.json()["plaintext"]) == SECRET_PLAINTEXT


async def test_largest_and_empty_inputs(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    for plaintext, aad in ((os.urandom(4300), os.urandom(8192)), (b"", b"")):
        sealed = (
            await proxy.encrypt("key-1", plaintext, additionalAuthenticatedData=b64(aad))
        ).json()
        opened = await proxy.decrypt("key-1", sealed, additionalAuthenticatedData=b64(aad))
        assert base64.b64decode(opened.json()["plaintext"]) == plaintext


async def test_every_encryption_draws_a_fresh_iv(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    ivs = {(await proxy.encrypt("key-1", b"same")).json()["initializationVector"] for _ in range(8)}
    assert len(ivs) == 8


async def test_the_gcm_aad_is_the_spec_s_against_an_independent_aes_gcm(proxy: Proxy) -> None:
    """A key whose value the test knows (imported: sensitive, not extractable): the proxy's
    ciphertext opens with cryptography's AES-GCM under AAD = len(aad)||aad||len(md)||md, and a
    ciphertext made there with a 16-byte IV and ciphertextMetadata opens in the proxy."""
    value = os.urandom(32)
    with proxy.session() as session:
        session.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
            Attribute.VALUE: value, Attribute.LABEL: "known", Attribute.TOKEN: True,
            Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
            Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
        })  # fmt: skip
    aad = b"context"
    sealed = (
        await proxy.encrypt("known", b"data key", additionalAuthenticatedData=b64(aad))
    ).json()
    iv, ct, tag = (base64.b64decode(sealed[name]) for name in
                   ("initializationVector", "ciphertext", "authenticationTag"))  # fmt: skip
    assert AESGCM(value).decrypt(iv, ct + tag, gcm_aad(aad, None)) == b"data key"
    with pytest.raises(InvalidTag):  # the plain AAD is not what was bound
        AESGCM(value).decrypt(iv, ct + tag, aad)
    iv16, metadata = os.urandom(16), b"key_version=1"
    made = AESGCM(value).encrypt(iv16, b"from elsewhere", gcm_aad(aad, metadata))
    opened = await proxy.decrypt(
        "known",
        {"ciphertext": b64(made[:-16]), "initializationVector": b64(iv16),
         "authenticationTag": b64(made[-16:])},
        additionalAuthenticatedData=b64(aad), ciphertextMetadata=b64(metadata),
    )  # fmt: skip
    assert base64.b64decode(opened.json()["plaintext"]) == b"from elsewhere"


@pytest.mark.parametrize(
    "change",
    ["no aad", "other aad", "tag", "iv", "ciphertext", "metadata added", "iv of 16 bytes"],
)
async def test_what_does_not_authenticate_is_invalid_ciphertext(proxy: Proxy, change: str) -> None:
    proxy.token.create_key("key-1")
    aad = b64(b"project=nile")
    sealed = (await proxy.encrypt("key-1", b"secret", additionalAuthenticatedData=aad)).json()
    extra: dict[str, Any] = {"additionalAuthenticatedData": aad}

    def flip(name: str) -> None:
        raw = bytearray(base64.b64decode(sealed[name]))
        raw[0] ^= 1
        sealed[name] = b64(bytes(raw))

    if change == "no aad":
        extra = {}
    elif change == "other aad":
        extra["additionalAuthenticatedData"] = b64(b"project=blue")
    elif change == "tag":
        flip("authenticationTag")
    elif change == "iv":
        flip("initializationVector")
    elif change == "ciphertext":
        flip("ciphertext")
    elif change == "metadata added":
        extra["ciphertextMetadata"] = b64(b"v=1")
    else:
        sealed["initializationVector"] = b64(
            base64.b64decode(sealed["initializationVector"]) + b"\0" * 4
        )
    answer = await proxy.decrypt("key-1", sealed, **extra)
    assert error_of(answer) == (400, "InvalidCiphertextException")


# --------------------------------------------------------------------------- key states


async def test_get_key_metadata(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    answer = await proxy.metadata("key-1")
    assert answer.json() == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"],
                             "keyStatus": "ENABLED"}  # fmt: skip
    no_key_arn = {k: v for k, v in METADATA.items() if k != "kmsKeyArn"}  # KMS's CreateKey
    answer = await proxy.post("/keys/key-1/metadata", {"requestMetadata": no_key_arn})
    assert answer.status_code == 200


async def test_a_disabled_key_is_refused_until_enabled(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    sealed = (await proxy.encrypt("key-1", b"before")).json()
    proxy.token.set_enabled("key-1", False)
    assert (await proxy.metadata("key-1")).json() == {
        "keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "DISABLED",
    }  # fmt: skip
    assert error_of(await proxy.encrypt("key-1", b"x")) == (400, "InvalidStateException")
    assert error_of(await proxy.decrypt("key-1", sealed)) == (400, "InvalidStateException")
    # The token itself refuses it: the key's own CKA_ENCRYPT and CKA_DECRYPT are off.
    with proxy.session() as session:
        key = session.get_key(label="key-1", object_class=ObjectClass.SECRET_KEY)
        assert (key[Attribute.ENCRYPT], key[Attribute.DECRYPT]) == (False, False)
    proxy.token.set_enabled("key-1", True)
    opened = await proxy.decrypt("key-1", sealed)
    assert base64.b64decode(opened.json()["plaintext"]) == b"before"


async def test_a_deleted_key_is_shredded(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    sealed = (await proxy.encrypt("key-1", b"before")).json()
    proxy.token.delete_key("key-1")
    assert error_of(await proxy.metadata("key-1")) == (404, "KeyNotFoundException")
    assert error_of(await proxy.decrypt("key-1", sealed)) == (404, "KeyNotFoundException")
    proxy.token.create_key("key-1")  # the same label again is another key
    assert error_of(await proxy.decrypt("key-1", sealed)) == (400, "InvalidCiphertextException")


async def test_key_usage_follows_the_key_s_attributes(proxy: Proxy) -> None:
    with proxy.session() as session:
        for label, encrypt, decrypt in (("enc-only", True, False), ("dec-only", False, True),
                                        ("impotent", False, False)):  # fmt: skip
            session.generate_key(KeyType.AES, 256, store=True, label=label, template={
                Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                Attribute.ENCRYPT: encrypt, Attribute.DECRYPT: decrypt, **NO_OTHER_USE,
            })  # fmt: skip
    assert (await proxy.metadata("enc-only")).json()["keyUsage"] == ["ENCRYPT"]
    assert (await proxy.metadata("impotent")).json() == {
        "keySpec": "AES_256", "keyUsage": [], "keyStatus": "ENABLED"}  # fmt: skip
    sealed = (await proxy.encrypt("enc-only", b"x")).json()
    assert error_of(await proxy.decrypt("enc-only", sealed)) == (400, "InvalidKeyUsageException")
    assert error_of(await proxy.encrypt("dec-only", b"x")) == (400, "InvalidKeyUsageException")
    assert error_of(await proxy.encrypt("impotent", b"x")) == (400, "InvalidKeyUsageException")


async def test_keys_that_are_no_protected_aes_256_keys(proxy: Proxy) -> None:
    with proxy.session() as session:
        session.generate_key(KeyType.AES, 128, store=True, label="aes-128", template={
            Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})  # fmt: skip
        session.generate_key(KeyType.AES, 256, store=True, label="extractable", template={
            Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})  # fmt: skip
        for _ in range(2):
            session.generate_key(KeyType.AES, 256, store=True, label="twice", template={
                Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})  # fmt: skip
    assert (await proxy.metadata("aes-128")).json()["keySpec"] == "AES_128"
    assert error_of(await proxy.encrypt("aes-128", b"x")) == (400, "InvalidKeyUsageException")
    assert (await proxy.metadata("extractable")).json()["keyStatus"] == "DISABLED"
    assert error_of(await proxy.encrypt("extractable", b"x")) == (400, "InvalidStateException")
    assert error_of(await proxy.metadata("twice")) == (400, "InvalidStateException")


# --------------------------------------------------------------------------- the error table


async def test_authentication_failures(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    stranger = new_credential()
    answer = await proxy.post("/keys/key-1/metadata", {"requestMetadata": METADATA},
                              credential=stranger)  # fmt: skip
    assert error_of(answer) == (401, "AuthenticationFailedException")
    unsigned = await proxy.client.post(f"{BASE}{PREFIX}/kms/xks/v1/health", content=b"{}")
    assert error_of(unsigned) == (401, "AuthenticationFailedException")
    record = proxy.audit()[-2]
    assert (record["errorName"], record["reason"]) == (
        "AuthenticationFailedException",
        "unknown access key id",
    )
    assert "kmsRequestId" not in record  # nothing of an unauthenticated body is logged


async def test_validation_errors(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    for body in (b"not json", b"[]", {"requestMetadata": {}}, {}):
        answer = await proxy.post("/keys/key-1/metadata", body)
        assert error_of(answer) == (400, "ValidationException")
    answer = await proxy.post("/keys/key-1/metadata", {"requestMetadata": METADATA},
                              content_type="text/plain")  # fmt: skip
    assert error_of(answer) == (400, "ValidationException")
    answer = await proxy.post("/keys/bad:id/metadata", {"requestMetadata": METADATA})
    assert error_of(answer) == (400, "ValidationException")
    answer = await proxy.post("/keys/key-1/encrypt", {"requestMetadata": METADATA,
                              "plaintext": "@@@", "encryptionAlgorithm": "AES_GCM"})  # fmt: skip
    assert error_of(answer) == (400, "ValidationException")


async def test_unknown_keys_and_paths(proxy: Proxy) -> None:
    assert error_of(await proxy.metadata("non_existing_key")) == (404, "KeyNotFoundException")
    for path in ("/keys/k/sign", "/keys/k", "/other"):
        answer = await proxy.post(path, {"requestMetadata": METADATA})
        assert error_of(answer) == (404, "InvalidUriPathException")
    answer = await proxy.client.post(f"{BASE}/tenant-b/kms/xks/v1/health", content=b"{}")
    assert error_of(answer) == (404, "InvalidUriPathException")


async def test_only_post(proxy: Proxy) -> None:
    for method in ("GET", "PUT", "DELETE"):
        for path in ("/health", "/keys/k/metadata", "/keys/k/encrypt", "/keys/k/decrypt"):
            answer = await proxy.client.request(method, f"{BASE}{PREFIX}/kms/xks/v1{path}")
            assert answer.status_code == 405
            assert answer.headers["allow"] == "POST"


async def test_sizes_beyond_the_spec_s(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    answer = await proxy.encrypt("key-1", b"p" * 4301)
    assert error_of(answer) == (501, "UnsupportedOperationException")
    answer = await proxy.post("/keys/key-1/encrypt", b"{" + b" " * 70_000 + b"}")
    assert error_of(answer) == (501, "UnsupportedOperationException")
    assert answer.headers["connection"] == "close"


async def test_access_denied_by_secondary_authorization(
    tmp_path: Path, hsm_token: SoftHsmToken
) -> None:
    rules = tmp_path / "authz.toml"
    rules.write_text(f'[keys.key-1]\nkms_key_arns = ["{KEY_ARN}"]\n')
    token = Token(hsm_token.library, hsm_token.label, hsm_token.pin)
    token.create_key("key-1")
    token.create_key("key-2")
    built = make_proxy(
        tmp_path, token, policy=WatchedFile(rules, load_policy, "authorization file"))  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=built.app)) as client:
        proxy = Proxy(client, token, hsm_token, built.credential, built.audit_path)
        assert (await proxy.encrypt("key-1", b"x")).status_code == 200
        assert error_of(await proxy.encrypt("key-2", b"x")) == (403, "AccessDeniedException")
        other = {**METADATA, "kmsKeyArn": KEY_ARN.replace("1234abcd", "99999999")}
        body = {"requestMetadata": other, "plaintext": "eA==", "encryptionAlgorithm": "AES_GCM"}
        answer = await proxy.post("/keys/key-1/encrypt", body)
        assert error_of(answer) == (403, "AccessDeniedException")
        health = await proxy.post("/health", {"requestMetadata": {
            "kmsRequestId": "h", "kmsOperation": "KmsHealthCheck"}})  # fmt: skip
        assert health.status_code == 200  # never subject to authorization
        assert proxy.audit()[-2]["reason"] == "keys.key-1.kms_key_arns"
    built.close()


class SlowToken(Token):
    """A token whose key look-ups wait until the test releases them (a slow HSM)."""

    release: threading.Event

    def key_info(self, key_id: str) -> Any:
        self.release.wait(10)
        return super().key_info(key_id)


class BrokenToken(Token):
    def key_info(self, key_id: str) -> Any:
        raise RuntimeError("a detail that must not reach the caller")


@pytest.fixture
def slow_proxy(tmp_path: Path, hsm_token: SoftHsmToken) -> Iterator[tuple[Built, SlowToken]]:
    token = SlowToken(hsm_token.library, hsm_token.label, hsm_token.pin)
    token.release = threading.Event()
    token.create_key("key-1")
    built = make_proxy(tmp_path, token, hsm_timeout=0.3, max_in_flight=1)
    yield built, token
    token.release.set()
    built.close()


async def test_a_slow_token_times_out_and_throttles(
    slow_proxy: tuple[Built, SlowToken], hsm_token: SoftHsmToken
) -> None:
    built, token = slow_proxy
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=built.app)) as client:
        proxy = Proxy(client, token, hsm_token, built.credential, built.audit_path)
        # Two requests at once with room for one: whichever is second is throttled at once,
        # the first waits for the (slow) token past hsm_timeout.
        first, second = await asyncio.gather(proxy.metadata("key-1"), proxy.metadata("key-1"))
        assert sorted([error_of(first), error_of(second)]) == [
            (429, "ThrottlingException"), (503, "DependencyTimeoutException")]  # fmt: skip
        token.release.set()


async def test_an_unexpected_failure_is_an_internal_exception_that_says_nothing(
    tmp_path: Path, hsm_token: SoftHsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    token = BrokenToken(hsm_token.library, hsm_token.label, hsm_token.pin)
    built = make_proxy(tmp_path, token)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=built.app)) as client:
        proxy = Proxy(client, token, hsm_token, built.credential, built.audit_path)
        answer = await proxy.metadata("key-1")
        assert error_of(answer) == (500, "InternalException")
        assert "detail" not in answer.text
        assert answer.headers["x-request-id"] in caplog.text
    built.close()


# --------------------------------------------------------------------------- health and log


async def test_health_status(proxy: Proxy) -> None:
    answer = await proxy.post("/health", {"requestMetadata": {
        "kmsRequestId": "h-1", "kmsOperation": "KmsHealthCheck"}})  # fmt: skip
    assert answer.status_code == 200
    health = answer.json()
    assert health["xksProxyFleetSize"] >= 1
    assert health["xksProxyVendor"] and health["xksProxyModel"] and health["ekmVendor"]
    assert 1 <= len(health["ekmFleetDetails"]) <= 10
    assert health["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"
    assert {"id", "model", "healthStatus"} == set(health["ekmFleetDetails"][0])
    assert (await proxy.client.get(f"{BASE}/healthz")).json() == {"status": "ok"}
    # The health check's own key is a session object no externalKeyId can name.
    assert proxy.token.list_keys() == []


async def test_the_audit_log_has_the_metadata_and_never_the_secrets(proxy: Proxy) -> None:
    proxy.token.create_key("key-1")
    aad = b"aad that is private too"
    sealed = (
        await proxy.encrypt("key-1", SECRET_PLAINTEXT, additionalAuthenticatedData=b64(aad))
    ).json()
    await proxy.decrypt("key-1", sealed, additionalAuthenticatedData=b64(aad))
    text = proxy.audit_path.read_text()
    for secret in (b64(SECRET_PLAINTEXT), b64(aad), sealed["ciphertext"],
                   proxy.credential.secret(), proxy.hsm_token.pin):  # fmt: skip
        assert secret not in text
    encrypt, decrypt = proxy.audit()[-2:]
    assert encrypt["operation"] == "Encrypt" and decrypt["operation"] == "Decrypt"
    for name, value in METADATA.items():
        if name != "kmsOperation":
            assert encrypt[name] == value
    assert decrypt["kmsOperation"] == "Decrypt"
    assert encrypt["accessKeyId"] == proxy.credential.access_key_id
    assert encrypt["sourceIp"] == "192.0.2.7"
    assert encrypt["outcome"] == "success" and "durationMs" in encrypt
    assert verify_chain(proxy.audit_path.read_bytes().splitlines(keepends=True)) == 2
