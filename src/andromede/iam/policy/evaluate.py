"""Policy evaluation: one request, the policies that bear on it, one :class:`Decision`.

The logic is AWS's, from "Policy evaluation logic", "Determining whether a request is allowed or
denied within an account", "Cross-account policy evaluation logic" and "Session policies":

1. An explicit ``Deny`` in any applicable policy (identity, session, resource) wins.
2. Anonymous callers and service principals have no identity policies: only the resource
   policy (a statement whose Principal is ``"*"``, or names the service) or an ACL grant
   (``acl_allows``) can allow them.
3. The tenant root user is not bound by identity policies: it is allowed on the resources of its
   own account unless a resource policy denies it; on another account's resources it needs that
   account's resource policy or ACL.
4. Other principals (IAM users, role sessions), when the resource belongs to their own account:
   an allow in an identity policy *or* in the resource policy suffices, with two refinements.
   A resource-policy statement that names the *account* (``arn:aws:iam::111122223333:root`` or
   ``"111122223333"``) delegates to the account's identity policies and grants no IAM user by
   itself; one that names the user or role (or ``"*"``) grants directly. And a session policy
   intersects: the identity allow counts only if the session policy allows too, and so does a
   resource-policy allow naming the role — only one naming the session ARN itself is not
   limited by the session policy. A permissions boundary (the user's or the role's) intersects
   the same way ("Permissions boundaries for IAM entities"): an identity allow counts only if
   the boundary allows too, and so does a resource-policy allow naming a role; one naming the
   IAM user or the role session is not limited by it. An ACL grant never suffices for an IAM
   principal (S3 checks the "user context" first: the parent account must have granted the
   user the permission).
5. When the resource belongs to another account, both sides must allow: the identity policies
   (intersected with the session policy and the boundary) in the caller's account, and the
   resource policy (naming the caller, its role or its account, or ``"*"``) or an ACL grant in
   the owner's.
6. Otherwise: implicit deny.

The caller computes ``acl_allows`` (whether the bucket/object ACL grants the requester's account,
or AllUsers/AuthenticatedUsers, the permission) and passes the resource owner's account; when
``resource_account`` is None the resource is taken to belong to the caller's account.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from andromede.iam.policy.context import PrincipalType, RequestContext
from andromede.iam.policy.document import Effect, PolicyDocument, Principal, Statement

__all__ = ["Decision", "Outcome", "PolicySource", "StatementRef", "evaluate", "evaluate_gate"]


class Outcome(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class PolicySource(enum.Enum):
    IDENTITY = "identity"
    SESSION = "session"
    BOUNDARY = "boundary"
    RESOURCE = "resource"


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Which statement took part in a decision: ``policy_index`` indexes ``identity_policies``
    for the identity source and is 0 for the session, boundary and resource policies."""

    source: PolicySource
    policy_index: int
    statement_index: int
    sid: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, a short stable reason (for the audit trail), and the deciding statements."""

    outcome: Outcome
    reason: str
    statements: tuple[StatementRef, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def statement(self) -> StatementRef | None:
        return self.statements[0] if self.statements else None


class _Grant(enum.IntEnum):
    """How directly a resource-policy statement names the caller."""

    NONE = 0
    ACCOUNT = 1  # names the caller's account: delegation to its identity policies
    PRINCIPAL = 2  # names the user, the role or everyone: limited by a session policy
    SESSION = 3  # names the session itself: not limited by its session policy


# Callers that are a session of another identity, which a resource policy may name instead:
# a role session's role, a federated user's IAM user (``RequestContext.role_arn``).
_SESSIONS = frozenset({PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER})
_USER_IDENTITIES = frozenset({PrincipalType.USER, PrincipalType.FEDERATED_USER})


_IAM_PRINCIPALS = frozenset(
    {PrincipalType.USER, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER}
)

REASON_EXPLICIT_DENY = "explicit deny"
REASON_ROOT = "root user of the owning account"
REASON_RESOURCE = "allowed by the resource policy"
REASON_ACL = "allowed by the ACL"
REASON_IDENTITY = "allowed by an identity policy"
REASON_CROSS_ACCOUNT = "allowed by both accounts"
REASON_NO_ALLOW = "no statement allows the request"
REASON_SESSION_LIMIT = "the session policy does not allow the request"
REASON_BOUNDARY_LIMIT = "the permissions boundary does not allow the request"
REASON_NO_RESOURCE_GRANT = "the resource owner's account does not allow the request"
REASON_NO_IDENTITY_GRANT = "the caller's account does not allow the request"

_IMPLICIT = {
    reason: Decision(Outcome.IMPLICIT_DENY, reason)
    for reason in (
        REASON_NO_ALLOW,
        REASON_SESSION_LIMIT,
        REASON_BOUNDARY_LIMIT,
        REASON_NO_RESOURCE_GRANT,
        REASON_NO_IDENTITY_GRANT,
    )
}
_ALLOWED_ROOT = Decision(Outcome.ALLOW, REASON_ROOT)
_ALLOWED_ACL = Decision(Outcome.ALLOW, REASON_ACL)


def _ref(source: PolicySource, policy_index: int, statement: Statement) -> StatementRef:
    return StatementRef(source, policy_index, statement.index, statement.sid)


def _deny(source: PolicySource, policy_index: int, statement: Statement) -> Decision:
    return Decision(
        Outcome.EXPLICIT_DENY, REASON_EXPLICIT_DENY, (_ref(source, policy_index, statement),)
    )


# Callers only ``"*"`` names: anonymous ones, and a platform operator under a tenant's approval,
# which belongs to no account (naming the tenant's account delegates to IAM, not to it).
_WILDCARD_ONLY = frozenset({PrincipalType.ANONYMOUS, PrincipalType.PLATFORM_OPERATOR})
# The bearers of an IdP's token or assertion: ``Federated`` names their provider.
_FEDERATED = (PrincipalType.WEB_IDENTITY, PrincipalType.SAML_USER)


def _named(principal: Principal, context: RequestContext) -> _Grant:
    if principal.wildcard:
        return _Grant.PRINCIPAL
    kind = context.principal_type
    if kind in _WILDCARD_ONLY:
        return _Grant.NONE
    if kind is PrincipalType.SERVICE:
        return _Grant.PRINCIPAL if context.principal_arn in principal.service else _Grant.NONE
    if kind in _FEDERATED:
        return _Grant.PRINCIPAL if context.principal_arn in principal.federated else _Grant.NONE
    aws = principal.aws
    if aws:
        if context.principal_arn in aws:
            return _Grant.SESSION if kind in _SESSIONS else _Grant.PRINCIPAL
        if kind in _SESSIONS and context.role_arn in aws:
            return _Grant.PRINCIPAL
        if context.account_arn in aws:
            return _Grant.PRINCIPAL if kind is PrincipalType.ROOT else _Grant.ACCOUNT
    if principal.canonical_user and context.canonical_user_id in principal.canonical_user:
        return _Grant.PRINCIPAL if kind is PrincipalType.ROOT else _Grant.ACCOUNT
    return _Grant.NONE


def _excluded(principal: Principal, context: RequestContext) -> bool:
    """Whether ``NotPrincipal`` lists the caller, that is every identity it acts as.

    AWS ("NotPrincipal"): a user is excluded only if its account is listed too, a role session
    only if its account, its role and its session ARN are all listed; otherwise the statement
    applies to the account the caller belongs to, and so to the caller.
    """
    if principal.wildcard:
        return True
    kind = context.principal_type
    if kind in _WILDCARD_ONLY:
        return False
    if kind is PrincipalType.SERVICE:
        return context.principal_arn in principal.service
    if kind in _FEDERATED:
        return context.principal_arn in principal.federated
    aws = principal.aws
    account_listed = context.account_arn in aws or (
        context.canonical_user_id is not None
        and context.canonical_user_id in principal.canonical_user
    )
    if not account_listed:
        return False
    if kind is PrincipalType.ROOT:
        return True
    if kind in _SESSIONS and context.role_arn not in aws:
        return False
    return context.principal_arn in aws


def _grant(statement: Statement, context: RequestContext) -> _Grant:
    principal = statement.principal
    if principal is None:
        return _Grant.NONE
    if statement.not_principal:
        return _Grant.NONE if _excluded(principal, context) else _Grant.PRINCIPAL
    return _named(principal, context)


def _statements_naming(
    policy: PolicyDocument, action: str, context: RequestContext
) -> tuple[tuple[Statement, _Grant], ...]:
    """The statements covering ``action`` whose Principal/NotPrincipal takes in the caller."""
    found = []
    for statement in policy.candidates(action):
        grant = _grant(statement, context)
        if grant is not _Grant.NONE:
            found.append((statement, grant))
    return tuple(found)


def evaluate(
    context: RequestContext,
    *,
    identity_policies: Sequence[PolicyDocument] = (),
    resource_policy: PolicyDocument | None = None,
    resource_account: str | None = None,
    session_policy: PolicyDocument | None = None,
    permissions_boundary: PolicyDocument | None = None,
    acl_allows: bool = False,
) -> Decision:
    """Decide one request.

    ``identity_policies`` are all the policies of the principal (inline and attached, its groups'
    included); they are ignored for the root user, anonymous callers and service principals.
    ``resource_policy`` is the resource's policy (bucket policy, key policy, trust policy) and
    ``resource_account`` the account owning the resource. ``session_policy`` is the policy passed
    to AssumeRole/GetFederationToken, if any; ``permissions_boundary`` the managed policy set as
    the user's or the role's boundary, if any. ``acl_allows`` says whether an ACL grants the
    caller's account (or everyone) the permission.
    """
    action = context.action_key
    kind = context.principal_type
    identity_allow: StatementRef | None = None
    session_allow: StatementRef | None = None
    boundary_allows = False
    is_iam_principal = kind in _IAM_PRINCIPALS
    if is_iam_principal:
        for policy_index, policy in enumerate(identity_policies):
            for statement in policy.candidates(action):
                if statement.applies(context):
                    if statement.effect is Effect.DENY:
                        return _deny(PolicySource.IDENTITY, policy_index, statement)
                    if identity_allow is None:
                        identity_allow = _ref(PolicySource.IDENTITY, policy_index, statement)
        if session_policy is not None:
            for statement in session_policy.candidates(action):
                if statement.applies(context):
                    if statement.effect is Effect.DENY:
                        return _deny(PolicySource.SESSION, 0, statement)
                    if session_allow is None:
                        session_allow = _ref(PolicySource.SESSION, 0, statement)
        if permissions_boundary is not None:
            for statement in permissions_boundary.candidates(action):
                if statement.applies(context):
                    if statement.effect is Effect.DENY:
                        return _deny(PolicySource.BOUNDARY, 0, statement)
                    boundary_allows = True
                    break

    best = _Grant.NONE
    resource_allow: StatementRef | None = None
    if resource_policy is not None:
        key = (action, context.principal_key)
        naming_caller: tuple[tuple[Statement, _Grant], ...] | None = resource_policy.recall(key)
        if naming_caller is None:
            naming_caller = resource_policy.memoised(
                key, lambda: _statements_naming(resource_policy, action, context)
            )
        for statement, grant in naming_caller:
            if not statement.applies(context):
                continue
            if statement.effect is Effect.DENY:
                return _deny(PolicySource.RESOURCE, 0, statement)
            if grant > best:
                best = grant
                resource_allow = _ref(PolicySource.RESOURCE, 0, statement)

    if not is_iam_principal:
        if kind is PrincipalType.ROOT and (
            resource_account is None or resource_account == context.principal_account
        ):
            return _ALLOWED_ROOT
        if resource_allow is not None:
            return Decision(Outcome.ALLOW, REASON_RESOURCE, (resource_allow,))
        if acl_allows:
            return _ALLOWED_ACL
        return _IMPLICIT[REASON_NO_ALLOW]

    session_ok = session_policy is None or session_allow is not None
    boundary_ok = permissions_boundary is None or boundary_allows
    same_account = resource_account is None or resource_account == context.principal_account
    if same_account:
        # A resource policy naming the user itself is limited by neither; naming a role (or
        # everyone, for a role session), by both the session policy and the role's boundary;
        # naming a federated user's IAM user, by the session policy (AWS adds it to the user's
        # permissions, which the session policy limits) and, as for the user, not the boundary.
        if resource_allow is not None and (
            best is _Grant.SESSION
            or (
                best is _Grant.PRINCIPAL
                and session_ok
                and (boundary_ok or kind in _USER_IDENTITIES)
            )
        ):
            return Decision(Outcome.ALLOW, REASON_RESOURCE, (resource_allow,))
        if identity_allow is not None:
            if not session_ok:
                return _IMPLICIT[REASON_SESSION_LIMIT]
            if not boundary_ok:
                return _IMPLICIT[REASON_BOUNDARY_LIMIT]
            return Decision(Outcome.ALLOW, REASON_IDENTITY, (identity_allow,))
        return _IMPLICIT[REASON_NO_ALLOW]

    if identity_allow is None:
        return _IMPLICIT[REASON_NO_IDENTITY_GRANT]
    if not session_ok:
        return _IMPLICIT[REASON_SESSION_LIMIT]
    if not boundary_ok:
        return _IMPLICIT[REASON_BOUNDARY_LIMIT]
    if resource_allow is not None:
        return Decision(Outcome.ALLOW, REASON_CROSS_ACCOUNT, (identity_allow, resource_allow))
    if acl_allows:
        return Decision(Outcome.ALLOW, REASON_CROSS_ACCOUNT, (identity_allow,))
    return _IMPLICIT[REASON_NO_RESOURCE_GRANT]


def evaluate_gate(context: RequestContext, policy: PolicyDocument) -> Decision:
    """Decide one request against a policy that bounds requests rather than grants them — a
    VPC endpoint's (decision 0160): ALLOW only when one of its statements naming the caller
    applies and allows and none denies; the caller's and the resource's policies still decide
    after. A root user gets no pass here: an endpoint's policy binds the whole account."""
    action = context.action_key
    key = (action, context.principal_key)
    naming: tuple[tuple[Statement, _Grant], ...] | None = policy.recall(key)
    if naming is None:
        naming = policy.memoised(key, lambda: _statements_naming(policy, action, context))
    allow: StatementRef | None = None
    for statement, _ in naming:
        if not statement.applies(context):
            continue
        if statement.effect is Effect.DENY:
            return _deny(PolicySource.RESOURCE, 0, statement)
        if allow is None:
            allow = _ref(PolicySource.RESOURCE, 0, statement)
    if allow is None:
        return _IMPLICIT[REASON_NO_ALLOW]
    return Decision(Outcome.ALLOW, REASON_RESOURCE, (allow,))
