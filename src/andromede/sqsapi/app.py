"""The SQS JSON-protocol ASGI application on the shared endpoint (decision 0158).

Per request: request id → bounded body → SigV4 over the body's hash (service ``sqs``) →
``X-Amz-Target`` (``AmazonSQS.<Action>``) → JSON parameters → the action's handler (which
authorises the queue it names) → JSON answer, then an audit event (action ``sqs:<Action>``,
resource the queue ARN(s), outcome) and an access-log line. Every error leaves as
``{"__type": "com.amazonaws.sqs#…", "message": …}`` with the ``x-amzn-query-error`` header that
botocore reads for this ``awsQueryCompatible`` service and the ``x-amzn-RequestId`` header; an
unexpected exception is logged and answered ``InternalFailure`` carrying nothing but the
request id. The older Query protocol is served on the same endpoint (decision 0173): a request
without ``X-Amz-Target`` that is a GET, a form post or names ``Action=`` is read and answered
by :class:`andromede.sqsapi.query.SqsQueryWire`, the rest of its way the same. The request
skeleton is the one KMS shares (:mod:`andromede.awsjson.endpoint`, decision 0162).

Decision 0414: each Region the gateway serves is an SQS endpoint of its own, the SigV4
scope's Region picking the queues a call sees (``QueueService.in_region``), its
``aws:RequestedRegion`` and the Region its requests are billed in. Decision 0419: a trusted
in-process call (the console's regional pages) names its Region as a signed one's scope does
(``http.asgi.trusted_region``), refused when the gateway does not serve it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWireError,
    RequestWire,
)
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.asgi import trusted_region
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Scope
from andromede.iam.service import IdentityService
from andromede.queues.model import Queue
from andromede.queues.mover import MessageMover
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.sqsapi.actions import ACTIONS, NOT_SERVED, SqsCall
from andromede.sqsapi.authorise import KeyUser, SqsAuthoriser
from andromede.sqsapi.errors import SqsWireError, to_sqs_error
from andromede.sqsapi.metering import billed_to, sqs_requests
from andromede.sqsapi.query import SqsQueryWire, is_query_request

__all__ = ["CONTENT_TYPE", "SqsApp"]

CONTENT_TYPE = "application/x-amz-json-1.0"
_JSON_EXPANSION = 6


class SqsApp(JsonEndpoint[SqsCall]):
    """AWS SQS's JSON protocol over :class:`QueueService`."""

    name = "sqs"
    target_prefix = "AmazonSQS."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationToken",
        throttled="RequestThrottled",
        body_hash_mismatch="SignatureDoesNotMatch",
        internal="InternalFailure",
    )

    def __init__(
        self,
        queues: QueueService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        mover: MessageMover | None = None,
        *,
        billing: BillingService | None = None,
    ) -> None:
        # A message of queue_max_message_size bytes must fit in its request: JSON escapes a
        # character in up to six bytes (botocore writes non-ASCII as \uXXXX).
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=max(
                settings.max_api_body_size,
                _JSON_EXPANSION * settings.queue_max_message_size + settings.max_api_body_size,
            ),
            also_accepted_regions=settings.served_region_names,
        )
        self._queues = queues
        self._billing = billing
        # Each call's requests by request id, from its answer to its finish (decision 0169).
        self._requests: dict[str, int] = {}
        self._mover = mover
        self._authorisers = {
            region: SqsAuthoriser(identity, region) for region in {queues.region, *queues.regions}
        }

    def _called_region(self, request: JsonRequest[SqsCall]) -> str:
        """The Region the call is made in: its SigV4 scope's (the authenticator checked it is
        served), else the one a trusted in-process caller names (decision 0419), refused when
        not served, else the default Region."""
        signed = None if request.authenticated is None else request.authenticated.signed
        if signed is not None:
            return signed.region
        region = trusted_region(request.scope)
        if region is None:
            return self._settings.region
        if region != self._settings.region and region not in self._settings.served_region_names:
            raise SqsWireError("InvalidParameterValue", f"Region {region[:64]} is not served here.")
        return region

    def regional(self, region: str) -> QueueService:
        """The queues of ``region`` as a call signed for it sees them (decision 0414)."""
        return self._queues.in_region(region) or self._queues

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return SqsWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_sqs_error(exc)

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[SqsCall]:
        if is_query_request(scope, headers):
            return SqsQueryWire(scope, max_parameters=self._settings.queue_query_max_parameters)
        return super().wire_for(scope, headers)

    async def serve(self, request: JsonRequest[SqsCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no queues
            raise SqsWireError("AccessDenied", "Operators do not use tenant queues")
        action_name = request.action_name
        if isinstance(request.wire, SqsQueryWire):
            request.wire.check(request)
        if action_name in NOT_SERVED:
            raise SqsWireError(
                "UnsupportedOperation", f"{action_name} is not implemented (decision 0158)"
            )
        if action_name not in ACTIONS:
            raise SqsWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        params = self.params(request)
        queues = self.regional(self._called_region(request))
        authoriser = self._authorisers[queues.region]
        scope = request.scope
        client = scope.get("client")
        source_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"

        async def authorise(action: str, resource: str, queue: Queue | None) -> None:
            await authoriser.authorise(
                principal, action, resource, queue, source_ip=source_ip, secure=secure
            )

        host = request.headers.get("host") or f"{self._settings.s3_host}:{self._settings.s3_port}"
        request.context = SqsCall(
            params=params,
            tenant_id=principal.tenant_id or "",
            sender_id=principal.user_id or principal.tenant_id or "",
            base_url=f"{scope.get('scheme', 'http')}://{host}",
            queues=queues,
            authorise=authorise,
            key_user=KeyUser(principal, source_ip, secure, request.request_id),
            mover=self._mover,
            trace_header=request.headers.get("x-amzn-trace-id") or None,
        )
        result = await ACTIONS[action_name](request.context)
        if self._billing is not None:
            self._requests[request.request_id] = sqs_requests(action_name, params, result)
        return result

    def audited(self, request: JsonRequest[SqsCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in ACTIONS:
            return None
        return [] if request.context is None else request.context.resources

    def finish(self, request: JsonRequest[SqsCall], status: int, error_type: str | None) -> None:
        requests = self._requests.pop(request.request_id, 1)
        tenant_id = request.principal.tenant_id
        if (
            self._billing is not None
            and tenant_id is not None
            and request.action_name in ACTIONS
            and status < 500
            and status != 403
        ):
            # As KMS's (decision 0108): neither refusals nor server faults are billed. A
            # failed call counts one request, its payload unknown (decision 0169).
            context = request.context
            resources = [] if context is None else context.resources
            # In the call's Region when it names no queue (decision 0414).
            try:
                called = self._called_region(request)
            except SqsWireError:  # a Region not served: refused before any queue was named
                called = self._settings.region
            account, region = billed_to(resources, tenant_id, called)
            self._billing.count(account, region, "sqs.requests", requests)
        super().finish(request, status, error_type)
