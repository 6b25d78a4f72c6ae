"""CloudWatch Logs' account-level resource policies (decision 0186, session 48 addendum):
the documents an account writes to let AWS services (``events.amazonaws.com``,
``route53.amazonaws.com``, …) deliver into its log groups. Pure rules here: a name, a JSON
policy document of at most 5,120 characters, the ``ACCOUNT`` scope. They are kept and
answered as AWS does; EventBridge's log group targets are let in by them (decision 0277,
``log_group_targets``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from andromede.logs.errors import InvalidParameter

__all__ = ["MAX_DOCUMENT", "ResourcePolicy", "check_policy"]

MAX_DOCUMENT: Final = 5120


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    tenant_id: str
    name: str
    document: str
    updated: int  # milliseconds since the epoch, AWS's lastUpdatedTime

    def shape(self) -> dict[str, Any]:
        return {
            "policyName": self.name,
            "policyDocument": self.document,
            "lastUpdatedTime": self.updated,
            "policyScope": "ACCOUNT",
        }


def check_policy(name: object, document: object) -> tuple[str, str]:
    """PutResourcePolicy's name and document, as AWS checks them: a JSON object."""
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyName' failed to satisfy constraint: "
            "Member must have length between 1 and 256"
        )
    if not isinstance(document, str) or not 1 <= len(document) <= MAX_DOCUMENT:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_DOCUMENT}"
        )
    try:
        parsed = json.loads(document)
    except ValueError:
        raise InvalidParameter("Policy document is not valid JSON.") from None
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise InvalidParameter("Policy document must be a JSON object with a Statement.")
    return name, document
