"""The EC2 Query-protocol ASGI application on the shared endpoint.

Per request: request id → bounded body → parameters → SigV4 over the body's hash (credential
scope service ``ec2``) → ``ec2:<Action>`` authorised on the resources the call names → the
action's handler → ``<ActionResponse xmlns=…><requestId>…`` then an access-log line and, for
mutating actions and failed authentications, an audit event. Every error leaves as EC2's
``<Response><Errors><Error>…</Errors><RequestID>…</RequestID></Response>``; an unexpected
exception is logged and answered ``InternalError`` carrying only the request id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.compute.service import ComputeService
from andromede.ec2api.access import ACCESS_ACTIONS
from andromede.ec2api.addresses import ADDRESS_ACTIONS
from andromede.ec2api.authorise import Ec2Authoriser
from andromede.ec2api.copies import COPY_ACTIONS
from andromede.ec2api.dhcp_options import DHCP_OPTIONS_ACTIONS
from andromede.ec2api.errors import Ec2Error, to_ec2_error
from andromede.ec2api.flow_logs import FLOW_LOG_ACTIONS
from andromede.ec2api.gateways import GATEWAY_ACTIONS
from andromede.ec2api.image_attributes import IMAGE_ATTRIBUTE_ACTIONS
from andromede.ec2api.images import IMAGE_ACTIONS
from andromede.ec2api.instances import INSTANCE_ACTIONS
from andromede.ec2api.ipv6 import IPV6_ACTIONS
from andromede.ec2api.launch_templates import LAUNCH_TEMPLATE_ACTIONS
from andromede.ec2api.monitoring import MONITORING_ACTIONS
from andromede.ec2api.nat_gateways import NAT_GATEWAY_ACTIONS
from andromede.ec2api.network_acls import NETWORK_ACL_ACTIONS
from andromede.ec2api.network_interfaces import NETWORK_INTERFACE_ACTIONS
from andromede.ec2api.networks import NETWORK_ACTIONS
from andromede.ec2api.prefix_lists import PREFIX_LIST_ACTIONS
from andromede.ec2api.profiles import PROFILE_ACTIONS
from andromede.ec2api.protocol import NAMESPACE, VERSION, Action, Call, Params
from andromede.ec2api.routing import ROUTING_ACTIONS
from andromede.ec2api.security_group_rules import RULE_ACTIONS
from andromede.ec2api.spot import SPOT_ACTIONS
from andromede.ec2api.tags import TAG_ACTIONS
from andromede.ec2api.volume_modifications import MODIFICATION_ACTIONS
from andromede.ec2api.volumes import VOLUME_ACTIONS
from andromede.ec2api.vpc_endpoints import VPC_ENDPOINT_ACTIONS
from andromede.ec2api.vpc_peerings import VPC_PEERING_ACTIONS
from andromede.ec2api.vpcs import VPC_ACTIONS
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
from andromede.http.query import parse_query_parameters
from andromede.http.ratelimit import RateLimiter
from andromede.http.requester import act_for
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.http.xml import XmlWriter
from andromede.iam.authn import (
    Authenticated,
    Authenticator,
    BodyHashMismatch,
    headers_with_body_hash,
)
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["ACTIONS", "Ec2App"]

log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"
ACTIONS: dict[str, Action] = {
    **INSTANCE_ACTIONS,
    **MONITORING_ACTIONS,
    **IMAGE_ACTIONS,
    **IMAGE_ATTRIBUTE_ACTIONS,
    **ACCESS_ACTIONS,
    **RULE_ACTIONS,
    **TAG_ACTIONS,
    **VOLUME_ACTIONS,
    **MODIFICATION_ACTIONS,
    **NETWORK_ACTIONS,
    **NETWORK_INTERFACE_ACTIONS,
    **VPC_ACTIONS,
    **IPV6_ACTIONS,
    **ROUTING_ACTIONS,
    **NETWORK_ACL_ACTIONS,
    **GATEWAY_ACTIONS,
    **NAT_GATEWAY_ACTIONS,
    **VPC_PEERING_ACTIONS,
    **DHCP_OPTIONS_ACTIONS,
    **PREFIX_LIST_ACTIONS,
    **FLOW_LOG_ACTIONS,
    **VPC_ENDPOINT_ACTIONS,
    **ADDRESS_ACTIONS,
    **PROFILE_ACTIONS,
    **LAUNCH_TEMPLATE_ACTIONS,
    **COPY_ACTIONS,
    **SPOT_ACTIONS,
}


class Ec2App:
    """EC2's Query API over :class:`ComputeService`."""

    name = "ec2"

    def __init__(
        self,
        compute: ComputeService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._compute = compute
        self._identity = identity
        self._settings = settings
        self._audit = audit
        self._auth = Authenticator.for_settings(identity, settings, service=self.name)
        self._rate_limiter = rate_limiter or RateLimiter(settings.rate_limit_per_key)
        self._authoriser = Ec2Authoriser(identity.policies_for, settings.region)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        method: str = scope["method"]
        headers = decode_headers(scope["headers"])
        action_name = "-"
        principal: Principal = ANONYMOUS
        authenticated: Authenticated | None = None
        facts: dict[str, Any] = {"resources": ["*"]}
        try:
            body = await self._read_body(receive)
            if method not in ("GET", "POST"):
                raise Ec2Error("InvalidAction", f"Method {method} is not allowed")
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            form_body = body if method == "POST" and content_type == _FORM else b""
            if body and not form_body:
                raise Ec2Error("InvalidParameterValue", f"Content-Type must be {_FORM}")
            params = parse_query_parameters(scope.get("query_string", b""), form_body)
            action_name = params.get("Action", "") or "-"
            trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
            authenticated = (
                Authenticated(trusted, None, None)
                if isinstance(trusted, Principal)
                else await self._authenticate(scope, headers, body, request_id, action_name)
            )
            principal = authenticated.principal
            if principal.is_anonymous:
                raise Ec2Error("MissingAuthenticationToken")
            if authenticated.signed is not None and not self._rate_limiter.allow(
                authenticated.signed.access_key_id
            ):
                raise Ec2Error("RequestLimitExceeded")
            # What EC2 does for this request (a volume's key opened through the customer's
            # XKS proxy, an instance started) is on the caller's behalf, and said so.
            act_for(principal.arn, request_id)
            response = await self._dispatch(
                action_name, params, principal, request_id, scope, facts
            )
        except ClientGone:
            self._finish(
                action_name, principal, authenticated, request_id, method, 499, started, facts
            )
            return
        except Exception as exc:
            response = self._error_response(exc, request_id)
        try:
            await send_response(send, response, [(b"x-amzn-requestid", request_id.encode())])
        finally:
            self._finish(
                action_name,
                principal,
                authenticated,
                request_id,
                method,
                response.status,
                started,
                facts,
            )

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._settings.max_api_body_size,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise _BodyTooLarge() from exc
        except BodyTimeout as exc:
            raise Ec2Error("RequestExpired", "The request body did not arrive") from exc

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
            raise Ec2Error("SignatureDoesNotMatch") from exc
        raw_path, raw_query = raw_target(scope)
        try:
            return await self._auth.authenticate(
                scope["method"], raw_path, raw_query, signed_headers
            )
        except AndromedeError as exc:
            wire = to_ec2_error(exc)
            self._audit.authentication_failed(
                request_id=request_id,
                action=f"ec2:{action_name}",
                error=wire.code if wire else type(exc).__name__,
            )
            raise

    async def _dispatch(
        self,
        action_name: str,
        params: Mapping[str, str],
        principal: Principal,
        request_id: str,
        scope: Scope,
        facts: dict[str, Any],
    ) -> Response:
        action = ACTIONS.get(action_name)
        if action is None:
            raise Ec2Error(
                "InvalidAction", f"The action {action_name[:64]} is not valid for this web service."
            )
        version = params.get("Version")
        if version is not None and version != VERSION:
            raise Ec2Error(
                "InvalidAction", f"The action {action_name} is not valid for version {version[:16]}"
            )
        if principal.tenant_id is None:  # platform operators hold no instances
            raise Ec2Error("UnauthorizedOperation", "Operators do not run tenant instances")
        xml = XmlWriter(f"{action_name}Response", namespace=NAMESPACE)
        xml.element("requestId", request_id)
        client = scope.get("client")
        source_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"

        async def allow(
            action: str, resources: list[str], keys: Mapping[str, ContextValue] | None = None
        ) -> None:
            await self._authoriser.authorise(
                principal, action, resources, source_ip=source_ip, secure=secure, keys=keys
            )

        call = Call(
            action=action_name,
            params=Params(params),
            principal=principal,
            tenant_id=principal.tenant_id,
            request_id=request_id,
            compute=self._compute,
            region=self._settings.region,
            result=xml,
            identity=self._identity,
            allow=allow,
            context=facts,
        )
        resources = action.resources(call) if action.resources is not None else ["*"]
        keys: Mapping[str, ContextValue] = {}
        if action.conditions is not None:
            further, keys = await action.conditions(call)
            resources = [*resources, *further]
        facts["resources"] = resources
        await allow(f"ec2:{action_name}", resources, keys)
        if params.get("DryRun", "").lower() == "true":
            # EC2 answers an allowed dry run with this error code, by design.
            raise Ec2Error(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set."
            )
        await action.handler(call)
        return Response(status=200, headers=[("Content-Type", "text/xml")], body=xml.document())

    def _error_response(self, exc: Exception, request_id: str) -> Response:
        wire = to_ec2_error(exc) if isinstance(exc, AndromedeError) else None
        if wire is None:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            wire = Ec2Error("InternalError")
        xml = XmlWriter("Response", namespace=None)
        xml.open("Errors")
        xml.open("Error")
        xml.element("Code", wire.code)
        xml.element("Message", wire.message)
        xml.close("Error")
        xml.close("Errors")
        xml.element("RequestID", request_id)
        response = Response(
            status=wire.status, headers=[("Content-Type", "text/xml")], body=xml.document()
        )
        if isinstance(exc, _BodyTooLarge):
            # The rest of the body was left unread: it must not become the next request.
            response.headers.append(("Connection", "close"))
        return response

    def _finish(
        self,
        action_name: str,
        principal: Principal,
        authenticated: Authenticated | None,
        request_id: str,
        method: str,
        status: int,
        started: float,
        facts: Mapping[str, Any],
    ) -> None:
        action = ACTIONS.get(action_name)
        if action is not None and action.mutating and authenticated is not None:
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=f"ec2:{action_name}",
                resource=",".join(facts["resources"]),
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details={
                    "operation": action_name,
                    "status": str(status),
                    **principal.audit_details,
                },
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s ec2:%s %s / %d %.1fms",
                request_id,
                principal.arn,
                action_name,
                method,
                status,
                (time.perf_counter() - started) * 1000,
            )


class _BodyTooLarge(Ec2Error):
    def __init__(self) -> None:
        super().__init__(
            "InvalidParameterValue", "The request body is larger than this endpoint accepts"
        )
