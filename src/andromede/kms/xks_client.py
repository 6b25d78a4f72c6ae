"""The client side of the XKS proxy API (AWS's External Key Store Proxy API specification,
v1): GetHealthStatus, GetKeyMetadata, Encrypt and Decrypt, as KMS calls a customer's proxy.

Each call is a JSON POST to ``<endpoint><uri path>/…``, SigV4-signed as the spec's Appendix A
says (service ``kms-xks-proxy``, the KMS region, ``host;x-amz-date`` signed, the body's SHA-256
as payload hash), carrying ``requestMetadata`` (Appendix B: the caller's ARN, the KMS operation
and request id, the KMS key's ARN where it applies, ``kmsViaService`` for a service's call).

The endpoint is a tenant's, so every call goes through :mod:`andromede.http.outbound`: the host
resolved once, every address public or inside ``xks_allowed_networks``, the connection pinned
to a checked address with TLS checked against the host's name (system store plus
``xks_ca_bundle``). The whole call — resolution, connection, TLS, answer — has ``xks_timeout``
seconds. Encrypt asks for the Ciphertext Data Integrity Value (Appendix C) and checks it, so a
wrapped data key corrupted on its way back is caught before anything is stored under it.

Every failure is one :class:`XksProxyFailure` whose ``failure`` says what went wrong, in the
terms of the spec's error table (the proxy's ``errorName``, or what the gateway saw: no TCP
connection, no TLS, a timeout, a malformed answer); the KMS service turns it into the error the
calling KMS operation answers. The proxy's ``errorMessage`` is never passed on. Every call is
reported to ``on_call`` (the operator's audit trail), success or failure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from andromede.http import outbound, sigv4
from andromede.kms.errors import KmsError

__all__ = [
    "XKS_SERVICE",
    "XksCall",
    "XksCiphertext",
    "XksClient",
    "XksEndpoint",
    "XksFailure",
    "XksKeyMetadata",
    "XksProxyFailure",
    "XksRequestMetadata",
]

XKS_SERVICE: Final = "kms-xks-proxy"  # the SigV4 service name of the spec's Appendix A
_MAX_ANSWER: Final = 64 * 1024
_MAX_METADATA: Final = 20  # bytes of ciphertextMetadata a proxy may add
_TAG_SIZE: Final = 16
_IV_SIZES: Final = (12, 16)
_AMZ_DATE: Final = "%Y%m%dT%H%M%SZ"
_OUTER_BOUND: Final = 2.0  # times xks_timeout: resolution and each phase together


class XksFailure(enum.Enum):
    """Why a proxy call failed: the proxy's ``errorName``, or what the gateway saw."""

    VALIDATION = "ValidationException"
    INVALID_STATE = "InvalidStateException"
    INVALID_CIPHERTEXT = "InvalidCiphertextException"
    INVALID_KEY_USAGE = "InvalidKeyUsageException"
    AUTHENTICATION_FAILED = "AuthenticationFailedException"
    ACCESS_DENIED = "AccessDeniedException"
    KEY_NOT_FOUND = "KeyNotFoundException"
    INVALID_URI_PATH = "InvalidUriPathException"
    THROTTLING = "ThrottlingException"
    UNSUPPORTED_OPERATION = "UnsupportedOperationException"
    DEPENDENCY_TIMEOUT = "DependencyTimeoutException"
    INTERNAL = "InternalException"
    # Seen by the gateway, not named by the proxy:
    MALFORMED = "malformed response"
    UNREACHABLE = "no TCP connection"
    TLS = "no TLS connection"
    TIMEOUT = "timed out"
    REFUSED_ADDRESS = "internal address"
    BAD_PLAINTEXT = "invalid plaintext"  # a Decrypt answer of the wrong length
    UNAVAILABLE = "every key manager unavailable"  # GetHealthStatus


_BY_NAME: Final = {f.value: f for f in XksFailure if f.value.endswith("Exception")}


