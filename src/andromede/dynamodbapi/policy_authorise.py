"""A DynamoDB call's authorisation with its table's or stream's resource policy (decision
0266): the caller's identity policies and the resource's policy given to the IAM engine once
(``policies_allow`` with ``resource_account`` the resource's owner), the same call Kinesis,
Secrets Manager and EventBridge make, so the engine's rules apply: within the owner's account
either policy suffices, from another account both must allow, and an explicit Deny in either
wins, the owner's own principals included. The endpoint policy (decision 0174) still bounds
the call. Without a policy this is :func:`~andromede.awsjson.authorise.identity_refusal`."""

from __future__ import annotations

from typing import Any

from andromede.awsjson.authorise import identity_refusal
from andromede.awsjson.endpoint import JsonRequest
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import PolicyKind
from andromede.iam.policy.document import load_policy
from andromede.iam.policy.evaluate import Outcome, PolicySource, evaluate
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys
from andromede.iam.service import IdentityService

__all__ = ["policy_refusal"]


async def policy_refusal(
    identity: IdentityService,
    principal: Principal,
    request: JsonRequest[Any],
    region: str,
    iam_action: str,
    resource: str,
    policy: str | None,
    owner: str | None,
) -> str | None:
    """None when the request may ``iam_action`` on ``resource`` (of account ``owner``, under
    ``policy`` if it has one); else the message AWS's AccessDeniedException carries."""
    foreign = owner is not None and owner != principal.tenant_id
    if policy is None and not foreign:
        return await identity_refusal(identity, principal, request, region, iam_action, resource)
    policies = await identity.policies_for(principal)
    client = request.scope.get("client")
    context = principal_context(
        principal,
        action=iam_action,
        resource=resource,
        source_ip=client[0] if client else None,
        secure=request.scope.get("scheme") == "https",
        region=region,
        keys=dict(principal_keys(policies)),
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
