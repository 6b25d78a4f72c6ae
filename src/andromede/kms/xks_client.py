"""The client side of the XKS proxy API (AWS's External Key Store Proxy API specification,
v1): GetHealthStatus, GetKeyMetadata, Encrypt and Decrypt, as KMS calls a customer's proxy.

Each call is a JSON POST to ``<endpoint><uri path>/…``, SigV4-signed as the spec's Appendix A
says (service ``kms-xks-proxy``, the KMS region, ``host;x-amz-date`` signed, the body's SHA-256
as payload hash), carrying ``requestMetadata`` (Appendix B: the caller's ARN, the KMS operation
and request id, the KMS key's ARN where it applies, ``kmsViaService`` for a service's call).

The endpoint is a tenant's, so every call goes through :mod:`andromede.http.outbound`: the host
resolved once, every address public or inside ``xks_allowed_networks``, the connection pinned
to a checked address with TLS checked against the host's name (system store plus
``xks_ca_bundle``), the gateway's client certificate presented when the proxy asks for one
(``xks_client_cert``, mutual TLS, decision 0101). Each phase — connection with TLS, request,
answer — has ``xks_timeout`` seconds, the whole call twice that.

**Kept connections** (decision 0101). Each proxy endpoint — the name its certificate was
checked for, and the port — has a pool of its own of at most ``xks_max_connections`` kept-alive
connections, so a connection is only ever reused for the name it was checked against (two
tenants naming one address with two names never share one). Pools are made lazily, by the
process and event loop that use them: a pool inherited across a fork, or made in another loop,
is set aside, never used nor closed (its sockets are the parent's). :meth:`XksClient.aclose`
closes them at shutdown. At most ``_MAX_PROXIES`` endpoints have a pool at once, the least
recently used closing first.

Encrypt asks for the Ciphertext Data Integrity Value (Appendix C) and checks it, so a wrapped
data key corrupted on its way back is caught before anything is stored under it.

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
import os
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
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
# An idle kept connection is closed after this: shorter than the keep-alive of the proxies
# met so far (``andromede xks-proxy``: 60 s; AWS's sample proxy: 60 s), so the proxy rarely
# closes one the gateway is about to reuse (when it does, the call is sent once more).
_KEEPALIVE_EXPIRY: Final = 30.0
_MAX_PROXIES: Final = 256  # proxy endpoints with a pool at once, per process
# Pools of another process (a fork) or event loop: kept referenced, never used nor closed.
_SET_ASIDE: list[httpx.AsyncClient] = []
# Set by a connection's TLS handshake for the call that opened it (the handshake runs in the
# calling task, so in its context).
_OPENED_HERE: ContextVar[list[bool] | None] = ContextVar("xks_opened_here", default=None)


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


@dataclass(slots=True)
class _Pool:
    """One proxy endpoint's kept connections, and how many calls are using them."""

    client: httpx.AsyncClient
    users: int = 0
    evicted: bool = False


class _Handshakes:
    """TLS handshakes completed by a client's connections (its pools' statistics)."""

    def __init__(self) -> None:
        self.count = 0

    def counting(self) -> type[ssl.SSLObject]:
        handshakes = self

        class Counted(ssl.SSLObject):
            def do_handshake(self) -> None:
                super().do_handshake()
                handshakes.count += 1
                opened = _OPENED_HERE.get()
                if opened is not None:  # the connection was opened for the call in progress
                    opened[0] = True

        return Counted


