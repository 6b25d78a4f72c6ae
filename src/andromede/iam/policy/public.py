"""Whether a resource policy is "public", as S3 defines it for GetBucketPolicyStatus and
Block Public Access ("Blocking public access to your Amazon S3 storage", "The meaning of
public").

S3 starts from "public" and looks for a reason to call a policy non-public: every ``Allow``
statement must either name specific principals (accounts, users, roles, services, canonical
users) or, when it is open to everyone (``"*"``, ``{"AWS": "*"}``, or ``NotPrincipal``), carry a
condition that pins one of a few keys to *fixed* values — no wildcard, no policy variable:
``aws:SourceIp`` (a CIDR no broader than /8 for IPv4, /32 for IPv6 — a wider range is as good
as the whole Internet), ``aws:SourceArn``, ``aws:SourceVpc``, ``aws:SourceVpce``,
``aws:SourceOwner``, ``aws:SourceAccount``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
``aws:PrincipalOrgID``, ``aws:userid`` (the pattern ``AROLEID:*`` allowed),
``s3:DataAccessPointArn`` (a wildcard in the access point name allowed) and
``s3:DataAccessPointAccount``. The condition must be one that fails when the key is absent: a
positive operator, without ``...IfExists`` and without ``ForAllValues:``.
"""

from __future__ import annotations

import ipaddress
import re

from andromede.iam.policy.conditions import ConditionClause, SetMode
from andromede.iam.policy.document import Effect, PolicyDocument, Statement
from andromede.iam.policy.wildcard import has_wildcard

__all__ = ["is_public"]

_RESTRICTING_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:userid",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
    }
)
_FIXING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"}
)
_NARROWEST_PUBLIC_PREFIX = {4: 8, 6: 32}
_ROLE_ID_ANY_SESSION = re.compile(r"[A-Z0-9]+:\*")
_ACCESS_POINT_ANY_NAME = re.compile(r"arn:[a-z0-9-]+:s3:[a-z0-9-]*:\d{12}:accesspoint/.*")


def is_public(policy: PolicyDocument) -> bool:
    """Whether any ``Allow`` statement of ``policy`` is open to callers it does not name."""
    return any(_statement_is_public(statement) for statement in policy.statements)


def _statement_is_public(statement: Statement) -> bool:
    principal = statement.principal
    if statement.effect is not Effect.ALLOW or principal is None:
        return False
    if not statement.not_principal and not principal.wildcard:
        return False
    return not any(_fixes(clause) for clause in statement.conditions)


def _fixes(clause: ConditionClause) -> bool:
    if (
        clause.base_operator not in _FIXING_OPERATORS
        or clause.if_exists
        or clause.set_mode is SetMode.FOR_ALL_VALUES
        or not clause.values
    ):
        return False
    key = clause.key.lower()
    if key not in _RESTRICTING_KEYS:
        return False
    return all(_fixed_value(key, value) for value in clause.values)


def _fixed_value(key: str, value: str) -> bool:
    if "${" in value:
        return False
    if key == "aws:sourceip":
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return False
        return network.prefixlen >= _NARROWEST_PUBLIC_PREFIX[network.version]
    if key == "aws:userid" and _ROLE_ID_ANY_SESSION.fullmatch(value):
        return True
    if key == "s3:dataaccesspointarn" and _ACCESS_POINT_ANY_NAME.fullmatch(value):
        prefix = value.split("accesspoint/", 1)[0]
        return not has_wildcard(prefix)
    return not has_wildcard(value)
