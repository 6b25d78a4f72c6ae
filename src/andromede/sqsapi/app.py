"""The SQS JSON-protocol ASGI application on the shared endpoint (decision 0158).

Per request: request id → bounded body → SigV4 over the body's hash (service ``sqs``) →
``X-Amz-Target`` (``AmazonSQS.<Action>``) → JSON parameters → the action's handler (which
authorises the queue it names) → JSON answer, then an audit event (action ``sqs:<Action>``,
resource the queue ARN(s), outcome) and an access-log line. Every error leaves as
``{"__type": "com.amazonaws.sqs#…", "message": …}`` with the ``x-amzn-query-error`` header that
botocore reads for this ``awsQueryCompatible`` service and the ``x-amzn-RequestId`` header; an
unexpected exception is logged and answered ``InternalFailure`` carrying nothing but the
request id. The older Query protocol is not served.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    TRUSTED_PRINCIPAL_SCOPE_KEY,
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
from andromede.iam.authn import (
    Authenticated,
    Authenticator,
    BodyHashMismatch,
    headers_with_body_hash,
)
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.sqsapi.actions import ACTIONS, NOT_SERVED, SqsCall
from andromede.sqsapi.authorise import SqsAuthoriser
from andromede.sqsapi.errors import SqsWireError, to_sqs_error

__all__ = ["CONTENT_TYPE", "SqsApp"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.0"
_TARGET_PREFIX = "AmazonSQS."
_JSON_EXPANSION = 6


class SqsApp:
    """AWS SQS's JSON protocol over :class:`QueueService`."""

    name = "sqs"

    def __init__(
        self,
        queues: QueueService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._queues = queues
        self._settings = settings
        self._audit = audit
        self._auth = Authenticator.for_settings(identity, settings, service=self.name)
        self._authoriser = SqsAuthoriser(identity, queues.region)
        self._rate_limiter = rate_limiter or RateLimiter(settings.rate_limit_per_key)
        # A message of queue_max_message_size bytes must fit in its request: JSON escapes a
        # character in up to six bytes (botocore writes non-ASCII as \uXXXX).
        self._body_limit = max(
            settings.max_api_body_size,
            _JSON_EXPANSION * settings.queue_max_message_size + settings.max_api_body_size,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        target = headers.get("x-amz-target", "")
        action_name = (
            target.removeprefix(_TARGET_PREFIX) if target.startswith(_TARGET_PREFIX) else ""
        )
        principal: Principal = ANONYMOUS
        call: SqsCall | None = None
        try:
            body = await self._read_body(receive)
            trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
            authenticated = (
                Authenticated(trusted, None, None)
                if isinstance(trusted, Principal)
                else await self._authenticate(scope, headers, body, request_id, action_name)
            )
            principal = authenticated.principal
            if principal.is_anonymous:
                raise SqsWireError("MissingAuthenticationToken")
            if authenticated.signed is not None and not self._rate_limiter.allow(
                authenticated.signed.access_key_id
            ):
                raise SqsWireError("RequestThrottled")
            if principal.tenant_id is None:  # platform operators hold no queues
                raise SqsWireError("AccessDenied", "Operators do not use tenant queues")
            call = self._call(scope, headers, body, principal, action_name, target)
            response = _json_response(200, await ACTIONS[action_name](call))
        except ClientGone:
            self._finish(action_name, principal, call, request_id, 499, "ClientGone", started)
            return
        except Exception as exc:
            response, error_type = self._error_response(exc, request_id)
            self._finish(action_name, principal, call, request_id, response.status, error_type,
                         started)  # fmt: skip
            if error_type == "RequestEntityTooLarge":
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
        else:
            self._finish(action_name, principal, call, request_id, 200, None, started)
        await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])

    def _call(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        principal: Principal,
        action_name: str,
        target: str,
    ) -> SqsCall:
        if action_name in NOT_SERVED:
            raise SqsWireError(
                "UnsupportedOperation", f"{action_name} is not implemented (decision 0158)"
            )
        if action_name not in ACTIONS:
            raise SqsWireError("UnknownOperationException", f"Unknown operation {target[:128]!r}")
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise SqsWireError("SerializationException", f"Content-Type must be {CONTENT_TYPE}")
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SqsWireError("SerializationException", "The body is not valid JSON") from exc
        if not isinstance(params, dict):
            raise SqsWireError("SerializationException", "The body must be a JSON object")
        client = scope.get("client")
        source_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"

        async def authorise(action: str, resource: str, queue: Queue | None) -> None:
            await self._authoriser.authorise(
                principal, action, resource, queue, source_ip=source_ip, secure=secure
            )

        host = headers.get("host") or f"{self._settings.s3_host}:{self._settings.s3_port}"
        return SqsCall(
            params=params,
            tenant_id=principal.tenant_id or "",
            sender_id=principal.user_id or principal.tenant_id or "",
            base_url=f"{scope.get('scheme', 'http')}://{host}",
            queues=self._queues,
            authorise=authorise,
        )

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._body_limit,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise SqsWireError("RequestEntityTooLarge") from exc
        except BodyTimeout as exc:
            raise SqsWireError("SerializationException", "The request body did not arrive") from exc

    async def _authenticate(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        action_name: str,
    ) -> Authenticated:
        try:
            signed_headers = headers_with_body_hash(headers, body)
        except BodyHashMismatch as exc:
            raise SqsWireError("SignatureDoesNotMatch") from exc
        raw_path, raw_query = raw_target(scope)
        try:
            return await self._auth.authenticate(
                scope["method"], raw_path, raw_query, signed_headers
            )
        except AndromedeError as exc:
            wire = to_sqs_error(exc)
            self._audit.authentication_failed(
                request_id=request_id,
                action=f"sqs:{action_name or '-'}",
                error=wire.error_type if wire else type(exc).__name__,
            )
            raise

    def _error_response(self, exc: Exception, request_id: str) -> tuple[Response, str]:
        wire = to_sqs_error(exc) if isinstance(exc, AndromedeError) else None
        if wire is None:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            wire = SqsWireError("InternalFailure")
        response = _json_response(wire.status, {"__type": wire.full_type, "message": wire.message})
        response.headers.append(("x-amzn-query-error", wire.query_error))
        return response, wire.error_type

    def _finish(
        self,
        action_name: str,
        principal: Principal,
        call: SqsCall | None,
        request_id: str,
        status: int,
        error_type: str | None,
        started: float,
    ) -> None:
        if principal.tenant_id is not None and action_name in ACTIONS:
            details = {"operation": action_name, "status": str(status)}
            details.update(principal.audit_details)
            if error_type is not None:
                details["error"] = error_type
            resources = [] if call is None else call.resources
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=f"sqs:{action_name}",
                resource=",".join(dict.fromkeys(resources)) or "*",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s sqs:%s POST / %d %.1fms",
                request_id,
                principal.arn,
                action_name or "-",
                status,
                (time.perf_counter() - started) * 1000,
            )


def _json_response(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=status, headers=[("Content-Type", CONTENT_TYPE)], body=body)
