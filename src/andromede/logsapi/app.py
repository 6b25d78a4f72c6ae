"""The CloudWatch Logs JSON 1.1 ASGI application on the shared endpoint (decision 0186).

Per request, the skeleton KMS and SQS share (:mod:`andromede.awsjson.endpoint`): request id →
bounded body → SigV4 over the body's hash (service ``logs``) → ``X-Amz-Target``
(``Logs_20140328.<Op>``) → JSON parameters → the operation's handler, which authorises
``logs:<Op>`` on the group's or stream's ARN against the caller's identity policies → JSON
answer, then the audit event and the access-log line. Control calls are audited (action
``logs:<Op>``, resource the ARN); PutLogEvents, GetLogEvents and FilterLogEvents are data
events and are not, as decision 0172 does for metric calls, unless refused. Every served
call counts one ``logs.requests``; PutLogEvents counts its accepted bytes (messages and 26
bytes an event, as AWS bills ingestion) in ``logs.ingested``, or, into an Infrequent Access
group, ``logs.ingested.infrequent-access`` (decision 0222); a Logs Insights query, when it
ends, the bytes it read in ``logs.scanned`` (the wiring's callback). StartQuery and StopQuery
are audited; GetQueryResults, polled, is a data event, as GetLogRecord (an event's content);
CreateExportTask, DescribeExportTasks, CancelExportTask and GetLogGroupFields are control
calls, as StartLiveTail, whose answer is an event stream (:mod:`andromede.logsapi.live_tail`,
through :class:`LogsWire`). Operations of AWS's model not
served here answer UnsupportedOperationException (501) in the same JSON shape.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, ClassVar

from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWire,
    JsonWireError,
    RequestWire,
)
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.logs.export_tasks import ExportService
from andromede.logs.insights import InsightsService
from andromede.logs.live_tail import LiveTails
from andromede.logs.log_classes import ingestion_meter
from andromede.logs.service import LogsService
from andromede.logs.subscription_service import Subscriptions
from andromede.logsapi.actions import ACTIONS, DATA_ACTIONS, NOT_SERVED, LogsCall
from andromede.logsapi.errors import LogsWireError, to_logs_error
from andromede.logsapi.live_tail import live_tail_answer
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "LogsApp", "is_logs_call"]

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "Logs_20140328."
# The request's ASGI ``receive``: a live tail's stream listens on it for the client going.
_RECEIVE: ContextVar[Receive] = ContextVar("logs_receive")


def is_logs_call(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an unsigned request names a Logs operation: Logs refuses it in its words."""
    return any(
        name.lower() == b"x-amz-target" and value.startswith(TARGET_PREFIX.encode())
        for name, value in raw_headers
    )


class LogsWire(JsonWire[LogsCall]):
    """The JSON protocol, but for StartLiveTail's answer: the session's event stream."""

    def answer(self, request: JsonRequest[LogsCall], result: dict[str, Any]) -> Response:
        call = request.context
        if call is not None and call.live_tail is not None:
            return live_tail_answer(call.live_tail, request.request_id, _RECEIVE.get())
        return super().answer(request, result)


class LogsApp(JsonEndpoint[LogsCall]):
    """AWS CloudWatch Logs' JSON 1.1 protocol over :class:`LogsService`."""

    name = "logs"
    target_prefix = TARGET_PREFIX
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="ServiceUnavailableException",
        too_large="RequestEntityTooLargeException",
    )

    def __init__(
        self,
        logs: LogsService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
        insights: InsightsService | None = None,
        exports: ExportService | None = None,
        live_tails: LiveTails | None = None,
        subscriptions: Subscriptions | None = None,
    ) -> None:
        super().__init__(
            identity, audit, settings, rate_limiter, body_limit=settings.logs_max_body_size
        )
        self._logs = logs
        self._identity = identity
        self._billing = billing
        self.insights = insights
        self.exports = exports
        self.live_tails = live_tails
        self.subscriptions = subscriptions
        self._wire = LogsWire(self)
        self._ingested: dict[str, tuple[int, str]] = {}
        self._fields_sample = settings.logs_record_fields_sample

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[LogsCall]:
        return self._wire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Each request runs in its own task: the variable is this request's.
        _RECEIVE.set(receive)
        await super().__call__(scope, receive, send)

    @property
    def service(self) -> LogsService:
        return self._logs

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return LogsWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_logs_error(exc)

    async def serve(self, request: JsonRequest[LogsCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no log groups
            raise LogsWireError("AccessDeniedException", "Operators do not use tenant logs")
        action_name = request.action_name
        if action_name in NOT_SERVED:
            raise LogsWireError(
                "UnsupportedOperationException",
                f"{action_name} is not served by this deployment (decision 0186)",
            )
        if action_name not in ACTIONS:
            raise LogsWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        params = self.params(request)
        scope = request.scope
        client = scope.get("client")

        async def authorise(action: str, resource: str) -> None:
            policies = await self._identity.policies_for(principal)
            context = principal_context(
                principal,
                action=action,
                resource=resource,
                source_ip=client[0] if client else None,
                secure=scope.get("scheme") == "https",
                region=self._logs.region,
                keys=principal_keys(policies),
            )
            # Through a Logs endpoint its policy bounds every call (decision 0174's
            # session-48 addendum): no identity policy makes up for it.
            refusal = endpoint_refusal(context)
            if refusal is None and policies_allow(context, policies):
                return
            why = refusal or f"because no identity-based policy allows the {action} action"
            raise LogsWireError(
                "AccessDeniedException",
                f"User: {principal.arn} is not authorized to perform: {action} on "
                f"resource: {resource} {why}",
            )

        request.context = LogsCall(
            params,
            principal.tenant_id,
            self._logs,
            authorise,
            insights=self.insights,
            exports=self.exports,
            fields_sample=self._fields_sample,
            live_tails=self.live_tails,
            subscriptions=self.subscriptions,
        )
        result = await ACTIONS[action_name](request.context)
        if request.context.ingested:
            self._ingested[request.request_id] = (
                request.context.ingested,
                ingestion_meter(request.context.ingested_class),
            )
        return result

    def audited(self, request: JsonRequest[LogsCall]) -> list[str] | None:
        name = request.action_name
        if request.principal.tenant_id is None or name not in ACTIONS:
            return None
        call = request.context
        if name in DATA_ACTIONS and (call is None or not call.denied):
            return None  # data events; their refusals are audited as CloudWatch's are
        return [] if call is None else call.resources

    def finish(self, request: JsonRequest[LogsCall], status: int, error_type: str | None) -> None:
        ingested, meter = self._ingested.pop(request.request_id, (0, "logs.ingested"))
        tenant_id = request.principal.tenant_id
        if (
            self._billing is not None
            and tenant_id is not None
            and request.action_name in ACTIONS
            and status < 500
            and error_type != "AccessDeniedException"
        ):
            # As KMS's and SQS's (decisions 0108, 0169): neither refusals nor faults billed.
            self._billing.count(tenant_id, self._logs.region, "logs.requests", 1)
            self._billing.count(tenant_id, self._logs.region, meter, ingested)
        super().finish(request, status, error_type)