class XksProxyFailure(KmsError):
    """A proxy call that failed; ``failure`` says how (no message of the proxy's in it)."""

    def __init__(self, failure: XksFailure, detail: str = "") -> None:
        super().__init__(f"XKS proxy call failed: {failure.value}{': ' if detail else ''}{detail}")
        self.failure = failure


@dataclass(frozen=True, slots=True)
class XksEndpoint:
    """Where a store's proxy is and the credential KMS signs with. The secret is in clear
    only in this value, for the length of a call: its repr leaves it out."""

    base_url: str  # https://host[:port]/prefix/kms/xks/v1
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"XksEndpoint({self.base_url!r}, {self.access_key_id!r})"


@dataclass(frozen=True, slots=True)
class XksRequestMetadata:
    """The spec's ``requestMetadata`` (Appendix B): who called KMS, with which operation."""

    kms_operation: str
    kms_request_id: str
    aws_principal_arn: str | None = None
    kms_key_arn: str | None = None
    kms_via_service: str | None = None
    # Not sent: the account the call is for, for the operator's audit record.
    account_id: str | None = None

    def to_json(self) -> dict[str, str]:
        fields = {
            "awsPrincipalArn": self.aws_principal_arn,
            "kmsKeyArn": self.kms_key_arn,
            "kmsOperation": self.kms_operation,
            "kmsRequestId": self.kms_request_id,
            "kmsViaService": self.kms_via_service,
        }
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True, slots=True)
class XksKeyMetadata:
    key_spec: str
    key_usage: tuple[str, ...]
    key_status: str


@dataclass(frozen=True, slots=True)
class XksCiphertext:
    """What the proxy's Encrypt answers, all of which its Decrypt needs back."""

    ciphertext: bytes
    iv: bytes
    tag: bytes
    metadata: bytes = b""


@dataclass(frozen=True, slots=True)
class XksCall:
    """One proxy call, for the operator's audit trail: never a plaintext or a key byte."""

    operation: str  # the proxy API: GetHealthStatus, GetKeyMetadata, Encrypt, Decrypt
    base_url: str
    external_key_id: str | None
    metadata: XksRequestMetadata
    failure: XksFailure | None
    duration_ms: float


Resolver = Callable[[str, Sequence[outbound.Network], str], Awaitable[outbound.PinnedUrl]]


