"""Authorisation of Parameter Store calls (decision 0229): the caller's identity policies
decide each action on the parameter's ARN (``arn:aws:ssm:<region>:<account>:parameter/<name
without its leading slash>``), or on ``*`` for DescribeParameters, as AWS decides them;
another account's parameter (decision 0249) by its resource policies and the caller's identity
policies, both, the policy engine's rule across accounts. Through a VPC endpoint its policy
bounds every call. The context carries AWS's keys: the parameter's tags (``aws:ResourceTag/<key>``,
``ssm:resourceTag/<key>``), the request's (``aws:RequestTag/<key>``, ``aws:TagKeys``),
``ssm:Overwrite`` and ``ssm:Recursive`` (``app``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue, PolicyDocument
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.ssmapi.errors import SsmWireError

__all__ = ["KeyUser", "SsmAuthoriser"]


@dataclass(frozen=True, slots=True)
class KeyUser:
    """Who a SecureString's KMS key is used for: the request's principal, where it came from
    and the request's id (``wiring.kms_envelopes.KeyCaller``)."""

    principal: Principal
    source_ip: str | None
    secure: bool
    request_id: str


class SsmAuthoriser:
    def __init__(self, identity: IdentityService) -> None:
        self._identity = identity

    async def authorise(
        self,
        user: KeyUser,
        action: str,
        arn: str | None,
        region: str,
        keys: Mapping[str, ContextValue] | None = None,
        *,
        resource_policy: PolicyDocument | None = None,
        resource_account: str | None = None,
    ) -> None:
        """AccessDeniedException unless ``user``'s identity policies allow ``action`` on
        ``arn`` (None: ``*``), the request context carrying ``keys`` too; a parameter of
        another account (``resource_account``) needs its ``resource_policy`` to allow too."""
        principal = user.principal
        resource = arn or "*"
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(principal, action, resource)
        policies = await self._identity.policies_for(principal)
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=user.source_ip,
            secure=user.secure,
            region=region,
            keys={**principal_keys(policies), **(keys or {})},
        )
        refusal = endpoint_refusal(context)
        if refusal is not None:
            raise _denied(principal, action, resource, refusal)
        if not policies_allow(
            context, policies, resource_policy=resource_policy, resource_account=resource_account
        ):
            raise _denied(
                principal, action, resource, _no_resource_policy(action, resource_account)
            )


def _no_resource_policy(action: str, resource_account: str | None) -> str | None:
    if resource_account is None:
        return None
    return f"because no resource-based policy allows the {action} action"


def _denied(
    principal: Principal, action: str, resource: str, why: str | None = None
) -> SsmWireError:
    return SsmWireError(
        "AccessDeniedException",
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource} " + (why or f"because no identity-based policy allows the {action} action"),
    )
