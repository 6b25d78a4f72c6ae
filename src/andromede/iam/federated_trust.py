"""Whether a role's trust policy lets a federated identity in: the request a web identity's
AssumeRoleWithWebIdentity makes of the policy engine, shared by STS (``iamapi/sts.py`` and
``iamapi/authorise.py`` decide the call with it) and the console's OIDC sign-in, which offers
the roles an ID token may assume (decision 0141's addendum) — one decision, not a second
engine: what the console lists is what STS would grant.

The trust policy alone decides (a web identity has no identity policies), naming the provider
as ``Federated``, with the token's ``<url>:aud``, ``<url>:sub`` and ``<url>:amr`` keys,
``aws:FederatedProvider``, the role's tags as ``aws:ResourceTag/<key>`` and the request's own
keys: the session tags the identity brings as ``aws:RequestTag/<key>`` and ``aws:TagKeys``,
its source identity as ``sts:SourceIdentity``; ``sts:TagSession`` and
``sts:SetSourceIdentity`` must be allowed too when it brings them (decisions 0087, 0089).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from andromede.errors import AndromedeError
from andromede.iam.model import Role, SessionTags, Tags
from andromede.iam.policy import (
    ContextValue,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    load_policy,
)
from andromede.iam.policy_context import iam_resource_tag_keys
from andromede.iam.tags import check_tags
from andromede.iam.web_identity import VerifiedWebIdentity

__all__ = ["federated_session", "roles_trusting", "trust_actions", "web_identity_trusted"]

WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"


def federated_session(
    tags: Tags, transitive_tag_keys: tuple[str, ...], source_identity: str | None
) -> tuple[SessionTags | None, dict[str, ContextValue]]:
    """The session tags a federated identity brings (an OIDC token's or a SAML assertion's,
    checked by IAM's rules as AssumeRole's are), and the request keys the role's trust policy
    sees for them and for the source identity."""
    session_tags = SessionTags(check_tags(tags), transitive_tag_keys) if tags else None
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in tags}
    if tags:
        keys["aws:TagKeys"] = [key for key, _ in tags]
    if source_identity is not None:
        keys["sts:SourceIdentity"] = source_identity
    return session_tags, keys


def trust_actions(
    assume: str, session_tags: SessionTags | None, source_identity: str | None
) -> tuple[str, ...]:
    """What the trust policy must allow: the assume action, ``sts:TagSession`` for a session
    with tags (given or inherited), ``sts:SetSourceIdentity`` for one with a source identity
    (set now or carried through the chain), as AWS asks."""
    actions = [assume]
    if session_tags is not None:
        actions.append("sts:TagSession")
    if source_identity is not None:
        actions.append("sts:SetSourceIdentity")
    return tuple(actions)


def web_identity_trusted(
    identity: VerifiedWebIdentity,
    role: Role,
    *,
    source_ip: str | None,
    secure: bool,
    region: str,
    keys: Mapping[str, ContextValue] | None = None,
    action: str = WEB_IDENTITY_ACTION,
) -> bool:
    """Whether ``role``'s trust policy allows ``action`` to the bearer of a token
    ``identity``'s provider vouched for; never for a provider of another account."""
    provider = identity.provider
    if provider.tenant_id != role.tenant_id:
        return False
    context = RequestContext(
        action=action,
        resource=role.arn,
        principal_type=PrincipalType.WEB_IDENTITY,
        principal_arn=provider.arn,
        source_ip=source_ip,
        secure_transport=secure,
        requested_region=region,
        keys={
            **(keys or {}),
            **identity.condition_keys(),
            "aws:FederatedProvider": provider.arn,
            **iam_resource_tag_keys(role.tags),
        },
    )
    trust = load_policy(role.assume_role_policy_document, kind=PolicyKind.TRUST)
    return evaluate(context, resource_policy=trust, resource_account=role.tenant_id).allowed


def roles_trusting(
    identity: VerifiedWebIdentity,
    roles: Iterable[Role],
    *,
    source_ip: str | None,
    secure: bool,
    region: str,
) -> list[Role]:
    """Those of ``roles`` whose trust policy lets ``identity`` in as STS's
    AssumeRoleWithWebIdentity would, without a request of its own (no ``SourceIdentity``, no
    session policy): every action it would need allowed. None when the identity's session
    tags break IAM's rules, which STS refuses whatever the role."""
    try:
        session_tags, keys = federated_session(
            identity.tags, identity.transitive_tag_keys, identity.source_identity
        )
    except AndromedeError:
        return []
    actions = trust_actions(WEB_IDENTITY_ACTION, session_tags, identity.source_identity)
    return [
        role
        for role in roles
        if all(
            web_identity_trusted(
                identity,
                role,
                source_ip=source_ip,
                secure=secure,
                region=region,
                keys=keys,
                action=action,
            )
            for action in actions
        )
    ]