class XksClient:
    def __init__(
        self,
        *,
        region: str,
        timeout: float,
        allowed_networks: Sequence[str] = (),
        ca_bundle: Path | None = None,
        on_call: Callable[[XksCall], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = outbound.pin,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``transport`` and ``resolver`` stand in for the network in unit tests."""
        self._region = region
        self._timeout = timeout
        self._allowed = outbound.networks(allowed_networks)
        self._tls: ssl.SSLContext = outbound.tls_context(ca_bundle)
        self._on_call = on_call
        self._transport = transport
        self._resolve = resolver
        self._clock = clock

    @property
    def timeout(self) -> float:
        return self._timeout

    # --- the four APIs -------------------------------------------------------------------

    async def health(self, endpoint: XksEndpoint, metadata: XksRequestMetadata) -> None:
        """GetHealthStatus; returns when at least one key manager is ACTIVE or DEGRADED."""
        answer = await self._call(endpoint, "GetHealthStatus", None, "/health", metadata, {})
        fleet = answer.get("ekmFleetDetails")
        size = answer.get("xksProxyFleetSize")
        if (
            not isinstance(fleet, list)
            or not 1 <= len(fleet) <= 10
            or isinstance(size, bool)
            or not isinstance(size, int)
            or size < 1
            or not all(isinstance(e, dict) for e in fleet)
        ):
            raise XksProxyFailure(XksFailure.MALFORMED, "GetHealthStatus")
        statuses = [e.get("healthStatus") for e in fleet]
        if not all(s in ("ACTIVE", "DEGRADED", "UNAVAILABLE") for s in statuses):
            raise XksProxyFailure(XksFailure.MALFORMED, "GetHealthStatus")
        if all(s == "UNAVAILABLE" for s in statuses):
            raise XksProxyFailure(XksFailure.UNAVAILABLE)

    async def key_metadata(
        self, endpoint: XksEndpoint, key_id: str, metadata: XksRequestMetadata
    ) -> XksKeyMetadata:
        answer = await self._call(
            endpoint, "GetKeyMetadata", key_id, f"/keys/{key_id}/metadata", metadata, {}
        )
        spec, usage, status = answer.get("keySpec"), answer.get("keyUsage"), answer.get("keyStatus")
        if (
            not isinstance(spec, str)
            or not isinstance(usage, list)
            or len(usage) > 10
            or not all(isinstance(u, str) for u in usage)
            or status not in ("ENABLED", "DISABLED")
        ):
            raise XksProxyFailure(XksFailure.MALFORMED, "GetKeyMetadata")
        return XksKeyMetadata(spec, tuple(usage), str(status))

    async def encrypt(
        self,
        endpoint: XksEndpoint,
        key_id: str,
        metadata: XksRequestMetadata,
        plaintext: bytes,
        aad: bytes,
    ) -> XksCiphertext:
        body = {
            "plaintext": _b64(plaintext),
            "encryptionAlgorithm": "AES_GCM",
            "additionalAuthenticatedData": _b64(aad),
            "ciphertextDataIntegrityValueAlgorithm": "SHA_256",
        }
        answer = await self._call(
            endpoint, "Encrypt", key_id, f"/keys/{key_id}/encrypt", metadata, body
        )
        try:
            sealed = XksCiphertext(
                ciphertext=_unb64(answer["ciphertext"]),
                iv=_unb64(answer["initializationVector"]),
                tag=_unb64(answer["authenticationTag"]),
                metadata=_unb64(answer.get("ciphertextMetadata", "")),
            )
            cdiv = _unb64(answer["ciphertextDataIntegrityValue"])
        except (KeyError, ValueError):
            raise XksProxyFailure(XksFailure.MALFORMED, "Encrypt") from None
        if (
            len(sealed.ciphertext) != len(plaintext)
            or len(sealed.iv) not in _IV_SIZES
            or len(sealed.tag) != _TAG_SIZE
            or len(sealed.metadata) > _MAX_METADATA
        ):
            raise XksProxyFailure(XksFailure.MALFORMED, "Encrypt")
        expected = hashlib.sha256(
            aad + sealed.metadata + sealed.iv + sealed.ciphertext + sealed.tag
        ).digest()
        if not hmac.compare_digest(expected, cdiv):
            raise XksProxyFailure(XksFailure.MALFORMED, "Encrypt: the integrity value differs")
        return sealed

    async def decrypt(
        self,
        endpoint: XksEndpoint,
        key_id: str,
        metadata: XksRequestMetadata,
        sealed: XksCiphertext,
        aad: bytes,
    ) -> bytes:
        body = {
            "ciphertext": _b64(sealed.ciphertext),
            "encryptionAlgorithm": "AES_GCM",
            "additionalAuthenticatedData": _b64(aad),
            "initializationVector": _b64(sealed.iv),
            "authenticationTag": _b64(sealed.tag),
        }
        if sealed.metadata:
            body["ciphertextMetadata"] = _b64(sealed.metadata)
        answer = await self._call(
            endpoint, "Decrypt", key_id, f"/keys/{key_id}/decrypt", metadata, body
        )
        try:
            plaintext = _unb64(answer["plaintext"])
        except (KeyError, ValueError):
            raise XksProxyFailure(XksFailure.MALFORMED, "Decrypt") from None
        if len(plaintext) != len(sealed.ciphertext):
            raise XksProxyFailure(XksFailure.BAD_PLAINTEXT)
        return plaintext

    # --- transport -------------------------------------------------------------------------

    async def _call(
        self,
        endpoint: XksEndpoint,
        operation: str,
        key_id: str | None,
        suffix: str,
        metadata: XksRequestMetadata,
        body: Mapping[str, Any],
    ) -> dict[str, Any]:
        started = time.perf_counter()
        failure: XksFailure | None = None
        try:
            return await self._post(
                endpoint, suffix, {"requestMetadata": metadata.to_json(), **body}
            )
        except XksProxyFailure as exc:
            failure = exc.failure
            raise
        finally:
            if self._on_call is not None:
                self._on_call(
                    XksCall(
                        operation,
                        endpoint.base_url,
                        key_id,
                        metadata,
                        failure,
                        (time.perf_counter() - started) * 1000,
                    )
                )

    async def _post(
        self, endpoint: XksEndpoint, suffix: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        url = endpoint.base_url + suffix
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            # httpx's own timeouts end each phase cleanly (a cancelled TLS handshake would
            # leave its socket behind); the outer bound caps the phases together.
            async with asyncio.timeout(self._timeout * _OUTER_BOUND):
                pinned = await self._resolve(url, self._allowed, "xks_allowed_networks")
                headers = self._signed_headers(endpoint, url, pinned.host, body)
                async with httpx.AsyncClient(
                    verify=self._tls, timeout=self._timeout, transport=self._transport
                ) as client:
                    last: Exception | None = None
                    for target in pinned.targets:
                        try:
                            return await _exchange(client, target, headers, body, pinned)
                        except httpx.ConnectError as exc:  # the next address, if any
                            last = exc
                    assert last is not None  # noqa: S101 (pin returns one target at least)
                    raise last
        except XksProxyFailure:
            raise
        except outbound.AddressRefused as exc:
            raise XksProxyFailure(XksFailure.REFUSED_ADDRESS, str(exc)) from None
        except outbound.NoAddress:
            raise XksProxyFailure(XksFailure.UNREACHABLE, "the host does not resolve") from None
        except (TimeoutError, httpx.TimeoutException):
            raise XksProxyFailure(XksFailure.TIMEOUT) from None
        except httpx.HTTPError as exc:
            if _tls_failure(exc):
                raise XksProxyFailure(XksFailure.TLS) from None
            raise XksProxyFailure(XksFailure.UNREACHABLE) from None
        except OSError:
            raise XksProxyFailure(XksFailure.UNREACHABLE) from None

    def _signed_headers(
        self, endpoint: XksEndpoint, url: str, host: str, body: bytes
    ) -> dict[str, str]:
        """Appendix A: ``host;x-amz-date`` signed, scope ``<date>/<region>/kms-xks-proxy``,
        by the SigV4 code the gateway verifies its own requests with."""
        amz_date = self._clock().strftime(_AMZ_DATE)
        day = amz_date[:8]
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        signed = {"host": host, "x-amz-date": amz_date}
        canonical = sigv4.canonical_request(
            "POST",
            path,
            "",
            signed,
            tuple(signed),
            hashlib.sha256(body).hexdigest(),
            presigned=False,
        )
        scope = f"{day}/{self._region}/{XKS_SERVICE}/aws4_request"
        key = sigv4.derive_signing_key(endpoint.secret_access_key, day, self._region, XKS_SERVICE)
        signature = sigv4.sign(key, sigv4.string_to_sign(amz_date, scope, canonical))
        return {
            "Host": host,
            "X-Amz-Date": amz_date,
            "Content-Type": "application/json",
            "Authorization": f"{sigv4.ALGORITHM} Credential={endpoint.access_key_id}/{scope}, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}",
        }


async def _exchange(
    client: httpx.AsyncClient,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    pinned: outbound.PinnedUrl,
) -> dict[str, Any]:
    async with client.stream(
        "POST", target, headers=dict(headers), content=body, extensions=pinned.extensions
    ) as answer:
        raw = bytearray()
        async for chunk in answer.aiter_bytes():
            raw += chunk
            if len(raw) > _MAX_ANSWER:
                raise XksProxyFailure(XksFailure.MALFORMED, "the answer is too large")
        status = answer.status_code
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    if status == 200:
        if not isinstance(parsed, dict):
            raise XksProxyFailure(XksFailure.MALFORMED, "the answer is not a JSON object")
        return parsed
    name = parsed.get("errorName") if isinstance(parsed, dict) else None
    failure = _BY_NAME.get(name) if isinstance(name, str) else None
    raise XksProxyFailure(failure or XksFailure.MALFORMED, f"HTTP {status}")


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
