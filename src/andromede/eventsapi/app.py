"""The EventBridge JSON 1.1 ASGI application on the shared endpoint (decision 0192).

Per request: request id → bounded body → SigV4 over the body's hash (service ``events``) →
``X-Amz-Target`` (``AWSEvents.<Action>``) → JSON parameters → the action's handler (which
authorises the bus or rule it names against the caller's identity policies) → JSON answer,
then an audit event (action ``events:<Action>``, resource the ARN(s) named, outcome) and an
access-log line. Errors leave as ``{"__type": "ResourceNotFoundException", "message": …}``;
an unexpected exception is logged and answered ``InternalException`` carrying nothing but the
request id. The request skeleton is the one KMS and SQS share
(:mod:`andromede.awsjson.endpoint`, decision 0162). PutEvents' published entries are
metered as ``events.published``, one per 64 KiB chunk of an entry begun, as AWS bills them,
and counted in AWS/Events' ``PutEventsApproximate*Count`` (decision 0341).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.events.archives import ArchiveService
from andromede.events.connection_secrets import ConnectionCaller
from andromede.events.connections import ConnectionService
from andromede.events.endpoints import EndpointService
from andromede.events.service import EventsService
from andromede.eventsapi.actions import ACTIONS, NOT_SERVED, CallJudge, EventsCall
from andromede.eventsapi.archive_actions import ARCHIVE_ACTIONS
from andromede.eventsapi.bus_actions import BUS_ACTIONS
from andromede.eventsapi.connection_actions import CONNECTION_ACTIONS
from andromede.eventsapi.endpoint_actions import ENDPOINT_ACTIONS
from andromede.eventsapi.errors import EventsWireError, to_events_error
from andromede.eventsapi.put_events_access import condition_values
from andromede.http.asgi import trusted_region
from andromede.http.ratelimit import RateLimiter
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal, PrincipalPolicies
from andromede.iam.policy import PolicyDocument, PolicyKind, RequestContext, load_policy
from andromede.iam.policy.context import ContextValue
from andromede.iam.policy_context import (
    loaded_policies,
    policies_allow,
    principal_context,
    principal_keys,
)
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "SERVED", "EventsApp"]

CONTENT_TYPE = "application/x-amz-json-1.1"
# ENDPOINT_ACTIONS last: its PutEvents (decision 0355) takes an EndpointId besides.
SERVED: Final = {
    **ACTIONS,
    **BUS_ACTIONS,
    **ARCHIVE_ACTIONS,
    **CONNECTION_ACTIONS,
    **ENDPOINT_ACTIONS,
}


class EventsApp(JsonEndpoint[EventsCall]):
    """AWS EventBridge's JSON protocol over :class:`EventsService`."""

    name = "events"
    target_prefix = "AWSEvents."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalException",
    )

    def __init__(
        self,
        events: EventsService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
        archives: ArchiveService | None = None,
        connections: ConnectionService | None = None,
        regions: Mapping[str, EventsService] | None = None,
        endpoints: EndpointService | None = None,
        regional_archives: Mapping[str, ArchiveService] | None = None,
        regional_connections: Mapping[str, ConnectionService] | None = None,
    ) -> None:
        # Decision 0349: each Region the gateway serves is an EventBridge endpoint of its
        # own, the SigV4 scope's Region picking the buses a call sees, as AWS's endpoints do.
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=settings.events_max_body_size,
            also_accepted_regions=settings.served_region_names,
        )
        self._events = events
        self._regions = dict(regions or {})
        self._served = settings.served_region_names | {events.region}
        self._identity = identity
        self._billing = billing
        self._archives = archives
        # Decision 0397: each Region's archives and replays (the default's is ``archives``).
        self._regional_archives = dict(regional_archives or {})
        self._connections = connections
        # Decision 0400: each Region's connections and API destinations (the default's is
        # ``connections``).
        self._regional_connections = dict(regional_connections or {})
        self.endpoints = endpoints

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return EventsWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_events_error(exc)

    async def serve(self, request: JsonRequest[EventsCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no buses
            raise EventsWireError("AccessDeniedException", "Operators do not use tenant buses")
        action_name = request.action_name
        if action_name in NOT_SERVED:
            raise EventsWireError(
                "UnsupportedOperation", f"{action_name} is not implemented (decision 0192)"
            )
        if action_name not in SERVED:
            raise EventsWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        scope = request.scope
        client = scope.get("client")
        events = self._region_of(request)
        home = events is self._events

        async def authorise(
            action: str,
            resource: str,
            *,
            policy: str | None = None,
            owner: str | None = None,
            keys: Mapping[str, ContextValue] | None = None,
        ) -> None:
            await self._authorise(
                principal,
                action,
                resource,
                region=events.region,
                source_ip=client[0] if client else None,
                secure=scope.get("scheme") == "https",
                policy=policy,
                owner=owner,
                keys=keys,
            )

        async def judge(
            action: str, resource: str, *, policy: str | None = None, owner: str | None = None
        ) -> CallJudge:
            return await self._judge(
                principal,
                action,
                resource,
                region=events.region,
                source_ip=client[0] if client else None,
                secure=scope.get("scheme") == "https",
                policy=policy,
                owner=owner,
            )

        request.context = EventsCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            events=events,
            authorise=authorise,
            judge=judge,
            list_page=self._settings.events_list_page,
            max_policy_size=self._settings.events_max_policy_size,
            archives=self._archives if home else self._regional_archives.get(events.region),
            connections=(
                self._connections if home else self._regional_connections.get(events.region)
            ),
            endpoints=self.endpoints,
            caller=ConnectionCaller(
                principal,
                client[0] if client else None,
                scope.get("scheme") == "https",
                request.request_id,
            ),
            trace_header=request.headers.get("x-amzn-trace-id") or None,
        )
        return await SERVED[action_name](request.context)

    def _region_of(self, request: JsonRequest[EventsCall]) -> EventsService:
        """The service of the Region the call is made in: its SigV4 scope's, else the one a
        trusted in-process caller names (the console's regional pages, decision 0406), else
        the default Region's. A named Region must be one this gateway serves, as a signature's
        (whose scope the authenticator checked already)."""
        signed = None if request.authenticated is None else request.authenticated.signed
        region = signed.region if signed is not None else trusted_region(request.scope)
        if region is None:
            return self._events
        if signed is None and region not in self._served:
            raise EventsWireError(
                "ValidationException", f"Region {region[:64]} is not served by this endpoint."
            )
        return self._regions.get(region, self._events)

    async def _judge(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        region: str,
        source_ip: str | None,
        secure: bool,
        policy: str | None = None,
        owner: str | None = None,
    ) -> _PolicyJudge:
        """The caller's policies and ``policy``, the resource policy of ``owner``'s bus,
        loaded once for ``action`` on ``resource``, to be judged with the request's keys."""
        policies = await self._identity.policies_for(principal)

        def context_of(keys: Mapping[str, ContextValue]) -> RequestContext:
            return principal_context(
                principal,
                action=action,
                resource=resource,
                source_ip=source_ip,
                secure=secure,
                region=region,
                keys={**principal_keys(policies), **keys},
            )

        resource_policy = None if policy is None else load_policy(policy, kind=PolicyKind.RESOURCE)
        refused = _refusal(principal, action, resource, owner)
        return _PolicyJudge(context_of, policies, resource_policy, owner, refused)

    async def _authorise(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        region: str,
        source_ip: str | None,
        secure: bool,
        policy: str | None = None,
        owner: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """AccessDeniedException unless the caller's identity policies or ``policy``, the
        resource policy of ``owner``'s bus, allow ``action`` on ``resource``, as the engine
        judges it: another account needs both its own identity policies and the bus's policy
        (decision 0192, session 48)."""
        judge = await self._judge(
            principal,
            action,
            resource,
            region=region,
            source_ip=source_ip,
            secure=secure,
            policy=policy,
            owner=owner,
        )
        if await judge.allows(keys or {}):
            return
        raise judge.refusal()

    def audited(self, request: JsonRequest[EventsCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in SERVED:
            return None
        return [] if request.context is None else request.context.resources

    def finish(self, request: JsonRequest[EventsCall], status: int, error_type: str | None) -> None:
        tenant_id = request.principal.tenant_id
        call = request.context
        if self._billing is not None and tenant_id is not None and call is not None:
            region = call.events.region
            self._billing.count(tenant_id, region, "events.published", call.published)
        measure = (self._events if call is None else call.events).measures  # its Region's
        if request.action_name == "PutEvents" and tenant_id is not None and measure is not None:
            # Decision 0341: AWS/Events' PutEventsApproximate*Count, one call each, no
            # dimension: every call an account made (authenticated: its account known), and
            # its outcome — answered, throttled, or refused otherwise (a refused entry does
            # not fail the call, as AWS counts it).
            throttled = error_type == self.error_types.throttled
            outcome = "Success" if status < 400 else "Throttled" if throttled else "Failed"
            for name in ("Call", outcome):
                measure(tenant_id, f"PutEventsApproximate{name}Count", 1.0, "Count", None)
        super().finish(request, status, error_type)


def _refusal(
    principal: Principal, action: str, resource: str, owner: str | None
) -> EventsWireError:
    """AWS's AccessDeniedException for ``action`` on ``resource``: the resource policy is
    named when the resource is another account's."""
    kind = "identity" if owner in (None, principal.tenant_id) else "resource"
    return EventsWireError(
        "AccessDeniedException",
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource} because no {kind}-based policy allows the {action} action",
    )


class _PolicyJudge:
    """:class:`~andromede.eventsapi.actions.CallJudge` over the policy engine: one action on
    one resource, the caller's policies and the bus's loaded once."""

    def __init__(
        self,
        context_of: Callable[[Mapping[str, ContextValue]], RequestContext],
        policies: PrincipalPolicies,
        resource_policy: PolicyDocument | None,
        owner: str | None,
        refused: EventsWireError,
    ) -> None:
        self._context_of = context_of
        self._policies = policies
        self._resource_policy = resource_policy
        self._owner = owner
        self._refused = refused

    def refusal(self) -> EventsWireError:
        return self._refused

    async def allows(self, keys: Mapping[str, ContextValue]) -> bool:
        context = self._context_of(keys)
        return endpoint_refusal(context) is None and policies_allow(
            context,
            self._policies,
            resource_policy=self._resource_policy,
            resource_account=self._owner,
        )

    def named_values(self, key: str) -> list[str]:
        identity, boundary, session = loaded_policies(self._policies)
        return condition_values([*identity, boundary, session, self._resource_policy], key)
