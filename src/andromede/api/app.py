"""The management REST API as one ASGI app: FastAPI routes inside a thin raw-ASGI shell.

The shell does, for every request and before FastAPI sees it: a request id (``x-request-id`` on
every answer, ``request_id`` in every problem), the body read whole but bounded by
``max_api_body_size`` (413 past it, without reading further), one access-log line, and the last
line of defence: any exception that escapes becomes a 500 problem, never a traceback. Inside,
FastAPI parses, validates and documents (``/api/v1/openapi.json``; no docs UI, which would load
scripts from a CDN), and the exception handlers below turn every error into a problem.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from andromede.api import (
    host_metrics,
    routes_access,
    routes_audit,
    routes_billing,
    routes_credit_notes,
    routes_data_events,
    routes_platform,
    routes_session,
    routes_tenants,
)
from andromede.api.auth import PRINCIPAL_SCOPE_KEY, SIGNING_SERVICE
from andromede.api.context import (
    REQUEST_ID_SCOPE_KEY,
    ApiContext,
    BucketSettings,
    HostsReader,
    TenantCloser,
)
from andromede.api.problems import (
    PROBLEM_JSON,
    ApiProblem,
    http_status_problem,
    internal_error,
    problem_body,
    problem_for,
    validation_problem,
)
from andromede.api.schemas import Problem
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.service import AuditService
from andromede.audit.trail import AuditTrail
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    new_request_id,
    read_small_body,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Message, Receive, Scope, Send
from andromede.iam.authn import Authenticator
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["API_PREFIX", "OPENAPI_PATH", "ManagementApi", "build_fastapi"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("andromede.access")

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
_DESCRIPTION = """\
Manage what AWS has no API for: tenants, their quotas, regions, the audit trail, operators'
access to tenants' data, the hypervisor hosts' metrics for Prometheus.

