"""The KMS JSON-protocol ASGI application on the shared endpoint.

Per request: request id → bounded body → SigV4 over the body's hash → ``X-Amz-Target``
(``TrentService.<Action>``) → JSON parameters → the action's handler → JSON answer, then an
audit event (action ``kms:<Action>``, resource the key ARN(s) the call resolved, outcome) and an
access-log line. Every error leaves as ``{"__type": …, "message": …}`` with its status and the
``x-amzn-RequestId`` header; an unexpected exception is logged and answered
``KMSInternalException`` carrying nothing but the request id.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    TRUSTED_PRINCIPAL_SCOPE_KEY,
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    raw_target,
    read_small_body,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.iam.authn import (
    Authenticated,
    Authenticator,
    BodyHashMismatch,
    headers_with_body_hash,
)
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kmsapi.actions import ACTIONS, KmsCall
from andromede.kmsapi.errors import KmsWireError, to_kms_error
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "KmsApp"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
_TARGET_PREFIX = "TrentService."


class KmsApp:
    """AWS KMS's JSON protocol over :class:`CustomerKeyService`."""

    name = "kms"

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
        self._keys = keys
        self._billing = billing
        self._settings = settings
        self._audit = audit
        # Each served region is a KMS endpoint of its own (decision 0138): the SigV4 scope's
        # region picks the keys a call sees, as AWS's regional endpoints do.
        self._auth = Authenticator.for_settings(
            identity,
            settings,
            service=self.name,
            also_accepted_regions=settings.served_region_names,
        )
        self._regional = {
            region: keys if region == keys.region else keys.in_region(region)
            for region in settings.served_region_names
        }
        self._rate_limiter = rate_limiter or RateLimiter(settings.rate_limit_per_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        target = headers.get("x-amz-target", "")
        action_name = (
            target.removeprefix(_TARGET_PREFIX) if target.startswith(_TARGET_PREFIX) else ""
        )
        principal: Principal = ANONYMOUS
        caller: Caller | None = None
        try:
            body = await self._read_body(receive)
            trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
            authenticated = (
                Authenticated(trusted, None, None)
                if isinstance(trusted, Principal)
                else await self._authenticate(scope, headers, body, request_id, action_name)
            )
            principal = authenticated.principal
            if principal.is_anonymous:
                raise KmsWireError("MissingAuthenticationTokenException")
            if authenticated.signed is not None and not self._rate_limiter.allow(
                authenticated.signed.access_key_id
            ):
                raise KmsWireError("ThrottlingException")
            region = (
                self._settings.region
                if authenticated.signed is None
                else authenticated.signed.region
            )
            caller = self._caller(principal, scope, action_name, request_id, region)
            keys = self._regional.get(region, self._keys)
            response = await self._dispatch(action_name, target, headers, body, caller, keys)
        except ClientGone:
            self._finish(action_name, principal, caller, request_id, 499, "ClientGone", started)
            return
        except Exception as exc:
            response, error_type = self._error_response(exc, request_id)
            self._finish(action_name, principal, caller, request_id, response.status, error_type,
                         started)  # fmt: skip
            if error_type == "RequestEntityTooLarge":
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
        else:
            self._finish(action_name, principal, caller, request_id, 200, None, started)
        await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._settings.max_api_body_size,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise KmsWireError("RequestEntityTooLarge") from exc
        except BodyTimeout as exc:
            raise KmsWireError("SerializationException", "The request body did not arrive") from exc

    async def _authenticate(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        action_name: str,
    ) -> Authenticated:
        try:
            signed_headers = headers_with_body_hash(headers, body)
        except BodyHashMismatch as exc:
            raise KmsWireError("InvalidSignatureException") from exc
        raw_path, raw_query = raw_target(scope)
        try:
            return await self._auth.authenticate(
                scope["method"], raw_path, raw_query, signed_headers
            )
        except AndromedeError as exc:
            wire = to_kms_error(exc)
            self._audit.authentication_failed(
                request_id=request_id,
                action=f"kms:{action_name or '-'}",
                error=wire.error_type if wire else type(exc).__name__,
            )
            raise

    @staticmethod
    def _caller(
        principal: Principal, scope: Scope, action_name: str, request_id: str, region: str
    ) -> Caller:
        if principal.tenant_id is None:  # platform operators hold no tenant keys
            raise KmsWireError("AccessDeniedException", "Operators do not use tenant keys")
        client = scope.get("client")
        return Caller(
            account_id=principal.tenant_id,
            arn=principal.arn,
            principal=principal,
            source_ip=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            operation=action_name,
            request_id=request_id,
            region=region,
        )

    async def _dispatch(
        self,
        action_name: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        caller: Caller,
        keys: CustomerKeyService,
    ) -> Response:
        action = ACTIONS.get(action_name)
        if action is None:
            raise KmsWireError("UnknownOperationException", f"Unknown operation {target!r}")
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise KmsWireError("SerializationException", f"Content-Type must be {CONTENT_TYPE}")
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise KmsWireError("SerializationException", "The body is not valid JSON") from exc
        if not isinstance(params, dict):
            raise KmsWireError("SerializationException", "The body must be a JSON object")
        result = await action(KmsCall(params=params, caller=caller, keys=keys))
        return _json_response(200, result)

    def _error_response(self, exc: Exception, request_id: str) -> tuple[Response, str]:
        wire = to_kms_error(exc) if isinstance(exc, AndromedeError) else None
        if wire is None:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            wire = KmsWireError("KMSInternalException")
        return (
            _json_response(wire.status, {"__type": wire.error_type, "message": wire.message}),
            wire.error_type,
        )

    def _finish(
        self,
        action_name: str,
        principal: Principal,
        caller: Caller | None,
        request_id: str,
        status: int,
        error_type: str | None,
        started: float,
    ) -> None:
        if (
            self._billing is not None
            and caller is not None
            and action_name in ACTIONS
            and status < 500
            and status != 403
        ):
            # Billed to the caller's account, as AWS bills KMS requests (decision 0108).
            # In the region the call was signed for: each region is an endpoint (0138).
            self._billing.count(
                caller.account_id, caller.region or self._settings.region, "kms.requests"
            )
        if caller is not None and action_name in ACTIONS:
            details = {"operation": action_name, "status": str(status)}
            details.update(principal.audit_details)
            if error_type is not None:
                details["error"] = error_type
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=f"kms:{action_name}",
                resource=",".join(dict.fromkeys(caller.resources)) or "*",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s kms:%s POST / %d %.1fms",
                request_id,
                principal.arn,
                action_name or "-",
                status,
                (time.perf_counter() - started) * 1000,
            )


def _json_response(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode() if payload or status != 200 else b""
    return Response(status=status, headers=[("Content-Type", CONTENT_TYPE)], body=body)
