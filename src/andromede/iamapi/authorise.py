"""Authorisation of IAM and STS calls through the policy engine.

IAM has no resource policies (a role's trust policy is the only one, and only AssumeRole reads
it), so a call is decided by the caller's identity policies alone: the tenant root acts for its
own account unopposed, an IAM user needs an allow in its own, its groups' or its attached
policies, a role session needs one in its role's, and an explicit deny wins. Every resource an
IAM action names is in the caller's own account (the handlers never address another), so the
root's freedom never reaches another tenant.

AssumeRole is the cross-account case: the role's trust policy is the resource policy, the role's
account the resource's. Unlike other resource policies it must let the caller in within its
own account too: an identity allow alone never reaches a role (decision 0073). A denial is
``AccessDenied`` naming the action and the resource, as AWS words it — never which policy
decided.
"""

from __future__ import annotations

from collections.abc import Mapping

from andromede.iam.endpoint_origin import endpoint_refusal
from andromede.iam.federated_trust import web_identity_trusted
from andromede.iam.model import Principal, Role
from andromede.iam.policy import (
    ContextValue,
    Outcome,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    load_policy,
)
from andromede.iam.policy_context import (
    iam_resource_tag_keys,
    loaded_policies,
    policies_allow,
    principal_context,
    principal_keys,
)
from andromede.iam.saml import VerifiedSamlAssertion
from andromede.iam.service import IdentityService
from andromede.iam.web_identity import VerifiedWebIdentity
from andromede.iamapi.errors import QueryError

__all__ = ["QueryAuthoriser"]


