"""AWS Certificate Manager's JSON 1.1 ASGI application on the shared endpoint (decision 0230).

Per request: request id → bounded body → SigV4 over the body's hash (service ``acm``) →
``X-Amz-Target`` (``CertificateManager.<Action>``) → JSON parameters → the action's handler
(authorising ``acm:<Action>`` on the certificate by the caller's identity policies: ACM has
no resource policies) → JSON answer, then an audit event (action ``acm:<Action>``, resource
the certificate's ARN) and an access-log line. Every error leaves as
``{"__type": …, "message": …}`` with the ``x-amzn-RequestId`` header; an unexpected
exception is logged and answered ``InternalFailure`` carrying nothing but the request id (a
private key is never in a message, a log line or an audit record).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from andromede.acm.service import AcmService
from andromede.acmapi.actions import ACTIONS, NOT_SERVED, OTHER_OPERATIONS
from andromede.acmapi.call import AcmCall
from andromede.acmapi.errors import AcmWireError, to_acm_error
from andromede.audit.service import AuditService
from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "AcmApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.1"
# An import's certificate (32 KiB), key (8 KiB) and chain (2 MiB), base64 within its JSON.
_IMPORT_BODY: Final = 3 * 1024 * 1024


class AcmApp(JsonEndpoint[AcmCall]):
    """AWS Certificate Manager's JSON protocol over :class:`AcmService`."""

    name = "acm"
    target_prefix = "CertificateManager."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalFailure",
    )

    def __init__(
        self,
        acm: AcmService,
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
            body_limit=_IMPORT_BODY + settings.max_api_body_size,
        )
        self._acm = acm
        self._identity = identity

    @property
    def service(self) -> AcmService:
        return self._acm

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return AcmWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_acm_error(exc)

    async def serve(self, request: JsonRequest[AcmCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no certificates
            raise AcmWireError("AccessDeniedException", "Operators do not use ACM")
        name = request.action_name
        if name in NOT_SERVED:
            raise AcmWireError("NotImplemented", f"{name} {NOT_SERVED[name]}")
        if name in OTHER_OPERATIONS:
            raise AcmWireError("NotImplemented", f"{name} is not offered (decision 0230)")
        action = ACTIONS.get(name)
        if action is None:
            raise AcmWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region

        async def authorise(iam_action: str, resource: str, keys: Mapping[str, Any]) -> None:
            refused = await identity_refusal(
                self._identity, principal, request, region, iam_action, resource, keys
            )
            if refused is not None:
                raise AcmWireError("AccessDeniedException", refused)

        request.context = AcmCall(
            params=self.params(request),
            tenant_id=principal.tenant_id,
            acm=self._acm,
            authorise=authorise,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[AcmCall]) -> list[str] | None:
        if request.principal.tenant_id is None:
            return None
        if request.action_name not in ACTIONS:
            return None
        return [] if request.context is None else request.context.resources
