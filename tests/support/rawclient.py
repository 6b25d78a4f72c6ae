"""A small raw HTTP/1.1 client that signs with botocore and can then lie on the wire.

boto3 refuses to send broken requests; the bad-input and probe tests need exactly those: a wrong
``Content-Length``, a truncated body, garbage XML, a skewed clock, a signature for another region,
a body trickled slowly then abandoned. Requests are signed with botocore's own SigV4 code
(``SigV4Auth`` with S3's unnormalised paths, ``S3SigV4QueryAuth`` for presigned URLs) so that the
signatures are the ones real SDKs produce; the framing headers (``Content-Length``,
``Transfer-Encoding``) are added after signing so a test can set them to anything. Responses are
read with :class:`http.client.HTTPResponse` over the same socket.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.etree import ElementTree

import boto3
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "UNSIGNED_PAYLOAD",
    "ErrorDocument",
    "RawClient",
    "RawResponse",
    "RawStream",
    "boto3_client_for",
    "quote_key",
    "raw_client_for",
    "sha256_hex",
]

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_TIMEOUT = 10.0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quote_key(key: str) -> str:
    """A key as S3 wants it in a path: every byte but unreserved ones and '/' percent-encoded."""
    return quote(key, safe="/~")


@dataclass(frozen=True)
class ErrorDocument:
    code: str
    message: str
    resource: str | None
    request_id: str | None
    elements: Mapping[str, str]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names, repeated headers joined by ", "
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def error(self) -> ErrorDocument:
        """The S3 ``<Error>`` document of the body; AssertionError if the body is not one."""
        root = ElementTree.fromstring(self.body)  # noqa: S314 - our own server's response
        assert root.tag == "Error", f"not an S3 error document: {self.body[:300]!r}"
        elements = {child.tag: child.text or "" for child in root}
        assert "Code" in elements, f"no <Code> in {self.body[:300]!r}"
        return ErrorDocument(
            code=elements["Code"],
            message=elements.get("Message", ""),
            resource=elements.get("Resource"),
            request_id=elements.get("RequestId"),
            elements=elements,
        )

    @property
    def code(self) -> str | None:
        """The error code, or None when the body is not an error document."""
        if not self.body.lstrip().startswith(b"<"):
            return None
        try:
            return self.error().code
        except (AssertionError, ElementTree.ParseError):
            return None


class _FixedClockSigV4(SigV4Auth):
    """botocore's header signer with a chosen clock and S3's rule of an unnormalised path."""

    def __init__(self, credentials: Credentials, region: str, when: datetime, service: str) -> None:
        super().__init__(credentials, service, region)
        self._when = when

    def _normalize_url_path(self, path: str) -> str:
        return path

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        # botocore's own steps of add_auth, minus its clock (private, absent from the stubs).
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]


class _FixedClockQueryAuth(S3SigV4QueryAuth):
    def __init__(self, credentials: Credentials, region: str, when: datetime, expires: int) -> None:
        super().__init__(credentials, "s3", region, expires=expires)
        self._when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        # botocore's own steps of add_auth, minus its clock (private, absent from the stubs).
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]


def _read_response(sock: socket.socket, method: str) -> RawResponse:
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        body = response.read()
    finally:
        response.close()
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        lower = name.lower()
        headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
    return RawResponse(status=response.status, headers=headers, body=body)


class RawStream:
    """An open request whose headers are sent: feed the body piece by piece, then read or drop."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        self._sock = sock
        self._method = method

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def begin(self) -> http.client.HTTPResponse:
        """The response with its status and headers read and its body left on the socket, for
        callers that stream a large body; closing it closes the connection."""
        response = http.client.HTTPResponse(self._sock, method=self._method)
        response.begin()
        self._sock.close()  # the response holds its own file object on the socket
        return response

    def response(self) -> RawResponse:
        try:
            return _read_response(self._sock, self._method)
        finally:
            self._sock.close()

    def abort(self) -> None:
        """Drop the connection at once (RST), as a crashed client does."""
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._sock.close()

    def close(self) -> None:
        self._sock.close()


