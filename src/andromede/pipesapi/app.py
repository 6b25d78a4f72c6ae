"""Amazon EventBridge Pipes' restJson1 ASGI application on the shared endpoint (decision
0258).

Per request: request id → bounded body → SigV4 over the body's hash (service ``pipes``) →
the operation the method and path name (``pipesapi.wire``) → its parameters → the handler
(authorising ``pipes:<Action>`` on the pipe by the caller's identity policies: Pipes has no
resource policies) → JSON answer, then an audit event (action ``pipes:<Action>``, resource
the pipe's ARN) and an access-log line. Every error leaves with its status, the
``x-amzn-ErrorType`` header and ``{"message": …}``; an unexpected exception is logged and
answered ``InternalException`` carrying nothing but the request id.

Decision 0408: each Region the gateway serves is a Pipes endpoint of its own, the SigV4
scope's Region picking the pipes a call sees (``regions``), as EventBridge's (decision 0349).
Decision 0419: a trusted in-process call (the console's regional pages) names its Region as a
signed one's scope does (``http.asgi.trusted_region``), refused when the gateway does not
serve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from andromede.audit.service import AuditService
from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import (
    JsonEndpoint,
    JsonErrorTypes,
    JsonRequest,
    JsonWireError,
    RequestWire,
)
from andromede.errors import AndromedeError
from andromede.http.asgi import trusted_region
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Scope
from andromede.iam.service import IdentityService
from andromede.pipes.service import PipesService
from andromede.pipesapi.actions import ACTIONS, PipesCall
from andromede.pipesapi.errors import PipesWireError, to_pipes_error
from andromede.pipesapi.wire import CONTENT_TYPE, RestJsonWire
from andromede.settings import Settings

__all__ = ["PipesApp"]

_BODY: Final = 256 * 1024  # a pipe's definition: templates, filters, parameters


class PipesApp(JsonEndpoint[PipesCall]):
    """EventBridge Pipes' restJson1 protocol over :class:`PipesService`."""

    name = "pipes"
    target_prefix = ""
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalException",
    )

    def __init__(
        self,
        pipes: PipesService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        regions: Mapping[str, PipesService] | None = None,
    ) -> None:
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=_BODY,
            also_accepted_regions=settings.served_region_names,
        )
        self._pipes = pipes
        self._regions = dict(regions or {})
        self._identity = identity
        self._wire = RestJsonWire()

    @property
    def service(self) -> PipesService:
        return self._pipes

    def _called_region(self, request: JsonRequest[PipesCall]) -> str:
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
            raise PipesWireError(
                "ValidationException", f"Region {region[:64]} is not served by this endpoint."
            )
        return region

    def regional(self, region: str) -> PipesService:
        """The pipes of ``region`` as a call signed for it sees them (decision 0408)."""
        return self._regions.get(region, self._pipes)

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[PipesCall]:
        return self._wire

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return PipesWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_pipes_error(exc)

    async def serve(self, request: JsonRequest[PipesCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no pipes
            raise PipesWireError("AccessDeniedException", "Operators do not use Pipes")
        action = ACTIONS.get(request.action_name)
        if action is None:
            method = request.scope.get("method", "")
            raise PipesWireError(
                "UnknownOperationException",
                f"No operation at {method} {str(request.scope.get('path', ''))[:128]}",
            )
        region = self._called_region(request)
        pipes = self.regional(region)

        async def authorise(iam_action: str, resource: str, keys: Mapping[str, Any]) -> None:
            refused = await identity_refusal(
                self._identity, principal, request, region, iam_action, resource, keys
            )
            if refused is not None:
                raise PipesWireError("AccessDeniedException", refused)

        request.context = PipesCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            pipes=pipes,
            authorise=authorise,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[PipesCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in ACTIONS:
            return None
        return [] if request.context is None else request.context.resources
