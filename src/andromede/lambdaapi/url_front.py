"""Lambda's function URLs served (decision 0312): the ASGI app of requests whose ``Host`` is
``<url-id>.lambda-url.<region>.<lambda_url_domain>`` on the shared S3 listener
(``api_routing`` sends them here as service ``lambda-url``).

Per request: request id → the URL's configuration by its url-id (an unknown one is refused
as a forbidden one is, so that no one probes url-ids) → the body, at most the invoke payload
bound → a CORS preflight answered from ``Cors`` without invoking → who calls: ``AWS_IAM``
a SigV4 signature for service ``lambda`` (unsigned or badly signed: 403), ``NONE`` anyone →
``lambda:InvokeFunctionUrl`` on the function's ARN (qualified for an alias) with
``lambda:FunctionUrlAuthType``, judged by the IAM engine with the function's policy (the
caller's identity policies too when signed: within the account either suffices, from another
both must allow; an anonymous caller only by a statement for ``*``) → the payload format 2.0
event invoked synchronously through the Invoker (concurrency, logs, meters as Invoke) → the
function's result read as AWS reads it, CORS headers added; ``RESPONSE_STREAM`` sends each
piece as the handler makes it, after the status and headers of its HTTP prelude
(``lambdaapi.url_stream``, decision 0337). Refusals are AWS's: 403 ``{"Message":"Forbidden"}``,
413, 429 when throttled, 502 for a function's error (a stream failing after its first byte is
cut instead). Each invocation is audited as
``lambda:InvokeFunctionUrl`` in the function's account's trail, with an access-log line."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awsjson.authorise import resource_refusal
from andromede.awsjson.endpoint import JsonRequest
from andromede.awswire.signed import SignedRequests
from andromede.errors import AndromedeError
from andromede.functions.errors import ExecutorUnavailable, ResourceNotFound, TooManyRequests
from andromede.functions.invoker import Invoker
from andromede.functions.model import LATEST
from andromede.functions.response_stream import StreamedInvocation
from andromede.functions.url_config_service import FunctionUrls
from andromede.functions.url_configs import FunctionUrlConfig
from andromede.functions.url_events import (
    UrlRequest,
    UrlResponse,
    cors_headers,
    is_preflight,
    preflight,
    request_event,
    response_of,
    url_error,
)
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
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.lambdaapi.url_stream import StreamBroken, StreamedBody, streamed_answer
from andromede.lambdaapi.wire import RestJsonWire
from andromede.settings import Settings

__all__ = ["FunctionUrlApp"]

_log = logging.getLogger(__name__)
ACTION: Final = "lambda:InvokeFunctionUrl"
_CHUNK: Final = 64 * 1024
_FORBIDDEN: Final = "Forbidden"
STREAM: Final = "RESPONSE_STREAM"


class _Refused(Exception):
    def __init__(self, response: UrlResponse, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


class FunctionUrlApp:
    name = "lambda-url"

    def __init__(
        self,
        urls: FunctionUrls,
        invoker: Invoker,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._urls = urls
        self._invoker = invoker
        self._identity = identity
        self._audit = audit
        self._settings = settings
        self._signed = SignedRequests(identity, audit, settings, rate_limiter, service="lambda")
        self._max_payload = settings.lambda_max_payload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        config: FunctionUrlConfig | None = None
        principal: Principal = ANONYMOUS
        reason: str | None = None
        body: StreamedBody | None = None
        try:
            config = await self._urls.by_host(headers.get("host", ""))
            if config is None:
                raise _Refused(url_error(403, _FORBIDDEN), "UnknownUrl")
            request_body = await self._body(receive)
            origin = headers.get("origin")
            if config.cors is not None and is_preflight(config.cors, scope["method"], headers):
                answer = preflight(config.cors, headers)
            else:
                principal, answer, body = await self._invoke(
                    scope, headers, request_body, config, request_id
                )
                answer.headers = [
                    (n, v) for n, v in answer.headers if not n.lower().startswith("access-control-")
                ] + cors_headers(config.cors, origin)
        except _Refused as refused:
            answer, reason = refused.response, refused.reason
        except ClientGone:
            return
        except Exception as exc:  # logged with the request id; the caller learns nothing more
            _log.error("request %s: unexpected error", request_id, exc_info=exc)
            answer, reason = url_error(500, "Internal Server Error"), "ServiceException"
            if body is not None:  # a run already streaming goes on alone
                await body.aclose()
                body = None
        streamed = config is not None and config.invoke_mode == STREAM
        response = _response(answer, streamed, body)
        response.head = scope["method"] == "HEAD"  # the headers a GET gets, no body
        try:
            sent = await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])
        except StreamBroken as broken:
            # The status is sent: the answer ends without its last chunk, which the client
            # reads as an incomplete answer.
            _log.info("request %s: the function failed mid-stream (%s)", request_id, broken)
            sent, reason = 0 if body is None else body.sent, broken.error_type
        self._finish(scope, request_id, config, principal, answer.status, reason, sent, started)

    async def _body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive, limit=self._max_payload, timeout=self._settings.body_read_timeout
            )
        except BodyTooLarge as exc:
            raise _Refused(url_error(413, "Request Entity Too Large"), "TooLarge") from exc
        except BodyTimeout as exc:
            raise _Refused(url_error(400, "Bad Request"), "BodyTimeout") from exc

    async def _invoke(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        config: FunctionUrlConfig,
        request_id: str,
    ) -> tuple[Principal, UrlResponse, StreamedBody | None]:
        principal, iam = await self._caller(scope, headers, body, config, request_id)
        qualifier = None if config.qualifier == LATEST else config.qualifier
        try:
            record, version = await self._invoker.target(config.tenant_id, config.name, qualifier)
        except ResourceNotFound as exc:  # gone since its URL was read
            raise _Refused(url_error(403, _FORBIDDEN), "UnknownUrl") from exc
        arn = self._urls.arn(config)
        refused = await resource_refusal(
            self._identity,
            principal,
            JsonRequest(scope, headers, request_id, "", "InvokeFunctionUrl", 0.0, RestJsonWire()),
            self._settings.region,
            ACTION,
            arn,
            record.policy(qualifier or ""),
            config.tenant_id,
            {"lambda:FunctionUrlAuthType": config.auth_type},
        )
        if refused is not None:
            raise _Refused(url_error(403, _FORBIDDEN), "AccessDenied")
        raw_path, raw_query = raw_target(scope)
        host = headers.get("host", "").rsplit(":", 1)[0]
        request = UrlRequest(
            method=scope["method"],
            raw_path=raw_path,
            raw_query=raw_query,
            headers=_forwarded(scope, raw_headers(scope)),
            body=body,
            source_ip=_client_ip(scope),
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            url_id=config.url_id,
            host=host,
        )
        event = request_event(
            request,
            account_id=config.tenant_id if iam is not None else "anonymous",
            request_id=request_id,
            now_ms=int(time.time() * 1000),
            iam=iam,
        )
        payload = json.dumps(event, separators=(",", ":")).encode()
        try:
            await self._invoker.refresh_reserves(config.tenant_id)
            if config.invoke_mode == STREAM:
                streamed = StreamedInvocation(
                    lambda sink: self._invoker.invoke(record, version, payload, arn, sink=sink),
                    self._settings.lambda_max_streamed_response_bytes,
                )
                await streamed.start()
                answer, streamed_body, failed = await streamed_answer(
                    streamed,
                    max_payload=self._max_payload,
                    prelude_limit=self._settings.lambda_url_max_prelude_bytes,
                )
                if failed is not None:
                    raise _Refused(answer, failed)
                return principal, answer, streamed_body
            done = await self._invoker.invoke(record, version, payload, arn)
        except TooManyRequests as exc:
            raise _Refused(url_error(429, "Rate Exceeded."), "TooManyRequests") from exc
        except ExecutorUnavailable as exc:
            raise _Refused(url_error(502, "Internal Server Error"), "ExecutorUnavailable") from exc
        if not done.ok:
            raise _Refused(url_error(502, "Internal Server Error"), done.error_type or "Unhandled")
        if len(done.payload) > self._max_payload:
            raise _Refused(url_error(502, "Internal Server Error"), "ResponseSizeTooLarge")
        return principal, response_of(done.payload), None

    async def _caller(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        config: FunctionUrlConfig,
        request_id: str,
    ) -> tuple[Principal, dict[str, Any] | None]:
        """Who calls, and the event's ``authorizer.iam`` (None for ``NONE``: anyone)."""
        if config.auth_type == "NONE":
            return ANONYMOUS, None
        try:
            authenticated = await self._signed.authenticate(
                scope,
                headers,
                body,
                request_id=request_id,
                action=ACTION,
                hash_mismatch=lambda: _Refused(url_error(403, _FORBIDDEN), "BadDigest"),
                error_code=lambda exc: type(exc).__name__,
            )
        except AndromedeError as exc:
            raise _Refused(url_error(403, _FORBIDDEN), "InvalidSignature") from exc
        principal = authenticated.principal
        if principal.is_anonymous or principal.tenant_id is None:
            raise _Refused(url_error(403, _FORBIDDEN), "MissingAuthenticationToken")
        if not self._signed.allow(authenticated):
            raise _Refused(url_error(429, "Rate Exceeded."), "TooManyRequests")
        signed = authenticated.signed
        return principal, {
            "accessKey": "" if signed is None else signed.access_key_id,
            "accountId": principal.tenant_id,
            "callerId": principal.aws_user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": principal.arn,
            "userId": principal.aws_user_id,
        }

    def _finish(
        self,
        scope: Scope,
        request_id: str,
        config: FunctionUrlConfig | None,
        principal: Principal,
        status: int,
        reason: str | None,
        sent: int,
        started: float,
    ) -> None:
        if config is not None and reason not in ("UnknownUrl", "TooLarge", "BodyTimeout"):
            details = {"operation": "InvokeFunctionUrl", "status": str(status)}
            details["url_id"] = config.url_id
            details.update(principal.audit_details)
            if reason is not None:
                details["error"] = reason
            self._audit.record(
                request_id=request_id,
                tenant_id=config.tenant_id,
                principal=principal.arn,
                action=ACTION,
                resource=self._urls.arn(config),
                outcome=Outcome.SUCCESS if status < 400 and reason is None else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            log_access(
                logging.WARNING if status >= 500 else logging.INFO,
                "%s %s lambda:InvokeFunctionUrl %s %s %d %d %.1fms",
                request_id,
                principal.arn,
                scope.get("method", "GET"),
                raw_target(scope)[0][:256],
                status,
                sent,
                (time.perf_counter() - started) * 1000,
            )


def raw_headers(scope: Scope) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("utf-8", "replace"))
        for name, value in scope["headers"]
    ]


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _forwarded(scope: Scope, headers: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The request's headers with those AWS's front adds (``x-forwarded-*``)."""
    kept = [(n, v) for n, v in headers if not n.lower().startswith("x-forwarded-")]
    server = scope.get("server")
    kept += [
        ("x-forwarded-for", _client_ip(scope)),
        ("x-forwarded-proto", str(scope.get("scheme", "http"))),
    ]
    if server:
        kept.append(("x-forwarded-port", str(server[1])))
    return tuple(kept)


def _response(answer: UrlResponse, streamed: bool, body: StreamedBody | None) -> Response:
    if body is not None:
        return Response(status=answer.status, headers=list(answer.headers), stream=body)
    if not streamed or not answer.body:
        return Response(status=answer.status, headers=list(answer.headers), body=answer.body)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(answer.body), _CHUNK):
            yield answer.body[start : start + _CHUNK]

    return Response(status=answer.status, headers=list(answer.headers), stream=chunks())
