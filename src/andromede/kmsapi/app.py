"""The KMS JSON-protocol ASGI application on the shared endpoint.

Per request: request id → bounded body → SigV4 over the body's hash → ``X-Amz-Target``
(``TrentService.<Action>``) → JSON parameters → the action's handler → JSON answer, then an
audit event (action ``kms:<Action>``, resource the key ARN(s) the call resolved, outcome) and an
access-log line. Every error leaves as ``{"__type": …, "message": …}`` with its status and the
``x-amzn-RequestId`` header; an unexpected exception is logged and answered
``KMSInternalException`` carrying nothing but the request id. The request skeleton is the one
SQS shares (:mod:`andromede.awsjson.endpoint`, decision 0162).
"""

from __future__ import annotations

from typing import Any, ClassVar

from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.asgi import trusted_region
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kmsapi.actions import ACTIONS, KmsCall
from andromede.kmsapi.errors import KmsWireError, to_kms_error
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "KmsApp"]

CONTENT_TYPE = "application/x-amz-json-1.1"


class KmsApp(JsonEndpoint[Caller]):
    """AWS KMS's JSON protocol over :class:`CustomerKeyService`."""

    name = "kms"
    target_prefix = "TrentService."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="KMSInternalException",
    )
    empty_body_for_empty_result = True

    def __init__(
        self,
        keys: CustomerKeyService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
    ) -> None:
        # Each served region is a KMS endpoint of its own (decision 0138): the SigV4 scope's
        # region picks the keys a call sees, as AWS's regional endpoints do.
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=settings.max_api_body_size,
            also_accepted_regions=settings.served_region_names,
        )
        self._keys = keys
        self._billing = billing
        self._regional = {
            region: keys if region == keys.region else keys.in_region(region)
            for region in settings.served_region_names
        }

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return KmsWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_kms_error(exc)

    async def serve(self, request: JsonRequest[Caller]) -> dict[str, Any]:
        signed = None if request.authenticated is None else request.authenticated.signed
        # Decision 0406: a trusted in-process call (the console's regional pages) may name
        # its Region as a signed one's scope does; it must be one this gateway serves.
        region = signed.region if signed is not None else trusted_region(request.scope)
        if region is None:
            region = self._settings.region
        elif signed is None and region not in self._regional:
            raise KmsWireError("ValidationException", f"Region {region[:64]} is not served here.")
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no tenant keys
            raise KmsWireError("AccessDeniedException", "Operators do not use tenant keys")
        client = request.scope.get("client")
        caller = request.context = Caller(
            account_id=principal.tenant_id,
            arn=principal.arn,
            principal=principal,
            source_ip=client[0] if client else None,
            secure=request.scope.get("scheme") == "https",
            operation=request.action_name,
            request_id=request.request_id,
            region=region,
        )
        action = ACTIONS.get(request.action_name)
        if action is None:
            raise KmsWireError("UnknownOperationException", f"Unknown operation {request.target!r}")
        params = self.params(request)
        keys = self._regional.get(region, self._keys)
        return await action(KmsCall(params=params, caller=caller, keys=keys))

    def audited(self, request: JsonRequest[Caller]) -> list[str] | None:
        if request.context is None or request.action_name not in ACTIONS:
            return None
        return request.context.resources

    def finish(self, request: JsonRequest[Caller], status: int, error_type: str | None) -> None:
        caller = request.context
        if (
            self._billing is not None
            and caller is not None
            and request.action_name in ACTIONS
            and status < 500
            and status != 403
        ):
            # Billed to the caller's account, as AWS bills KMS requests (decision 0108).
            # In the region the call was signed for: each region is an endpoint (0138).
            self._billing.count(
                caller.account_id, caller.region or self._settings.region, "kms.requests"
            )
        super().finish(request, status, error_type)
