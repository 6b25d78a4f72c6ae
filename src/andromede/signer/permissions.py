"""A signing profile's cross-account permissions (decision 0394): the statements
AddProfilePermission adds (an action of the four AWS Signer lets a profile share, granted to
another account or one of its principals, for every version of the profile or one), their
revision, and whether they grant a caller an action. Pure values, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from andromede.signer.errors import InvalidSignerInput

__all__ = [
    "SHARED_ACTIONS",
    "ProfilePermission",
    "grants",
    "new_permission",
    "policy_size",
]

# What AddProfilePermission's ``action`` may grant, as AWS Signer documents it.
SHARED_ACTIONS: Final = frozenset(
    {
        "signer:StartSigningJob",
        "signer:GetSigningProfile",
        "signer:SignPayload",
        "signer:RevokeSignature",
    }
)
_ACCOUNT: Final = re.compile(r"[0-9]{12}")
_PRINCIPAL_ARN: Final = re.compile(r"arn:aws:iam::(?P<account>[0-9]{12}):(root|(role|user)/\S+)")
_STATEMENT: Final = re.compile(r"[a-zA-Z0-9_-]{1,100}")


@dataclass(frozen=True, slots=True)
class ProfilePermission:
    statement_id: str
    action: str
    principal: str  # an account id, or an IAM principal's ARN
    profile_version: str = ""  # "": every version of the profile


def new_permission(params: dict[str, Any], version: str) -> ProfilePermission:
    """The statement AddProfilePermission's ``params`` describe, checked."""
    action = params.get("action")
    if action not in SHARED_ACTIONS:
        raise InvalidSignerInput(f"action must be one of {', '.join(sorted(SHARED_ACTIONS))}")
    principal = params.get("principal")
    if not isinstance(principal, str) or not (
        _ACCOUNT.fullmatch(principal) or _PRINCIPAL_ARN.fullmatch(principal)
    ):
        raise InvalidSignerInput("principal must be an AWS account id or an IAM principal's ARN")
    statement = params.get("statementId")
    if not isinstance(statement, str) or _STATEMENT.fullmatch(statement) is None:
        raise InvalidSignerInput("statementId must be 1 to 100 letters, digits, - or _")
    wanted = params.get("profileVersion")
    if wanted is not None and wanted != version:
        raise InvalidSignerInput("profileVersion is not a version of the profile")
    return ProfilePermission(statement, str(action), principal, wanted or "")


def grants(
    permissions: tuple[ProfilePermission, ...],
    action: str,
    account: str,
    principal_arn: str,
    version: str,
) -> bool:
    """Whether a statement grants ``action`` on ``version`` to a caller of ``account`` whose
    principal is ``principal_arn``: a statement naming the account (or its root) grants all
    its principals, one naming a principal's ARN that principal only."""
    for permission in permissions:
        if permission.action != action or permission.profile_version not in ("", version):
            continue
        named = permission.principal
        if named in (account, f"arn:aws:iam::{account}:root", principal_arn):
            return True
    return False


def policy_size(permissions: tuple[ProfilePermission, ...]) -> int:
    """ListProfilePermissions' ``policySizeBytes``: the resource policy the statements make."""
    statements = [
        {
            "Sid": p.statement_id,
            "Effect": "Allow",
            "Principal": {"AWS": p.principal},
            "Action": p.action,
            "Resource": p.profile_version or "*",
        }
        for p in permissions
    ]
    policy = {"Version": "2012-10-17", "Statement": statements}
    return len(json.dumps(policy, separators=(",", ":")).encode())
