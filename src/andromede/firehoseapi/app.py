"""Amazon Data Firehose's JSON 1.1 ASGI application on the shared endpoint (decision 0223).

Per request: request id → bounded body → SigV4 over the body's hash (service ``firehose``)
→ ``X-Amz-Target`` (``Firehose_20150804.<Action>``) → JSON parameters → the action's
handler (authorising ``firehose:<Action>`` on the stream by the caller's identity policies:
Firehose has no resource policies) → JSON answer, then an audit event (action
``firehose:<Action>``, resource the stream's ARN; PutRecord and PutRecordBatch, data events,
only when refused) and an access-log line. Every error leaves as
``{"__type": …, "message": …}`` with the ``x-amzn-RequestId`` header; an unexpected
exception is logged and answered ``InternalFailure`` carrying nothing but the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from andromede.audit.service import AuditService
from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.errors import AndromedeError
from andromede.firehose.service import FirehoseService
from andromede.firehoseapi.actions import ACTIONS, DATA_ACTIONS
from andromede.firehoseapi.errors import FirehoseWireError, to_firehose_error
from andromede.firehoseapi.params import FirehoseCall
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import Caller
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "FirehoseApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.1"
# A PutRecordBatch of 4 MiB, base64 (four bytes for three) within its JSON.
_BATCH_BODY: Final = 6 * 1024 * 1024


class FirehoseApp(JsonEndpoint[FirehoseCall]):
    """Amazon Data Firehose's JSON protocol over :class:`FirehoseService`."""

    name = "firehose"
    target_prefix = "Firehose_20150804."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalFailure",
    )

    def __init__(
        self,
        firehose: FirehoseService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=_BATCH_BODY + settings.max_api_body_size,
        )
        self._firehose = firehose
        self._identity = identity
        self._denied: set[str] = set()

    @property
    def service(self) -> FirehoseService:
        return self._firehose

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return FirehoseWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_firehose_error(exc)

    async def serve(self, request: JsonRequest[FirehoseCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no delivery streams
            raise FirehoseWireError("AccessDeniedException", "Operators do not use Firehose")
        action = ACTIONS.get(request.action_name)
        if action is None:
            raise FirehoseWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region
        client = request.scope.get("client")

        async def authorise(iam_action: str, resource: str, keys: Mapping[str, Any]) -> None:
            refused = await identity_refusal(
                self._identity, principal, request, region, iam_action, resource, keys
            )
            if refused is not None:
                self._denied.add(request.request_id)
                raise FirehoseWireError("AccessDeniedException", refused)

        request.context = FirehoseCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            firehose=self._firehose,
            authorise=authorise,
            max_record_size=self._settings.firehose_max_record_size,
            kms_caller=Caller(
                account_id=principal.tenant_id,
                arn=principal.arn,
                principal=principal,
                source_ip=client[0] if client else None,
                secure=request.scope.get("scheme") == "https",
                via_service=f"firehose.{region}.amazonaws.com",
                request_id=request.request_id,
            ),
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[FirehoseCall]) -> list[str] | None:
        name = request.action_name
        if request.principal.tenant_id is None or name not in ACTIONS:
            return None
        denied = request.request_id in self._denied
        if name in DATA_ACTIONS and not denied:
            return None
        return [] if request.context is None else request.context.resources

    def finish(
        self, request: JsonRequest[FirehoseCall], status: int, error_type: str | None
    ) -> None:
        super().finish(request, status, error_type)
        self._denied.discard(request.request_id)
