"""The CloudWatch ASGI application on the shared endpoint (decisions 0172, 0177): credential-scope
service ``monitoring``, three protocols (:mod:`andromede.cloudwatchapi.protocol`).

Per request: request id → bounded body (``metrics_max_body_size``) → the protocol and its
operation → SigV4 over the body's hash (or the trusted principal a front put in the scope)
→ rate limit per access key → the typed input → IAM (``cloudwatch:<Operation>`` on ``*``,
with ``cloudwatch:namespace`` for PutMetricData, as AWS sets it; a dashboard call on each
dashboard's ARN, decision 0185) → the operation, for the
caller's account only → the protocol's answer, then the access-log line and the
``cloudwatch.requests`` meter. Metric calls are not audited — AWS's trail has them as data
events, off by default, and a fleet's agents put every minute — but an alarm's change is
(decision 0177: a management event), as is a dashboard's (0185), an anomaly detector's
(0189), a metric stream's (0233: on the stream's ARN, PutMetricStream with ``iam:PassRole`` on
its role), an insight rule's (0272: on the rule's ARN), and so is a refusal: a failed
authentication (by :class:`~andromede.awswire.signed.SignedRequests`) and an access denied.
An unexpected exception is logged and answered ``InternalServiceError`` carrying nothing but
the request id. Each Region the gateway serves is an endpoint of its metric data, that
Region's series apart (decision 0360, :mod:`andromede.metrics.regions`); another operation in
a Region other than the default is ``InvalidAction`` naming the Region that serves it.
Decision 0419: a trusted in-process call (the console's metrics pages) names its Region as a
signed one's scope does (``http.asgi.trusted_region``), refused when the gateway does not
serve it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awswire.signed import SignedRequests
from andromede.billing.service import BillingService
from andromede.cloudwatchapi.actions import ACTIONS, NOT_SERVED
from andromede.cloudwatchapi.alarm_operations import ALARM_RESOURCE, AUDITED
from andromede.cloudwatchapi.anomaly_operations import ANOMALY_AUDITED
from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.dashboards import DASHBOARD_AUDITED, dashboard_resources
from andromede.cloudwatchapi.errors import CloudWatchError, to_cloudwatch_error
from andromede.cloudwatchapi.insight_operations import INSIGHT_AUDITED, insight_resources
from andromede.cloudwatchapi.metric_streams import STREAM_AUDITED, stream_resources
from andromede.cloudwatchapi.protocol import (
    Wire,
    decode,
    error_response,
    result_response,
    wire_of,
)
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    read_small_body,
    trusted_region,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send, send_response
from andromede.http.sigv4 import SignedRequest
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import alarm_arn
from andromede.metrics.anomaly import AnomalyService
from andromede.metrics.dashboards import DashboardService
from andromede.metrics.insight_service import InsightRuleService
from andromede.metrics.regions import series_owner
from andromede.metrics.service import MetricsService
from andromede.metrics.stream_service import MetricStreamService
from andromede.settings import Settings

__all__ = ["CloudWatchApp"]

# Decision 0360: what CloudWatch serves in a Region other than the default — its metric data,
# each Region's apart (``metrics.regions``); alarms, dashboards and the rest stay the default's.
REGIONAL_OPERATIONS: Final = frozenset(
    {"PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics"}
)

log = logging.getLogger(__name__)


class CloudWatchApp:
    """CloudWatch metrics' API over :class:`MetricsService`."""

    name = "monitoring"

    def __init__(
        self,
        metrics: MetricsService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
        alarms: AlarmService | None = None,
        dashboards: DashboardService | None = None,
        anomaly: AnomalyService | None = None,
        streams: MetricStreamService | None = None,
        insights: InsightRuleService | None = None,
    ) -> None:
        self._metrics = metrics
        self._anomaly = anomaly
        self._streams = streams
        self._insights = insights
        self._alarms = alarms
        self._dashboards = dashboards
        self._identity = identity
        self._audit = audit
        self._settings = settings
        self._billing = billing
        # Decision 0360: each served Region an endpoint, for its metric data only.
        self._signed = SignedRequests(
            identity,
            audit,
            settings,
            rate_limiter,
            service=self.name,
            also_accepted_regions=settings.served_region_names,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        wire, operation = wire_of(scope.get("path", "/"), headers)
        principal: Principal = ANONYMOUS
        try:
            body = await self._body(receive)
            decoded: tuple[str, dict[str, Any]] | CloudWatchError
            try:
                decoded = decode(
                    wire,
                    operation,
                    scope["method"],
                    headers,
                    scope.get("query_string", b""),
                    body,
                )
                operation = decoded[0]
            except CloudWatchError as exc:
                decoded = exc
            authenticated = await self._signed.authenticate(
                scope,
                headers,
                body,
                request_id=request_id,
                action=f"cloudwatch:{operation or '-'}",
                hash_mismatch=lambda: CloudWatchError("SignatureDoesNotMatch"),
                error_code=self._error_code,
            )
            principal = authenticated.principal
            if principal.is_anonymous:
                raise CloudWatchError("MissingAuthenticationToken")
            if not self._signed.allow(authenticated):
                raise CloudWatchError("Throttling")
            if isinstance(decoded, CloudWatchError):
                raise decoded
            region = self._called_region(authenticated.signed, scope)
            result = await self._dispatch(wire, scope, principal, *decoded, request_id, region)
            response = result_response(wire, operation, result, request_id)
        except ClientGone:
            self._finish(operation, principal, request_id, 499, started)
            return
        except Exception as exc:
            error = to_cloudwatch_error(exc) if isinstance(exc, AndromedeError) else None
            if error is None:
                log.error("request %s: unexpected error", request_id, exc_info=exc)
                error = CloudWatchError("InternalServiceError")
            response = error_response(wire, error, request_id)
            if error.code == "RequestEntityTooLarge":
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
        try:
            await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])
        finally:
            self._finish(operation, principal, request_id, response.status, started)

    async def _body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._settings.metrics_max_body_size,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise CloudWatchError("RequestEntityTooLarge") from exc
        except BodyTimeout as exc:
            raise CloudWatchError(
                "SerializationException", "The request body did not arrive"
            ) from exc

    def _called_region(self, signed: SignedRequest | None, scope: Scope) -> str:
        """The Region the call is made in: its SigV4 scope's (the authenticator checked it is
        served), else the one a trusted in-process caller names (decision 0419), refused when
        not served, else the default Region."""
        if signed is not None:
            return signed.region
        region = trusted_region(scope)
        if region is None:
            return self._settings.region
        if region != self._settings.region and region not in self._settings.served_region_names:
            raise CloudWatchError(
                "InvalidParameterValue", f"Region {region[:64]} is not served by this endpoint."
            )
        return region

    async def _dispatch(
        self,
        wire: Wire,
        scope: Scope,
        principal: Principal,
        operation: str,
        params: dict[str, Any],
        request_id: str,
        region: str,
    ) -> dict[str, Any]:
        action = ACTIONS.get(operation)
        if action is None:
            if operation in NOT_SERVED:
                raise CloudWatchError(
                    "NotImplemented", f"{operation} is not implemented yet (decision 0172)"
                )
            if wire is Wire.QUERY:
                raise CloudWatchError(
                    "InvalidAction", f"Could not find operation {operation[:64]} for 2010-08-01"
                )
            raise CloudWatchError(
                "UnknownOperationException", f"Unknown operation {operation[:64]!r}"
            )
        tenant_id = principal.tenant_id
        if tenant_id is None or principal.is_operator:
            raise CloudWatchError("AccessDenied", "Operators hold no metrics of their own.")
        home = self._settings.region
        if region != home and operation not in REGIONAL_OPERATIONS:
            raise CloudWatchError(
                "InvalidAction",
                f"{operation} is not served in Region {region}: this deployment serves it in "
                f"Region {home} only (decision 0360).",
            )
        keys = {}
        if operation == "PutMetricData" and isinstance(params.get("Namespace"), str):
            keys["cloudwatch:namespace"] = params["Namespace"]
        resource = "*"
        if operation in ALARM_RESOURCE and isinstance(params.get("AlarmName"), str):
            # Alarm calls naming one alarm are checked on its ARN, as AWS's reference has them.
            resource = alarm_arn(self._settings.region, tenant_id, params["AlarmName"])
        elif operation in ALARM_RESOURCE and isinstance(params.get("ResourceARN"), str):
            resource = params["ResourceARN"]  # the tag calls
        # Dashboards' calls on each dashboard's ARN (decision 0185), metric streams' on each
        # stream's (0233), the others on one.
        resources = (
            dashboard_resources(operation, tenant_id, params)
            or stream_resources(operation, self._settings.region, tenant_id, params)
            or insight_resources(operation, self._settings.region, tenant_id, params)
            or [resource]
        )
        for each in resources:
            await self._authorise(
                scope, principal, f"cloudwatch:{operation}", keys, request_id, each, region
            )
        if operation == "PutMetricStream" and isinstance(params.get("RoleArn"), str):
            # As AWS: whoever makes a stream deliver as a role may pass it.
            await self._authorise(
                scope, principal, "iam:PassRole", {}, request_id, params["RoleArn"]
            )
        result = await action(
            MetricsCall(
                series_owner(tenant_id, region, home),  # decision 0360: the Region's series
                params,
                self._metrics,
                self._alarms,
                self._dashboards,
                self._anomaly,
                self._streams,
                self._insights,
            )
        )
        if operation in (
            AUDITED | DASHBOARD_AUDITED | ANOMALY_AUDITED | STREAM_AUDITED | INSIGHT_AUDITED
        ):
            # Alarm, dashboard and detector changes are management events (CloudTrail logs them,
            # unlike metric data).
            for each in resources:
                self._audit.record(
                    request_id=request_id,
                    tenant_id=tenant_id,
                    principal=principal.arn,
                    action=f"cloudwatch:{operation}",
                    resource=each,
                    outcome=Outcome.SUCCESS,
                    details={"operation": operation},
                )
        return result

    async def _authorise(
        self,
        scope: Scope,
        principal: Principal,
        action: str,
        keys: dict[str, str],
        request_id: str,
        resource: str = "*",
        region: str | None = None,
    ) -> None:
        """AccessDenied unless the caller's identity policies allow ``action`` (CloudWatch's
        metric actions have no resource-level permission: the resource is ``*``)."""
        policies = await self._identity.policies_for(principal)
        client = scope.get("client")
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            region=region or self._settings.region,  # aws:RequestedRegion: the call's
            keys={**keys, **principal_keys(policies)},
        )
        # Through a CloudWatch endpoint its policy bounds every call (decision 0174's
        # session-48 addendum): no identity policy makes up for it.
        refusal = endpoint_refusal(context)
        if refusal is None and policies_allow(context, policies):
            return
        self._audit.record(
            request_id=request_id,
            tenant_id=principal.tenant_id,
            principal=principal.arn,
            action=action,
            resource=resource,
            outcome=Outcome.FAILURE,
            details={"operation": action.split(":", 1)[1], "status": "403", **keys},
        )
        why = refusal or "because no identity-based policy allows the action"
        raise CloudWatchError(
            "AccessDenied", f"User: {principal.arn} is not authorized to perform: {action} {why}"
        )

    def _error_code(self, exc: AndromedeError) -> str | None:
        wire = to_cloudwatch_error(exc)
        return None if wire is None else wire.code

    def _finish(
        self, operation: str, principal: Principal, request_id: str, status: int, started: float
    ) -> None:
        tenant_id = principal.tenant_id
        if (
            self._billing is not None
            and tenant_id is not None
            and operation in ACTIONS
            and status < 500
            and status != 403
        ):
            # As KMS's and SQS's (decisions 0108, 0169): neither refusals nor faults billed.
            self._billing.count(tenant_id, self._settings.region, "cloudwatch.requests", 1)
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s cloudwatch:%s POST / %d %.1fms",
                request_id,
                principal.arn,
                operation or "-",
                status,
                (time.perf_counter() - started) * 1000,
            )
