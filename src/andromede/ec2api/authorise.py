"""Authorisation of EC2 calls through the IAM policy engine.

EC2 has no resource policies: a call is decided by the caller's identity policies alone, for
the action ``ec2:<Action>`` on each resource the call names, as an EC2 ARN of the caller's own
account (``arn:aws:ec2:REGION:ACCOUNT:instance/i-…``; ``…:instance/*`` for a call naming none).
The ARN always carries the caller's account, so a decision never depends on, or reveals,
whether another tenant's resource exists: the service then answers NotFound for it. The tenant
root acts unopposed in its account; an explicit deny wins.

Through an EC2 Interface endpoint (decision 0174's session-48 addendum) the context carries
the endpoint's keys (``principal_context``) and the endpoint's policy bounds every ``ec2:``
decision, the root's too: no identity policy makes up for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from andromede.ec2api.errors import Ec2Error
from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal, PrincipalPolicies
from andromede.iam.policy import ContextValue, evaluate
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys

__all__ = ["Ec2Authoriser"]

IdentityPolicies = Callable[[Principal], Awaitable[PrincipalPolicies]]


class Ec2Authoriser:
    def __init__(self, identity_policies: IdentityPolicies, region: str) -> None:
        self._identity_policies = identity_policies
        self._region = region

    async def authorise(
        self,
        principal: Principal,
        action: str,
        resources: Sequence[str],
        *,
        source_ip: str | None,
        secure: bool,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """UnauthorizedOperation unless the policies allow ``action`` on every resource.
        ``keys``: the request's condition keys besides the caller's own."""
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(principal, action, resources[0] if resources else "*")
        policies = await self._identity_policies(principal)
        identity, boundary, session = loaded_policies(policies)
        for resource in resources:
            context = principal_context(
                principal,
                action=action,
                resource=resource,
                source_ip=source_ip,
                secure=secure,
                region=self._region,
                keys={**(keys or {}), **principal_keys(policies)},
            )
            refusal = endpoint_refusal(context)
            if refusal is not None:
                raise _denied(principal, action, resource, refusal)
            decision = evaluate(
                context,
                identity_policies=identity,
                permissions_boundary=boundary,
                session_policy=session,
            )
            if not decision.allowed:
                raise _denied(principal, action, resource)


def _denied(principal: Principal, action: str, resource: str, why: str = "") -> Ec2Error:
    # ``why``: an endpoint policy's refusal, in the words AWS ends its messages with.
    return Ec2Error(
        "UnauthorizedOperation",
        f"You are not authorized to perform this operation. User: {principal.arn} is not "
        f"authorized to perform: {action} on resource: {resource}" + (f" {why}" if why else ""),
    )
