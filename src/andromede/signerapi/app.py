"""AWS Signer's restJson1 ASGI application on the shared endpoint (decision 0386).

Per request: request id → bounded body → SigV4 over the body's hash (service ``signer``) →
the operation the method and path name (``signerapi.wire``) → its parameters → the handler
(authorising ``signer:<Action>`` by the caller's identity policies: signing profiles here
have no resource policies) → JSON answer, then an audit event (action ``signer:<Action>``,
resource the profile's or job's ARN) and an access-log line. Every error leaves with its
status, the ``x-amzn-ErrorType`` header and ``{"message", "code"}``; an unexpected exception
is logged and answered ``InternalServiceErrorException`` carrying nothing but the request id.
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
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Scope
from andromede.iam.service import IdentityService
from andromede.settings import Settings
from andromede.signer.service import SignerService
from andromede.signerapi.actions import ACTIONS, SignerCall
from andromede.signerapi.errors import SignerWireError, to_signer_error
from andromede.signerapi.wire import CONTENT_TYPE, RestJsonWire

__all__ = ["SignerApp"]

_BODY: Final = 64 * 1024  # a profile's or a job's parameters


class SignerApp(JsonEndpoint[SignerCall]):
    """AWS Signer's restJson1 protocol over :class:`SignerService`."""

    name = "signer"
    target_prefix = ""
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="TooManyRequestsException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalServiceErrorException",
    )

    def __init__(
        self,
        signer: SignerService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(identity, audit, settings, rate_limiter, body_limit=_BODY)
        self._signer = signer
        self._identity = identity
        self._wire = RestJsonWire()

    @property
    def service(self) -> SignerService:
        return self._signer

    def wire_for(self, scope: Scope, headers: dict[str, str]) -> RequestWire[SignerCall]:
        return self._wire

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return SignerWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_signer_error(exc)

    async def serve(self, request: JsonRequest[SignerCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators sign nothing
            raise SignerWireError("AccessDeniedException", "Operators do not use AWS Signer")
        action = ACTIONS.get(request.action_name)
        if action is None:
            method = request.scope.get("method", "")
            raise SignerWireError(
                "UnknownOperationException",
                f"No operation at {method} {str(request.scope.get('path', ''))[:128]}",
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region

        async def authorise(iam_action: str, resource: str, keys: Mapping[str, Any]) -> None:
            refused = await identity_refusal(
                self._identity, principal, request, region, iam_action, resource, keys
            )
            if refused is not None:
                raise SignerWireError("AccessDeniedException", refused)

        request.context = SignerCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            caller=principal,
            caller_arn=principal.arn,
            signer=self._signer,
            authorise=authorise,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[SignerCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in ACTIONS:
            return None
        return [] if request.context is None else request.context.resources