class QueryAuthoriser:
    def __init__(self, identity: IdentityService, region: str) -> None:
        self._identity = identity
        self._region = region

    async def authorise(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        source_ip: str | None,
        secure: bool,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """AccessDenied unless ``principal``'s policies allow ``action`` on ``resource``."""
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(principal, action, resource)
        policies = await self._identity.policies_for(principal)
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
        if refusal is not None:  # an SNS or STS endpoint's policy (decision 0174)
            raise _denied(principal, action, resource, refusal)
        if not policies_allow(context, policies):
            raise _denied(principal, action, resource)

    async def authorise_assume_role(
        self,
        principal: Principal,
        role: Role,
        *,
        source_ip: str | None,
        secure: bool,
        keys: Mapping[str, ContextValue] | None = None,
        action: str = "sts:AssumeRole",
    ) -> None:
        """sts:AssumeRole on ``role``: its trust policy is the resource policy. ``keys``: the
        request's own condition keys (``sts:ExternalId``). Within the role's
        account a trust statement naming the caller (or its role) suffices, and one naming the
        account delegates to the caller's identity policies; from another account both must
        allow. AWS refuses root users outright. ``action``: ``sts:TagSession`` too, decided
        the same way, when the session gets tags (decision 0072)."""
        if principal.is_root:
            raise QueryError("AccessDenied", "Roles may not be assumed by root accounts.")
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            raise _denied(principal, action, role.arn)
        policies = await self._identity.policies_for(principal)
        context = principal_context(
            principal,
            action=action,
            resource=role.arn,
            source_ip=source_ip,
            secure=secure,
            region=self._region,
            # The role's tags, aws:ResourceTag/<key>: who may assume which roles by label.
            keys={
                **(keys or {}),
                **principal_keys(policies),
                **iam_resource_tag_keys(role.tags),
            },
        )
        refusal = endpoint_refusal(context)
        if refusal is not None:  # an STS endpoint's policy, sts:TagSession too (decision 0174)
            raise _denied(principal, action, role.arn, refusal)
        identity, boundary, session = loaded_policies(policies)
        trust = load_policy(role.assume_role_policy_document, kind=PolicyKind.TRUST)
        # The trust policy must let the caller in, in its own account too: an identity allow
        # alone never reaches a role (a user allowed sts:AssumeRole on "*" assumes only the
        # roles that trust it or its account). So the trust is decided as another account's
        # resource policy: a statement naming the caller's account counts together with an
        # identity allow; then, within the role's account, a statement naming the caller
        # itself counts alone, without identity policies (as KMS decides key policies).
        both = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
            resource_policy=trust,
            resource_account=_TRUSTED_ELSEWHERE,
        )
        if both.outcome is Outcome.ALLOW:
            return
        if both.outcome is Outcome.IMPLICIT_DENY and principal.tenant_id == role.tenant_id:
            direct = evaluate(
                context,
                permissions_boundary=boundary,
                session_policy=session,
                resource_policy=trust,
                resource_account=role.tenant_id,
            )
            if direct.allowed:
                return
        raise _denied(principal, action, role.arn)

    def authorise_web_identity(
        self,
        identity: VerifiedWebIdentity,
        role: Role,
        *,
        source_ip: str | None,
        secure: bool,
        keys: Mapping[str, ContextValue] | None = None,
        action: str = "sts:AssumeRoleWithWebIdentity",
    ) -> None:
        """sts:AssumeRoleWithWebIdentity on ``role`` by the bearer of a token ``identity``'s
        provider vouched for: the trust policy alone decides (a web identity has no identity
        policies), naming the provider as ``Federated``, with the token's ``<url>:aud``,
        ``<url>:sub`` and ``<url>:amr`` keys, ``aws:FederatedProvider`` and the role's tags
        as ``aws:ResourceTag/<key>``. The provider is always of the role's own account.
        ``keys``: the request's own (the token's tags as ``aws:RequestTag/<key>``,
        ``sts:SourceIdentity``); ``action``: ``sts:TagSession`` and ``sts:SetSourceIdentity``
        too, decided the same way, when the token sets them (decision 0089)."""
        if not web_identity_trusted(
            identity,
            role,
            source_ip=source_ip,
            secure=secure,
            region=self._region,
            keys=keys,
            action=action,
        ):
            raise _web_identity_denied(role.arn, action)

    def authorise_saml(
        self,
        identity: VerifiedSamlAssertion,
        role: Role,
        *,
        source_ip: str | None,
        secure: bool,
        keys: Mapping[str, ContextValue] | None = None,
        action: str = "sts:AssumeRoleWithSAML",
    ) -> None:
        """sts:AssumeRoleWithSAML on ``role`` by the bearer of an assertion ``identity``'s
        provider signed: as for a web identity, the trust policy alone decides, naming the
        provider as ``Federated``, with the ``saml:`` keys (``saml:aud``, ``saml:iss``,
        ``saml:sub``, ``saml:sub_type``, ``saml:namequalifier``, ``saml:doc`` and the mapped
        attributes), ``aws:FederatedProvider`` and the role's tags (decision 0095)."""
        provider = identity.provider
        if provider.tenant_id != role.tenant_id:
            raise _web_identity_denied(role.arn, action)
        context = RequestContext(
            action=action,
            resource=role.arn,
            principal_type=PrincipalType.SAML_USER,
            principal_arn=provider.arn,
            source_ip=source_ip,
            secure_transport=secure,
            requested_region=self._region,
            keys={
                **(keys or {}),
                **identity.condition_keys(),
                "aws:FederatedProvider": provider.arn,
                **iam_resource_tag_keys(role.tags),
            },
        )
        trust = load_policy(role.assume_role_policy_document, kind=PolicyKind.TRUST)
        if not evaluate(context, resource_policy=trust, resource_account=role.tenant_id).allowed:
            raise _web_identity_denied(role.arn, action)


def _web_identity_denied(
    role_arn: str, action: str = "sts:AssumeRoleWithWebIdentity"
) -> QueryError:
    # AWS's words, which name neither the subject nor which condition failed.
    return QueryError("AccessDenied", f"Not authorized to perform {action} on {role_arn}")


# An account no caller has: deciding a trust policy as if the role were elsewhere makes the
# engine ask both sides, the trust and the caller's identity policies.
_TRUSTED_ELSEWHERE = "000000000000-trust"


def _denied(principal: Principal, action: str, resource: str, why: str = "") -> QueryError:
    # SNS words a refusal AuthorizationError where IAM and STS say AccessDenied; an endpoint's
    # refusal is SNS's own (decision 0174), its policies' stay as decision 0168 made them.
    return QueryError(
        "AuthorizationError" if why and action.startswith("sns:") else "AccessDenied",
        f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
        + (f" {why}" if why else ""),
    )
