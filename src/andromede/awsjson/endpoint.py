"""One AWS JSON-protocol request, from its first byte to its audit event (decision 0162).

Owns the part KMS and SQS answer alike: request id → bounded body → SigV4 over the body's hash
(or the trusted principal a front put in the scope) → rate limit per access key →
``X-Amz-Target`` → ``Content-Type`` and JSON parameters → the service's handler → JSON answer,
then the audit event, the access-log line and the ``x-amzn-RequestId`` header. An unexpected
exception is logged and answered with the service's internal error, carrying nothing but the
request id. What differs stays with each service: its error catalogue and shape
(:class:`JsonWireError` subclasses), which principals it serves and what a handler receives
(:meth:`JsonEndpoint.serve`), and which calls leave an audit event (:meth:`JsonEndpoint.audited`).

How a request names its action and carries its parameters, and how its answer and errors are
written, is its :class:`RequestWire`: the JSON protocol's (:class:`JsonWire`) unless the service
also accepts another on the same endpoint (SQS's Query protocol, decision 0173); admission,
audit, metering and the access log stay this skeleton's whatever the protocol.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awswire.signed import SignedRequests
from andromede.errors import AndromedeError
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
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.iam.authn import Authenticated
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = [
    "JsonEndpoint",
    "JsonErrorTypes",
    "JsonRequest",
    "JsonWire",
    "JsonWireError",
    "RequestWire",
]

C = TypeVar("C")


class JsonWireError(AndromedeError):
    """An error as a JSON-protocol service answers it: its type, HTTP status and message.

    A service's subclass fills them from its own catalogue; :meth:`payload` and
    :meth:`headers` are the shape AWS gives that service's errors.
    """

    def __init__(self, error_type: str, status: int, message: str) -> None:
        self.error_type = error_type
        self.status = status
        self.message = message
        super().__init__(f"{error_type}: {message}")

    def payload(self) -> dict[str, Any]:
        return {"__type": self.error_type, "message": self.message}

    def headers(self) -> list[tuple[str, str]]:
        return []


@dataclass(frozen=True, slots=True)
class JsonErrorTypes:
    """The service's names for the errors the skeleton itself raises."""

    unauthenticated: str
    throttled: str
    body_hash_mismatch: str
    internal: str
    too_large: str = "RequestEntityTooLarge"
    serialization: str = "SerializationException"


@dataclass(slots=True)
class JsonRequest(Generic[C]):
    """What the skeleton knows of one request; ``context`` is the service's own (the call its
    handler received), kept for the audit event."""

    scope: Scope
    headers: dict[str, str]
    request_id: str
    target: str
    action_name: str
    started: float
    wire: RequestWire[C]
    body: bytes = b""
    principal: Principal = ANONYMOUS
    authenticated: Authenticated | None = None
    context: C | None = field(default=None)


class RequestWire(Protocol[C]):
    """How one request names its action and carries its parameters, and how its answer and
    its errors are written."""

    def action(self, request: JsonRequest[C]) -> str:
        """The action the request names ("" for none yet)."""
        ...

    def params(self, request: JsonRequest[C]) -> dict[str, Any]:
        """The request's parameters in the JSON protocol's shape (or the service's error)."""
        ...

    def answer(self, request: JsonRequest[C], result: dict[str, Any]) -> Response:
        """The answer to a call that succeeded."""
        ...

    def error(self, request: JsonRequest[C], wire: JsonWireError) -> Response:
        """The answer to a call that failed."""
        ...


class JsonWire(Generic[C]):
    """The AWS JSON protocol: ``X-Amz-Target``, a JSON body, JSON answers and errors."""

    def __init__(self, endpoint: JsonEndpoint[C]) -> None:
        self._endpoint = endpoint

    def action(self, request: JsonRequest[C]) -> str:
        prefix = self._endpoint.target_prefix
        target = request.target
        return target.removeprefix(prefix) if target.startswith(prefix) else ""

    def params(self, request: JsonRequest[C]) -> dict[str, Any]:
        endpoint = self._endpoint
        serialization = endpoint.error_types.serialization
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != endpoint.content_type:
            raise endpoint.wire_error(
                serialization, f"Content-Type must be {endpoint.content_type}"
            )
        try:
            params = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise endpoint.wire_error(serialization, "The body is not valid JSON") from exc
        if not isinstance(params, dict):
            raise endpoint.wire_error(serialization, "The body must be a JSON object")
        return params

    def answer(self, request: JsonRequest[C], result: dict[str, Any]) -> Response:
        return self._response(200, result)

    def error(self, request: JsonRequest[C], wire: JsonWireError) -> Response:
        response = self._response(wire.status, wire.payload())
        response.headers.extend(wire.headers())
        return response

    def _response(self, status: int, payload: dict[str, Any]) -> Response:
        endpoint = self._endpoint
        blank = endpoint.empty_body_for_empty_result and not payload and status == 200
        body = b"" if blank else json.dumps(payload, separators=(",", ":")).encode()
        return Response(status=status, headers=[("Content-Type", endpoint.content_type)], body=body)


