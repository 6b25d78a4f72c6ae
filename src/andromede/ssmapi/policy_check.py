"""A parameter's resource policy checked and loaded (decision 0249) with the IAM policy
grammar, which is the IAM context's: the wire layer hands :func:`check_resource_policy` to the
parameter service (``ssm.sharing.PolicyChecker``) and gives the IAM engine a parameter's
policies as one document (:func:`shared_document`)."""

from __future__ import annotations

import re
from typing import Final

from andromede.iam.policy import (
    MalformedPolicy,
    PolicyDocument,
    PolicyKind,
    load_policy,
    parse_policy,
)
from andromede.ssm.errors import MalformedResourcePolicy, ResourcePolicyLimitExceeded
from andromede.ssm.sharing import SHARED_ACTIONS, ResourcePolicy

__all__ = ["check_resource_policy", "shared_document"]

_LOWERED: Final = frozenset(action.lower() for action in SHARED_ACTIONS)
_ACCOUNT_ROOT: Final = re.compile(r"arn:aws:iam::([0-9]{12}):root")


def check_resource_policy(text: str, arn: str, max_size: int) -> tuple[str, ...]:
    """The accounts a parameter's policy shares it with, or AWS's refusal of the policy."""
    size = len(text.encode())
    if size > max_size:
        raise ResourcePolicyLimitExceeded(
            f"The policy is {size} bytes: a resource policy can't be greater than {max_size} "
            "bytes in size.",
            max_size,
            "Size",
        )
    try:
        document = parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise MalformedResourcePolicy(exc.message) from exc
    accounts: dict[str, None] = {}
    for statement in document.statements:
        where = f"statement {statement.index}" + (f" ({statement.sid})" if statement.sid else "")
        principal = statement.principal
        if (
            statement.not_principal
            or principal is None
            or principal.wildcard
            or principal.service
            or principal.federated
            or principal.canonical_user
            or not principal.aws
        ):
            raise MalformedResourcePolicy(
                f"The policy's principals must be AWS accounts ({where})."
            )
        for name in sorted(principal.aws):
            match = _ACCOUNT_ROOT.fullmatch(name)
            if match is None:
                raise MalformedResourcePolicy(
                    f"The principal {name[:256]} is not an AWS account: a parameter is shared "
                    f"with whole accounts ({where})."
                )
            accounts[match.group(1)] = None
        refused = [a for a in statement.actions if a.lower() not in _LOWERED]
        if statement.not_action or refused:
            raise MalformedResourcePolicy(
                f"The action {(refused or ['NotAction'])[0][:128]} can't be shared: a "
                f"parameter's policy allows only {', '.join(SHARED_ACTIONS)} ({where})."
            )
        resources = statement.resources or ()
        if statement.not_resource or any(resource != arn for resource in resources):
            raise MalformedResourcePolicy(
                f"The policy's Resource must be the parameter's ARN, {arn} ({where})."
            )
    return tuple(accounts)


def shared_document(policies: list[ResourcePolicy]) -> PolicyDocument | None:
    """A parameter's policies as the one resource policy the IAM engine evaluates: the
    statements of all (any allows, any denies), or None without any."""
    if not policies:
        return None
    loaded = [load_policy(p.policy, kind=PolicyKind.RESOURCE) for p in policies]
    if len(loaded) == 1:
        return loaded[0]
    statements = tuple(statement for document in loaded for statement in document.statements)
    return PolicyDocument("2012-10-17", None, PolicyKind.RESOURCE, statements)
