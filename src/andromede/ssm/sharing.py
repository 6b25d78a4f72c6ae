"""Parameter Store's resource policies (decision 0249), pure: what one is, and the rules a
parameter's policy keeps.

A parameter of the Advanced tier carries resource policies (PutResourcePolicy) that share it
with other accounts: AWS creates an AWS RAM resource share from such a policy; here the policy
itself is the share (no RAM). Each policy has an id and a hash, the version of it a caller
read: a change or a deletion names the hash it read and is refused
(``ResourcePolicyConflictException``) once the policy has changed since, so two writers
cannot overwrite each other unseen.

A parameter's policy may only do what AWS RAM's permissions for parameters do: let whole
accounts (``"123456789012"`` or ``arn:aws:iam::123456789012:root``, never ``*``, a user, a
role or a service) read it — ``ssm:GetParameter``, ``ssm:GetParameters``,
``ssm:GetParameterHistory``, ``ssm:DescribeParameters`` — on its own ARN. The wire layer
checks a policy (``ssmapi.policy_check``: the IAM policy grammar is the IAM context's) and the
IAM engine evaluates it as any resource policy: across accounts both the policy and the
caller's own IAM policies must allow.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["SHARED_ACTIONS", "PolicyChecker", "ResourcePolicy", "new_policy_hash", "new_policy_id"]

# AWS RAM's two permissions for parameters (AWSRAMDefaultPermissionSSMParameterReadOnly and
# AWSRAMPermissionSSMParameterReadOnlyWithHistory) grant these, and nothing else.
SHARED_ACTIONS: Final = (
    "ssm:DescribeParameters",
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    "ssm:GetParameters",
)

# (policy text, the parameter's ARN, the size limit) → the accounts it shares with, or its
# refusal (MalformedResourcePolicy, ResourcePolicyLimitExceeded).
PolicyChecker = Callable[[str, str, int], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """One resource policy of a parameter: its text as written and the accounts it names."""

    tenant_id: str
    region: str
    name: str  # the parameter's
    policy_id: str
    policy_hash: str
    policy: str
    accounts: tuple[str, ...]
    created: datetime


def new_policy_id() -> str:
    return uuid.uuid4().hex


def new_policy_hash(policy_id: str, text: str) -> str:
    """An opaque version of a policy: new at each write, even of the same text, so a hash read
    before a change and its undoing is still stale."""
    digest = hashlib.sha256()
    for part in (policy_id, text, secrets.token_hex(16)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
