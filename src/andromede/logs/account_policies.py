"""CloudWatch Logs' account-level policies (decision 0211): PutAccountPolicy's name, type and
scope as AWS checks them. ``DATA_PROTECTION_POLICY`` (its document checked by
``logs.data_protection``), ``SUBSCRIPTION_FILTER_POLICY`` and ``FIELD_INDEX_POLICY``
(decision 0232, checked by ``logs.account_subscriptions`` and ``logs.field_indexes``) are the
types served; AWS's other types (transformers, metric extraction) name features not served
here, and are refused as such."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from andromede.logs.errors import InvalidParameter

__all__ = [
    "DATA_PROTECTION",
    "FIELD_INDEX",
    "POLICY_TYPES",
    "SUBSCRIPTION_FILTER",
    "AccountPolicy",
    "check_account_policy",
]

DATA_PROTECTION: Final = "DATA_PROTECTION_POLICY"
SUBSCRIPTION_FILTER: Final = "SUBSCRIPTION_FILTER_POLICY"
FIELD_INDEX: Final = "FIELD_INDEX_POLICY"
POLICY_TYPES: Final = (
    DATA_PROTECTION,
    SUBSCRIPTION_FILTER,
    FIELD_INDEX,
    "TRANSFORMER_POLICY",
    "METRIC_EXTRACTION_POLICY",
)


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    tenant_id: str
    policy_type: str
    name: str
    document: str
    scope: str  # ALL, the one scope AWS has
    updated: int  # milliseconds since the epoch, AWS's lastUpdatedTime
    selection_criteria: str | None = None  # a subscription filter policy's, as it was put

    def shape(self) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "policyName": self.name,
            "policyDocument": self.document,
            "lastUpdatedTime": self.updated,
            "policyType": self.policy_type,
            "scope": self.scope,
            "accountId": self.tenant_id,
        }
        if self.selection_criteria is not None:
            shaped["selectionCriteria"] = self.selection_criteria
        return shaped


def check_policy_type(policy_type: object) -> str:
    if not isinstance(policy_type, str) or policy_type not in POLICY_TYPES:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyType' failed to satisfy constraint:"
            f" Member must satisfy enum value set: [{', '.join(POLICY_TYPES)}]"
        )
    if policy_type not in (DATA_PROTECTION, SUBSCRIPTION_FILTER, FIELD_INDEX):
        raise InvalidParameter(
            f"{policy_type} account policies are not served here: DATA_PROTECTION_POLICY,"
            " SUBSCRIPTION_FILTER_POLICY and FIELD_INDEX_POLICY only (decisions 0211, 0232)"
        )
    return policy_type


def check_account_policy(name: object, policy_type: object, scope: object) -> tuple[str, str, str]:
    """PutAccountPolicy's name, type and scope (the document is the type's to check)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyName' failed to satisfy constraint: "
            "Member must have length between 1 and 256"
        )
    checked = check_policy_type(policy_type)
    if scope not in (None, "ALL"):
        raise InvalidParameter(
            "1 validation error detected: Value at 'scope' failed to satisfy constraint: "
            "Member must satisfy enum value set: [ALL]"
        )
    return name, checked, "ALL"
