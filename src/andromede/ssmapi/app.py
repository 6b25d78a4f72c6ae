"""The Systems Manager JSON-protocol ASGI application on the shared endpoint (decision 0229).

Per request: request id → bounded body → SigV4 over the body's hash (service ``ssm``) →
``X-Amz-Target`` (``AmazonSSM.<Action>``) → JSON parameters → the action's handler (the
service authorises each parameter it resolves) → JSON answer, then an audit event (action
``ssm:<Action>``, resource the parameters' ARNs, outcome; never a value) and an access-log
line. Every error leaves as ``{"__type": …, "message": …}`` with the ``x-amzn-RequestId``
header; an unexpected exception is logged and answered ``InternalServerError`` carrying
nothing but the request id. Only Parameter Store is served: any other Systems Manager
operation answers ``UnknownOperationException``, as AWS answers an operation it does not
know. The request skeleton is the one KMS, SQS and Secrets Manager share
(:mod:`andromede.awsjson.endpoint`, decision 0162).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awsjson.endpoint import JsonEndpoint, JsonErrorTypes, JsonRequest, JsonWireError
from andromede.errors import AndromedeError
from andromede.http.ratelimit import RateLimiter
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.settings import Settings
from andromede.ssm.service import Actor, ParameterService, name_of
from andromede.ssmapi.actions import ACTIONS
from andromede.ssmapi.authorise import KeyUser, SsmAuthoriser
from andromede.ssmapi.call import SsmCall
from andromede.ssmapi.errors import SsmWireError, to_ssm_error
from andromede.ssmapi.policy_check import check_resource_policy, shared_document

__all__ = ["CONTENT_TYPE", "SsmApp"]

CONTENT_TYPE: Final = "application/x-amz-json-1.1"
# A value of the advanced tier's size must fit in its request: JSON escapes a character in up
# to six bytes.
_JSON_EXPANSION: Final = 6


class SsmApp(JsonEndpoint[SsmCall]):
    """AWS Systems Manager Parameter Store's JSON protocol over :class:`ParameterService`."""

    name = "ssm"
    target_prefix = "AmazonSSM."
    content_type = CONTENT_TYPE
    error_types: ClassVar[JsonErrorTypes] = JsonErrorTypes(
        unauthenticated="MissingAuthenticationTokenException",
        throttled="ThrottlingException",
        body_hash_mismatch="InvalidSignatureException",
        internal="InternalServerError",
    )

    def __init__(
        self,
        parameters: ParameterService,
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
            body_limit=_JSON_EXPANSION * parameters.limits.max_advanced_value_size
            + settings.max_api_body_size,
            also_accepted_regions=settings.served_region_names,
        )
        self._parameters = parameters
        self._authoriser = SsmAuthoriser(identity)
        parameters.resource_policies.checker = check_resource_policy

    @property
    def service(self) -> ParameterService:
        return self._parameters

    def wire_error(self, error_type: str, message: str | None = None) -> JsonWireError:
        return SsmWireError(error_type, message)

    def to_wire_error(self, exc: AndromedeError) -> JsonWireError | None:
        return to_ssm_error(exc)

    async def serve(self, request: JsonRequest[SsmCall]) -> dict[str, Any]:
        principal = request.principal
        if principal.tenant_id is None:  # platform operators hold no parameters
            raise SsmWireError("AccessDeniedException", "Operators do not use tenant parameters")
        action = ACTIONS.get(request.action_name)
        if action is None:
            raise SsmWireError(
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

        request_keys = _request_keys(params)
        account = principal.tenant_id

        async def authorise(iam_action: str, arn: str | None) -> None:
            keys = dict(request_keys)
            owner = account if arn is None else arn.split(":")[4]
            store = self._parameters.store
            held = None
            if arn is not None:
                held = await store.get(owner or account, region, name_of(arn))
                for key, value in () if held is None else held.tags:
                    keys[f"aws:ResourceTag/{key}"] = value
                    keys[f"ssm:resourceTag/{key}"] = value
            if not owner or owner == account:
                await self._authoriser.authorise(user, iam_action, arn, region, keys)
                return
            # Another account's parameter (decision 0249): its policies are its share.
            shared = [] if held is None else await store.policies(owner, region, held.name)
            await self._authoriser.authorise(
                user, iam_action, arn, region, keys,
                resource_policy=shared_document(shared), resource_account=owner,
            )  # fmt: skip

        request.context = SsmCall(
            params=params,
            actor=Actor(principal.tenant_id, region, principal.arn, authorise, user),
            parameters=self._parameters,
        )
        return await action(request.context)

    def audited(self, request: JsonRequest[SsmCall]) -> list[str] | None:
        if request.principal.tenant_id is None or request.action_name not in ACTIONS:
            return None
        return [] if request.context is None else request.context.resources

    def finish(self, request: JsonRequest[SsmCall], status: int, error_type: str | None) -> None:
        super().finish(request, status, error_type)
        resources = self.audited(request) or []
        caller = request.principal.tenant_id
        # A shared parameter's owner sees its reads too (decision 0249), as a cross-account
        # call is in both accounts' trails.
        owners = {arn.split(":")[4] for arn in resources if arn.count(":") >= 5}
        for owner in sorted(owners - {"", str(caller)}):
            details = {"operation": request.action_name, "status": str(status)}
            details.update(request.principal.audit_details)
            if error_type is not None:
                details["error"] = error_type
            self._audit.record(
                request_id=request.request_id,
                tenant_id=owner,
                principal=request.principal.arn,
                action=f"ssm:{request.action_name}",
                resource=",".join(a for a in dict.fromkeys(resources) if f":{owner}:" in a),
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )


def _request_keys(params: dict[str, Any]) -> dict[str, ContextValue]:
    """The condition keys a request brings: ``ssm:Overwrite``, ``ssm:Recursive``, and the tags
    it asks for (``aws:RequestTag/…``, ``aws:TagKeys``)."""
    keys: dict[str, ContextValue] = {}
    for name in ("Overwrite", "Recursive"):
        if isinstance(params.get(name), bool):
            keys[f"ssm:{name}"] = str(params[name]).lower()
    tags = params.get("Tags")
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
    removed = params.get("TagKeys")
    if isinstance(removed, list) and all(isinstance(k, str) for k in removed):
        keys["aws:TagKeys"] = list(removed)
    return keys
