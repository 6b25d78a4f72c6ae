"""A service's session of a tenant's role (decision 0310): what an AWS service — Lambda,
EventBridge, Firehose, Pipes, Step Functions, CloudWatch, Logs, SNS, S3 — acts as when it
reads or writes for a tenant, never as itself, and what that session may do.

As AWS's services assume a role: the role must be of the account the service acts for (a role
of another account, gone, or a name that is no role ARN is refused the same way), and its trust
policy must let the service's principal (``lambda.amazonaws.com``…) ``sts:AssumeRole`` — the
engine decides, as for any AssumeRole. The trust policy sees the keys the service gives in its
AssumeRole (decision 0321): ``aws:SourceAccount``, the account of the resource the service acts
for, and ``aws:SourceArn``, that resource's ARN (the stream, the rule, the pipe…), each only
where AWS documents the service giving it — a key not given is absent, as AWS judges it, so
``StringEquals`` on it refuses and ``StringEqualsIfExists`` lets in.

The session is ``arn:aws:sts::<account>:assumed-role/<role>/<session name>``, its name cut at 64
characters (AWS's bound on RoleSessionName). No credentials are issued: the session lives in
process, for the call it is made for (Lambda's execution environments get real ones,
``IdentityService.issue_service_role_credentials``).

What a session may do is decided by the same engine as every request: the role's identity
policies within its permissions boundary, the caller's own condition keys (its role's tags),
and a resource's policy where the caller gives one (another account's resource needs both).
Each caller maps a refusal to its service's own words (``FAILED_TO_ASSUME_ROLE``,
``Role.AssumeRoleFailed``…) and audits as its neighbours do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from andromede.iam.errors import IamError
from andromede.iam.model import Principal, PrincipalKind, PrincipalPolicies, Role
from andromede.iam.policy import (
    ContextValue,
    MalformedPolicy,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    load_policy,
)
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService

__all__ = [
    "SESSION_NAME_LIMIT",
    "ServiceRoleSessions",
    "TrustSource",
    "role_session",
    "role_trusts",
    "service_role_session",
    "trusted_role",
]

SESSION_NAME_LIMIT: Final = 64


@dataclass(frozen=True, slots=True)
class TrustSource:
    """What a service says it acts for when it assumes a role: ``account`` its
    ``aws:SourceAccount``, ``arn`` its ``aws:SourceArn``, ``external_id`` the ``sts:ExternalId``
    a service documents giving (Firehose: the account); None: the service does not give it."""

    account: str | None = None
    arn: str | None = None
    external_id: str | None = None

    @classmethod
    def of(cls, arn: str, *, external_id: str | None = None) -> TrustSource:
        """The resource ``arn`` and its account (the ARN's fifth field), as most services give
        both keys together."""
        parts = arn.split(":", 5)
        account = parts[4] if len(parts) > 4 and parts[4] else None
        return cls(account=account, arn=arn, external_id=external_id)

    def keys(self) -> dict[str, ContextValue]:
        """The condition keys this source gives a trust policy."""
        keys: dict[str, ContextValue] = {}
        if self.account is not None:
            keys["aws:SourceAccount"] = self.account
        if self.arn is not None:
            keys["aws:SourceArn"] = self.arn
        if self.external_id is not None:
            keys["sts:ExternalId"] = self.external_id
        return keys


def role_trusts(trust_policy: str, service: str, source: TrustSource | None = None) -> bool:
    """Whether a role's trust policy lets ``service`` assume it for ``source`` (its keys as the
    trust policy's conditions see them; none given, a condition on them refuses as an absent
    key does). A malformed policy trusts nothing."""
    try:
        trust = load_policy(trust_policy, kind=PolicyKind.TRUST)
    except MalformedPolicy:
        return False
    context = RequestContext(
        action="sts:AssumeRole",
        resource="*",
        principal_type=PrincipalType.SERVICE,
        principal_arn=service,
        keys={} if source is None else source.keys(),
    )
    return evaluate(context, resource_policy=trust).allowed


async def trusted_role(
    identity: IdentityService,
    tenant_id: str,
    role_arn: str | None,
    service: str,
    source: TrustSource | None = None,
) -> Role | None:
    """The role ``role_arn`` names, if it is ``tenant_id``'s and trusts ``service`` for
    ``source``; None when there is no ARN, the role is gone or another account's, or does not
    trust the service."""
    if role_arn is None:
        return None
    try:
        role = await identity.get_role_by_arn(role_arn)
    except IamError:
        return None
    if role.tenant_id != tenant_id or not role_trusts(
        role.assume_role_policy_document, service, source
    ):
        return None
    return role


def role_session(role: Role, session_name: str) -> Principal:
    """``role``'s session named ``session_name`` (its first 64 characters)."""
    name = session_name[:SESSION_NAME_LIMIT]
    return Principal(
        tenant_id=role.tenant_id,
        user_id=role.id,
        user_name=role.name,
        kind=PrincipalKind.ROLE_SESSION,
        arn=f"arn:aws:sts::{role.tenant_id}:assumed-role/{role.name}/{name}",
        session_name=name,
    )


