"""The Query-protocol ASGI application serving IAM and STS on the shared endpoint.

Per request: request id → bounded body → parameters → SigV4 over the body's hash → the action's
handler → XML envelope, then an access-log line and, for mutating actions and failed
authentications, an audit event. Every error leaves as the Query protocol's ``ErrorResponse``
with the request id; an unexpected exception is logged and answered ``ServiceFailure``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awswire.signed import SignedRequests
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    read_small_body,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.http.xml import XmlWriter
from andromede.iam.authn import (
    Authenticated,
)
from andromede.iam.endpoint_origin import endpoint_refusal, origin_for
from andromede.iam.model import ANONYMOUS, Principal, PrincipalKind
from andromede.iam.policy import ContextValue
from andromede.iam.policy_context import (
    iam_resource_tag_keys,
    principal_context,
    principal_keys,
)
from andromede.iam.service import IdentityService
from andromede.iamapi.authorise import QueryAuthoriser
from andromede.iamapi.errors import QueryError, to_query_error
from andromede.iamapi.iam_common import RESOURCE_TAGS, request_tags
from andromede.iamapi.protocol import (
    RESOURCE_ACCOUNT,
    UNSIGNED_DETAILS,
    UNSIGNED_PRINCIPAL,
    UNSIGNED_TENANT,
    Call,
    ServiceSpec,
    parse_parameters,
)
from andromede.settings import Settings

__all__ = ["QueryApp", "QueryMeter"]

log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"

# Told of each call of a known action once answered (action, caller, status, parameters,
# the call's context), to meter it (SNS's requests, decision 0169).
QueryMeter = Callable[[str, Principal, int, Mapping[str, str], Mapping[str, Any]], None]


class QueryApp:
    """One Query service (IAM or STS) as an ASGI app."""

    def __init__(
        self,
        spec: ServiceSpec,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        meter: QueryMeter | None = None,
    ) -> None:
        self._spec = spec
        self._meter = meter
        self._settings = settings
        self._audit = audit
        self._signed = SignedRequests(
            identity,
            audit,
            settings,
            rate_limiter,
            service=spec.name,
            also_accepted_regions=spec.also_accepted_regions,
        )
        # Unsigned calls have no access key to count by: their client address instead.
        self._unsigned_limiter = RateLimiter(settings.rate_limit_unsigned_per_address)
        self._identity = identity
        self._authoriser = QueryAuthoriser(identity, settings.region)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        method: str = scope["method"]
        raw_query_bytes: bytes = scope.get("query_string", b"")
        headers = decode_headers(scope["headers"])
        action_name = "-"
        principal: Principal = ANONYMOUS
        authenticated: Authenticated | None = None
        # The call's context: the resource the audit record names, once known.
        facts: dict[str, Any] = {"resource": "*"}
        params: Mapping[str, str] = {}
        try:
            try:
                body = await read_small_body(
                    receive,
                    limit=self._settings.max_api_body_size,
                    timeout=self._settings.body_read_timeout,
                )
            except BodyTooLarge as exc:
                raise QueryError("RequestEntityTooLarge") from exc
            except BodyTimeout as exc:
                raise QueryError("RequestExpired", "The request body did not arrive") from exc
            if method not in ("GET", "POST"):
                raise QueryError("InvalidAction", f"Method {method} is not allowed")
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            form_body = body if method == "POST" and content_type == _FORM else b""
            if body and not form_body:
                raise QueryError(
                    "InvalidParameterValue", f"Content-Type must be {_FORM} for a body"
                )
            params = parse_parameters(raw_query_bytes, form_body)
            action_name = params.get("Action", "")
            authenticated = await self._signed.authenticate(
                scope,
                headers,
                body,
                request_id=request_id,
                action=f"{self._spec.name}:{action_name or '-'}",
                hash_mismatch=lambda: QueryError("SignatureDoesNotMatch"),
                error_code=self._error_code,
            )
            principal = authenticated.principal
            action = self._spec.actions.get(action_name)
            if principal.is_anonymous and (action is None or not action.unsigned):
                raise QueryError("MissingAuthenticationToken")
            if principal.is_anonymous and not self._unsigned_limiter.allow(
                client[0] if (client := scope.get("client")) else "-"
            ):
                raise QueryError("Throttling")
            if not self._signed.allow(authenticated):
                raise QueryError("Throttling")
            response = await self._dispatch(
                action_name, params, principal, request_id, scope, headers, facts
            )
        except ClientGone:
            self._finish(
                action_name, principal, authenticated, request_id, method, 499, started, facts
            )
            self._metered(action_name, principal, 499, params, facts)
            return
        except Exception as exc:
            response = self._error_response(exc, request_id)
            if isinstance(exc, QueryError) and exc.code == "RequestEntityTooLarge":
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
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
            self._metered(action_name, principal, response.status, params, facts)

    def _metered(
        self,
        action_name: str,
        principal: Principal,
        status: int,
        params: Mapping[str, str],
        facts: Mapping[str, Any],
    ) -> None:
        if self._meter is not None and action_name in self._spec.actions:
            self._meter(action_name, principal, status, params, facts)

    def _error_code(self, exc: AndromedeError) -> str | None:
        wire = to_query_error(exc, self._spec.name)
        return None if wire is None else wire.code

    async def _dispatch(
        self,
        action_name: str,
        params: Mapping[str, str],
        principal: Principal,
        request_id: str,
        scope: Scope,
        headers: Mapping[str, str],
        facts: dict[str, Any],
    ) -> Response:
        if not action_name:
            raise QueryError("MissingAction", "Missing Action")
        action = self._spec.actions.get(action_name)
        if action is None:
            raise QueryError(
                "InvalidAction",
                f"Could not find operation {action_name} for version {self._spec.version}",
            )
        version = params.get("Version")
        if version is not None and version != self._spec.version:
            raise QueryError(
                "InvalidAction",
                f"Could not find operation {action_name} for version {version}",
            )
        if principal.kind is PrincipalKind.FEDERATED_USER and not action.federated_user_may:
            # AWS: a GetFederationToken session calls no IAM action and no STS action but
            # GetCallerIdentity, whatever its policies say.
            raise QueryError(
                "AccessDenied",
                f"User: {principal.arn} is not authorized to perform: "
                f"{self._spec.name}:{action_name}: a federated user calls no IAM action and no "
                "STS action but sts:GetCallerIdentity",
            )
        xml = XmlWriter(f"{action_name}Response", namespace=self._spec.namespace)
        if action.has_result:
            xml.open(f"{action_name}Result")
        client = scope.get("client")
        call = Call(
            action=action_name,
            params=params,
            principal=principal,
            request_id=request_id,
            source_ip=client[0] if client else "",
            secure=scope.get("scheme") == "https",
            session_token=headers.get("x-amz-security-token"),
            result=xml,
            identity=self._identity,
            authoriser=self._authoriser,
            context=facts,
            audit=self._audit,
            trace_header=headers.get("x-amzn-trace-id") or None,
        )
        if self._spec.name == "sts":
            await self._endpoint_allows(call)
        if action.authorised:
            resource = "*" if action.resource is None else await action.resource(call)
            call.context["resource"] = resource
            keys = await self._condition_keys(call)
            await call.allow(f"{self._spec.name}:{action_name}", resource, keys)
        await action.handler(call)
        if action.has_result:
            xml.close(f"{action_name}Result")
        xml.open("ResponseMetadata")
        xml.element("RequestId", request_id)
        xml.close("ResponseMetadata")
        return Response(status=200, headers=[("Content-Type", "text/xml")], body=xml.document())

    async def _endpoint_allows(self, call: Call) -> None:
        """Through an STS endpoint (decision 0174), AccessDenied unless its policy allows the
        call: STS's actions authorise themselves (a role's trust policy, or nothing at all
        for GetCallerIdentity), so the endpoint's policy is asked here, on the role a call
        names or on ``*``."""
        if origin_for("sts") is None:
            return
        action = f"sts:{call.action}"
        resource = call.params.get("RoleArn") or "*"
        principal = call.principal
        keys = {}
        if not principal.is_anonymous and principal.tenant_id is not None:
            keys = principal_keys(await self._identity.policies_for(principal))
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=None,
            secure=call.secure,
            region=self._settings.region,
            keys=keys,
        )
        refusal = endpoint_refusal(context)
        if refusal is not None:
            raise QueryError(
                "AccessDenied",
                f"User: {call.principal.arn} is not authorized to perform: {action} on"
                f" resource: {resource} {refusal}",
            )

    def _error_response(self, exc: Exception, request_id: str) -> Response:
        wire = to_query_error(exc, self._spec.name) if isinstance(exc, AndromedeError) else None
        if wire is None:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            wire = QueryError("ServiceFailure")
        xml = XmlWriter("ErrorResponse", namespace=self._spec.namespace)
        xml.open("Error")
        xml.element("Type", "Sender" if wire.sender_fault else "Receiver")
        xml.element("Code", wire.code)
        xml.element("Message", wire.message)
        xml.close("Error")
        xml.element("RequestId", request_id)
        return Response(
            status=wire.status, headers=[("Content-Type", "text/xml")], body=xml.document()
        )

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
        action = self._spec.actions.get(action_name)
        # An action that may come unsigned (SNS's ConfirmSubscription and Unsubscribe) is
        # audited as any signed call, in the caller's account, when it was signed and its
        # handler named no account for the unsigned form.
        if (
            action is not None
            and action.unsigned
            and (principal.is_anonymous or UNSIGNED_TENANT in facts)
        ):
            self._audit_unsigned(action_name, request_id, status, facts)
        elif action is not None and action.mutating and authenticated is not None:
            # Across accounts (decision 0168) the resource owner's log has it too.
            owner = facts.get(RESOURCE_ACCOUNT)
            logs = [principal.tenant_id]
            if owner is not None and owner != principal.tenant_id:
                logs.append(str(owner))
            for tenant_id in logs:
                self._audit.record(
                    request_id=request_id,
                    tenant_id=tenant_id,
                    principal=principal.arn,
                    action=f"{self._spec.name}:{action_name}",
                    resource=str(facts["resource"]),
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
                "%s %s %s:%s %s / %d %.1fms",
                request_id,
                principal.arn,
                self._spec.name,
                action_name or "-",
                method,
                status,
                (time.perf_counter() - started) * 1000,
            )

    def _audit_unsigned(
        self, action_name: str, request_id: str, status: int, facts: Mapping[str, Any]
    ) -> None:
        """An unsigned call (AssumeRoleWithWebIdentity, AssumeRoleWithSAML), success or
        failure: in the role's account once the token's issuer (the assertion's provider) was
        found to be one of its providers, else the platform's; the principal is the provider,
        the details its subject and issuer — never the token or the assertion (decisions 0087,
        0095)."""
        details = {"operation": action_name, "status": str(status)}
        details.update(facts.get(UNSIGNED_DETAILS, {}))
        self._audit.record(
            request_id=request_id,
            tenant_id=facts.get(UNSIGNED_TENANT),
            principal=facts.get(UNSIGNED_PRINCIPAL),
            action=f"{self._spec.name}:{action_name}",
            resource=str(facts["resource"]),
            outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
            details=details,
        )

    async def _condition_keys(self, call: Call) -> dict[str, ContextValue]:
        """The service-specific condition keys a call carries, as AWS sets them:
        ``iam:PolicyARN`` on attaching and detaching a managed policy; ``iam:PermissionsBoundary``
        on setting a boundary (the one asked for) and on changing the policies or the boundary
        of a user or role that has one (its boundary), so that a delegated administrator can be
        allowed to manage only what stays within a boundary (decision 0065); the tags of the
        user or role acted on, ``aws:ResourceTag/<key>`` (decision 0069)."""
        keys: dict[str, ContextValue] = {}
        action_name, params = call.action, call.params
        policy_arn = params.get("PolicyArn")
        if policy_arn is not None and action_name.startswith(("Attach", "Detach")):
            keys["iam:PolicyARN"] = policy_arn
        if action_name == "CreateServiceLinkedRole":  # decision 0208
            keys["iam:AWSServiceName"] = params.get("AWSServiceName", "")
        if action_name in _TAGGING:
            # aws:RequestTag/<key> and aws:TagKeys: a policy may govern which tags are set.
            tags = request_tags(call)
            keys.update({f"aws:RequestTag/{key}": value for key, value in tags})
            tag_keys = [key for key, _ in tags] or call.members("TagKeys")
            if tag_keys:
                keys["aws:TagKeys"] = tag_keys
        # aws:ResourceTag/<key>: the tags of the user or role acted on, as its resource
        # function found it (none for one being created).
        resource_tags = call.context.get(RESOURCE_TAGS)
        if resource_tags:
            keys.update(iam_resource_tag_keys(resource_tags))
        asked = params.get("PermissionsBoundary")
        if asked is not None and action_name in _SETTING_BOUNDARY:
            keys["iam:PermissionsBoundary"] = asked
        elif action_name in _ON_A_BOUNDED_USER and (name := params.get("UserName")):
            held = await self._identity.user_permissions_boundary(call.tenant_id, name)
            if held is not None:
                keys["iam:PermissionsBoundary"] = held
        elif action_name in _ON_A_BOUNDED_ROLE and (name := params.get("RoleName")):
            held = await self._identity.role_permissions_boundary(call.tenant_id, name)
            if held is not None:
                keys["iam:PermissionsBoundary"] = held
        return keys


# The actions that set or remove tags: aws:RequestTag/<key> and aws:TagKeys (decision 0067).
_TAGGING: Final = frozenset(
    {
        "CreateUser", "CreateRole", "TagUser", "TagRole", "UntagUser", "UntagRole",
        # decision 0074
        "CreatePolicy", "TagPolicy", "UntagPolicy",
        "CreateInstanceProfile", "TagInstanceProfile", "UntagInstanceProfile",
        "CreateVirtualMFADevice", "TagMFADevice", "UntagMFADevice",
        # decision 0087
        "CreateOpenIDConnectProvider", "TagOpenIDConnectProvider", "UntagOpenIDConnectProvider",
        # decision 0095
        "CreateSAMLProvider", "TagSAMLProvider", "UntagSAMLProvider",
    }
)  # fmt: skip
# The actions whose iam:PermissionsBoundary is the boundary the request sets, and those whose is
# the boundary the user or role they change already has (AWS's condition key table for IAM).
_SETTING_BOUNDARY: Final = frozenset(
    {"CreateUser", "CreateRole", "PutUserPermissionsBoundary", "PutRolePermissionsBoundary"}
)
_ON_A_BOUNDED_USER: Final = frozenset(
    {"AttachUserPolicy", "DetachUserPolicy", "PutUserPolicy", "DeleteUserPolicy",
     "DeleteUserPermissionsBoundary"}
)  # fmt: skip
_ON_A_BOUNDED_ROLE: Final = frozenset(
    {"AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
     "DeleteRolePermissionsBoundary"}
)  # fmt: skip
