"""Amazon Route 53's REST-XML ASGI application on the shared endpoint (decision 0280).

Per request: request id → operation (method + path under ``/2013-04-01/``) → bounded body →
SigV4 (service ``route53``; Route 53 is global, signed for ``us-east-1`` as AWS's clients do,
the served Regions accepted too) → the caller's identity policies must allow the operation's
``route53:`` action on the zone (``arn:aws:route53:::hostedzone/<id>``; a key-signing key's
operations on its zone, decision 0317), change, query logging configuration (decision
0305), traffic policy or instance (decision 0330), reusable delegation set (decision 0346),
CIDR collection (decision 0353) → handler →
XML answer in Route 53's namespace, then an audit event and an access-log line. Errors leave
as ``ErrorResponse`` with ``x-amzn-RequestId``; an unexpected one is ``InternalFailure``
carrying only the request id."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awswire.signed import SignedRequests
from andromede.http.access import log_access
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    read_small_body,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.route53.cidr_collections import CidrCollectionService
from andromede.route53.delegation_sets import DelegationSetService
from andromede.route53.dnssec import DnssecService
from andromede.route53.health_service import HealthCheckService
from andromede.route53.query_logging import QueryLoggingService
from andromede.route53.service import Route53Service
from andromede.route53.traffic_service import TrafficPolicyService
from andromede.route53api.cidr_handlers import CIDR_HANDLERS
from andromede.route53api.delegation_set_handlers import DELEGATION_SET_HANDLERS
from andromede.route53api.dnssec_handlers import DNSSEC_HANDLERS, with_key_zone
from andromede.route53api.errors import (
    Route53WireError,
    error_response,
    to_wire_error,
)
from andromede.route53api.handlers import HANDLERS
from andromede.route53api.health_handlers import health_handler
from andromede.route53api.operations import Route, route
from andromede.route53api.query_logging_handlers import QUERY_LOGGING_HANDLERS, with_zone_of_body
from andromede.route53api.traffic_handlers import TRAFFIC_HANDLERS
from andromede.settings import Settings

__all__ = ["Route53App"]

log = logging.getLogger(__name__)

GLOBAL_REGION = "us-east-1"  # Route 53's calls are signed for it, as AWS's


class Route53App:
    """Route 53's REST-XML protocol over :class:`Route53Service`."""

    name = "route53"

    def __init__(
        self,
        service: Route53Service,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.service = service
        self.health: HealthCheckService | None = None  # health checks (decision 0285)
        self.query_logging: QueryLoggingService | None = None  # decision 0305
        self.dnssec: DnssecService | None = None  # DNSSEC signing (decision 0317)
        self.traffic: TrafficPolicyService | None = None  # traffic policies (decision 0330)
        self.delegation_sets: DelegationSetService | None = None  # decision 0346
        self.cidr_collections: CidrCollectionService | None = None  # decision 0353
        self._identity = identity
        self._audit = audit
        self._settings = settings
        self._signed = SignedRequests(
            identity,
            audit,
            settings,
            rate_limiter,
            service="route53",
            also_accepted_regions=(GLOBAL_REGION, *settings.served_region_names),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        operation = route(scope["method"], scope["path"])
        principal: Principal = ANONYMOUS
        try:
            body = await self._read_body(receive)
            authenticated = await self._signed.authenticate(
                scope,
                headers,
                body,
                request_id=request_id,
                action=operation.action,
                hash_mismatch=lambda: Route53WireError(
                    "SignatureDoesNotMatch", "The request body is not the one signed"
                ),
                error_code=lambda exc: getattr(to_wire_error(exc), "code", None),
            )
            if not self._signed.allow(authenticated):
                raise Route53WireError("Throttling", "Rate exceeded")
            principal = authenticated.principal
            response = await self._serve(operation, principal, scope, body)
        except ClientGone:
            self._finish(operation, principal, request_id, 499, "ClientGone", started)
            return
        except Exception as exc:
            answered = to_wire_error(exc)
            if answered is None:
                log.error("request %s: unexpected error", request_id, exc_info=exc)
                answered = Route53WireError("InternalFailure", "An internal error occurred.")
            response = error_response(answered, request_id)
            self._finish(operation, principal, request_id, answered.status, answered.code, started)
        else:
            self._finish(operation, principal, request_id, response.status, None, started)
        await send_response(send, response, [(b"x-amzn-RequestId", request_id.encode())])

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._settings.max_api_body_size,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise Route53WireError("RequestEntityTooLarge", "The request is too large") from exc
        except BodyTimeout as exc:
            raise Route53WireError("InvalidInput", "The request body did not arrive") from exc

    async def _serve(
        self, operation: Route, principal: Principal, scope: Scope, body: bytes
    ) -> Response:
        if principal.is_anonymous:
            raise Route53WireError("MissingAuthenticationToken", "Missing Authentication Token")
        if principal.tenant_id is None:  # platform operators hold no zones
            raise Route53WireError("AccessDenied", "Operators do not use Route 53")
        if not operation.name:
            raise Route53WireError(
                "UnknownOperation", f"No operation at {scope['method']} {scope['path'][:128]}"
            )
        if operation.name.startswith("NotYet:"):
            raise Route53WireError(
                "InvalidInput", f"{operation.name[7:]} is not supported by this Route 53 yet"
            )
        logging_handler = QUERY_LOGGING_HANDLERS.get(operation.name)
        if logging_handler is not None:
            operation = with_zone_of_body(operation, body)
        signing_handler = DNSSEC_HANDLERS.get(operation.name)
        if signing_handler is not None:
            operation = with_key_zone(operation, body)
        await self._authorise(principal, operation, scope)
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        if signing_handler is not None:
            if self.dnssec is None:
                raise Route53WireError("InvalidInput", "DNSSEC signing is not served here")
            return await signing_handler(self.dnssec, principal.tenant_id, operation, query, body)
        if logging_handler is not None:
            if self.query_logging is None:
                raise Route53WireError("InvalidInput", "Query logging is not served here")
            return await logging_handler(self.query_logging, principal.tenant_id, operation,
                                         query, body)  # fmt: skip
        traffic_handler = TRAFFIC_HANDLERS.get(operation.name)
        if traffic_handler is not None:
            if self.traffic is None:
                raise Route53WireError("InvalidInput", "Traffic policies are not served here")
            return await traffic_handler(self.traffic, principal.tenant_id, operation, query,
                                         body)  # fmt: skip
        set_handler = DELEGATION_SET_HANDLERS.get(operation.name)
        if set_handler is not None:
            if self.delegation_sets is None:
                raise Route53WireError(
                    "InvalidInput", "Reusable delegation sets are not served here"
                )
            return await set_handler(self.delegation_sets, principal.tenant_id, operation, query,
                                     body)  # fmt: skip
        cidr_handler = CIDR_HANDLERS.get(operation.name)
        if cidr_handler is not None:
            if self.cidr_collections is None:
                raise Route53WireError("InvalidInput", "CIDR collections are not served here")
            return await cidr_handler(self.cidr_collections, principal.tenant_id, operation,
                                      query, body)  # fmt: skip
        checks = health_handler(operation)
        if checks is not None:
            if self.health is None:
                raise Route53WireError("InvalidInput", "Health checks are not served here")
            tenant = principal.tenant_id
            return await checks(self.service, self.health, tenant, operation, query, body)
        handler = HANDLERS[operation.name]
        return await handler(self.service, principal.tenant_id, operation, query, body)

    async def _authorise(self, principal: Principal, operation: Route, scope: Scope) -> None:
        policies = await self._identity.policies_for(principal)
        client = scope.get("client")
        context = principal_context(
            principal,
            action=operation.action,
            resource=operation.resource(),
            source_ip=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            region=GLOBAL_REGION,
            keys=principal_keys(policies),
        )
        if not policies_allow(context, policies):
            raise Route53WireError(
                "AccessDenied",
                f"User: {principal.arn} is not authorized to perform: {operation.action} on "
                f"resource: {operation.resource()}",
            )

    def _finish(
        self,
        operation: Route,
        principal: Principal,
        request_id: str,
        status: int,
        error: str | None,
        started: float,
    ) -> None:
        if not principal.is_anonymous:
            details = {"operation": operation.name or "Unknown", "status": str(status)}
            details.update(principal.audit_details)
            if error is not None:
                details["error"] = error
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=operation.action,
                resource=operation.resource(),
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s route53:%s %d %.1fms",
                request_id,
                principal.arn,
                operation.name or "Unknown",
                status,
                (time.perf_counter() - started) * 1000,
            )
