"""Amazon Kinesis Data Streams' JSON 1.1 ASGI application on the shared endpoint (decision
0228).

Per request: request id → bounded body → SigV4 over the body's hash (service ``kinesis``) →
``X-Amz-Target`` (``Kinesis_20131202.<Action>``) → JSON parameters → the action's handler
(authorising ``kinesis:<Action>`` on the stream by the caller's identity policies and the
stream's or consumer's resource policy, decision 0248: within the owner's account either
allows, from another account both must) → JSON answer, then an audit event (action
``kinesis:<Action>``, resource the stream's ARN; the data calls PutRecord, PutRecords,
GetShardIterator and GetRecords only when refused, as CloudTrail's data events are off by
default), in the stream owner's trail too when the caller is of another account (its
``caller_account`` detail naming the caller's), and an access-log line. Every error leaves
as ``{"__type": …, "message": …}`` with the ``x-amzn-RequestId`` header; an unexpected
exception is logged and answered ``InternalFailure`` carrying nothing but the request id. An
action of the API this platform does not serve (warm throughput…) is
``UnknownOperationException``.
SubscribeToShard answers with its subscription's event stream (decision 0242,
:mod:`andromede.kinesisapi.fanout`), a data event as GetRecords.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWire,
    JsonWireError,
    RequestWire,
)
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.policy import Effect, PolicyDocument, PolicyKind, load_policy
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.account import ACCOUNT_ACTIONS
from andromede.kinesisapi.consumers import CONSUMER_ACTIONS
from andromede.kinesisapi.errors import KinesisWireError, to_kinesis_error
from andromede.kinesisapi.fanout import SubscriptionLimits, Subscriptions, subscription_answer
from andromede.kinesisapi.monitoring import MONITORING_ACTIONS
from andromede.kinesisapi.params import SHARED_ACTIONS, Handler, KinesisCall
from andromede.kinesisapi.policies import POLICY_ACTIONS
from andromede.kinesisapi.records import RECORD_ACTIONS
from andromede.kinesisapi.streams import STREAM_ACTIONS
from andromede.kinesisapi.subscribe import SUBSCRIBE_ACTIONS
from andromede.kms.customer_keys import Caller
from andromede.settings import Settings

__all__ = ["ACTIONS", "CONTENT_TYPE", "DATA_ACTIONS", "KinesisApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.1"
# A PutRecords of 10 MiB (large records, decision 0260), base64 (four bytes for three) within
# its JSON.
_PUT_BODY: Final = 14 * 1024 * 1024
ACTIONS: Final[dict[str, Handler]] = (
    STREAM_ACTIONS
    | RECORD_ACTIONS
    | CONSUMER_ACTIONS
    | SUBSCRIBE_ACTIONS
    | MONITORING_ACTIONS
    | POLICY_ACTIONS
    | ACCOUNT_ACTIONS
)
DATA_ACTIONS: Final = frozenset(
    {"PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "SubscribeToShard"}
)
# The request's ASGI ``receive``: a subscription's stream listens on it for the client going.
_RECEIVE: ContextVar[Receive] = ContextVar("kinesis_receive")


def _governing(policy: str | None, action: str) -> PolicyDocument | None:
    """A stream's or consumer's policy as it bears on ``action``: whole for the calls it may
    share, its denials only for any other (a ``kinesis:*`` in it grants no DeleteStream, but
    a denial of it still holds), as AWS applies Kinesis resource policies."""
    if not policy:
        return None
    document = load_policy(policy, kind=PolicyKind.RESOURCE)
    if action.removeprefix("kinesis:") in SHARED_ACTIONS:
        return document
    denials = tuple(s for s in document.statements if s.effect is Effect.DENY)
    if not denials:
        return None
    return PolicyDocument(document.version, document.id, document.kind, denials)


class KinesisWire(JsonWire[KinesisCall]):
    """The JSON protocol, but for SubscribeToShard's answer: the subscription's stream."""

    def answer(self, request: JsonRequest[KinesisCall], result: dict[str, Any]) -> Response:
        call = request.context
        if call is not None and call.subscription is not None:
            return subscription_answer(call.subscription, _RECEIVE.get())
        return super().answer(request, result)


class KinesisApp(JsonEndpoint[KinesisCall]):
    """Kinesis Data Streams' JSON protocol over :class:`KinesisService`."""

    name = "kinesis"
    target_prefix = "Kinesis_20131202."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalFailure",
    )

    def __init__(
        self,
        kinesis: KinesisService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            identity, audit, settings, rate_limiter,
            body_limit=_PUT_BODY + settings.max_api_body_size,
        )  # fmt: skip
        self._kinesis = kinesis
        self._identity = identity
        self._denied: set[str] = set()
        self.subscriptions = Subscriptions(
            SubscriptionLimits(
                lifetime=settings.kinesis_subscription_lifetime,
                poll_interval=settings.kinesis_subscription_poll_interval,
            )
        )
        self._wire = KinesisWire(self)

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[KinesisCall]:
        return self._wire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Each request runs in its own task: the variable is this request's.
        _RECEIVE.set(receive)
        await super().__call__(scope, receive, send)

    @property
    def service(self) -> KinesisService:
        return self._kinesis

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return KinesisWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_kinesis_error(exc)

    async def serve(self, request: JsonRequest[KinesisCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no streams
            raise KinesisWireError("AccessDeniedException", "Operators do not use Kinesis")
        action = ACTIONS.get(request.action_name)
        if action is None:
            named = request.action_name[:128]
            raise KinesisWireError(
                "UnknownOperationException",
                f"{named} is not offered by this platform (decision 0228)"
                if named
                else f"Unknown operation {request.target[:128]!r}",
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region
        client = request.scope.get("client")
        source_ip = client[0] if client else None
        secure = request.scope.get("scheme") == "https"

        async def authorise(
            iam_action: str, resource: str, keys: Mapping[str, Any], /,
            policy: str | None = None, owner: str | None = None,
        ) -> None:  # fmt: skip
            policies = await self._identity.policies_for(principal)
            context = principal_context(
                principal, action=iam_action, resource=resource, source_ip=source_ip,
                secure=secure, region=region, keys={**principal_keys(policies), **keys},
            )  # fmt: skip
            refusal = endpoint_refusal(context)
            document = _governing(policy, iam_action)
            if refusal is None and policies_allow(
                context, policies, resource_policy=document, resource_account=owner
            ):
                return
            self._denied.add(request.request_id)
            kind = "identity" if owner in (None, principal.tenant_id) else "resource"
            raise KinesisWireError(
                "AccessDeniedException",
                f"User: {principal.arn} is not authorized to perform: {iam_action} on "
                f"resource: {resource} "
                + (refusal or f"because no {kind}-based policy allows the {iam_action} action"),
            )

        request.context = KinesisCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            region=self._kinesis.region,
            kinesis=self._kinesis,
            authorise=authorise,
            max_record_size=self._settings.kinesis_max_record_size,
            max_policy_size=self._settings.kinesis_max_policy_size,
            action=request.action_name, account=principal.tenant_id,
            subscriptions=self.subscriptions,
            kms_caller=Caller(
                account_id=principal.tenant_id, arn=principal.arn, principal=principal,
                source_ip=source_ip, secure=secure,
                via_service=f"kinesis.{region}.amazonaws.com", request_id=request.request_id,
            ),
        )  # fmt: skip
        return await action(request.context)

    def audited(self, request: JsonRequest[KinesisCall]) -> list[str] | None:
        name = request.action_name
        if request.principal.tenant_id is None or name not in ACTIONS:
            return None
        if name in DATA_ACTIONS and request.request_id not in self._denied:
            return None
        return [] if request.context is None else request.context.resources

    def finish(
        self, request: JsonRequest[KinesisCall], status: int, error_type: str | None
    ) -> None:
        super().finish(request, status, error_type)
        call = request.context
        resources = self.audited(request)
        if call is not None and call.shared is not None and resources is not None:
            # Another account's stream: the call is in its owner's trail too, as CloudTrail
            # delivers a cross-account call to both accounts.
            details = {"operation": request.action_name, "status": str(status),
                       "caller_account": call.tenant_id}  # fmt: skip
            if error_type is not None:
                details["error"] = error_type
            self._audit.record(
                request_id=request.request_id,
                tenant_id=call.shared,
                principal=request.principal.arn,
                action=f"{self.name}:{request.action_name}",
                resource=",".join(dict.fromkeys(resources)) or "*",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        self._denied.discard(request.request_id)
