"""The policy checks the JSON-protocol services make for each call: the caller's IAM policies,
evaluated with the request's origin (source address, TLS, region, VPC endpoint) and the
service's own context keys (:func:`identity_refusal`: Firehose, Kinesis, ACM…); with a
resource's own policy as well (:func:`resource_refusal`: DynamoDB's tables and streams,
decision 0266; Lambda's functions, decision 0286), given to the IAM engine once with
``resource_account`` the resource's owner, so the engine's rules apply: within the owner's
account either policy suffices, from another account both must allow, and an explicit Deny
in either wins, the owner's own principals included. The endpoint policy (decision 0174)
still bounds the call. Each answers AWS's AccessDenied wording when refused; each service
raises it in its own :class:`~andromede.awsjson.endpoint.JsonWireError` subclass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andromede.awsjson.endpoint import JsonRequest
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue, PolicyKind
from andromede.iam.policy.document import load_policy
from andromede.iam.policy.evaluate import Outcome, PolicySource, evaluate
from andromede.iam.policy_context import (
    loaded_policies,
    policies_allow,
    principal_context,
    principal_keys,
)
from andromede.iam.service import IdentityService

__all__ = ["identity_refusal", "resource_refusal"]


async def identity_refusal(
    identity: IdentityService,
    principal: Principal,
    request: JsonRequest[Any],
    region: str,
    iam_action: str,
    resource: str,
    keys: Mapping[str, ContextValue] | None = None,
) -> str | None:
    """None when ``principal``'s policies allow ``iam_action`` on ``resource`` for this
    request; else the message AWS's AccessDeniedException carries."""
    policies = await identity.policies_for(principal)
    context_keys: dict[str, ContextValue] = dict(principal_keys(policies))
    context_keys.update(keys or {})
    client = request.scope.get("client")
    context = principal_context(
        principal,
        action=iam_action,
        resource=resource,
        source_ip=client[0] if client else None,
        secure=request.scope.get("scheme") == "https",
        region=region,
        keys=context_keys,
    )
    refusal = endpoint_refusal(context)
    if refusal is None and policies_allow(context, policies):
        return None
    return (
        f"User: {principal.arn} is not authorized to perform: {iam_action} on resource: "
        f"{resource} "
        + (refusal or f"because no identity-based policy allows the {iam_action} action")
    )


async def resource_refusal(
    identity: IdentityService,
    principal: Principal,
    request: JsonRequest[Any],
    region: str,
    iam_action: str,
    resource: str,
    policy: str | None,
    owner: str | None,
    keys: Mapping[str, ContextValue] | None = None,
) -> str | None:
    """None when the request may ``iam_action`` on ``resource`` (of account ``owner``, under
    ``policy`` if it has one); else the message AWS's AccessDeniedException carries."""
    foreign = owner is not None and owner != principal.tenant_id
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
        keys=dict(principal_keys(policies)) | dict(keys or {}),
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
