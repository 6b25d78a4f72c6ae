"""The Secrets Manager JSON-protocol ASGI application on the shared endpoint (decision 0190).

Per request: request id → bounded body → SigV4 over the body's hash (service
``secretsmanager``) → ``X-Amz-Target`` (``secretsmanager.<Action>``) → JSON parameters → the
action's handler (the service authorises each secret it resolves) → JSON answer, then an
audit event (action ``secretsmanager:<Action>``, resource the secrets' ARNs, outcome) and an
access-log line, and one ``secretsmanager.requests`` counted to the caller's account. Every
call leaves an audit event, GetSecretValue included: CloudTrail logs it as a management
event. Every error leaves as ``{"__type": …, "Message": …}`` with the
``x-amzn-RequestId`` header; an unexpected exception is logged and answered
``InternalServiceError`` carrying nothing but the request id. The request skeleton is the
one KMS and SQS share (:mod:`andromede.awsjson.endpoint`, decision 0162).
"""

from __future__ import annotations

from typing import Any, ClassVar

from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretService
from andromede.secretsapi.actions import ACTIONS, NOT_SERVED, REFUSED
from andromede.secretsapi.authorise import KeyUser, SecretsAuthoriser
from andromede.secretsapi.call import SecretsCall
from andromede.secretsapi.errors import SecretsWireError, to_secrets_error
from andromede.settings import Settings

__all__ = ["CONTENT_TYPE", "SecretsApp"]

CONTENT_TYPE = "application/x-amz-json-1.1"
# A value of secrets_max_value_size bytes must fit in its request: JSON escapes a character
# in up to six bytes, base64 takes four for three.
_JSON_EXPANSION = 6


class SecretsApp(JsonEndpoint[SecretsCall]):
    """AWS Secrets Manager's JSON protocol over :class:`SecretService`."""

    name = "secretsmanager"
    target_prefix = "secretsmanager."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalServiceError",
    )

    def __init__(
        self,
        secrets: SecretService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
    ) -> None:
        super().__init__(
            identity,
            audit,
            settings,
            rate_limiter,
            body_limit=_JSON_EXPANSION * settings.secrets_max_value_size
            + settings.max_api_body_size,
            # Each served region is an endpoint of its own (decision 0207, as KMS's 0138): the
            # SigV4 scope's region is the region of the secrets a call sees.
            also_accepted_regions=settings.served_region_names,
        )
        self._secrets = secrets
        self._billing = billing
        self._authoriser = SecretsAuthoriser(identity, settings.region)

    @property
    def service(self) -> SecretService:
        """The secrets service it serves (the billing sampler reads the secrets held)."""
        return self._secrets

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return SecretsWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_secrets_error(exc)

    async def serve(self, request: JsonRequest[SecretsCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no secrets
            raise SecretsWireError("AccessDeniedException", "Operators do not use tenant secrets")
        name = request.action_name
        if name in NOT_SERVED:
            raise SecretsWireError("NotImplemented", f"{name} is not offered (decision 0190)")
        action = ACTIONS.get(name) or REFUSED.get(name)
        if action is None:
            raise SecretsWireError(
                "UnknownOperationException", f"Unknown operation {request.target[:128]!r}"
            )
        params = self.params(request)
        signed = None if request.authenticated is None else request.authenticated.signed
        region = self._settings.region if signed is None else signed.region
        client = request.scope.get("client")
        user = KeyUser(
            principal,
            client[0] if client else None,
            request.scope.get("scheme") == "https",
            request.request_id,
        )
        request_keys = _request_keys(name, params)

        async def authorise(iam_action: str, secret: Secret | None) -> None:
            await self._authoriser.authorise(user, iam_action, secret, request_keys, region)

        async def authorise_other(iam_action: str, resource: str) -> None:
            await self._authoriser.authorise(
                user, iam_action, None, request_keys, region, other_resource=resource
            )

        request.context = SecretsCall(
            params=params,
            actor=Actor(principal.tenant_id, region, authorise, user),
            secrets=self._secrets,
            max_policy_size=self._settings.secrets_max_policy_size,
            authorise_other=authorise_other,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[SecretsCall]) -> list[str] | None:
        name = request.action_name
        if request.principal.tenant_id is None or (name not in ACTIONS and name not in REFUSED):
            return None
        return [] if request.context is None else request.context.resources

    def finish(
        self, request: JsonRequest[SecretsCall], status: int, error_type: str | None
    ) -> None:
        tenant_id = request.principal.tenant_id
        if (
            self._billing is not None
            and tenant_id is not None
            and request.action_name in ACTIONS
            and status < 500
            and status != 403
        ):
            # As KMS's (decision 0108): billed to the caller's account; server faults are
            # not counted.
            signed = None if request.authenticated is None else request.authenticated.signed
            region = self._settings.region if signed is None else signed.region
            self._billing.count(tenant_id, region, "secretsmanager.requests")
        super().finish(request, status, error_type)


def _request_keys(action: str, params: dict[str, Any]) -> dict[str, ContextValue]:
    """The condition keys a request brings: CreateSecret's ``secretsmanager:Name``, and the
    tags a CreateSecret or TagResource asks for (``aws:RequestTag/…``, ``aws:TagKeys``)."""
    keys: dict[str, ContextValue] = {}
    if action == "CreateSecret" and isinstance(params.get("Name"), str):
        keys["secretsmanager:Name"] = params["Name"]
    replicas = params.get("AddReplicaRegions")
    if action in ("CreateSecret", "ReplicateSecretToRegions") and isinstance(replicas, list):
        # AWS's keys for guarding replication (decision 0207).
        keys["secretsmanager:AddReplicaRegions"] = [
            r["Region"]
            for r in replicas
            if isinstance(r, dict) and isinstance(r.get("Region"), str)
        ]
        keys["secretsmanager:ForceOverwriteReplicaSecret"] = str(
            params.get("ForceOverwriteReplicaSecret") is True
        ).lower()
    tags = params.get("Tags") if action in ("CreateSecret", "TagResource") else None
    if isinstance(tags, list):
        pairs = [
            (t["Key"], t["Value"])
            for t in tags
            if isinstance(t, dict)
            and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value"), str)
        ]
        keys.update({f"aws:RequestTag/{k}": v for k, v in pairs})
        keys["aws:TagKeys"] = [k for k, _ in pairs]
    return keys
