"""The AWS IAM policy language: parse, validate, evaluate. Pure: no I/O, no clock but the one
the caller puts in the request context.

Contract:

* :func:`parse_policy` turns JSON text into an immutable, pre-compiled :class:`PolicyDocument`
  or raises :class:`MalformedPolicy` (:class:`PolicyTooLarge` past the caller's size limit,
  one of the ``*_MAX`` constants). The :class:`PolicyKind` says which grammar applies.
  Parse once when a policy is written; on the request path use :func:`load_policy`, which
  memoises documents by text (parsing costs ~50 evaluations). Evaluation never parses.
* :func:`evaluate` takes a :class:`RequestContext` and the policies bearing on the request
  and returns a :class:`Decision` (:class:`Outcome` ALLOW / EXPLICIT_DENY / IMPLICIT_DENY and the
  deciding statements), following AWS's documented evaluation logic (see ``evaluate.py``).
* :func:`is_public` says whether a bucket policy is public in S3's sense.
* :func:`known_action` looks an action up in the catalogue of the services Andromède serves.

Typical use on the S3 request path::

    bucket_policy = load_policy(stored_text, kind=PolicyKind.RESOURCE)
    context = RequestContext(
        action="s3:GetObject",
        resource="arn:aws:s3:::media/photos/cat.jpg",
        principal_type=PrincipalType.USER,
        principal_arn="arn:aws:iam::111122223333:user/alice",
        principal_account="111122223333",
        username="alice",
        source_ip=client_ip,
        secure_transport=True,
        keys={"s3:x-amz-acl": "private"},
    )
    decision = evaluate(
        context,
        identity_policies=[load_policy(t, kind=PolicyKind.IDENTITY) for t in user_policies],
        resource_policy=bucket_policy,
        resource_account=bucket_owner_account,
        acl_allows=acl_grants_caller_account,
    )
    if not decision.allowed: ...  # AccessDenied; decision.reason/statements go to the audit

Modules: ``document`` (grammar, compilation), ``conditions`` (operators), ``context`` (the
request), ``evaluate`` (the decision), ``public``, ``actions`` (catalogue), ``wildcard``
(patterns and policy variables), ``errors``.
"""

from andromede.iam.policy.actions import known_action, known_service
from andromede.iam.policy.context import (
    ContextValue,
    PrincipalType,
    RequestContext,
    account_root_arn,
)
from andromede.iam.policy.document import (
    IAM_GROUP_INLINE_POLICY_MAX,
    IAM_MANAGED_POLICY_MAX,
    IAM_ROLE_INLINE_POLICY_MAX,
    IAM_TRUST_POLICY_MAX,
    IAM_USER_INLINE_POLICY_MAX,
    S3_BUCKET_POLICY_MAX,
    SESSION_POLICY_MAX,
    Effect,
    PolicyDocument,
    PolicyKind,
    Principal,
    SizeLimit,
    SizeMeasure,
    Statement,
    load_policy,
    parse_policy,
)
from andromede.iam.policy.errors import MalformedPolicy, PolicyTooLarge
from andromede.iam.policy.evaluate import (
    Decision,
    Outcome,
    PolicySource,
    StatementRef,
    evaluate,
    evaluate_gate,
)
from andromede.iam.policy.public import is_public

__all__ = [
    "IAM_GROUP_INLINE_POLICY_MAX",
    "IAM_MANAGED_POLICY_MAX",
    "IAM_ROLE_INLINE_POLICY_MAX",
    "IAM_TRUST_POLICY_MAX",
    "IAM_USER_INLINE_POLICY_MAX",
    "S3_BUCKET_POLICY_MAX",
    "SESSION_POLICY_MAX",
    "ContextValue",
    "Decision",
    "Effect",
    "MalformedPolicy",
    "Outcome",
    "PolicyDocument",
    "PolicyKind",
    "PolicySource",
    "PolicyTooLarge",
    "Principal",
    "PrincipalType",
    "RequestContext",
    "SizeLimit",
    "SizeMeasure",
    "Statement",
    "StatementRef",
    "account_root_arn",
    "evaluate",
    "evaluate_gate",
    "is_public",
    "known_action",
    "known_service",
    "load_policy",
    "parse_policy",
]
