"""AWS Lambda's REST-JSON ASGI application on the shared endpoint (decision 0286).

Per request: request id → bounded body (a code zip's base64 fits) → SigV4 over the body's
hash (service ``lambda``) → the operation the method and path name (``lambdaapi.wire``) →
its parameters → the handler (authorising ``lambda:<Action>`` on the function by the
caller's identity policies and the function's resource-based policy) → JSON answer with the
operation's status, then an audit event (action ``lambda:<Action>``, resource the function's
ARN) and an access-log line. Every error leaves with its status, the ``x-amzn-ErrorType``
header and ``{"Type": "User", "message": …}``; an unexpected exception is logged and
answered ``ServiceException`` carrying nothing but the request id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from andromede.audit.service import AuditService
from andromede.awsjson.authorise import resource_refusal
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWireError,
    RequestWire,
)
from andromede.errors import AndromedeError
from andromede.functions.record_service import FunctionRecords
from andromede.functions.service import FunctionsService
from andromede.functions.service_invoke import ServiceInvocations
from andromede.http.access import log_access
from andromede.http.asgi import new_request_id
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send, send_response
from andromede.iam.service import IdentityService
from andromede.lambdaapi.access_actions import ACCESS_ACTIONS
from andromede.lambdaapi.actions import FUNCTION_ACTIONS, Handler, LambdaCall
from andromede.lambdaapi.code_location import is_code_download, serve_download
from andromede.lambdaapi.errors import LambdaWireError, to_lambda_error
from andromede.lambdaapi.provider_reads import PROVIDER_READS
from andromede.lambdaapi.wire import CONTENT_TYPE, RestJsonWire
from andromede.settings import Settings

__all__ = ["LambdaApp"]

_OVERHEAD: Final = 1024 * 1024  # the JSON around a zip's base64


class LambdaApp(JsonEndpoint[LambdaCall]):
    """AWS Lambda's REST-JSON protocol over :class:`FunctionsService`."""

    name = "lambda"
    target_prefix = ""
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="TooManyRequestsException",
        body_hash_mismatch="InvalidSignatureException",
        internal="ServiceException",
        too_large="RequestTooLargeException",
        serialization="InvalidRequestContentException",
    )

    def __init__(
        self,
        functions: FunctionsService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        extra_actions: Mapping[str, Handler] | None = None,
    ) -> None:
        zip_limit = functions.limits.code.max_zip_bytes
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=(zip_limit + 2) // 3 * 4 + _OVERHEAD,
        )
        self._functions = functions
        self._records = FunctionRecords(functions)
        self._identity = identity
        self._wire = RestJsonWire()
        self._actions: dict[str, Handler] = {
            **FUNCTION_ACTIONS,
            **ACCESS_ACTIONS,
            **PROVIDER_READS,
            **(extra_actions or {}),
        }
        # The services' Event invocations (decision 0293), set by the wiring; EventBridge,
        # SNS and S3 find them here when a delivery needs them.
        self.invocations: ServiceInvocations | None = None

    @property
    def service(self) -> FunctionsService:
        return self._functions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_code_download(scope):
            # A Code.Location URL: unsigned, its sealed token is its authority.
            started = time.perf_counter()
            request_id = new_request_id()
            response = await serve_download(self._functions, scope)
            if self._settings.access_log:
                log_access(
                    logging.INFO,
                    "%s - lambda:CodeLocation GET %d %.1fms",
                    request_id,
                    response.status,
                    (time.perf_counter() - started) * 1000,
                )
            await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])
            return
        await super().__call__(scope, receive, send)

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[LambdaCall]:
        return self._wire

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return LambdaWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_lambda_error(exc)

    async def serve(self, request: JsonRequest[LambdaCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no functions
            raise LambdaWireError("AccessDeniedException", "Operators do not use Lambda")
        method = request.scope.get("method", "")
        path = str(request.scope.get("path", ""))[:128]
        if request.action_name == "NotYet":
            raise LambdaWireError(
                "UnsupportedOperationException",
                f"{method} {path} is not supported by this Lambda yet",
            )
        action = self._actions.get(request.action_name)
        if action is None:
            raise LambdaWireError("UnknownOperationException", f"No operation at {method} {path}")
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region

        async def authorise(
            iam_action: str, resource: str, keys: Mapping[str, Any], policy: str | None, owner: str
        ) -> None:
            refused = await resource_refusal(
                self._identity, principal, request, region, iam_action, resource, policy, owner,
                dict(keys),
            )  # fmt: skip
            if refused is not None:
                raise LambdaWireError("AccessDeniedException", refused)

        host = request.headers.get("host", "localhost")
        request.context = LambdaCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            caller=principal,
            functions=self._functions,
            records=self._records,
            authorise=authorise,
            base_url=f"{request.scope.get('scheme', 'http')}://{host}",
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[LambdaCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in self._actions:
            return None
        return [] if request.context is None else request.context.resources
