"""The XKS proxy's HTTP adapter: a raw ASGI application speaking the spec's JSON API.

Per request, in this order:

1. a request id (``x-request-id`` on every answer, ``requestId`` in the audit log);
2. the route: ``GET /healthz`` is the load balancers' check (no signature; the token's
   health, cached a few seconds so that unauthenticated probes cannot keep the token busy);
   anything else must be one of the four URIs under ``[/<prefix>]/kms/xks/v1``
   (``InvalidUriPathException``, 404) and a POST (405 ``Allow: POST`` otherwise, the spec's
   MUST for GETs);
3. the body, read up to ``max_body_size`` bytes within ``body_read_timeout`` seconds
   (``UnsupportedOperationException`` past the size, ``ValidationException`` past the time);
4. SigV4 (``credentials.verify_request``) → a ``VerifiedRequest``, before the body is parsed;
5. ``Content-Type: application/json``, the body parsed and validated (``model``), the
   externalKeyId checked;
6. secondary authorization, then the operation (``service``);
7. the JSON answer, one audit record and one access-log line.

Every error is the spec's JSON ``{"errorName": …, "errorMessage": …}`` with its status; an
unexpected exception is logged with the request id and answered ``InternalException`` carrying
nothing else. No request, however malformed, gets a traceback or a 500 of the server's own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from andromede.http.access import log_access
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    raw_target,
    read_small_body,
)
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.xks.auditlog import AuditLog
from andromede.xks.authorization import Policy
from andromede.xks.credentials import Credential, VerifiedRequest, verify_request
from andromede.xks.errors import (
    STATUS,
    InternalException,
    UnsupportedOperationException,
    ValidationException,
    XksError,
)
from andromede.xks.model import (
    Operation,
    RequestMetadata,
    check_key_id,
    parse_body,
    parse_decrypt,
    parse_encrypt,
    parse_metadata_request,
    route,
)
from andromede.xks.service import XksService
from andromede.xks.watched import WatchedFile

__all__ = ["HEALTHZ_PATH", "XksApp", "XksAppConfig"]

log = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"
_HEALTHZ_MAX_AGE = 5.0
_JSON = "application/json"


@dataclass(frozen=True)
class XksAppConfig:
    uri_path_prefix: str  # normalised by model.check_uri_path_prefix
    region: str
    max_body_size: int
    body_read_timeout: float


@dataclass
class _Exchange:
    """What one request accumulates for its audit record."""

    request_id: str
    started: float
    operation: Operation | None = None
    key_id: str | None = None
    verified: VerifiedRequest | None = None
    metadata: RequestMetadata | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class XksApp:
    """The four XKS operations over :class:`XksService`."""

    def __init__(
        self,
        service: XksService,
        credentials: WatchedFile[tuple[Credential, ...]],
        audit: AuditLog,
        config: XksAppConfig,
        *,
        policy: WatchedFile[Policy] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._credentials = credentials
        self._audit = audit
        self._config = config
        self._policy = policy
        self._clock = clock
        self._healthz: tuple[float, bool] = (-_HEALTHZ_MAX_AGE, False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        exchange = _Exchange(request_id=new_request_id(), started=time.perf_counter())
        raw_path, raw_query = raw_target(scope)
        method = scope["method"]
        if raw_path == HEALTHZ_PATH and method in ("GET", "HEAD"):
            response = await self._healthz_response(method == "HEAD")
            await send_response(send, response, [(b"x-request-id", exchange.request_id.encode())])
            return
        try:
            response = await self._handle(scope, receive, exchange, method, raw_path, raw_query)
        except ClientGone:
            self._finish(exchange, scope, 499, "ClientGone", None)
            return
        except Exception as exc:
            response, error_name, detail = self._error(exc, exchange.request_id)
            self._finish(exchange, scope, response.status, error_name, detail)
        else:
            self._finish(exchange, scope, response.status, None, None)
        await send_response(send, response, [(b"x-request-id", exchange.request_id.encode())])

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        exchange: _Exchange,
        method: str,
        raw_path: str,
        raw_query: str,
    ) -> Response:
        found = route(raw_path, self._config.uri_path_prefix)
        exchange.operation, exchange.key_id = found.operation, found.key_id
        if method != "POST":
            return _method_not_allowed()
        body = await self._read_body(receive)
        headers = decode_headers(scope["headers"])
        exchange.verified = verify_request(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            credentials=self._credentials.current(),
            region=self._config.region,
            now=self._clock(),
        )
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != _JSON:
            raise ValidationException(f"Content-Type must be {_JSON}.")
        document = parse_body(body)
        operation = found.operation
        if operation is Operation.GET_HEALTH_STATUS:
            exchange.metadata = parse_metadata_request(document, operation)
            return _json(200, await self._service.get_health_status())
        key_id = check_key_id(found.key_id or "")
        if operation is Operation.GET_KEY_METADATA:
            exchange.metadata = parse_metadata_request(document, operation)
            self._authorize(operation, key_id, exchange.metadata)
            return _json(200, await self._service.get_key_metadata(key_id))
        if operation is Operation.ENCRYPT:
            encrypt = parse_encrypt(document)
            exchange.metadata = encrypt.metadata
            self._authorize(operation, key_id, encrypt.metadata)
            return _json(200, await self._service.encrypt(key_id, encrypt))
        decrypt = parse_decrypt(document)
        exchange.metadata = decrypt.metadata
        self._authorize(operation, key_id, decrypt.metadata)
        return _json(200, await self._service.decrypt(key_id, decrypt))

    def _authorize(self, operation: Operation, key_id: str, metadata: RequestMetadata) -> None:
        if self._policy is not None:
            self._policy.current().check(operation, key_id, metadata)

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._config.max_body_size,
                timeout=self._config.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise UnsupportedOperationException(
                f"The request body is larger than {self._config.max_body_size} bytes."
            ) from exc
        except BodyTimeout as exc:
            raise ValidationException("The request body did not arrive in time.") from exc

    async def _healthz_response(self, head: bool) -> Response:
        checked_at, healthy = self._healthz
        if time.monotonic() - checked_at >= _HEALTHZ_MAX_AGE:
            try:
                await self._service.get_health_status()
                healthy = True
            except XksError:
                healthy = False
            self._healthz = (time.monotonic(), healthy)
        response = _json(200 if healthy else 503, {"status": "ok" if healthy else "unavailable"})
        response.head = head
        return response

    def _error(self, exc: Exception, request_id: str) -> tuple[Response, str, str | None]:
        if not isinstance(exc, XksError):
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            exc = InternalException()
        response = _json(
            STATUS[exc.error_name], {"errorName": exc.error_name, "errorMessage": exc.message}
        )
        if isinstance(exc, UnsupportedOperationException) and "body is larger" in exc.message:
            # The rest of the body was left unread: it must not become the next request.
            response.headers.append(("Connection", "close"))
        return response, exc.error_name, exc.detail

    def _finish(
        self,
        exchange: _Exchange,
        scope: Scope,
        status: int,
        error_name: str | None,
        reason: str | None,
    ) -> None:
        elapsed_ms = round((time.perf_counter() - exchange.started) * 1000, 3)
        client = scope.get("client")
        operation = exchange.operation.api_name if exchange.operation else None
        metadata = exchange.metadata.log_fields() if exchange.metadata else {}
        self._audit.record(
            requestId=exchange.request_id,
            operation=operation,
            externalKeyId=exchange.key_id,
            **metadata,
            accessKeyId=exchange.verified.access_key_id if exchange.verified else None,
            sourceIp=client[0] if client else None,
            status=status,
            outcome="success" if status == 200 else "failure",
            errorName=error_name,
            reason=reason,
            durationMs=elapsed_ms,
        )
        level = logging.WARNING if status >= 500 else logging.INFO
        log_access(
            level,
            "%s %s %s %s %d %s %.1fms",
            exchange.request_id,
            operation or "-",
            exchange.key_id or "-",
            metadata.get("kmsRequestId", "-"),
            status,
            error_name or "-",
            elapsed_ms,
        )


def _json(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=status, headers=[("content-type", _JSON)], body=body)


def _method_not_allowed() -> Response:
    response = _json(
        405,
        {"errorName": "MethodNotAllowed", "errorMessage": "The XKS proxy API takes POST only."},
    )
    response.headers.append(("allow", "POST"))
    return response


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
