"""An XKS proxy in process, for unit tests of KMS's client side (decision 0090): the four APIs
of AWS's XKS Proxy API spec over AES-256-GCM keys held in memory, as an ASGI app reached
through ``httpx.ASGITransport`` — no socket, no DNS.

It checks every request's SigV4 signature by recomputing it with botocore's own signer for
service ``kms-xks-proxy`` (so the client's signing is checked against an independent
implementation), logs each call's requestMetadata as the spec asks, computes the CDIV as its
Appendix C says, and can be told to fail: a key disabled or deleted, any errorName answered,
a slow answer, garbage. The real proxy process is ``andromede xks-proxy`` (tests/support/xks.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.http import outbound

__all__ = ["ACCESS_KEY_ID", "ENDPOINT", "SECRET", "URI_PATH", "FakeXksProxy"]

ENDPOINT = "https://xks.example.com"
URI_PATH = "/tenant-a/kms/xks/v1"
ACCESS_KEY_ID = "ABCDEFGHIJKLMNOPQRST2345"
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ=="


@dataclass
class FakeXksProxy:
    region: str
    access_key_id: str = ACCESS_KEY_ID
    secret: str = SECRET
    uri_path: str = URI_PATH
    keys: dict[str, bytes] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    log: list[dict[str, Any]] = field(default_factory=list)
    fail_with: str | None = None  # an errorName every call answers
    garbage: bool = False  # answer 200 with a body that is not the API's
    delay: float = 0.0
    all_unavailable: bool = False
    signed_hosts: list[str] = field(default_factory=list)

    def create_key(self, key_id: str) -> str:
        self.keys[key_id] = os.urandom(32)
        return key_id

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self)

    @staticmethod
    async def resolver(
        url: str, allowed: object, setting: str
    ) -> outbound.PinnedUrl:  # no DNS: the transport never opens a socket
        host = httpx.URL(url).host
        netloc = url.split("://", 1)[1].split("/", 1)[0]
        return outbound.PinnedUrl((url,), netloc, host)

    def calls(self, api: str) -> list[dict[str, Any]]:
        return [entry for entry in self.log if entry["api"] == api]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer = self._handle(scope["method"], scope["path"], headers, body)
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if method != "POST":
            return 405, {"errorName": "ValidationException"}
        if not self._signature_ok(path, headers, body):
            return 401, {"errorName": "AuthenticationFailedException"}
        if not path.startswith(self.uri_path + "/"):
            return 404, {"errorName": "InvalidUriPathException"}
        request = json.loads(body)
        rest = path[len(self.uri_path) + 1 :].split("/")
        api = {"health": "GetHealthStatus"}.get(rest[0]) or {
            "metadata": "GetKeyMetadata",
            "encrypt": "Encrypt",
            "decrypt": "Decrypt",
        }.get(rest[-1], "?")
        self.log.append({"api": api, **request["requestMetadata"]})
        if self.fail_with is not None:
            status = {"KeyNotFoundException": 404, "AccessDeniedException": 403}.get(
                self.fail_with, 400
            )
            return status, {"errorName": self.fail_with}
        if self.garbage:
            return 200, b"<html>not json</html>"
        if api == "GetHealthStatus":
            status_text = "UNAVAILABLE" if self.all_unavailable else "ACTIVE"
            return 200, {
                "xksProxyFleetSize": 1,
                "xksProxyVendor": "Andromede tests",
                "xksProxyModel": "in-process 1",
                "ekmVendor": "memory",
                "ekmFleetDetails": [{"id": "m1", "model": "dict", "healthStatus": status_text}],
            }
        key_id = rest[1] if len(rest) == 3 and rest[0] == "keys" else None
        if key_id is None or key_id not in self.keys:
            return 404, {"errorName": "KeyNotFoundException"}
        if api == "GetKeyMetadata":
            return 200, {
                "keySpec": "AES_256",
                "keyUsage": ["ENCRYPT", "DECRYPT"],
                "keyStatus": "DISABLED" if key_id in self.disabled else "ENABLED",
            }
        if key_id in self.disabled:
            return 400, {"errorName": "InvalidStateException"}
        aead = AESGCM(self.keys[key_id])
        aad = base64.b64decode(request.get("additionalAuthenticatedData", ""))
        if api == "Encrypt":
            plaintext = base64.b64decode(request["plaintext"])
            iv = os.urandom(12)
            metadata = b"v=1"
            sealed = aead.encrypt(iv, plaintext, _spec_aad(aad, metadata))
            ciphertext, tag = sealed[:-16], sealed[-16:]
            cdiv = hashlib.sha256(aad + metadata + iv + ciphertext + tag).digest()
            return 200, {
                "ciphertext": _b64(ciphertext),
                "ciphertextMetadata": _b64(metadata),
                "initializationVector": _b64(iv),
                "authenticationTag": _b64(tag),
                "ciphertextDataIntegrityValue": _b64(cdiv),
            }
        if api == "Decrypt":
            metadata = base64.b64decode(request.get("ciphertextMetadata", ""))
            try:
                plaintext = aead.decrypt(
                    base64.b64decode(request["initializationVector"]),
                    base64.b64decode(request["ciphertext"])
                    + base64.b64decode(request["authenticationTag"]),
                    _spec_aad(aad, metadata),
                )
            except (InvalidTag, ValueError):
                return 400, {"errorName": "InvalidCiphertextException"}
            return 200, {"plaintext": _b64(plaintext)}
        return 404, {"errorName": "InvalidUriPathException"}

    def _signature_ok(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        authorization = headers.get("authorization", "")
        if f"Credential={self.access_key_id}/" not in authorization:
            return False
        if "/kms-xks-proxy/aws4_request" not in authorization:
            return False
        self.signed_hosts.append(headers["host"])
        request = AWSRequest(
            method="POST",
            url=f"https://{headers['host']}{path}",
            data=body,
            headers={"X-Amz-Date": headers["x-amz-date"]},
        )
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret), "kms-xks-proxy", self.region
        )
        # botocore signs with "now"; give it the request's own date.
        request.context["timestamp"] = headers["x-amz-date"]
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        return authorization.endswith(f"Signature={expected}")


def _spec_aad(aad: bytes, metadata: bytes) -> bytes:
    """The spec's AAD for the key manager: lengths included, so neither part can pose as
    the other."""
    return len(aad).to_bytes(2, "big") + aad + len(metadata).to_bytes(1, "big") + metadata


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