class JsonEndpoint(ABC, Generic[C]):
    """An ASGI app for one AWS JSON-protocol service; subclasses say what differs."""

    name: ClassVar[str]
    target_prefix: ClassVar[str]
    content_type: ClassVar[str]
    error_types: ClassVar[JsonErrorTypes]
    # KMS answers a result with nothing to say with an empty body; SQS answers ``{}``.
    empty_body_for_empty_result: ClassVar[bool] = False

    def __init__(
        self,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None,
        *,
        body_limit: int,
        also_accepted_regions: Collection[str] = (),
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._signed = SignedRequests(
            identity,
            audit,
            settings,
            rate_limiter,
            service=self.name,
            also_accepted_regions=also_accepted_regions,
        )
        self._body_limit = body_limit
        self._json: JsonWire[C] = JsonWire(self)

    @abstractmethod
    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        """The service's error of this type (its catalogue's status and default message)."""

    @abstractmethod
    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        """The service's error for a domain or authentication error; None for unexpected ones."""

    @abstractmethod
    async def serve(self, request: JsonRequest[C]) -> dict[str, Any]:
        """The result of an authenticated, unthrottled request (or raise a wire error); sets
        ``request.context`` for :meth:`audited`."""

    @abstractmethod
    def audited(self, request: JsonRequest[C]) -> list[str] | None:
        """The resources of the request's audit event, or None when it leaves none."""

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[C]:
        """The protocol a request speaks, from its method and headers: JSON here."""
        return self._json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = decode_headers(scope["headers"])
        request: JsonRequest[C] = JsonRequest(
            scope=scope,
            headers=headers,
            request_id=new_request_id(),
            target=headers.get("x-amz-target", ""),
            action_name="",
            started=time.perf_counter(),
            wire=self.wire_for(scope, headers),
        )
        wire = request.wire
        request.action_name = wire.action(request)
        try:
            request.body = await self._read_body(receive)
            # A protocol naming the action in the body (a Query form) names it now.
            request.action_name = request.action_name or wire.action(request)
            authenticated = await self._signed.authenticate(
                scope,
                headers,
                request.body,
                request_id=request.request_id,
                action=f"{self.name}:{request.action_name or '-'}",
                hash_mismatch=lambda: self.wire_error(self.error_types.body_hash_mismatch),
                error_code=self._error_code,
            )
            request.authenticated = authenticated
            request.principal = authenticated.principal
            if request.principal.is_anonymous:
                raise self.wire_error(self.error_types.unauthenticated)
            if not self._signed.allow(authenticated):
                raise self.wire_error(self.error_types.throttled)
            response = wire.answer(request, await self.serve(request))
        except ClientGone:
            self.finish(request, 499, "ClientGone")
            return
        except Exception as exc:
            response, error_type = self._error_response(exc, request)
            self.finish(request, response.status, error_type)
            if error_type == self.error_types.too_large:
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
        else:
            # The status answered (a REST-JSON API's 201 or 204, Lambda's), not always 200.
            self.finish(request, response.status, None)
        await send_response(send, response, [(b"x-amzn-requestid", request.request_id.encode())])

    def params(self, request: JsonRequest[C]) -> dict[str, Any]:
        """The request's parameters, in the JSON protocol's shape whatever its protocol."""
        return request.wire.params(request)

    def finish(self, request: JsonRequest[C], status: int, error_type: str | None) -> None:
        """The audit event (when :meth:`audited` asks for one) and the access-log line."""
        principal = request.principal
        resources = self.audited(request)
        if resources is not None:
            details = {"operation": request.action_name, "status": str(status)}
            details.update(principal.audit_details)
            if error_type is not None:
                details["error"] = error_type
            self._audit.record(
                request_id=request.request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=f"{self.name}:{request.action_name}",
                resource=",".join(dict.fromkeys(resources)) or "*",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                f"%s %s {self.name}:%s %s %s %d %.1fms",
                request.request_id,
                principal.arn,
                request.action_name or "-",
                request.scope.get("method", "POST"),
                # A Query request may name the queue in its path (decision 0173); the raw
                # path, percent-encoded as sent, as S3's lines show it.
                raw_target(request.scope)[0][:256],
                status,
                (time.perf_counter() - request.started) * 1000,
            )

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive, limit=self._body_limit, timeout=self._settings.body_read_timeout
            )
        except BodyTooLarge as exc:
            raise self.wire_error(self.error_types.too_large) from exc
        except BodyTimeout as exc:
            raise self.wire_error(
                self.error_types.serialization, "The request body did not arrive"
            ) from exc

    def _error_code(self, exc: AndromedeError) -> str | None:
        wire = self.to_wire_error(exc)
        return None if wire is None else wire.error_type

    def _error_response(self, exc: Exception, request: JsonRequest[C]) -> tuple[Response, str]:
        wire = self.to_wire_error(exc) if isinstance(exc, AndromedeError) else None
        if wire is None:
            # Logged under the service's module, where its operators look.
            logging.getLogger(type(self).__module__).error(
                "request %s: unexpected error", request.request_id, exc_info=exc
            )
            wire = self.wire_error(self.error_types.internal)
        return request.wire.error(request, wire), wire.error_type
