"""CloudWatch Logs' account-level subscription filter policies (decision 0232): what a
``SUBSCRIPTION_FILTER_POLICY`` is, its document and selection criteria checked as AWS checks
them. Pure: no I/O here; ``logs.subscription_service`` keeps and applies them.

The document is a JSON object of ``DestinationArn`` (a Firehose stream, a Kinesis stream or a
Lambda function of the account and Region: the destinations subscription filters reach,
decisions 0225, 0235, 0304), ``RoleArn`` (none for a function),
``FilterPattern`` (the filters' language) and ``Distribution``. The selection criteria is
AWS's one grammar for this type, ``LogGroupName NOT IN ["a", "b"]``: the groups it names are
left out; at most 25 KB of UTF-8 (AWS's bound) and ``max_excluded`` names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from andromede.logs.account_policies import SUBSCRIPTION_FILTER, AccountPolicy
from andromede.logs.errors import InvalidParameter
from andromede.logs.filter import compile_pattern
from andromede.logs.metric_filters import MAX_PATTERN
from andromede.logs.subscriptions import SubscriptionFilter, check_delivery

__all__ = [
    "MAX_SELECTION_BYTES",
    "AccountSubscription",
    "account_subscription",
    "check_selection",
    "kept_subscription",
]

MAX_SELECTION_BYTES: Final = 25 * 1024
MAX_DOCUMENT: Final = 30_720  # AWS's bound on an account policy's document, in characters
_FIELDS: Final = frozenset({"DestinationArn", "RoleArn", "FilterPattern", "Distribution"})
_SELECTION = re.compile(r"\s*LogGroupName\s+NOT\s+IN\s*(\[.*\])\s*", re.DOTALL)
_GRAMMAR: Final = 'LogGroupName NOT IN ["name", ...]'


@dataclass(frozen=True, slots=True)
class AccountSubscription:
    """A kept policy as the ingestion applies it: a subscription filter of every group but
    the excluded ones."""

    name: str
    pattern: str
    destination_arn: str
    role_arn: str
    distribution: str
    excluded: frozenset[str]

    def applies_to(self, group: str) -> bool:
        return group not in self.excluded

    def as_filter(self, tenant_id: str, group: str) -> SubscriptionFilter:
        """The policy as one more filter of ``group``, named after the policy (the name its
        records carry in ``subscriptionFilters``)."""
        return SubscriptionFilter(
            tenant_id,
            group,
            self.name,
            self.pattern,
            self.destination_arn,
            self.role_arn,
            self.distribution,
            0,
        )


def check_selection(selection: object, max_excluded: int) -> frozenset[str]:
    """The groups ``LogGroupName NOT IN [...]`` leaves out (none when ``selection`` is None)."""
    if selection is None:
        return frozenset()
    if not isinstance(selection, str) or len(selection.encode()) > MAX_SELECTION_BYTES:
        raise InvalidParameter(
            f"selectionCriteria must be a string of at most {MAX_SELECTION_BYTES} bytes"
        )
    found = _SELECTION.fullmatch(selection)
    names: Any = None
    if found is not None:
        try:
            names = json.loads(found.group(1))
        except ValueError:
            names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise InvalidParameter(
            f"Invalid selectionCriteria: a SUBSCRIPTION_FILTER_POLICY's only selection criteria "
            f"is {_GRAMMAR}"
        )
    if len(names) > max_excluded:
        raise InvalidParameter(
            f"Invalid selectionCriteria: at most {max_excluded} log groups can be excluded"
        )
    return frozenset(names)


def _document(document: object) -> dict[str, Any]:
    if not isinstance(document, str) or not 1 <= len(document) <= MAX_DOCUMENT:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_DOCUMENT}"
        )
    try:
        parsed = json.loads(document)
    except ValueError:
        raise InvalidParameter("Invalid policy document: it is not JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter("Invalid policy document: it must be a JSON object")
    unknown = sorted(set(parsed) - _FIELDS)
    if unknown:
        raise InvalidParameter(
            f"Invalid policy document: unknown field {unknown[0][:64]!r}; a subscription filter "
            f"policy has {', '.join(sorted(_FIELDS))}"
        )
    return parsed


def account_subscription(
    tenant_id: str,
    region: str,
    name: str,
    document: object,
    selection: object,
    max_excluded: int,
) -> AccountSubscription:
    """PutAccountPolicy's document and selection criteria of a subscription filter policy
    checked as AWS checks them."""
    parsed = _document(document)
    pattern = parsed.get("FilterPattern", "")
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise InvalidParameter(
            f"Invalid policy document: FilterPattern must be a string of at most {MAX_PATTERN} "
            "characters"
        )
    compile_pattern(pattern)
    destination, role, distribution = check_delivery(
        tenant_id,
        region,
        parsed.get("DestinationArn"),
        parsed.get("RoleArn"),
        parsed.get("Distribution"),
        ("DestinationArn", "RoleArn", "Distribution"),
    )
    excluded = check_selection(selection, max_excluded)
    return AccountSubscription(name, pattern, destination, role, distribution, excluded)


def kept_subscription(policy: AccountPolicy, region: str) -> AccountSubscription | None:
    """A kept policy read back (it was checked when put); None if it no longer parses (a
    deployment's Region renamed since): the ingestion skips it rather than failing."""
    if policy.policy_type != SUBSCRIPTION_FILTER:
        return None
    try:
        return account_subscription(
            policy.tenant_id,
            region,
            policy.name,
            policy.document,
            policy.selection_criteria,
            max_excluded=1 << 30,  # the bound of when it was put applies
        )
    except InvalidParameter:
        return None