class RawClient:
    """Signs and sends one request per connection to an Andromède (or any S3) endpoint."""

    def __init__(
        self,
        host: str,
        port: int,
        access_key: str,
        secret_key: str,
        region: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.timeout = timeout

    # -- signing --------------------------------------------------------------------------------
    def sign(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        *,
        payload_hash: str,
        host: str | None = None,
        region: str | None = None,
        when: datetime | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        service: str = "s3",
    ) -> dict[str, str]:
        """The headers to send: ``headers`` plus Host, X-Amz-Date, x-amz-content-sha256 and
        Authorization. ``path`` and ``query`` must already be percent-encoded."""
        netloc = host or f"{self.host}:{self.port}"
        url = f"http://{netloc}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, headers={"Host": netloc, **(headers or {})})
        request.headers["X-Amz-Content-SHA256"] = payload_hash
        credentials = Credentials(access_key or self.access_key, secret_key or self.secret_key)
        signer = _FixedClockSigV4(
            credentials, region or self.region, when or datetime.now(UTC), service
        )
        signer.add_auth(request)
        return dict(request.headers.items())

    def presign(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        expires: int = 3600,
        when: datetime | None = None,
    ) -> str:
        """A presigned ``path?query`` (no scheme, no host), valid ``expires`` s from ``when``."""
        netloc = f"{self.host}:{self.port}"
        url = f"http://{netloc}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, headers={"Host": netloc})
        signer = _FixedClockQueryAuth(
            Credentials(self.access_key, self.secret_key),
            self.region,
            when or datetime.now(UTC),
            expires,
        )
        signer.add_auth(request)
        signed_url = str(request.url)
        return signed_url[len(f"http://{netloc}") :]

    # -- sending ----------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
    ) -> RawStream:
        """Connect and send the request line and headers exactly as given (no signing)."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        lines = [f"{method} {target} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in items)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        sock = self._connect()
        sock.sendall(head)
        return RawStream(sock, method)

    def open_signed(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        *,
        content_length: int | None,
        payload_hash: str = UNSIGNED_PAYLOAD,
        chunked: bool = False,
        **sign_options: Any,
    ) -> RawStream:
        """A signed request whose body the caller streams (``content_length`` is announced)."""
        signed = self.sign(method, path, query, headers, payload_hash=payload_hash, **sign_options)
        if content_length is not None:
            signed["Content-Length"] = str(content_length)
        if chunked:
            signed["Transfer-Encoding"] = "chunked"
        target = path + (f"?{query}" if query else "")
        return self.open(method, target, signed)

    def request(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        payload_hash: str | None = None,
        content_length: int | None = -1,
        sign: bool = True,
        **sign_options: Any,
    ) -> RawResponse:
        """Send one request and read its response. ``payload_hash`` defaults to the body's
        SHA-256; ``content_length`` -1 means the body's length, None means no header."""
        if sign:
            signed = self.sign(
                method,
                path,
                query,
                headers,
                payload_hash=payload_hash if payload_hash is not None else sha256_hex(body),
                **sign_options,
            )
        else:
            signed = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if content_length == -1:
            if body or method in ("PUT", "POST"):
                signed["Content-Length"] = str(len(body))
        elif content_length is not None:
            signed["Content-Length"] = str(content_length)
        stream = self.open(method, path + (f"?{query}" if query else ""), signed)
        if body:
            stream.send(body)
        return stream.response()

    def get_target(self, target: str, headers: Mapping[str, str] | None = None) -> RawResponse:
        """An unsigned GET of ``path?query`` as given (presigned URLs, anonymous reads)."""
        stream = self.open("GET", target, {"Host": f"{self.host}:{self.port}", **(headers or {})})
        return stream.response()


def raw_client_for(server: ServerProcess, timeout: float = DEFAULT_TIMEOUT) -> RawClient:
    """A :class:`RawClient` holding the admin key of a running test server."""
    access_key, secret_key = server.credentials()
    return RawClient("127.0.0.1", server.port, access_key, secret_key, REGION, timeout)


def boto3_client_for(server: ServerProcess, timeout: float = DEFAULT_TIMEOUT) -> S3Client:
    """A path-style boto3 S3 client for a running test server: no retries, 10 s timeouts."""
    access_key, secret_key = server.credentials()
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
            connect_timeout=timeout,
            read_timeout=timeout,
        ),
    )
    return client
