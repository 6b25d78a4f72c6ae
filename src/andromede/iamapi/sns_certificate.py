"""The SNS signing certificate, served unsigned at the ``SigningCertURL`` of every message
(``/SimpleNotificationService-<key id>.pem`` on the shared endpoint, decision 0163), so that
a subscriber verifies a message as it verifies SNS's. No bucket can shadow the path: bucket
names have no capital letters."""

from __future__ import annotations

from typing import Protocol

from andromede.http.response import Receive, Scope, Send
from andromede.notifications.envelope import key_id_of_path

__all__ = ["CertificateSource", "SnsCertificateApp", "is_certificate_request"]


class CertificateSource(Protocol):
    async def certificate(self, key_id: str) -> str | None: ...


def is_certificate_request(scope: Scope) -> bool:
    return scope.get("method") in ("GET", "HEAD") and key_id_of_path(scope["path"]) is not None


class SnsCertificateApp:
    name = "sns-certificate"

    def __init__(self, source: CertificateSource) -> None:
        self._source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key_id = key_id_of_path(scope["path"])
        pem = None if key_id is None else await self._source.certificate(key_id)
        status = 200 if pem is not None else 404
        body = (pem or "Not Found\n").encode()
        content_type = b"application/x-pem-file" if pem is not None else b"text/plain"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"public, max-age=86400" if pem else b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
