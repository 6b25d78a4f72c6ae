"""A Lambda call's authorisation (decision 0286): the caller's identity policies and the
function's resource-based policy (the one of the qualifier the call names) given to the IAM
engine once, with ``resource_account`` the function's owner — the call DynamoDB, Kinesis,
Secrets Manager and EventBridge make, so that the engine's rules apply: within the owner's
account either policy suffices, from another account both must allow, and an explicit Deny
in either wins. The endpoint policy (decision 0174) still bounds the call. Without a policy
this is :func:`~andromede.awsjson.authorise.identity_refusal`."""

from __future__ import annotations

from typing import Any

from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import JsonRequest
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue, PolicyKind
from andromede.iam.policy.document import load_policy
from andromede.iam.policy.evaluate import Outcome, PolicySource, evaluate
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys
from andromede.iam.service import IdentityService

__all__ = ["function_refusal"]


async def function_refusal(
    identity: IdentityService,
    principal: Principal,
    request: JsonRequest[Any],
    region: str,
    iam_action: str,
    resource: str,
    keys: dict[str, ContextValue],
    policy: str | None,
    owner: str,
) -> str | None:
    """None when the request may ``iam_action`` on ``resource`` (of account ``owner``, under
    ``policy`` if the function has one); else the message AWS's AccessDeniedException
    carries."""
    foreign = owner != principal.tenant_id
    if policy is None and not foreign:
        return await identity_refusal(
            identity, principal, request, region, iam_action, resource, keys
        )
    policies = await identity.policies_for(principal)
    client = request.scope.get("client")
    context = principal_context(
        principal,
        action=iam_action,
        resource=resource,
        source_ip=client[0] if client else None,
        secure=request.scope.get("scheme") == "https",
        region=region,
        keys=dict(principal_keys(policies)) | keys,
    )
    refusal = endpoint_refusal(context)
    document = None if policy is None else load_policy(policy, kind=PolicyKind.RESOURCE)
    identity_policies, boundary, session = loaded_policies(policies)
    decision = evaluate(
        context,
        identity_policies=identity_policies,
        permissions_boundary=boundary,
        session_policy=session,
        resource_policy=document,
        resource_account=owner,
    )
    if refusal is None and decision.allowed:
        return None
    if refusal is None and decision.outcome is Outcome.EXPLICIT_DENY:
        denied_by = decision.statement
        source = None if denied_by is None else denied_by.source
        refusal = "with an explicit deny in " + (
            "a resource-based policy" if source is PolicySource.RESOURCE
            else "an identity-based policy"
        )  # fmt: skip
    kind = "resource" if foreign else "identity"
    return (
        f"User: {principal.arn} is not authorized to perform: {iam_action} on resource: "
        f"{resource} "
        + (refusal or f"because no {kind}-based policy allows the {iam_action} action")
    )
