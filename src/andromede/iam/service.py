"""IdentityService: the one public entry of identity.

One method per IAM action (snake case of the AWS name, the tenant's account id first, AWS's
parameter names), plus what the rest of Andromède needs from identity: resolving access keys
and temporary credentials to a :class:`~andromede.iam.model.Principal` on every request (cached),
the policy documents that apply to a principal, STS issuing, tenants and operators, and console
login. The class is assembled from one part per family of actions (see ``service_core.py``).

Policy documents are checked by :func:`validate_policy_document` before they are stored.
"""

from __future__ import annotations

import json

from andromede.iam.accounts import AccountsMixin, BootstrapResult, CreatedOperator
from andromede.iam.credentials import (
    AccessKeyLastUsed,
    CreatedAccessKey,
    CredentialsMixin,
    IssuedCredentials,
)
from andromede.iam.directory import DirectoryMixin
from andromede.iam.errors import MalformedPolicyDocument
from andromede.iam.login import ConsoleLogin, LoginMixin
from andromede.iam.mfa import CreatedMfaDevice, MfaMixin
from andromede.iam.policies import PoliciesMixin
from andromede.iam.service_core import IdentityLimits, PolicyKind

__all__ = [
    "AccessKeyLastUsed",
    "BootstrapResult",
    "ConsoleLogin",
    "CreatedAccessKey",
    "CreatedMfaDevice",
    "CreatedOperator",
    "IdentityLimits",
    "IdentityService",
    "IssuedCredentials",
    "PolicyKind",
    "validate_policy_document",
]

POLICY_DOCUMENT_MAX = 131_072  # a bound before parsing; each kind's AWS size limit comes later


def validate_policy_document(text: str, kind: PolicyKind) -> str:
    """The document if it is acceptable for ``kind``; MalformedPolicyDocument otherwise.

    For now: a JSON object of bounded size. The policy engine's parser replaces this check.
    """
    if len(text) > POLICY_DOCUMENT_MAX:
        raise MalformedPolicyDocument("The policy document is too large.")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise MalformedPolicyDocument("The policy document is not valid JSON.") from exc
    if not isinstance(parsed, dict):
        raise MalformedPolicyDocument(f"A {kind.value} policy document is a JSON object.")
    return text


class IdentityService(
    AccountsMixin, DirectoryMixin, CredentialsMixin, PoliciesMixin, MfaMixin, LoginMixin
):
    def _validate_policy(self, text: str, kind: PolicyKind) -> str:
        return validate_policy_document(text, kind)