Every error is `application/problem+json` (RFC 9457) with a `request_id`, also sent as the
`x-request-id` header. Authenticate with `Authorization: Bearer <token>` (from `POST /login`)
or sign with AWS Signature Version 4 for the service `andromede` and the deployment's region.
"""


class ManagementApi:
    """The management API's ASGI app (HTTP only; the composition root owns the lifespan)."""

    def __init__(
        self,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        close_tenant: TenantCloser,
        trail: AuditTrail | None = None,
        operator_access: OperatorAccessService | None = None,
        billing: BillingService | None = None,
        buckets: BucketSettings | None = None,
        hosts: HostsReader | None = None,
    ) -> None:
        """``close_tenant``: closes a tenant for good, crypto-shredding it
        (``andromede.app.tenant_closer``); ``trail``: the audit trail served under
        ``/audit`` (decision 0105); ``operator_access``: operator access requests, under
        ``/access-requests`` (decision 0107); ``billing``: the meters, prices and usage
        reports (0108); ``buckets``: the buckets' data-events settings (0109); ``hosts``:
        asks the hypervisor hosts for their supervised processes, under ``/hosts/metrics``
        (0389)."""
        self._settings = settings
        authenticator = Authenticator.for_settings(
            identity, settings, service=SIGNING_SERVICE, allow_operator=True
        )
        context = ApiContext(
            identity=identity,
            audit=audit,
            settings=settings,
            authenticator=authenticator,
            rate_limiter=rate_limiter or RateLimiter(settings.rate_limit_per_key),
            close_tenant=close_tenant,
            trail=trail,
            operator_access=operator_access,
            billing=billing,
            buckets=buckets,
            hosts=hosts,
            metrics_token=host_metrics.metrics_token(settings),
        )
        self.fastapi = build_fastapi(context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        scope = {**scope, REQUEST_ID_SCOPE_KEY: request_id}
        path: str = scope["path"]
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            try:
                body = await read_small_body(
                    receive,
                    limit=self._settings.max_api_body_size,
                    timeout=self._settings.body_read_timeout,
                )
            except BodyTooLarge:
                problem = ApiProblem(
                    "body-too-large",
                    413,
                    "Request body too large",
                    f"A request body has at most {self._settings.max_api_body_size} bytes.",
                    # The rest of the body was left unread: it must not become a next request.
                    headers={"Connection": "close"},
                )
                await _send_problem(send_with_id, problem, path, request_id)
                return
            except BodyTimeout:
                problem = ApiProblem(
                    "body-timeout", 408, "Request timeout", "The request body did not arrive."
                )
                problem.headers["Connection"] = "close"
                await _send_problem(send_with_id, problem, path, request_id)
                return
            await self._serve(scope, body, receive, send_with_id, lambda: status)
        except ClientGone:
            status = 499
        finally:
            self._log(scope, request_id, status, started)

    async def _serve(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        status: Callable[[], int],
    ) -> None:
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body, only the disconnect remains

        try:
            await self.fastapi(scope, replay, send)
        except Exception as exc:
            # Starlette re-raises what its error handler already answered (and logged); what
            # else escapes is answered here, if nothing was sent yet.
            if status() == 0:
                log.error("request %s: unexpected error", scope[REQUEST_ID_SCOPE_KEY], exc_info=exc)
                await _send_problem(
                    send, internal_error(), scope["path"], scope[REQUEST_ID_SCOPE_KEY]
                )

    def _log(self, scope: Scope, request_id: str, status: int, started: float) -> None:
        if not self._settings.access_log:
            return
        level = logging.WARNING if status >= 500 else logging.INFO
        access_log.log(
            level,
            "%s %s api %s %s %d %.1fms",
            request_id,
            scope.get(PRINCIPAL_SCOPE_KEY, "-"),
            scope.get("method", "-"),
            scope.get("path", "-"),
            status,
            (time.perf_counter() - started) * 1000,
        )


async def _send_problem(send: Send, problem: ApiProblem, path: str, request_id: str) -> None:
    body = problem_body(problem, instance=path, request_id=request_id)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _problem_response(request: Request, problem: ApiProblem) -> Response:
    request_id = str(request.scope.get(REQUEST_ID_SCOPE_KEY, "-"))
    return Response(
        content=problem_body(problem, instance=request.url.path, request_id=request_id),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    problem = problem_for(exc) if isinstance(exc, AndromedeError | ApiProblem) else None
    if problem is None:
        return await _on_unexpected(request, exc)
    return _problem_response(request, problem)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for it alone)
    return _problem_response(request, validation_problem(exc.errors()))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 (registered for it alone)
    titles = {404: "Not found", 405: "Method not allowed"}
    problem = http_status_problem(exc.status_code, titles.get(exc.status_code, "Bad request"))
    problem.headers.update(exc.headers or {})
    return _problem_response(request, problem)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("request %s: unexpected error", request.scope.get(REQUEST_ID_SCOPE_KEY), exc_info=exc)
    return _problem_response(request, internal_error())


def build_fastapi(context: ApiContext) -> FastAPI:
    api = FastAPI(
        title="Andromède management API",
        version="1",
        description=_DESCRIPTION,
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    api.state.context = context
    for module in (
        routes_session,
        routes_tenants,
        routes_platform,
        routes_audit,
        routes_access,
        routes_billing,
        routes_credit_notes,
        routes_data_events,
        host_metrics,
    ):
        api.include_router(module.router, prefix=API_PREFIX)
    api.add_exception_handler(ApiProblem, _on_problem)
    api.add_exception_handler(AndromedeError, _on_problem)
    api.add_exception_handler(RequestValidationError, _on_validation)
    api.add_exception_handler(StarletteHTTPException, _on_http)
    api.add_exception_handler(Exception, _on_unexpected)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _openapi_document(api)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def _state_setting_bounds(schemas: dict[str, Any], settings: Settings) -> None:
    """Bounds that are settings, stated in the document as this deployment has them: a client
    (and schemathesis) learns the longest access request it may open here."""
    request = schemas.get("OpenAccessRequest", {}).get("properties", {})
    if "duration_seconds" in request:
        request["duration_seconds"]["maximum"] = settings.operator_access_max_duration
    if "reason" in request:
        request["reason"]["maxLength"] = settings.operator_access_reason_max_length


def _openapi_document(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error answer described as the problem it really is."""
    document = get_openapi(
        title=api.title, version=api.version, description=api.description, routes=api.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, replaced by Problem
        schemas.pop(unused, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    _state_setting_bounds(schemas, api.state.context.settings)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "security" in operation:
                responses.setdefault("401", {"description": "Not authenticated"})
            if "422" in responses:
                responses["422"]["description"] = "The request does not match the schema"
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = problem
            responses["default"] = {"description": "An error (problem details)", "content": problem}
    return document