class XksClient:
    def __init__(
        self,
        *,
        region: str,
        timeout: float,
        allowed_networks: Sequence[str] = (),
        ca_bundle: Path | None = None,
        client_certificate: tuple[Path, Path] | None = None,
        max_connections: int = 10,
        on_call: Callable[[XksCall], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = outbound.pin,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``client_certificate``: PEM certificate (chain) and key files presented to a proxy
        that asks for one. ``transport`` and ``resolver`` stand in for the network in unit
        tests."""
        self._region = region
        self._timeout = timeout
        self._allowed = outbound.networks(allowed_networks)
        self._handshakes = _Handshakes()
        counted = self._handshakes.counting()

        def prepare(context: ssl.SSLContext) -> None:
            if client_certificate is not None:
                certificate, key = client_certificate
                # Loaded once: the key stays in OpenSSL, never in a Python value or a repr.
                context.load_cert_chain(str(certificate), str(key))
            context.sslobject_class = counted

        self._tls = outbound.TlsContextOnDemand(
            ca_bundle, prepare, operator_files=client_certificate is not None
        )
        self._max_connections = max_connections
        self._on_call = on_call
        self._transport = transport
        self._resolve = resolver
        self._clock = clock
        self._pools: OrderedDict[str, _Pool] = OrderedDict()
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def handshakes(self) -> int:
        """TLS handshakes this client completed (in this process): one per new connection."""
        return self._handshakes.count

    async def aclose(self) -> None:
        """Close every kept connection (at shutdown)."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        if self._owner is None or self._owner[0] != os.getpid():
            _SET_ASIDE.extend(pool.client for pool in pools)
            return
        for pool in pools:
            await pool.client.aclose()

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
        import httpx  # on use: it took 0.26 s of every start of the server (decision 0115)

        url = endpoint.base_url + suffix
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            # httpx's own timeouts end each phase; the outer bound caps the phases together,
            # and a handshake it cuts closes its socket (close_cancelled_handshakes).
            async with asyncio.timeout(self._timeout * _OUTER_BOUND):
                pinned = await self._resolve(url, self._allowed, "xks_allowed_networks")
                headers = self._signed_headers(endpoint, url, pinned.host, body)
                pool = await self._acquire(pinned)
                try:
                    return await _send_once_more_if_stale(pool.client, headers, body, pinned)
                finally:
                    await self._release(pool)
        except XksProxyFailure:
            raise
        except outbound.AddressRefused as exc:
            raise XksProxyFailure(XksFailure.REFUSED_ADDRESS, str(exc)) from None
        except outbound.NoAddress:
            raise XksProxyFailure(XksFailure.UNREACHABLE, "the host does not resolve") from None
        except (TimeoutError, httpx.TimeoutException):
            raise XksProxyFailure(XksFailure.TIMEOUT) from None
        except (httpx.HTTPError, OSError) as exc:
            # ssl.SSLError is an OSError, and not every one reaches here wrapped by httpx: a
            # proxy's alert refusing the gateway's certificate, read while the request is
            # written, came as the bare SSLError (most of the time with the CPU loaded).
            if _tls_failure(exc):
                raise XksProxyFailure(XksFailure.TLS) from None
            raise XksProxyFailure(XksFailure.UNREACHABLE) from None

    async def _acquire(self, pinned: outbound.PinnedUrl) -> _Pool:
        """The pool of the endpoint ``pinned`` names (made on first use), held for one call."""
        owner = (os.getpid(), asyncio.get_running_loop())
        if self._owner != owner:
            # A fork, or another event loop: those connections are not this one's to use.
            _SET_ASIDE.extend(pool.client for pool in self._pools.values())
            self._pools.clear()
            self._owner = owner
        key = pinned.host.lower()  # host[:port]: the name TLS checked, and the port
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self._new_client())
            while len(self._pools) > _MAX_PROXIES:
                _, oldest = self._pools.popitem(last=False)
                oldest.evicted = True
                if oldest.users == 0:
                    await oldest.client.aclose()
        else:
            self._pools.move_to_end(key)
        pool.users += 1
        return pool

    async def _release(self, pool: _Pool) -> None:
        pool.users -= 1
        if pool.evicted and pool.users == 0:
            await pool.client.aclose()

    def _new_client(self) -> httpx.AsyncClient:
        import httpx  # on use: it took 0.26 s of every start of the server (decision 0115)

        from andromede.http.network_backend import close_cancelled_handshakes

        # The outer bound of _post cancels whatever phase is in progress, a TLS handshake
        # too: that handshake's socket must be closed then (network_backend says why).
        transport = self._transport or close_cancelled_handshakes(
            httpx.AsyncHTTPTransport(
                verify=self._tls.get(),
                http1=True,
                http2=False,
                limits=httpx.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=self._max_connections,
                    keepalive_expiry=_KEEPALIVE_EXPIRY,
                ),
                trust_env=False,
            )
        )
        return httpx.AsyncClient(transport=transport, timeout=self._timeout, trust_env=False)

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


async def _send_once_more_if_stale(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    body: bytes,
    pinned: outbound.PinnedUrl,
) -> dict[str, Any]:
    """One exchange; sent once more when a kept connection turns out closed by the proxy (the
    four APIs change nothing at the proxy). A connection opened by this very call that breaks
    before any answer is the proxy refusing it as the TLS handshake ended: with TLS 1.3 the
    client's handshake is over before the server has checked the client's certificate, and
    a refusal (another CA, another subject, none) shows as a closed connection."""
    import httpx  # on use: it took 0.26 s of every start of the server (decision 0115)

    for attempt in (1, 2):
        opened = [False]
        token = _OPENED_HERE.set(opened)
        try:
            return await _send(client, headers, body, pinned)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if _tls_failure(exc) or opened[0]:
                raise XksProxyFailure(
                    XksFailure.TLS, "the connection ended as its TLS handshake completed"
                ) from None
            if attempt == 2:
                raise
        finally:
            _OPENED_HERE.reset(token)
    raise AssertionError("unreachable")  # pragma: no cover


async def _send(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    body: bytes,
    pinned: outbound.PinnedUrl,
) -> dict[str, Any]:
    import httpx  # on use: it took 0.26 s of every start of the server (decision 0115)

    last: Exception | None = None
    for target in pinned.targets:
        try:
            return await _exchange(client, target, headers, body, pinned)
        except httpx.ConnectError as exc:  # the next address, if any
            last = exc
    assert last is not None  # noqa: S101 (pin returns one target at least)
    raise last


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