async def service_role_session(
    identity: IdentityService,
    tenant_id: str,
    role_arn: str | None,
    service: str,
    session_name: str,
    source: TrustSource | None = None,
) -> Principal | None:
    """``service``'s session of the role for ``source`` (:func:`trusted_role`), or None."""
    role = await trusted_role(identity, tenant_id, role_arn, service, source)
    return None if role is None else role_session(role, session_name)


class ServiceRoleSessions:
    """One service's sessions of tenants' roles (``service``: the principal a role must
    trust), and what they may do in ``region``."""

    def __init__(self, identity: IdentityService, service: str, region: str) -> None:
        self._identity = identity
        self.service = service
        self._region = region

    async def session(
        self,
        tenant_id: str,
        role_arn: str | None,
        session_name: str,
        source: TrustSource | None = None,
    ) -> Principal | None:
        """The service's session of the role, named ``session_name``, taken for ``source`` (the
        trust policy's ``aws:SourceAccount`` / ``aws:SourceArn``); None when the role is not
        ``tenant_id``'s, is gone, or does not trust the service for it."""
        return await service_role_session(
            self._identity, tenant_id, role_arn, self.service, session_name, source
        )

    async def allowed(
        self,
        session: Principal,
        action: str,
        resource: str,
        *,
        resource_policy: str | None = None,
        resource_account: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> bool:
        """Whether the session may ``action`` on ``resource``: its identity policies, and
        ``resource_policy`` (the text of ``resource_account``'s resource's policy) as the engine
        weighs it; ``keys``: the request's own condition keys."""
        policies = await self._identity.policies_for(session)
        loaded = (
            None
            if resource_policy is None
            else load_policy(resource_policy, kind=PolicyKind.RESOURCE)
        )
        return policies_allow(
            self._context(session, policies, action, resource, keys),
            policies,
            resource_policy=loaded,
            resource_account=resource_account,
        )

    async def allowed_any(self, session: Principal, actions: Iterable[str], resource: str) -> bool:
        """Whether the session's identity policies allow one of ``actions`` on ``resource``
        (AWS's documented role policies name either of a pair: ``firehose:PutRecord`` or
        ``firehose:PutRecordBatch``)."""
        policies = await self._identity.policies_for(session)
        return any(
            policies_allow(self._context(session, policies, action, resource), policies)
            for action in actions
        )

    def _context(
        self,
        session: Principal,
        policies: PrincipalPolicies,
        action: str,
        resource: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> RequestContext:
        return principal_context(
            session,
            action=action,
            resource=resource,
            source_ip=None,
            secure=True,
            region=self._region,
            keys={**principal_keys(policies), **(keys or {})},
        )
