"""The policy engine's view of a caller: a :class:`~andromede.iam.model.Principal` turned into
the :class:`~andromede.iam.policy.RequestContext` of one action on one resource.

Shared by every API that authorises through the engine (S3, IAM, STS, SQS, SNS), so
``aws:username``, ``aws:userid``, ``aws:PrincipalArn``, ``aws:MultiFactorAuthPresent`` and a
VPC endpoint's ``aws:SourceVpce`` mean the same thing whichever API is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, NamedTuple

from andromede.iam.endpoint_origin import origin_for, origin_keys
from andromede.iam.model import Principal, PrincipalKind, PrincipalPolicies
from andromede.iam.policy import (
    ContextValue,
    PolicyDocument,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    load_policy,
)

__all__ = [
    "LoadedPolicies",
    "iam_resource_tag_keys",
    "loaded_policies",
    "policies_allow",
    "principal_context",
    "principal_keys",
    "principal_type",
    "session_role_arn",
]

_PRINCIPAL_TYPES: Final[Mapping[PrincipalKind, PrincipalType]] = {
    PrincipalKind.ROOT: PrincipalType.ROOT,
    PrincipalKind.USER: PrincipalType.USER,
    PrincipalKind.ROLE_SESSION: PrincipalType.ASSUMED_ROLE,
    PrincipalKind.FEDERATED_USER: PrincipalType.FEDERATED_USER,
    PrincipalKind.ANONYMOUS: PrincipalType.ANONYMOUS,
    PrincipalKind.OPERATOR: PrincipalType.ANONYMOUS,  # never reaches the engine
    PrincipalKind.OPERATOR_ACCESS: PrincipalType.PLATFORM_OPERATOR,  # KMS key policies only
}


class LoadedPolicies(NamedTuple):
    """A principal's policies as the engine takes them: every authoriser passes all three to
    ``evaluate``, so that none can be left out (a session policy dropped would widen the
    session to its role's permissions)."""

    identity: list[PolicyDocument]
    boundary: PolicyDocument | None
    session: PolicyDocument | None


def loaded_policies(policies: PrincipalPolicies) -> LoadedPolicies:
    """The engine's documents of a principal's identity policies, of its permissions boundary
    and of its session policies, merged into one (memoised by text: see
    :func:`~andromede.iam.policy.load_policy`)."""
    identity = [load_policy(text, kind=PolicyKind.IDENTITY) for text in policies.documents]
    boundary = policies.boundary
    return LoadedPolicies(
        identity,
        None if boundary is None else load_policy(boundary, kind=PolicyKind.IDENTITY),
        None if policies.session is None else _session_policy(policies.session),
    )


def policies_allow(
    context: RequestContext,
    policies: PrincipalPolicies,
    *,
    resource_policy: PolicyDocument | None = None,
    resource_account: str | None = None,
) -> bool:
    """Whether the principal's identity policies (within its permissions boundary and session
    policy) and ``resource_policy``, of ``resource_account``, allow the request."""
    identity, boundary, session = loaded_policies(policies)
    return evaluate(
        context,
        identity_policies=identity,
        permissions_boundary=boundary,
        session_policy=session,
        resource_policy=resource_policy,
        resource_account=resource_account,
    ).allowed


def _session_policy(documents: tuple[str, ...]) -> PolicyDocument:
    """A session's inline and managed session policies as one document: the statements of
    all, so that a request is allowed if any of them allows it and denied if any denies it,
    as AWS combines session policies (decision 0071)."""
    loaded = [load_policy(text, kind=PolicyKind.IDENTITY) for text in documents]
    if len(loaded) == 1:
        return loaded[0]
    statements = tuple(statement for policy in loaded for statement in policy.statements)
    return PolicyDocument("2012-10-17", None, PolicyKind.IDENTITY, statements)


def principal_keys(policies: PrincipalPolicies) -> dict[str, str]:
    """The caller's own keys that ``policies_for`` gathers: ``aws:PrincipalTag/<key>`` for each
    tag of the principal (its own, or its role's under its session tags), and a role session's
    ``aws:SourceIdentity`` (decision 0089). Every authoriser adds these, so none can forget one."""
    keys = {f"aws:PrincipalTag/{key}": value for key, value in policies.tags}
    if policies.source_identity is not None:
        keys["aws:SourceIdentity"] = policies.source_identity
    return keys


def iam_resource_tag_keys(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``aws:ResourceTag/<key>`` and its IAM spelling ``iam:ResourceTag/<key>`` for each tag of
    the user or role a call acts on: IAM calls, AssumeRole, PassRole (decision 0069)."""
    keys: dict[str, str] = {}
    for key, value in tags:
        keys[f"aws:ResourceTag/{key}"] = value
        keys[f"iam:ResourceTag/{key}"] = value
    return keys


def principal_type(kind: PrincipalKind) -> PrincipalType:
    """The engine's kind of caller for a principal's kind."""
    return _PRINCIPAL_TYPES[kind]


def session_role_arn(principal: Principal) -> str | None:
    """The identity a session acts for, which a resource policy may name instead of the
    session: a role session's role (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` names
    the role without its path, as ``aws:PrincipalArn`` does on AWS), a federated user's IAM
    user (likewise without its path, the session's ARN naming only itself)."""
    if principal.kind is PrincipalKind.ROLE_SESSION:
        role_name = principal.arn.split("/")[1]
        return f"arn:aws:iam::{principal.tenant_id}:role/{role_name}"
    if principal.kind is PrincipalKind.FEDERATED_USER:
        return f"arn:aws:iam::{principal.tenant_id}:user/{principal.user_name}"
    return None


def principal_context(
    principal: Principal,
    *,
    action: str,
    resource: str,
    source_ip: str | None,
    secure: bool,
    region: str | None,
    keys: Mapping[str, ContextValue] | None = None,
    current_time: datetime | None = None,
) -> RequestContext:
    """The request context of ``principal`` asking for ``action`` on ``resource``; through a
    VPC endpoint of the action's service, with its keys and without ``aws:SourceIp``
    (:mod:`andromede.iam.endpoint_origin`)."""
    now = current_time if current_time is not None else datetime.now(UTC)
    origin = origin_for(action.split(":", 1)[0].lower())
    if origin is not None:
        keys, source_ip = {**(keys or {}), **origin_keys(origin)}, None
    if principal.is_anonymous:
        return RequestContext(
            action=action,
            resource=resource,
            source_ip=source_ip,
            secure_transport=secure,
            requested_region=region,
            current_time=now,
            keys=keys or {},
        )
    kind = principal.kind
    return RequestContext(
        action=action,
        resource=resource,
        principal_type=_PRINCIPAL_TYPES[kind],
        principal_arn=principal.arn,
        principal_account=principal.tenant_id,
        role_arn=session_role_arn(principal),
        user_id=principal.aws_user_id,
        username=principal.user_name if kind is PrincipalKind.USER else None,
        mfa_present=principal.mfa_present,
        canonical_user_id=principal.canonical_id,
        source_ip=source_ip,
        secure_transport=secure,
        requested_region=region,
        current_time=now,
        keys=keys or {},
    )
