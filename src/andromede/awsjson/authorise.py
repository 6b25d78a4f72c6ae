"""The identity-policy check the JSON-protocol services that have no resource policies make
for each call (Firehose, Kinesis, ACM, DynamoDB): the caller's IAM policies, evaluated with the
request's origin (source address, TLS, region, VPC endpoint) and the service's own context
keys, and AWS's AccessDenied wording when they do not allow it. Each service raises the
refusal in its own :class:`~andromede.awsjson.endpoint.JsonWireError` subclass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andromede.awsjson.endpoint import JsonRequest
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService

__all__ = ["identity_refusal"]


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
